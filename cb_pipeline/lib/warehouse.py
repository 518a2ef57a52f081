"""The warehouse: one SQLAlchemy engine over DuckDB (embedded default) or PostgreSQL (production).

Belongs here: connecting (with retries), running SQL, reading frames, and bulk-loading frames the
fast native way for each dialect. Does not: which tables exist or what they mean (ingest/ and the
SQL models own that).
"""

import io
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import sqlalchemy as sa

log = logging.getLogger(__name__)


class WarehouseUnavailable(Exception):
    """The warehouse refused connections after every retry."""


def _prepare_url(url: str) -> str:
    if url.startswith("duckdb:///") and not url.startswith("duckdb:///:memory:"):
        path = Path(url[len("duckdb:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
    return url


class Warehouse:
    """A thin wrapper so every caller speaks to DuckDB and PostgreSQL the same way."""

    def __init__(self, url: str, *, connect_retries: int = 5, retry_base_seconds: float = 0.5):
        self.url = _prepare_url(url)
        if self.url.startswith("duckdb"):
            # Closing a DuckDB file connection checkpoints it (~0.1 s); keep one open per process and
            # release it with dispose() before another process needs the file (DuckDB has one writer).
            # A memory limit makes DuckDB spill to disk instead of growing with the data (bounded memory).
            # A checkpoint rewrites the changed tables; at DuckDB's default threshold (16 MB of WAL) every
            # ingest commit triggered one (measured: 11 s of a 50 s England-year hes_apc load for 8 HWBs).
            config = {"memory_limit": os.environ.get("CB_DUCKDB_MEMORY_LIMIT", "1GB"),
                      "checkpoint_threshold": os.environ.get("CB_DUCKDB_CHECKPOINT_THRESHOLD", "256MB")}
            self.engine = sa.create_engine(self.url, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=8,
                                           connect_args={"config": config})
        else:
            self.engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        self.dialect = self.engine.dialect.name  # "duckdb" or "postgresql"
        self._connect_retries = connect_retries
        self._retry_base_seconds = retry_base_seconds

    def dispose(self) -> None:
        """Close pooled connections (DuckDB: releases the file lock for other processes)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Warehouse({self.engine.url.render_as_string(hide_password=True)})"

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A transaction; retried with backoff while the server refuses connections."""
        for attempt in range(self._connect_retries + 1):
            try:
                conn = self.engine.connect()
                break
            except sa.exc.OperationalError as exc:
                if attempt == self._connect_retries:
                    raise WarehouseUnavailable(
                        f"{self!r} refused connections after {attempt + 1} attempts: {exc.orig}"
                    ) from exc
                wait = self._retry_base_seconds * 2**attempt
                log.warning("warehouse connection failed (%s); retrying in %.1fs", exc.orig, wait)
                time.sleep(wait)
        with conn:
            with conn.begin():
                yield conn

    def execute(self, sql: str, params: dict | None = None) -> None:
        with self.begin() as conn:
            conn.execute(sa.text(sql), params or {})

    def query_df(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        with self.begin() as conn:
            result = conn.execute(sa.text(sql), params or {})
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def scalar(self, sql: str, params: dict | None = None):
        with self.begin() as conn:
            return conn.execute(sa.text(sql), params or {}).scalar()

    def table_exists(self, table: str) -> bool:
        if self.dialect == "duckdb":
            sql = "select count(*) from information_schema.tables where table_name = :t"
        else:
            sql = "select count(*) from information_schema.tables where table_name = :t and table_schema = current_schema()"
        return bool(self.scalar(sql, {"t": table}))

    def columns(self, table: str) -> list[str]:
        sql = (
            "select column_name from information_schema.columns where table_name = :t "
            + ("" if self.dialect == "duckdb" else "and table_schema = current_schema() ")
            + "order by ordinal_position"
        )
        with self.begin() as conn:
            return [r[0] for r in conn.execute(sa.text(sql), {"t": table})]

    def load_arrow(self, conn: sa.Connection, table: str, data: pa.Table, *, create: bool = False) -> None:
        """Append (or create) `table` from an Arrow table inside the caller's transaction.

        DuckDB reads the Arrow table natively; PostgreSQL gets COPY. Both avoid per-row inserts.
        """
        if self.dialect == "duckdb":
            raw = conn.connection.driver_connection
            raw.register("_cb_load", data)
            try:
                if create:
                    raw.execute(f'create table "{table}" as select * from _cb_load')
                else:
                    cols = ", ".join(f'"{c}"' for c in data.column_names)
                    raw.execute(f'insert into "{table}" ({cols}) select {cols} from _cb_load')
            finally:
                raw.unregister("_cb_load")
            return
        if create:
            conn.execute(sa.text(f'create table "{table}" ({_pg_columns(data.schema)})'))
        cols = ", ".join(f'"{c}"' for c in data.column_names)
        raw = conn.connection.driver_connection
        # Arrow writes CSV natively; in PostgreSQL's CSV format an unquoted empty field is NULL and a
        # quoted one ("") an empty string, which is exactly how Arrow writes nulls and empty strings.
        buffer = io.BytesIO()
        pcsv.write_csv(data, buffer, pcsv.WriteOptions(include_header=False))
        with raw.cursor() as cur:
            with cur.copy(f'copy "{table}" ({cols}) from stdin with (format csv)') as copy:
                copy.write(buffer.getbuffer())


def _pg_columns(schema: pa.Schema) -> str:
    def pg_type(t: pa.DataType) -> str:
        if pa.types.is_integer(t):
            return "bigint"
        if pa.types.is_floating(t):
            return "double precision"
        if pa.types.is_date(t):
            return "date"
        if pa.types.is_timestamp(t):
            return "timestamp"
        if pa.types.is_boolean(t):
            return "boolean"
        return "text"

    return ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in schema)
