"""A ModelSerializer's fields built once per class, not once per instance.

DRF builds a ModelSerializer's fields from its model on every instantiation (each
field's kwargs from the model field: its label through gettext, its validators, its
choices): for the catalogue's 16 fields that was 35% of the CPU of an authenticated GET
of one row (docs/performance.md, "Request floor"). The fields depend only on the class
(none of ours reads the context or the instance to build them), so they are built once
and each instance gets copies of them, unbound, to bind to itself.

A plain field is copied shallowly (binding sets its own attributes on the copy: name,
parent, source, label); a field that holds other bound fields (a nested serializer, a
relation, a list's child) is deep-copied, as DRF copies declared fields. A deep copy of
every field cost 13% of that GET, a shallow one 2%; the shallow copy is made by copying
the field's attributes into a new instance, what copy.copy() does through the pickle
protocol's steps at eight times the cost (4.8 µs against 0.6 µs a field; a catalogue
row's fields 66 → 37 µs).
"""

from __future__ import annotations

import copy
from typing import Any, cast

from rest_framework.fields import Field
from rest_framework.relations import ManyRelatedField, RelatedField
from rest_framework.serializers import BaseSerializer

_HOLDERS = (BaseSerializer, RelatedField, ManyRelatedField)


class FieldsBuiltOnce:
    """Mixin for a ModelSerializer whose fields do not depend on its context or instance
    (no get_fields, build_field or get_extra_kwargs override that reads them)."""

    def get_fields(self) -> dict[str, Any]:
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()  # type: ignore[misc]
            cls._fields_built_once = built  # type: ignore[attr-defined]
        return {name: _unbound_copy(field) for name, field in built.items()}


def _unbound_copy(field: Field[Any, Any, Any, Any]) -> Field[Any, Any, Any, Any]:
    if isinstance(field, _HOLDERS) or hasattr(field, "child"):
        return copy.deepcopy(field)
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return cast(Field[Any, Any, Any, Any], clone)
