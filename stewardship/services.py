"""What people do to the base layers through stewardship (check, then act):

- change_record: the owner of the layer (or a data administrator for their area) changes
  a record directly; anyone else who may see it proposes the change instead.
- propose / accept / reject: a proposal (一级采集) waits in the review queue of the
  layer's owner and of the data administrators of its area; accepting applies it through
  the model's validators (full_clean) and writes its history; rejecting needs a reason.
- verify: someone confirms on site that a record is still right.

Every change goes through apply(), which validates, saves (placing the point into its
cell) and writes the field history, so an edit, an accepted proposal and the admin give
the same history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.photos import CheckedPhoto
from layers.access import (
    Scope,
    is_superuser,
    personal_data_scope,
    record_scope,
    staff_of,
    visible_records,
    within,
)
from layers.geoinput import BadCoordinates, city_placement
from layers.models import Category, CategoryKind, Component, Placed, Role
from notifications.collect import tell_proposal
from stewardship import layers as L
from stewardship.errors import Conflict, InvalidInput, NotFound, NotPermitted
from stewardship.models import (
    LayerOwner,
    Proposal,
    ProposalStatus,
    Source,
    SourceKind,
    Verification,
)
from stewardship.recording import record_changes

if TYPE_CHECKING:
    from django.contrib.gis.geos import Point

    from layers.access import AnyUser


@dataclass(frozen=True)
class Outcome:
    """What a change request did: applied (with its Source, if anything changed) or
    proposed (the Proposal waiting for review)."""

    record: Placed | None
    source: Source | None
    proposal: Proposal | None


PLACEMENT_TIERS = ("cell", "community", "street", "district")

# --- Who may do what -----------------------------------------------------------------


def owner_unit_id(model: type[Placed]) -> int | None:
    owner = LayerOwner.objects.filter(layer=L.content_type(model)).values("unit_id").first()
    return owner["unit_id"] if owner else None


def owner_unit(model: type[Placed]) -> str:
    """The name of the layer's owning department, in the user's language ('' if none)."""
    owner = LayerOwner.objects.filter(layer=L.content_type(model)).select_related("unit").first()
    return owner.unit.display_name if owner is not None else ""


def pending_count(user: AnyUser) -> int:
    """Proposals waiting in `user`'s review queue."""
    queue = review_queue(user)
    pending = Proposal.objects.filter(status=ProposalStatus.PENDING)
    if queue is True:
        return pending.count()
    return pending.filter(queue).count() if queue else 0


def steward_scope(user: AnyUser, model: type[Placed]) -> Scope:
    """Where `user` changes records of `model` directly: everywhere for a superuser and for
    the staff of the layer's owning department, their unit's area for a data administrator,
    nowhere for anyone else (they propose)."""
    if is_superuser(user):
        return True
    staff = staff_of(user)
    if staff is None:
        return False
    if owner_unit_id(model) == staff.unit_id:
        return True
    if staff.role == Role.DATA_ADMIN:
        return within(staff.unit.area)
    return False


def _in_scope(scope: Scope, record: Placed | Proposal) -> bool:
    if isinstance(scope, bool):
        return scope
    return type(record)._default_manager.filter(scope, pk=record.pk).exists()


def review_queue(user: AnyUser) -> Q | bool:
    """Which proposals `user` reviews: those of layers their unit owns, and for a data
    administrator those in their area."""
    if is_superuser(user):
        return True
    staff = staff_of(user)
    if staff is None:
        return False
    owned = LayerOwner.objects.filter(unit_id=staff.unit_id).values("layer_id")
    scope = Q(layer_id__in=owned)
    if staff.role == Role.DATA_ADMIN:
        area = within(staff.unit.area)
        if area is True:
            return True
        if isinstance(area, Q):
            scope |= area
    return scope


def is_reviewer(user: AnyUser) -> bool:
    """Whether `user` has a review queue at all: a data administrator, the staff of a unit
    that owns a layer, a superuser."""
    if is_superuser(user):
        return True
    staff = staff_of(user)
    if staff is None:
        return False
    if staff.role == Role.DATA_ADMIN:
        return True
    return LayerOwner.objects.filter(unit_id=staff.unit_id).exists()


def may_review(user: AnyUser, proposal: Proposal) -> bool:
    scope = review_queue(user)
    if isinstance(scope, bool):
        return scope
    return Proposal.objects.filter(scope, pk=proposal.pk).exists()


def _flag(scope: Q | bool) -> Value | Case:
    if isinstance(scope, bool):
        return Value(scope, output_field=BooleanField())
    return Case(When(scope, then=Value(True)), default=Value(False), output_field=BooleanField())


def with_verdicts(user: AnyUser, proposals: QuerySet[Proposal]) -> QuerySet[Proposal]:
    """`proposals` with two boolean columns, so that a list costs one query: `reviewable`
    (may_review) and `unmasked` (history.proposal_unmasked: the proposer, and whoever may
    see personal data where the proposal lies)."""
    personal = personal_data_scope(user)
    mine = Q(proposer_id=user.pk) if user.is_authenticated else Q(pk__in=[])
    unmasked = True if personal is True else (mine | personal if isinstance(personal, Q) else mine)
    return proposals.annotate(reviewable=_flag(review_queue(user)), unmasked=_flag(unmasked))


