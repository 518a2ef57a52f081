"""Fixtures shared by every test package: a warehouse on DuckDB, and on PostgreSQL when CI gives one.

PostgreSQL tests read CB_TEST_POSTGRES_URL (CI: postgresql+psycopg://postgres@127.0.0.1:5432/test)
and use a fresh schema per test, dropped afterwards; without the variable they skip with a message.
"""

import os
import uuid

import pytest
import sqlalchemy as sa

from cb_pipeline.lib.warehouse import Warehouse

POSTGRES_URL = os.environ.get("CB_TEST_POSTGRES_URL", "")


def postgres_schema_url(base_url: str, schema: str) -> str:
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url():
    """A PostgreSQL URL whose search_path is a new, empty schema."""
    if not POSTGRES_URL:
        pytest.skip("CB_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"create schema {schema}"))
    yield postgres_schema_url(POSTGRES_URL, schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f"drop schema {schema} cascade"))
    engine.dispose()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    """A real, empty warehouse: a DuckDB file, and (when available) a PostgreSQL schema."""
    if request.param == "duckdb":
        w = Warehouse(f"duckdb:///{tmp_path}/warehouse.duckdb")
    else:
        w = Warehouse(request.getfixturevalue("postgres_url"))
    yield w
    w.dispose()
