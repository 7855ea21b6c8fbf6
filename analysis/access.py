"""Who may use decision analysis: the command centres and leaders (and superusers).

What they see is the scope of the case list (incidents.access.visible_cases): a district
command centre its district, the city command centre and leaders the whole city.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from layers.access import is_superuser, staff_of
from layers.models import Role

if TYPE_CHECKING:
    from layers.access import AnyUser

ANALYSTS: Final = frozenset({Role.CITY, Role.DISTRICT, Role.LEADER})


def may_analyse(user: AnyUser) -> bool:
    if is_superuser(user):
        return True
    staff = staff_of(user)
    return staff is not None and staff.role in ANALYSTS
