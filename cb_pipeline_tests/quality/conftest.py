"""Helpers for the data-quality tests: a DuckDB warehouse with a two-LSOA reference lookup, and
hand-written hes_apc deliveries (the same shape as lib/test_ingest.py's)."""

import csv
from pathlib import Path

import pytest

from cb_pipeline.lib.warehouse import Warehouse
from cb_pipeline.reference import load_reference

KEY = b"quality-test-key"
VALID_NHS = "9434765919"  # the example of feeds.md
REF_HEADER = ["lsoa11_code", "lsoa11_name", "msoa11_code", "msoa11_name", "la_code", "la_name", "locality_code",
              "locality_name"]
APC_HEADER = ["EPIKEY", "PROCODE3", "NHSNUMBER", "PSEUDO_HESID", "ADMIDATE", "DISDATE", "EPIORDER", "ADMIMETH",
              "ADMISORC", "DISMETH", "STARTAGE", "LSOA11", "TRETSPEF", "DIAG_4_01"]


def write(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def apc(epikey, **kw) -> list[str]:
    row = {"EPIKEY": epikey, "PROCODE3": "RC9", "NHSNUMBER": VALID_NHS, "PSEUDO_HESID": "", "ADMIDATE": "2018-05-01",
           "DISDATE": "2018-05-03", "EPIORDER": "1", "ADMIMETH": "21", "ADMISORC": "19", "DISMETH": "1",
           "STARTAGE": "70", "LSOA11": "E01000001", "TRETSPEF": "300", "DIAG_4_01": "I10X"}
    row.update(kw)
    return [row[c] for c in APC_HEADER]


def write_reference(ref: Path) -> Path:
    write(ref / "lsoa_localities.csv", REF_HEADER, [
        ["E01000001", "A 001A", "E02000001", "A 001", "E06000099", "Test", "L1", "Loc one"],
        ["E01000002", "A 001B", "E02000001", "A 001", "E06000099", "Test", "L2", "Loc two"],
    ])
    return ref


@pytest.fixture
def duck(tmp_path):
    """(DuckDB warehouse with the reference loaded, landing dir)."""
    w = Warehouse(f"duckdb:///{tmp_path}/warehouse.duckdb")
    load_reference(w, write_reference(tmp_path / "reference"))
    yield w, tmp_path / "landing"
    w.dispose()
