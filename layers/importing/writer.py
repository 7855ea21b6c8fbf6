"""The database side of an import. Batches are sent with COPY in binary format from a
background thread, so PostgreSQL writes one batch while Python prepares and encodes the
next. Two ways in:

- Into an empty layer (the first load of a city, or a full reload after TRUNCATE):
  COPY straight into the layer's table, with its indexes dropped first and built again
  at the end. A sorted index build is many times faster than a million single-row
  insertions (on 1M points a GiST index takes 1.5 s to build, 8 s to maintain row by
  row), and the rows are written once, not staged and copied.
- Into a layer that has rows: COPY into an unlogged staging table, then two set-based
  statements: UPDATE the rows whose key exists and whose values changed, INSERT the new
  keys. If the new keys are many (BULK_MIN_ROWS, and a third of the table), the indexes
  are dropped and rebuilt around the INSERT as above.

Dropping indexes makes readers of the layer wait for the rest of the import's
transaction; one import per layer runs at a time either way (the table is locked).

A first load also lets other apps stand in for their row-keeping triggers (first_load).
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import connection
from django.dispatch import Signal

from layers.importing.specs import LayerSpec

PLACEMENT_COLUMNS = ("cell_id", "community_id", "street_id", "district_id")
BULK_MIN_ROWS = 50_000
COPY_CHUNK = 8 << 20

# A point as EWKB: little-endian, type Point with the SRID flag, SRID, x, y (25 bytes).
_EWKB_POINT = np.dtype(
    [("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")]
)
# COPY's binary format: a header (signature, flags, no extension), then per row the
# number of fields and each field as its length (-1: NULL) and bytes, then a trailer.
# PostgreSQL reads each value with its type's binary input: no text to parse, and the
# points go in as EWKB rather than hex. Values are big-endian.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_NULL_FIELD = pa.scalar(struct.pack(">i", -1), pa.binary())
_FIXED = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8", "timestamptz": ">i8"}
_TEXT = {"text", "varchar"}
_POSTGRES_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


# Sent by a first load into an empty layer before it writes, inside the import's
# transaction, with `spec`. A statement-level INSERT trigger that reads the statement's
# transition table makes PostgreSQL keep every row written for it (~1 s per million rows,
# docs/performance.md); an app that owns such a trigger may answer with a StandIn: the
# trigger is switched off for the load, and `write` is given the distinct cells the rows
# were placed in, to write in the same transaction what the trigger would have written.
first_load = Signal()


@dataclass(frozen=True)
class StandIn:
    """A receiver's answer to first_load: its trigger on the layer, and what does its work."""

    trigger: str
    write: Callable[[list[int]], None]


def text_columns(spec: LayerSpec) -> list[str]:
    """The columns an import writes as text: the file's and the derived ones."""
    return [*spec.fields, *(derived.name for derived in spec.derived)]


def data_columns(spec: LayerSpec) -> list[str]:
    """The layer columns an import writes, besides geom and updated_at."""
    columns = text_columns(spec)
    if spec.name == "components":
        columns.append("category_id")
    columns += [reference.name for reference in spec.references]
    return [*columns, *PLACEMENT_COLUMNS]


def staging_columns(spec: LayerSpec) -> list[tuple[str, str]]:
    text = set(text_columns(spec))
    columns = [("row", "bigint")]
    columns += [(c, "text" if c in text else "bigint") for c in data_columns(spec)]
    return [*columns, ("lon", "double precision"), ("lat", "double precision")]


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _ewkb(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> npt.NDArray[np.void]:
    points = np.empty(len(lon), dtype=_EWKB_POINT)
    points["order"] = 1
    points["type"] = 0x20000001
    points["srid"] = settings.GRID_SRID
    points["x"] = lon
    points["y"] = lat
    return points


def _fixed_fields(values: npt.NDArray[Any], null: npt.NDArray[np.bool_] | None) -> pa.Array:
    """Fixed-size values as fields of binary COPY: each one's length, then its bytes."""
    fields = np.empty(len(values), dtype=[("length", ">i4"), ("value", values.dtype)])
    fields["length"] = values.dtype.itemsize
    fields["value"] = values
    width = fields.dtype.itemsize
    out = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(fields.tobytes())]
    ).cast(pa.binary())
    if null is not None and null.any():
        out = pc.if_else(pa.array(null), _NULL_FIELD, out)
    return out


def _text_fields(column: pa.Array) -> pa.Array:
    """Text as fields of binary COPY. NULL is written as '': the layers' text columns are
    NOT NULL, and a missing value is empty text."""
    text = pc.fill_null(column, "").cast(pa.binary())
    length = np.asarray(pc.binary_length(text)).astype(">i4")
    prefix = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(4), len(length), [None, pa.py_buffer(length.tobytes())]
    ).cast(pa.binary())
    return pc.binary_join_element_wise(prefix, text, b"")