def visible_proposals(user: AnyUser) -> Any:
    """Proposals `user` may read: their own, and those in their review queue."""
    mine = Q(proposer_id=user.pk) if user.is_authenticated else Q(pk__in=[])
    queue = review_queue(user)
    if queue is True:
        return Proposal.objects.all()
    return Proposal.objects.filter(mine | queue) if queue else Proposal.objects.filter(mine)


# --- Applying a change -----------------------------------------------------------------


def _unit_id(user: AnyUser) -> int | None:
    staff = staff_of(user)
    return staff.unit_id if staff is not None else None


def _set_values(record: Placed, layer: str, values: Mapping[str, Any]) -> None:
    allowed = L.FIELDS[layer]
    for field, value in values.items():
        if field not in allowed:
            raise InvalidInput(
                _("字段 %(field)s 不能修改（可修改：%(allowed)s）。")
                % {"field": field, "allowed": ", ".join(allowed)},
                field=field,
            )
        model_field = record._meta.get_field(field)
        text = "" if value is None else str(value).strip()
        if layer in {"population", "entities"} and field in {"id_number", "credit_code"}:
            text = text.upper()  # as imports compare them (layers.importing.specs)
        setattr(record, field, None if text == "" and model_field.null else text)
    if isinstance(record, Component) and "code" in values:
        record.category_id = _component_category(record.code)


