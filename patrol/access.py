"""Who may see an inspector's positions (house style principle 3).

Tracks are personal data collected for one purpose, supervising patrols (PIPL): an
inspector's positions, on-duty location and track are seen by
- the inspector themself;
- the street office (role street) of a street where the inspector has a cell;
- the district command centre (role district) of that street's district.
No one else: not the city, leaders, departments, the hotline, data admins, nor the
superuser (an administrator runs the system; they do not supervise patrols). Every read
of positions is audited (audit.context.note_personal_read, "patrol.track", one id per
inspector), the inspector's own reads included, as AuditMiddleware records them.

Coverage per cell and per-inspector figures carry no positions: they follow the cells
and staff of the viewer's area (coverage_cells, figures_inspectors)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import QuerySet

from layers.access import staff_of
from layers.models import Area, Role, Staff, Tier

if TYPE_CHECKING:
    from layers.access import AnyUser

TRACK = "patrol.track"
SUPERVISORS = (Role.STREET, Role.DISTRICT)


def supervised_inspectors(user: AnyUser) -> list[int] | None:
    """User ids of the inspectors whose tracks `user` may see: None = only their own
    (an inspector, or nobody), a list for street and district supervisors."""
    staff = staff_of(user)
    if staff is None or staff.role not in SUPERVISORS:
        return None
    area = staff.unit.area
    if area.tier not in (Tier.STREET, Tier.DISTRICT):
        return []
    column = "street.id" if area.tier == Tier.STREET else "street.parent_id"
    cells = Staff.cells.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT DISTINCT s.user_id
            FROM layers_staff s
            JOIN {cells} own ON own.staff_id = s.id
            JOIN layers_area cell ON cell.id = own.area_id
            JOIN layers_area community ON community.id = cell.parent_id
            JOIN layers_area street ON street.id = community.parent_id
            WHERE s.role = %s AND {column} = %s
            ORDER BY s.user_id""",
            [Role.INSPECTOR.value, area.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def may_see_track(user: AnyUser, inspector_id: int) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.pk == inspector_id:
        staff = staff_of(user)
        return staff is not None and staff.role == Role.INSPECTOR
    supervised = supervised_inspectors(user)
    return supervised is not None and inspector_id in supervised


def visible_track_owners(user: AnyUser) -> list[int]:
    """Inspectors whose positions `user` may see (themself included when an inspector)."""
    if not user.is_authenticated or not user.is_active:
        return []
    supervised = supervised_inspectors(user)
    if supervised is not None:
        return supervised
    staff = staff_of(user)
    return [user.pk] if staff is not None and staff.role == Role.INSPECTOR else []


def coverage_cells(user: AnyUser) -> QuerySet[Area]:
    """Current cells whose coverage `user` may see: those of their unit's area (all for a
    city-wide unit or a superuser), an inspector's own cells."""
    cells = Area.objects.current().filter(tier=Tier.CELL)
    if user.is_authenticated and user.is_active and getattr(user, "is_superuser", False):
        return cells
    staff = staff_of(user)
    if staff is None:
        return cells.none()
    if staff.role == Role.INSPECTOR:
        return cells.filter(inspectors=staff)
    return cells.filter(code__startswith=staff.unit.area.inner_prefix)
