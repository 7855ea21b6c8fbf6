"""The handler's workbench (案件办理): the queues of the cases assigned to the user's unit
and a case panel to sign, report handling with photos, ask for more time or return.

Every unit that handles cases opens it: departments, and street, district and city
offices when a case is assigned to them. The page lists `GET /api/cases/?assigned=me`;
its buttons are the case detail's `allowed_actions` (casepanel.js), never a rule of its
own. Scripts: handler.js (queues, live), an ES module using casepanel.js (the case panel
of every role page).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from incidents.models import State
from incidents.outbox import last_seq
from layers.access import staff_of
from map_ui.pages.command import _case_labels, _command_labels, work_day_hours
from map_ui.pages.views import page

# The states of the cases a unit holds: to sign, being handled, suspended (缓办).
HELD_STATES = [State.DISPATCHED, State.REWORK, State.SIGNED, State.SUSPENDED]

# The queues: (key, title). Which case is in which is the case's own state and clock
# (handler.js): a case warned or overdue is also in its state's queue.
QUEUES: list[tuple[str, Promise]] = [
    ("to_sign", _("待签收")),
    ("in_progress", _("办理中")),
    ("warned", _("即将超期")),
    ("overdue", _("已超期")),
    ("rework", _("被退回/返工")),
    # 协办: the cases where the unit is a co-unit with its part open (?assigned=co).
    ("co", _("协办")),
]


@login_required
def handler(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request.user)
    config = {
        "api": {"cases": reverse("cases-list")},
        "held_states": [str(s) for s in HELD_STATES],
        "queues": [{"key": key, "title": title} for key, title in QUEUES],
        "live": {"url": "/ws/live/", "since": last_seq()},
        "unit": staff.unit_id if staff is not None else None,
        # The heading names the unit's area (in the user's language; unit names are data
        # in one language only): the queues below are the unit's own.
        "area_name": staff.unit.area.display_name if staff is not None else "",
        "work_day_hours": work_day_hours(),
        "labels": {**_case_labels(), "live": _command_labels()["live"], **panel_labels()},
    }
    return page(request, "handler", "map_ui/handler.html", config)


def panel_labels() -> dict[str, Any]:
    """The queue's words; the case panel's (casepanel.js) are in every page's case labels."""
    return {
        "queue_empty": _("此队列没有案件。"),
        "choose": _("在队列中选择一件案件。"),
    }