def _component_category(code: str) -> int:
    found = (
        Category.objects.filter(
            kind=CategoryKind.COMPONENT, major_code=code[6:8], minor_code=code[8:10]
        )
        .exclude(minor_code="")
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise InvalidInput(
            _("部件编码 %(code)s 的大类小类不在部件库中。") % {"code": code}, field="code"
        )
    return found


def apply(
    *,
    user: AnyUser,
    layer: str,
    record: Placed | None,
    values: Mapping[str, Any],
    geom: Point | None,
    kind: str = SourceKind.EDIT,
    system: str = "api",
    note: str = "",
    proposal: Proposal | None = None,
) -> tuple[Placed, Source | None]:
    """Validate and save a new or changed record and write its history."""
    model = L.MODELS[layer]
    old = L.record_values(record, layer) if record is not None else {}
    target = record if record is not None else model()
    _set_values(target, layer, values)
    if geom is not None:
        try:
            city_placement(geom, field="geom")
        except BadCoordinates as error:
            raise InvalidInput(error.message, field="lon") from None
        target.geom = geom
    elif record is None:
        raise InvalidInput(_("新记录需要位置。"), field="lon")
    try:
        target.full_clean(exclude=["cell", "community", "street", "district", "category"])
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise InvalidInput("; ".join(messages), field=field) from None
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError:
        raise Conflict(_("已有相同编码的记录。"), field=None) from None
    source = record_changes(
        record=target,
        old=old,
        new=L.record_values(target, layer),
        kind=kind,
        user=proposal.proposer if proposal is not None else user,  # type: ignore[arg-type]
        unit_id=_unit_id(user),
        system=system,
        note=note,
        proposal_id=proposal.pk if proposal is not None else None,
    )
    return target, source


def visible_record(user: AnyUser, layer: str, pk: int) -> Placed:
    model = L.model_of(layer)
    if model is None:
        raise NotFound(_("没有这个图层：%(layer)s。") % {"layer": layer}, field="layer")
    record = visible_records(user, model._default_manager.all()).filter(pk=pk).first()
    if record is None:
        raise NotFound(_("没有这条记录，或您无权查看。"))
    return record


@transaction.atomic
def change_record(
    *,
    user: AnyUser,
    layer: str,
    pk: int | None,
    values: Mapping[str, Any],
    geom: Point | None,
    note: str = "",
    photo: CheckedPhoto | None = None,
    client_id: str = "",
) -> Outcome:
    """Change (or, pk None, create) a record: directly where `user` stewards the layer,
    as a proposal elsewhere."""
    model = L.model_of(layer)
    if model is None:
        raise NotFound(_("没有这个图层：%(layer)s。") % {"layer": layer}, field="layer")
    record = visible_record(user, layer, pk) if pk is not None else None
    scope = steward_scope(user, model)
    direct = _in_scope(scope, record) if record is not None else _point_in(scope, geom)
    if direct:
        saved, source = apply(user=user, layer=layer, record=record, values=values, geom=geom,
                              note=note)  # fmt: skip
        return Outcome(saved, source, None)
    proposal = propose(user=user, layer=layer, record=record, values=values, geom=geom,
                       note=note, photo=photo, client_id=client_id)  # fmt: skip
    return Outcome(record, None, proposal)


def _point_in(scope: Scope, geom: Point | None) -> bool:
    if isinstance(scope, bool) or geom is None:
        return scope is True
    placement = _placement(geom)
    # The scope filters on placement ids (layers.access.within): test it on the point's.
    ids = {f"{tier}_id": getattr(placement, tier).pk for tier in PLACEMENT_TIERS}
    return all(ids.get(field) == value for field, value in scope.children)  # type: ignore[misc]


def _placement(geom: Point) -> Any:
    try:
        return city_placement(geom, field="lon")
    except BadCoordinates as error:
        raise InvalidInput(error.message, field="lon") from None


# --- Proposals -------------------------------------------------------------------------


def propose(
    *,
    user: AnyUser,
    layer: str,
    record: Placed | None,
    values: Mapping[str, Any],
    geom: Point | None,
    note: str = "",
    photo: CheckedPhoto | None = None,
    client_id: str = "",
) -> Proposal:
    """A proposal of a new record or of a change to `record` (which `user` can see). Sent
    twice with the same client_id (the phone's offline queue), the first is returned."""
    if staff_of(user) is None and not is_superuser(user):
        raise NotPermitted(_("您没有岗位，不能提出采集建议。"))
    if client_id:
        earlier = Proposal.objects.filter(proposer_id=user.pk, client_id=client_id).first()
        if earlier is not None:
            return earlier
    allowed = L.FIELDS[layer]
    for field in values:
        if field not in allowed:
            raise InvalidInput(
                _("字段 %(field)s 不能修改（可修改：%(allowed)s）。")
                % {"field": field, "allowed": ", ".join(allowed)},
                field=field,
            )
    point = geom if geom is not None else (record.geom if record is not None else None)
    if point is None:
        raise InvalidInput(_("新记录需要位置。"), field="lon")
    placement = _placement(point)
    staff = staff_of(user)
    if staff is not None and staff.role == Role.INSPECTOR:
        # An inspector collects in their own cells (一级采集).
        own = staff.cells.filter(pk=placement.cell.pk).exists()
        if not own:
            raise NotPermitted(_("这个位置不在您负责的网格内。"), field="lon")
    proposal = Proposal(
        layer=L.content_type(L.MODELS[layer]),
        object_id=record.pk if record is not None else None,
        values={k: "" if v is None else str(v) for k, v in values.items()},
        geom=geom,
        note=note[:500],
        proposer_id=int(user.pk or 0),
        client_id=client_id[:64],
        cell_id=placement.cell.pk,
        community_id=placement.community.pk,
        street_id=placement.street.pk,
        district_id=placement.district.pk,
    )
    if photo is not None:
        proposal.photo_sha256 = photo.sha256
        proposal.photo_extension = {"image/png": ".png", "image/webp": ".webp"}.get(
            photo.content_type, ".jpg"
        )
        proposal.photo.save("photo", photo.upload, save=False)
    proposal.save()
    return proposal


def _pending(user: AnyUser, pk: int) -> Proposal:
    proposal = visible_proposals(user).select_for_update().filter(pk=pk).first()
    if proposal is None:
        raise NotFound(_("没有这条采集建议，或您无权查看。"))
    if not may_review(user, proposal):
        raise NotPermitted(_("您不能审核这条采集建议。"))
    if proposal.status != ProposalStatus.PENDING:
        raise Conflict(_("这条采集建议已经审核过了。"))
    return proposal


@transaction.atomic
def accept(*, user: AnyUser, pk: int) -> Proposal:
    """Apply the proposal through apply() (validators, placement, history)."""
    proposal = _pending(user, pk)
    layer = L.layer_of_type(proposal.layer_id)
    assert layer is not None
    record = None
    if proposal.object_id is not None:
        model = L.MODELS[layer]
        record = model._default_manager.filter(pk=proposal.object_id).first()
        if record is None:
            raise Conflict(_("建议修改的记录已不存在。"))
    saved, _source = apply(
        user=user, layer=layer, record=record, values=proposal.values, geom=proposal.geom,
        kind=SourceKind.PROPOSAL, system="proposal", note=proposal.note, proposal=proposal,
    )  # fmt: skip
    proposal.status = ProposalStatus.ACCEPTED
    proposal.reviewer_id = user.pk
    proposal.reviewed_at = timezone.now()
    proposal.result_id = saved.pk
    proposal.save(update_fields=["status", "reviewer", "reviewed_at", "result_id"])
    tell_proposal(proposal)
    return proposal


@transaction.atomic
def reject(*, user: AnyUser, pk: int, reason: str) -> Proposal:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("驳回需要填写原因。"), field="reason")
    proposal = _pending(user, pk)
    proposal.status = ProposalStatus.REJECTED
    proposal.reviewer_id = user.pk
    proposal.reviewed_at = timezone.now()
    proposal.reason = reason[:500]
    proposal.save(update_fields=["status", "reviewer", "reviewed_at", "reason"])
    tell_proposal(proposal)
    return proposal


def verify(*, user: AnyUser, layer: str, pk: int) -> Verification:
    record = visible_record(user, layer, pk)
    return Verification.objects.create(
        layer=L.content_type(type(record)), object_id=record.pk, user_id=user.pk
    )


def may_see(user: AnyUser, record: Placed) -> bool:
    return _in_scope(record_scope(user), record)
