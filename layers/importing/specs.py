"""What each importable layer looks like: its model, natural key and columns.

Column limits (max_length, choices, required) are read from the model fields, so the
import validates exactly what the database would accept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from django.db import models

from layers import validators
from layers.addresses import normalise_addresses
from layers.models import Address, Building, Component, LegalEntity, Person, Placed

# A vectorized check: values → (valid mask, reason per row or None).
Check = Callable[[npt.NDArray[np.object_]], tuple[npt.NDArray[np.bool_], npt.NDArray[np.object_]]]


@dataclass(frozen=True)
class Column:
    name: str
    max_length: int | None
    required: bool
    choices: frozenset[str] | None
    default: str
    max_value: int | None = None  # set for whole-number columns (staged as text)


@dataclass(frozen=True)
class Derived:
    """A text column the import computes from another column of the accepted rows (never
    read from the file), vectorized: one Arrow array in, one out."""

    name: str
    source: str
    compute: Callable[[pa.Array | pa.ChunkedArray], pa.Array]


@dataclass(frozen=True)
class Reference:
    """A reference column the import looks up from a text column of the file: `name`
    (the table's column, e.g. maintainer_id) holds the id of the unit that the text names
    by name or code (layers.owners), NULL where none does. The text is kept as given and
    every unknown text is reported with its row."""

    name: str
    source: str


@dataclass(frozen=True)
class LayerSpec:
    name: str
    model: type[Placed]
    key: str
    fields: tuple[str, ...]
    key_check: Check | None = None
    derived: tuple[Derived, ...] = ()
    references: tuple[Reference, ...] = ()
    columns: tuple[Column, ...] = field(init=False)

    def __post_init__(self) -> None:
        columns = []
        for name in self.fields:
            f = self.model._meta.get_field(name)
            if isinstance(f, models.PositiveSmallIntegerField):
                columns.append(Column(name, None, not f.null, None, "", max_value=32767))
                continue
            assert isinstance(f, models.CharField), f"{name}: text or whole numbers only"
            choices = frozenset(str(c[0]) for c in f.choices) if f.choices else None
            default = f.default if isinstance(f.default, str) else ""
            required = not f.blank and not default
            columns.append(Column(name, f.max_length, required, choices, default))
        object.__setattr__(self, "columns", tuple(columns))

    @property
    def table(self) -> str:
        return self.model._meta.db_table


LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in [
        LayerSpec(
            name="population",
            model=Person,
            key="id_number",
            fields=("id_number", "name", "phone", "household", "address", "person_type"),
            key_check=validators.id_numbers_valid,
        ),
        LayerSpec(
            name="entities",
            model=LegalEntity,
            key="credit_code",
            fields=("credit_code", "name", "entity_type", "address", "status"),
            key_check=validators.credit_codes_valid,
        ),
        LayerSpec(
            name="components",
            model=Component,
            key="code",
            # category_id is derived from the code's major and minor class digits.
            fields=(
                "code",
                "name",
                "competent_unit",
                "owner_unit",
                "maintainer_unit",
                "state",
            ),
            key_check=validators.component_codes_valid,
            # The units named by name or code (layers.owners): 主管, 权属, 养护.
            references=(
                Reference("competent_id", "competent_unit"),
                Reference("owner_id", "owner_unit"),
                Reference("maintainer_id", "maintainer_unit"),
            ),
        ),
        LayerSpec(
            name="addresses",
            model=Address,
            key="code",
            fields=("code", "text", "road", "house_number", "building_name"),
            # The geocoder's normal form, for the trigram index (layers.addresses).
            derived=(Derived("search_text", "text", normalise_addresses),),
        ),
        LayerSpec(
            name="buildings",
            model=Building,
            key="code",
            fields=("code", "name", "address_text", "floors"),
        ),
    ]
}

# Layers whose keys may carry letters, compared upper-case (a lower-case x in an ID).
UPPER_CASE_KEYS = frozenset({"population", "entities"})
