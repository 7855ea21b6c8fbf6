"""The database side of an import. Batches are sent with COPY from a background thread,
so PostgreSQL parses one batch while Python prepares the next. Two ways in:

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
"""

from __future__ import annotations

import io
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.conf import settings
from django.db import connection

from layers.importing.specs import LayerSpec

PLACEMENT_COLUMNS = ("cell_id", "community_id", "street_id", "district_id")
BULK_MIN_ROWS = 50_000
COPY_CHUNK = 8 << 20

# A point as EWKB: little-endian, type Point with the SRID flag, SRID, x, y (25 bytes).
_EWKB_POINT = np.dtype(
    [("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")]
)


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


def _ewkb_hex(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    points = np.empty(len(lon), dtype=_EWKB_POINT)
    points["order"] = 1
    points["type"] = 0x20000001
    points["srid"] = settings.GRID_SRID
    points["x"] = lon
    points["y"] = lat
    hex_text = np.frombuffer(points.tobytes().hex().encode(), dtype=f"S{2 * _EWKB_POINT.itemsize}")
    return pa.array(hex_text, pa.binary()).cast(pa.string())


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
        self.written = 0
        self.whole_numbers = [c.name for c in spec.columns if c.max_value is not None]
        text = [c for c in text_columns(spec) if c not in self.whole_numbers]
        force_not_null = f"FORCE_NOT_NULL ({_quoted(text_columns(spec))})"
        if self.direct:
            self.columns = [*data_columns(spec), "geom", "updated_at"]
            target = self.table
            # The transaction's now(), as the merge path writes: the batch's rows are
            # those with this updated_at (layers.importing.core.rows_written).
            self.cursor.execute("SELECT now()")
            self.now = self.cursor.fetchone()[0].isoformat()
            # Whole numbers go in as numbers (an empty one is NULL), text as text.
            force_not_null = f"FORCE_NOT_NULL ({_quoted(text)})"
        else:
            self.columns = [name for name, _ in staging_columns(spec)]
            # Unlogged: no WAL for rows that live a few seconds. Created in the import's
            # transaction, it disappears with a rollback too.
            target = f"import_staging_{uuid.uuid4().hex[:12]}"
            columns = ", ".join(f'"{n}" {t}' for n, t in staging_columns(spec))
            self.cursor.execute(f"CREATE UNLOGGED TABLE {target} ({columns})")
        self.staging = target
        self.copy_sql = (
            f"COPY {target} ({_quoted(self.columns)}) FROM STDIN "
            f"WITH (FORMAT csv, {force_not_null})"
        )
        # The thread uses the same psycopg connection, so the same transaction; the
        # caller does not touch the database while a batch is in flight.
        self.raw = connection.connection
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy")
        self.pending: Future[None] | None = None

    def write(self, table: pa.Table) -> None:
        self._wait()
        if not table.num_rows:
            return
        self.written += table.num_rows
        if self.direct:
            table = table.append_column(
                "geom", _ewkb_hex(table["lon"].to_numpy(), table["lat"].to_numpy())
            )
            table = table.append_column("updated_at", pa.array([self.now] * table.num_rows))
            for column in self.whole_numbers:
                text = table[column]
                number = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
                table = table.set_column(
                    table.schema.get_field_index(column), column, pc.cast(number, pa.int64())
                )
        self.pending = self.pool.submit(self._copy, table.select(self.columns))

    def _wait(self) -> None:
        if self.pending is not None:
            self.pending.result()
            self.pending = None

    def close(self) -> None:
        """Stop the thread. After a failure the transaction's rollback undoes the rest."""
        self.pool.shutdown()
        self.cursor.close()

    def _copy(self, table: pa.Table) -> None:
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
        view = buffer.getbuffer()
        with self.raw.cursor() as cursor, cursor.copy(self.copy_sql) as copy:
            for start in range(0, len(view), COPY_CHUNK):
                copy.write(view[start : start + COPY_CHUNK])

    def finish(self) -> tuple[int, int]:
        """Write what is staged into the layer; returns (inserted, updated)."""
        self._wait()
        if self.direct:
            inserted, updated = self.written, 0
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
