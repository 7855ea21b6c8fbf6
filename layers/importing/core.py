"""Bulk import into the one map (入格): validate every row, place the valid ones into their
grid cells, and write them on their natural key with COPY (layers.importing.writer).

Nothing valid is lost and nothing invalid is written: every rejected row goes to the
report with its reason, and read = inserted + updated + unchanged + rejected.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import transaction
from django.dispatch import Signal
from tqdm import tqdm

from layers.datum import Datum, to_storage
from layers.geoinput import lonlat_reasons
from layers.importing.cells import CellIndex, Placements
from layers.importing.sources import Batch, SourceError, open_source
from layers.importing.specs import LAYERS, UPPER_CASE_KEYS, Column, LayerSpec, Reference
from layers.importing.writer import PLACEMENT_COLUMNS, LayerWriter
from layers.models import Category, CategoryKind
from layers.owners import unit_lookup

# Small enough that the last batch's COPY, which nothing overlaps, is short; large enough
# that per-batch overheads stay small (1M rows: 250k 13.8 s, 100k 12.7 s, 50k ~11.7 s).
DEFAULT_BATCH_SIZE = 50_000

# Sent inside the import's transaction once its rows are written (not on a dry run), with
# `spec`, `result` and `provenance` (who and where the batch came from: unit, user, system,
# file). Every row written carries updated_at = the transaction's now(), so a receiver
# can name the batch's rows in one statement (stewardship.recording).
rows_written = Signal()


@dataclass
class ImportResult:
    layer: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    dry_run: bool = False
    report_path: Path | None = None
    # Unit names or codes (specs.Reference) that no unit matched: the rows are written
    # with the text and no reference, and each such value is listed in units_path.
    unknown_units: int = 0
    units_path: Path | None = None
    # The layer was empty: every row in it now is one this import inserted.
    first_load: bool = False

    def summary(self) -> str:
        text = (
            f"{self.layer}: read {self.read} = inserted {self.inserted} + updated "
            f"{self.updated} + unchanged {self.unchanged} + rejected {self.rejected}"
        )
        if self.dry_run:
            text += " (dry run: nothing written)"
        if self.report_path is not None and self.rejected:
            text += f"; rejected rows with reasons in {self.report_path}"
        if self.unknown_units:
            text += f"; {self.unknown_units} unit names or codes match no unit (kept as text)"
            if self.units_path is not None:
                text += f", each with its row in {self.units_path}"
        return text


class Reasons:
    """Why each row of a batch is rejected; a row may collect several reasons."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, None, dtype=object)
        self.bad = np.zeros(n, dtype=bool)

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        return ~self.bad

    def add(self, bad: npt.NDArray[np.bool_], reason: str | Callable[[int], str]) -> None:
        """Reject the rows where `bad` holds; `reason` may be a function of the row index,
        called for rejected rows only."""
        for i in np.flatnonzero(bad):
            message = reason if isinstance(reason, str) else reason(int(i))
            current = self.text[i]
            self.text[i] = message if current is None else f"{current}; {message}"
        self.bad |= bad


@dataclass
class RejectReport:
    """The rejected rows of one import as CSV: row, key, reason, then the row's own values."""

    stream: IO[str]
    source_fields: list[str]
    count: int = 0
    _writer: Any = field(init=False)

    def __post_init__(self) -> None:
        self._writer = csv.writer(self.stream)
        self._writer.writerow(["row", "key", "reason", "lon", "lat", *self.source_fields])

    def write(self, batch: Batch, keys: pa.Array, reasons: Reasons) -> None:
        bad = np.flatnonzero(~reasons.ok)
        if not len(bad):
            return
        key_values = keys.take(pa.array(bad)).to_pylist()
        values = [
            batch.columns[f].take(pa.array(bad)).to_pylist()
            if f in batch.columns
            else [""] * len(bad)
            for f in self.source_fields
        ]
        for j, i in enumerate(bad):
            self._writer.writerow(
                [
                    int(batch.row[i]),
                    key_values[j] or "",
                    reasons.text[i],
                    _coord(batch.lon[i]),
                    _coord(batch.lat[i]),
                    *(v[j] if v[j] is not None else "" for v in values),
                ]
            )
        self.count += len(bad)


