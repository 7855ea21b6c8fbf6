"""The base layers stewardship keeps: their names (as layers.importing names them), models,
the fields a person may change, and how a field's value is written down in the history."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.contrib.gis.geos import Point

from layers.importing.specs import LAYERS
from layers.masking import mask_id_number, mask_name, mask_phone
from layers.models import Person, Placed

MODELS: dict[str, type[Placed]] = {name: spec.model for name, spec in LAYERS.items()}
NAMES: dict[type[Placed], str] = {model: name for name, model in MODELS.items()}
# The columns an import writes are the ones a person may change too (plus the point).
FIELDS: dict[str, tuple[str, ...]] = {name: spec.fields for name, spec in LAYERS.items()}
GEOM = "geom"

# Personal data in the history and the API: masked as layers.access masks the record.
MASKS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}


def model_of(layer: str) -> type[Placed] | None:
    return MODELS.get(layer)


def content_type(model: type[Placed]) -> ContentType:
    return ContentType.objects.get_for_model(model)


def layer_of_type(ct_id: int) -> str | None:
    model = ContentType.objects.get_for_id(ct_id).model_class()
    return NAMES.get(model) if model is not None else None  # type: ignore[arg-type]


def as_text(value: Any) -> str:
    """A field's value as the history writes it down."""
    if value is None:
        return ""
    if isinstance(value, Point):
        return f"POINT({value.x:.7f} {value.y:.7f})"
    return str(value)


def record_values(record: Placed, layer: str) -> dict[str, str]:
    values = {f: as_text(getattr(record, f)) for f in FIELDS[layer]}
    values[GEOM] = as_text(record.geom)
    return values


def shown(model: type[Placed], field: str, value: str, *, unmasked: bool) -> str:
    """`value` of `field` as this user may read it."""
    if model is Person and not unmasked and field in MASKS:
        return MASKS[field](value)
    return value
