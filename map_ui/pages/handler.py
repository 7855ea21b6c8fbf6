"""The handler's workbench (案件办理): the queues of the cases assigned to the user's unit
and a case panel to sign, report handling with photos, ask for more time or return.

Every unit that handles cases opens it: departments, and street, district and city
offices when a case is assigned to them. The page lists `GET /api/cases/?assigned=me`;
its buttons are the case detail's `allowed_actions` (casepanel.js), never a rule of its
own. Scripts: casepanel.js (the reusable case panel) and handler.js (queues, live).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from dispatch.calendar import office_hours
from dispatch.models import ExtensionKind
from incidents.models import State
from incidents.outbox import last_seq
from layers.access import staff_of
from map_ui.pages.command import _case_labels, _command_labels
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


def work_day_hours() -> float:
    """The office hours of one working day: an extension asked in days is sent in hours."""
    total = sum(
        (
            dt.datetime.combine(dt.date.min, closes) - dt.datetime.combine(dt.date.min, opens)
            for opens, closes in office_hours()
        ),
        dt.timedelta(),
    )
    return max(total.total_seconds() / 3600, 1.0)


def panel_labels() -> dict[str, Any]:
    """The words of casepanel.js (the case panel shared by the role pages)."""
    return {
        "panel": {
            "description": _("问题描述"),
            "address": _("地址"),
            "reported_at": _("上报时间"),
            "photos": _("现场照片"),
            "history": _("办理经过"),
            "extension": _("待审批的延期/缓办申请"),
            "supervisions": _("督办要求"),
            "supervise_due": _("限期"),
            "by": _("提出"),
            "no_actions": _("此案件当前无需您办理。"),
            "done": _("已办理"),
            "changed": _("案件已被他人更新，已刷新为最新状态。"),
            "gone": _("此案件已不在您的办理范围内。"),
            "enlarge": _("点击查看大图"),
            "close": _("关闭"),
            "form": {
                "note": _("办理情况"),
                "reason": _("理由"),
                "photos": _("处置照片（可拍照）"),
                "kind": _("类型"),
                "kinds": {value: label for value, label in ExtensionKind.choices},
                "days": _("延期天数（工作日）"),
                "unit": _("单位编号"),
                "due_at": _("期限"),
                "into": _("案件编号"),
                "send": _("提交"),
                "cancel": _("取消"),
            },
        },
        "queue_empty": _("此队列没有案件。"),
        "choose": _("在队列中选择一件案件。"),
    }