class UnknownUnits:
    """The unit names or codes of accepted rows that no unit matched, as CSV: row, key,
    column, value (the row is written all the same, with the text and no reference).

    The lines are made by Arrow and written by a thread of their own, beside the
    import's reading and COPY: a file naming no known unit has a line for each of its
    millions of names. Call close() before the stream is closed."""

    HEADER = b"row,key,column,value\r\n"  # lines end as the csv module's do

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self.stream = stream
        self.count = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []
        if stream is not None:
            stream.write(self.HEADER)
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-units")

    def write_rows(
        self, rows: npt.NDArray[np.int64], keys: pa.Array, column: str, values: pa.Array
    ) -> None:
        """One line per row: its key, and its value of `column` (in the order given, after
        the lines of earlier calls)."""
        self.count += len(rows)
        if self._pool is not None:
            self._pending.append(self._pool.submit(self._write, rows, keys, column, values))

    def _write(
        self, rows: npt.NDArray[np.int64], keys: pa.Array, column: str, values: pa.Array
    ) -> None:
        assert self.stream is not None
        table = pa.table(
            {
                "row": pa.array(rows),
                "key": keys,
                "column": pa.repeat(column, len(rows)),
                "value": values.cast(pa.string()),
            }
        )
        buffer = pa.BufferOutputStream()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, eol="\r\n"))
        self.stream.write(buffer.getvalue())

    def close(self) -> None:
        """Wait until every line is written (raising what the thread raised)."""
        if self._pool is None:
            return
        try:
            for pending in self._pending:
                pending.result()
        finally:
            self._pending = []
            self._pool.shutdown()
            self._pool = None


def _coord(value: float) -> str:
    return "" if np.isnan(value) else repr(float(value))


def import_file(
    layer: str,
    path: Path,
    *,
    datum: Datum | str = Datum.WGS84,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    report_path: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lon_field: str | None = None,
    lat_field: str | None = None,
    progress: bool = False,
    provenance: dict[str, Any] | None = None,
) -> ImportResult:
    """Import one file into `layer` (see layers.importing.specs.LAYERS for the names).

    `mapping` maps layer columns to the file's column names where they differ;
    `provenance` says where the batch came from (rows_written)."""
    spec = _spec(layer)
    source = open_source(path, batch_size=batch_size, lon_field=lon_field, lat_field=lat_field)
    rename = _resolve_mapping(spec, source.field_names, mapping or {})
    report_path = report_path or path.with_name(path.stem + ".rejected.csv")
    units_path = report_path.with_name(path.stem + ".unknown-units.csv")
    with ExitStack() as stack:
        report = RejectReport(_open(stack, report_path), source.field_names)
        units = UnknownUnits(
            stack.enter_context(units_path.open("wb")) if spec.references else None
        )
        stack.callback(units.close)  # the thread stops before its file is closed
        bar = stack.enter_context(
            tqdm(total=source.feature_count, unit=" rows", disable=not progress, desc=layer)
        )
        result = import_batches(
            spec,
            _counting(source.batches, bar),
            datum=datum,
            rename=rename,
            dry_run=dry_run,
            report=report,
            provenance={"file_name": path.name, **(provenance or {})},
            unknown_units=units,
        )
    result.report_path = report_path
    result.units_path = units_path if spec.references else None
    return result


def _open(stack: ExitStack, path: Path) -> IO[str]:
    return stack.enter_context(path.open("w", encoding="utf-8", newline=""))


def _counting(batches: Iterator[Batch], bar: tqdm) -> Iterator[Batch]:  # type: ignore[type-arg]
    for batch in batches:
        yield batch
        bar.update(len(batch))


def _spec(layer: str) -> LayerSpec:
    try:
        return LAYERS[layer]
    except KeyError:
        raise SourceError(f"unknown layer {layer!r}; use one of: {', '.join(LAYERS)}") from None


