"""Which pages a user may open, by their post (layers.models.Staff.role).

The pages themselves show only what the access functions let the user see; this table
only decides which pages are offered and opened, so a street dispatcher is not sent to
the hotline's intake form. A superuser may open every page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from analysis.access import ANALYSTS
from layers.access import is_superuser, staff_of
from layers.models import Role

if TYPE_CHECKING:
    from layers.access import AnyUser


class Page(NamedTuple):
    name: str  # URL name, in map_ui/pages/urls.py
    title: Promise
    roles: frozenset[str]


PAGES = (
    Page("command", _("指挥中心"), frozenset({Role.CITY, Role.DISTRICT, Role.LEADER})),
    Page("street", _("街道调度台"), frozenset({Role.STREET})),
    # Every unit a case may be assigned to: departments, and the offices as assignees.
    Page(
        "handler",
        _("案件办理"),
        frozenset({Role.DEPARTMENT, Role.STREET, Role.DISTRICT, Role.CITY}),
    ),
    Page("hotline", _("热线受理"), frozenset({Role.HOTLINE})),
    Page("inspector", _("网格员"), frozenset({Role.INSPECTOR})),
    Page(
        "evaluation",
        _("考核评价"),
        frozenset({Role.CITY, Role.DISTRICT, Role.STREET, Role.LEADER, Role.DEPARTMENT}),
    ),
    Page("analysis", _("决策分析"), ANALYSTS),
    Page("data", _("基础数据"), frozenset({Role.DATA_ADMIN})),
    # Last: no post lands on it (views.home opens a post's first page).
    Page("search", _("案件查询"), frozenset(Role.values)),
)


def pages_for(user: AnyUser) -> list[Page]:
    if is_superuser(user):
        return list(PAGES)
    staff = staff_of(user)
    if staff is None:
        return []
    return [page for page in PAGES if staff.role in page.roles]


def may_open(user: AnyUser, name: str) -> bool:
    return any(page.name == name for page in pages_for(user))
