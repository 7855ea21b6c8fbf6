"""A batch whose columns come as chunked Arrow arrays (what pyarrow.array() makes of a
large numpy text array, as the demo city's generator at full scale does) imports as the
same rows in one array each: the units it names looked up, every row placed."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa

from layers.importing.core import RejectReport, import_batches
from layers.importing.sources import Batch
from layers.importing.specs import LAYERS
from layers.models import Area, Component, Unit
from tests.test_import import TIANHE, catalogue

__all__ = ["catalogue"]  # the fixture, used by name


def test_chunked_columns_import_as_one_array_each(
    small_city: dict[str, Area], catalogue: None
) -> None:
    unit = Unit.objects.create(name="天河区市政养护所", tier="district", area=small_city["440106"])
    n = 6
    columns = {
        "code": [f"44010601010000{i:02d}" for i in range(1, n + 1)],
        "name": [f"井盖{i}" for i in range(n)],
        "competent_unit": [""] * n,
        "owner_unit": [""] * n,
        "maintainer_unit": [unit.name, "", unit.name, "未登记的单位", unit.name, ""],
        "state": ["normal"] * n,
    }
    chunked = {k: pa.chunked_array([v[:2], v[2:]], pa.string()) for k, v in columns.items()}
    batch = Batch(
        row=np.arange(1, n + 1, dtype=np.int64),
        columns=chunked,  # type: ignore[arg-type]
        lon=np.full(n, TIANHE[0]) + np.arange(n) * 1e-6,
        lat=np.full(n, TIANHE[1]),
        geometry_error=np.full(n, None, dtype=object),
    )
    assert all(isinstance(column, pa.StringArray) for column in batch.columns.values())

    spec = LAYERS["components"]
    report = RejectReport(io.StringIO(), [])
    result = import_batches(
        spec, [batch], datum="wgs84", rename={c: c for c in spec.fields}, dry_run=False,
        report=report,
    )  # fmt: skip
    assert (result.inserted, result.rejected, result.unknown_units) == (n, 0, 1)
    maintainers = dict(Component.objects.values_list("code", "maintainer_id"))
    assert [maintainers[code] for code in columns["code"]] == [
        unit.pk, None, unit.pk, None, unit.pk, None
    ]  # fmt: skip
    assert Component.objects.filter(cell__isnull=False).count() == n