def binary_copy(table: pa.Table, types: dict[str, str]) -> memoryview:
    """The rows of `table` in COPY's binary format, for the columns of `types` (name →
    PostgreSQL type) in that order. `geom` is the point of the rows' `lon` and `lat`."""
    table = table.combine_chunks()
    fields = [pa.repeat(pa.scalar(struct.pack(">h", len(types)), pa.binary()), table.num_rows)]
    for name, pg_type in types.items():
        if pg_type == "geometry":
            lon, lat = table["lon"].to_numpy(), table["lat"].to_numpy()
            fields.append(_fixed_fields(_ewkb(lon, lat), None))
            continue
        column = table[name].chunk(0)
        if pg_type in _TEXT:
            fields.append(_text_fields(column))
        elif pg_type in _FIXED:
            null = np.asarray(column.is_null())
            values = np.asarray(column.fill_null(0)).astype(_FIXED[pg_type])
            fields.append(_fixed_fields(values, null))
        else:
            raise TypeError(f"{name}: no binary COPY for type {pg_type}")
    rows = pc.binary_join_element_wise(*fields, b"")
    # The rows' bytes, one after the other, are the data buffer of the joined array.
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)
    start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
    return memoryview(rows.buffers()[2])[start:end]


class LayerWriter:
    """Writes the prepared batches of one import on the current transaction."""

    def __init__(self, spec: LayerSpec) -> None:
        self.spec = spec
        self.table = spec.table
        self.cursor = connection.cursor()
        # One import per layer at a time; readers carry on (until indexes are dropped).
        self.cursor.execute(f"LOCK TABLE {self.table} IN SHARE ROW EXCLUSIVE MODE")
        self.cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {self.table})")
        self.direct = bool(self.cursor.fetchone()[0])
        self.rebuild = self._drop_indexes() if self.direct else []
        self.stand_ins = self._switch_off_triggers() if self.direct else []
        self.cells: set[int] = set()
        self.written = 0
        self.whole_numbers = [c.name for c in spec.columns if c.max_value is not None]
        if self.direct:
            columns = [*data_columns(spec), "geom", "updated_at"]
            target = self.table
            # The transaction's now(), as the merge path writes: the batch's rows are
            # those with this updated_at (layers.importing.core.rows_written).
            self.cursor.execute("SELECT now()")
            self.now = (self.cursor.fetchone()[0] - _POSTGRES_EPOCH) // dt.timedelta(microseconds=1)
        else:
            columns = [name for name, _ in staging_columns(spec)]
            # Unlogged: no WAL for rows that live a few seconds. Created in the import's
            # transaction, it disappears with a rollback too.
            target = f"import_staging_{uuid.uuid4().hex[:12]}"
            staged = ", ".join(f'"{n}" {t}' for n, t in staging_columns(spec))
            self.cursor.execute(f"CREATE UNLOGGED TABLE {target} ({staged})")
        self.staging = target
        self.types = self._column_types(target, columns)
        self.copy_sql = f"COPY {target} ({_quoted(columns)}) FROM STDIN WITH (FORMAT binary)"
        # The thread uses the same psycopg connection, so the same transaction; the
        # caller does not touch the database while a batch is in flight.
        self.raw = connection.connection
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy")
        self.pending: Future[None] | None = None

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self.written += table.num_rows
        if self.direct:
            if self.stand_ins:
                self.cells.update(pc.unique(table["cell_id"]).to_pylist())
            table = table.append_column("updated_at", pa.repeat(self.now, table.num_rows))
            # Whole numbers go in as numbers (an empty one is NULL), text as text.
            for column in self.whole_numbers:
                text = table[column]
                number = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
                table = table.set_column(
                    table.schema.get_field_index(column), column, pc.cast(number, pa.int64())
                )
        # Encoded here, while the thread still sends the previous batch: the thread then
        # only streams, and PostgreSQL does not sit idle while a batch is being encoded.
        rows = binary_copy(table, self.types)
        self._wait()
        self.pending = self.pool.submit(self._copy, rows)

    def _wait(self) -> None:
        if self.pending is not None:
            self.pending.result()
            self.pending = None

    def close(self) -> None:
        """Stop the thread. After a failure the transaction's rollback undoes the rest."""
        self.pool.shutdown()
        self.cursor.close()

    def _copy(self, rows: memoryview) -> None:
        with self.raw.cursor() as cursor, cursor.copy(self.copy_sql) as copy:
            copy.write(_COPY_HEADER)
            for start in range(0, len(rows), COPY_CHUNK):
                copy.write(rows[start : start + COPY_CHUNK])
            copy.write(_COPY_TRAILER)

    def _column_types(self, table: str, columns: list[str]) -> dict[str, str]:
        """Column → its PostgreSQL type's name, in the order of `columns`."""
        self.cursor.execute(
            "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            [table],
        )
        types = dict(self.cursor.fetchall())
        return {name: types[name] for name in columns}

    def finish(self) -> tuple[int, int]:
        """Write what is staged into the layer; returns (inserted, updated)."""
        self._wait()
        if self.direct:
            inserted, updated = self.written, 0
            self._stand_in(sorted(c for c in self.cells if c is not None))
        else:
            inserted, updated = self._merge()
        for statement in self.rebuild:
            self.cursor.execute(statement)
        if self.rebuild:
            self.cursor.execute(f"ANALYZE {self.table}")
        return inserted, updated

    def _merge(self) -> tuple[int, int]:
        """UPDATE changed rows, INSERT new keys, leave identical rows untouched."""
        key = self.spec.key
        self.cursor.execute(f"ANALYZE {self.staging}")
        updated = self._update_changed()
        new_rows = f"""FROM {self.staging} s
            WHERE NOT EXISTS (SELECT 1 FROM {self.table} t WHERE t."{key}" = s."{key}")"""
        self.cursor.execute(f"SELECT count(*) {new_rows}")
        expected = int(self.cursor.fetchone()[0])
        inserted = 0
        if expected:
            if self._is_large(expected):
                self.rebuild = self._drop_indexes()
            columns = [*data_columns(self.spec), "geom", "updated_at"]
            values = [*(self._value(c) for c in data_columns(self.spec)), self._geom(), "now()"]
            self.cursor.execute(
                f"INSERT INTO {self.table} ({_quoted(columns)}) "
                f"SELECT {', '.join(values)} {new_rows}"
            )
            inserted = self.cursor.rowcount
        self.cursor.execute(f"DROP TABLE {self.staging}")
        return inserted, updated

    def _value(self, column: str) -> str:
        if any(c.name == column and c.max_value is not None for c in self.spec.columns):
            return f"NULLIF(s.\"{column}\", '')::integer"
        return f's."{column}"'

    def _geom(self) -> str:
        return f"ST_SetSRID(ST_MakePoint(s.lon, s.lat), {settings.GRID_SRID})"

    def _update_changed(self) -> int:
        key = self.spec.key
        compared = [c for c in data_columns(self.spec) if c != key]
        old = ", ".join([*(f't."{c}"' for c in compared), "t.geom"])
        new = ", ".join([*(self._value(c) for c in compared), self._geom()])
        assignments = ", ".join(
            [*(f'"{c}" = {self._value(c)}' for c in compared), f"geom = {self._geom()}"]
        )
        self.cursor.execute(
            f"""
            UPDATE {self.table} t SET {assignments}, updated_at = now()
            FROM {self.staging} s
            WHERE t."{key}" = s."{key}" AND ({old}) IS DISTINCT FROM ({new})
            """
        )
        return self.cursor.rowcount

    def _is_large(self, new_rows: int) -> bool:
        self.cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [self.table])
        existing = max(float(self.cursor.fetchone()[0]), 0.0)
        return new_rows >= BULK_MIN_ROWS and new_rows >= existing / 3

    def _switch_off_triggers(self) -> list[StandIn]:
        """Switch off the triggers first_load's receivers stand in for. Only this
        transaction writes the table (its indexes are dropped, so it is locked), and a
        rollback switches them on again."""
        answers: list[tuple[Any, Any]] = first_load.send(sender=self.spec.model, spec=self.spec)
        stand_ins = [answer for _receiver, answer in answers if isinstance(answer, StandIn)]
        for stand_in in stand_ins:
            self.cursor.execute(f'ALTER TABLE {self.table} DISABLE TRIGGER "{stand_in.trigger}"')
        return stand_ins

    def _stand_in(self, cells: list[int]) -> None:
        for stand_in in self.stand_ins:
            self.cursor.execute(f'ALTER TABLE {self.table} ENABLE TRIGGER "{stand_in.trigger}"')
            if cells:
                stand_in.write(cells)

    def _drop_indexes(self) -> list[str]:
        return drop_indexes(self.cursor, self.table)


def drop_indexes(cursor: Any, table: str) -> list[str]:
    """Drop every index but the primary key; returns the statements that rebuild them
    (unique constraints as constraints, so their names and meaning stay)."""
    cursor.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid), con.conname,
               pg_get_constraintdef(con.oid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
        """,
        [table],
    )
    rebuild = []
    for index, index_def, constraint, constraint_def in cursor.fetchall():
        if constraint:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
            rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {constraint_def}')
        else:
            cursor.execute(f'DROP INDEX "{index}"')
            rebuild.append(index_def)
    return rebuild