def _resolve_mapping(spec: LayerSpec, fields: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Layer column → file column, for the columns the file provides."""
    for target, source_name in mapping.items():
        if target not in spec.fields:
            raise SourceError(
                f"--map names {target!r}, which is not a column of {spec.name} "
                f"(columns: {', '.join(spec.fields)})"
            )
        if source_name not in fields:
            raise SourceError(
                f"--map {target}={source_name}: the file has no column {source_name!r}"
            )
    rename = {t: s for t, s in mapping.items()}
    for column in spec.fields:
        if column not in rename and column in fields:
            rename[column] = column
    if spec.key not in rename:
        raise SourceError(
            f"the file has no {spec.key!r} column (the natural key of {spec.name}); "
            f"name it with --map {spec.key}=<column>"
        )
    return rename


def import_batches(
    spec: LayerSpec,
    batches: Iterable[Batch],
    *,
    datum: Datum | str,
    rename: dict[str, str],
    dry_run: bool,
    report: RejectReport,
    provenance: dict[str, Any] | None = None,
    unknown_units: UnknownUnits | None = None,
) -> ImportResult:
    """Validate, place and upsert batches of rows in one transaction."""
    result = ImportResult(layer=spec.name, dry_run=dry_run)
    units = unknown_units if unknown_units is not None else UnknownUnits()
    prep = _Preparer(spec, datum, rename, units)
    with transaction.atomic():
        writer = LayerWriter(spec)
        try:
            for batch in batches:
                result.read += len(batch)
                table, keys, reasons = prep.prepare(batch)
                report.write(batch, keys, reasons)
                writer.write(table)
            result.rejected = report.count
            result.unknown_units = units.count
            result.inserted, result.updated = writer.finish()
            result.first_load = writer.direct
            units.close()  # its lines written beside the index builds, before any commit
        finally:
            writer.close()
        result.unchanged = result.read - result.rejected - result.inserted - result.updated
        if dry_run:
            transaction.set_rollback(True)
        elif result.inserted or result.updated:
            rows_written.send(
                sender=spec.model, spec=spec, result=result, provenance=provenance or {}
            )
    return result


class _Preparer:
    """Turns a batch into the rows to stage (an Arrow table) and the reasons for the rest."""

    def __init__(
        self, spec: LayerSpec, datum: Datum | str, rename: dict[str, str], units: UnknownUnits
    ) -> None:
        self.spec = spec
        self.unknown_units = units
        # Unit id by name and code, for the reference columns (a few thousand units).
        self.units = unit_lookup() if spec.references else {}
        self.datum = datum
        self.rename = rename
        self.cells = CellIndex()
        if not len(self.cells):
            raise SourceError("the city has no grid cells yet: load or import the grid first")
        # Without placement pieces no point can be placed: say that the areas are missing
        # rather than blame the coordinates (layers.placement keeps pieces in step).
        self.outside_reason = (
            "point lies outside every grid cell of the city (check the coordinates and --datum)"
            if len(self.cells.pieces)
            else "no grid cell areas to place into (their placement pieces are missing): "
            "import the areas first with import_areas"
        )
        self.categories: dict[str, int] = {}
        # Keys accepted from earlier batches, as a set and, with their rows, as arrays.
        self.seen: set[str] = set()
        self.accepted: list[tuple[pa.Array, npt.NDArray[np.int64]]] = []
        if spec.name == "components":
            self.categories = {
                c.major_code + c.minor_code: c.pk
                for c in Category.objects.filter(kind=CategoryKind.COMPONENT).exclude(minor_code="")
            }

    def prepare(self, batch: Batch) -> tuple[pa.Table, pa.Array, Reasons]:
        n = len(batch)
        reasons = Reasons(n)
        geometry_error = batch.geometry_error
        reasons.add(geometry_error.astype(bool), lambda i: geometry_error[i])
        lon, lat = batch.lon, batch.lat
        # The input boundary (layers.geoinput): finite, in range, in the datum's range;
        # rows that fail are rejected here, before anything is converted or placed.
        coordinate_error = lonlat_reasons(lon, lat, self.datum)
        bad_coordinates = coordinate_error.astype(bool) & reasons.ok
        reasons.add(bad_coordinates, lambda i: f"{coordinate_error[i]}: ({lon[i]}, {lat[i]})")

        values = {c.name: self._column(batch, c, n) for c in self.spec.columns}
        keys = values[self.spec.key]
        self._check_columns(values, reasons)

        ok = np.flatnonzero(reasons.ok)
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        x[ok], y[ok] = to_storage(lon[ok], lat[ok], self.datum)
        located = self.cells.locate(x[ok], y[ok])
        outside = np.zeros(n, dtype=bool)
        outside[ok[located.outside]] = True
        reasons.add(outside, self.outside_reason)
        columns: dict[str, pa.Array] = {"row": pa.array(batch.row)}
        columns.update((name, values[name]) for name in self.spec.fields)
        if self.spec.name == "components":
            columns["category_id"] = self._component_checks(keys, located, ok, reasons)
        columns["lon"] = pa.array(x)
        columns["lat"] = pa.array(y)
        for name in PLACEMENT_COLUMNS:
            placed = np.zeros(n, dtype=np.int64)
            placed[ok] = getattr(located, name)
            columns[name] = pa.array(placed)

        self._reject_duplicates(keys, batch, reasons)
        for reference in self.spec.references:
            columns[reference.name] = self._reference(reference, values, keys, batch, reasons)
        table = pa.table(columns).filter(pa.array(reasons.ok))
        for derived in self.spec.derived:  # computed for the accepted rows only
            table = table.append_column(derived.name, derived.compute(table[derived.source]))
        return table, keys, reasons

    def _column(self, batch: Batch, column: Column, n: int) -> pa.Array:
        source_name = self.rename.get(column.name)
        if source_name is None:
            return pa.array([column.default] * n, pa.string())
        values = pc.fill_null(pc.utf8_trim_whitespace(batch.columns[source_name]), "")
        if column.name == self.spec.key and self.spec.name in UPPER_CASE_KEYS:
            values = pc.utf8_upper(values)
        if column.choices is not None:
            values = self._choice_values(column.name, values)
        if column.default:
            values = pc.if_else(pc.equal(values, ""), column.default, values)
        return values

    def _choice_values(self, name: str, values: pa.Array) -> pa.Array:
        # Files from city departments use the Chinese labels (完好, 户籍人口); accept both.
        field = self.spec.model._meta.get_field(name)
        for value, label in getattr(field, "choices", None) or []:
            values = pc.if_else(pc.equal(values, str(label)), str(value), values)
        return values

    def _check_columns(self, values: dict[str, pa.Array], reasons: Reasons) -> None:
        for column in self.spec.columns:
            self._check_column(column, values[column.name], reasons)
        if self.spec.key_check is not None:
            keys = values[self.spec.key].to_numpy(zero_copy_only=False)
            valid, why = self.spec.key_check(keys)
            reasons.add(~valid & (keys != ""), lambda i: why[i])

    def _check_column(self, column: Column, v: pa.Array, reasons: Reasons) -> None:
        name = column.name
        empty = np.asarray(pc.equal(v, ""))
        if column.required:
            reasons.add(empty, f"{name} is empty")
        if column.max_length is not None:
            length = np.asarray(pc.utf8_length(v))
            limit = column.max_length
            reasons.add(
                length > limit, lambda i: f"{name} has {length[i]} characters, at most {limit}"
            )
        if column.max_value is not None:
            top = column.max_value
            digits = np.asarray(pc.match_substring_regex(v, r"^[0-9]{1,9}$"))
            number = np.zeros(len(v), dtype=np.int64)
            number[digits] = np.asarray(pc.cast(v.filter(pa.array(digits)), pa.int64()))
            reasons.add(
                ~empty & (~digits | (number > top)),
                lambda i: f"{name} {v[i].as_py()!r} is not a whole number from 0 to {top}",
            )
        if column.choices is not None:
            allowed = ", ".join(sorted(column.choices))
            invalid = ~np.asarray(pc.is_in(v, value_set=pa.array(sorted(column.choices))))
            reasons.add(
                invalid & ~empty, lambda i: f"{name} {v[i].as_py()!r} is not one of {allowed}"
            )

    def _component_checks(
        self, keys: pa.Array, located: Placements, ok: npt.NDArray[np.int64], reasons: Reasons
    ) -> pa.Array:
        """Category from the code's class digits; the code's district must be the point's."""
        # Looked up once per distinct class (a few hundred in a catalogue).
        classes = pc.dictionary_encode(pc.utf8_slice_codeunits(keys, 6, 10))
        distinct = classes.dictionary.to_pylist()
        category = np.array([self.categories.get(c, 0) for c in distinct], dtype=np.int64)
        category = category[np.asarray(classes.indices)]
        reasons.add(
            (category == 0) & reasons.ok,
            lambda i: f"component class {classes[i].as_py()} is not in the catalogue",
        )
        cell = np.full(len(keys), -1, dtype=np.int64)
        cell[ok] = located.cell_index
        district = np.where(cell >= 0, self.cells.district_code[cell], "")
        prefix = pc.utf8_slice_codeunits(keys, 0, 6).to_numpy(zero_copy_only=False)
        reasons.add(
            (cell >= 0) & (prefix != district) & reasons.ok,
            lambda i: (
                f"code names district {prefix[i]} but the point lies in "
                f"{district[i]} {self.cells.district_name[cell[i]]}"
            ),
        )
        return pa.array(category)

    def _reference(
        self,
        reference: Reference,
        values: dict[str, pa.Array],
        keys: pa.Array,
        batch: Batch,
        reasons: Reasons,
    ) -> pa.Array:
        """The unit id each row's text names (NULL if none); the accepted rows' unknown
        texts go to the report of unknown units."""
        # Looked up once per distinct text: a file names a few hundred units at most.
        texts = pc.dictionary_encode(values[reference.source])
        index = np.asarray(texts.indices)
        distinct = texts.dictionary.to_pylist()
        ids = np.array([self.units.get(text, 0) for text in distinct], dtype=np.int64)[index]
        named = np.array([text != "" for text in distinct], dtype=bool)[index]
        unknown = (ids == 0) & named & reasons.ok
        if unknown.any():
            at = pa.array(np.flatnonzero(unknown))
            self.unknown_units.write_rows(
                batch.row[unknown], keys.take(at), reference.source, texts.take(at)
            )
        return pa.array(ids, mask=ids == 0)

    def _reject_duplicates(self, keys: pa.Array, batch: Batch, reasons: Reasons) -> None:
        """Among rows that are otherwise valid, the first occurrence of a key wins, in
        this batch or an earlier one."""
        ok = np.flatnonzero(reasons.ok)
        if not len(ok):
            return
        ok_keys = keys.take(pa.array(ok))
        index = np.asarray(pc.dictionary_encode(ok_keys).indices)
        _, first = np.unique(index, return_index=True)
        first_row = np.full(len(keys), -1, dtype=np.int64)
        first_row[ok] = batch.row[ok[first[index]]]
        # Set operations run in C; the rows of the (rare) repeated keys are looked up after.
        ok_list = ok_keys.to_pylist()
        repeated = self.seen.intersection(ok_list)
        if repeated:
            earlier = self._earlier_rows(pa.array(sorted(repeated)))
            for i, key in zip(ok, ok_list, strict=True):
                first_row[i] = earlier.get(key, first_row[i])
        reasons.add(
            (first_row >= 0) & (first_row != batch.row),
            lambda i: f"duplicate of row {first_row[i]}",
        )
        # The keys of the rows just rejected are those of rows accepted, in this batch or
        # before, so the set of accepted keys grows by exactly ok_list's.
        self.seen.update(ok_list)
        accepted = pa.array(reasons.ok)
        self.accepted.append((keys.filter(accepted), batch.row[reasons.ok]))

    def _earlier_rows(self, wanted: pa.Array) -> dict[str, int]:
        """Row of each wanted key among the rows accepted from earlier batches."""
        rows: dict[str, int] = {}
        for keys, row in self.accepted:
            hit = np.asarray(pc.is_in(keys, value_set=wanted))
            rows.update(zip(keys.filter(pa.array(hit)).to_pylist(), row[hit].tolist(), strict=True))
        return rows
