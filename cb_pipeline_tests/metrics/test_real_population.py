"""The real ONS files (../real-data, Open Government Licence) and the real Central Bedfordshire
lookup through the population rules, compared with sums computed here straight from the CSVs."""

import csv
import os
import shutil
from pathlib import Path

import pytest

from cb_pipeline_tests.metrics.scenario import REFERENCE_HEADER, Scenario, months

from cb_pipeline_tests.shared_data import SHARED

REAL = SHARED / "real-data"
LOOKUP = SHARED / "reference" / "central_bedfordshire_lsoa11_localities.csv"
CB = "E06000056"
UTLA_2019, UTLA_2020 = "ons_mye_mid-2019_utla_E06000056.csv", "ons_mye_mid-2020_utla_E06000056.csv"
LSOA_2020 = "ons_mye_mid-2020_lsoa11_central_bedfordshire.csv"


def _sums(path: Path, code_column: str, codes: set[str]) -> tuple[float, float]:
    """(all ages, 65 and over) over the rows whose code is in `codes`, from the single-year columns."""
    total = over65 = 0.0
    with path.open(encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if row[code_column] in codes:
                ages = {k: float(v) for k, v in row.items() if k.isdigit() or k == "90+"}
                total += sum(ages.values())
                over65 += sum(v for k, v in ages.items() if k == "90+" or int(k) >= 65)
    return total, over65


@pytest.fixture
def real_scenario(tmp_path):
    if not (REAL / LSOA_2020).exists() or not LOOKUP.exists():
        pytest.skip(f"real data not found under {SHARED} (set CB_SHARED_DIR)")
    with LOOKUP.open(encoding="utf-8-sig") as f:
        lookup = [tuple(r[c] for c in REFERENCE_HEADER) for r in csv.DictReader(f)]
    s = Scenario(cover_apc=months("2020-04", "2020-06") + months("2021-04", "2021-06"), cover_ae=[],
                 reference_rows=lookup)
    s.population_files.clear()  # the real files are copied in below
    s._default_population = False
    return s, lookup


def _copy_population(tmp_path: Path, names: list[str]) -> Path:
    root = tmp_path / "zone"
    (root / "landing" / "population").mkdir(parents=True)
    for name in names:
        shutil.copy(REAL / name, root / "landing" / "population" / name)
    return root


def test_real_files_hwb_row_and_year_choice(real_scenario, tmp_path):
    s, _ = real_scenario
    root = _copy_population(tmp_path, [UTLA_2019, UTLA_2020, LSOA_2020])
    b = s.build(root)
    got = {q: (b.metric("nea", q, CB)["population_mid_year"], b.metric("nea", q, CB)["population_denominator"],
               b.metric("falls65", q, CB)["population_denominator"]) for q in ("2020-04-01", "2021-04-01")}
    all_2019, over65_2019 = _sums(REAL / UTLA_2019, "utla20_code", {CB})
    all_2020, over65_2020 = _sums(REAL / UTLA_2020, "utla20_code", {CB})
    assert all_2019 == 288648
    assert got == {
        "2020-04-01": (2019, all_2019, over65_2019),   # FY 2020-21 uses mid-2019
        "2021-04-01": (2020, all_2020, over65_2020),   # FY 2021-22 uses mid-2020, the HWB row (not the LSOA sum)
    }
    assert b.rows("select distinct population_source from int_population__hwb_mid_year") == [
        {"population_source": "hwb_row"}]


def test_real_lsoa_file_sums_to_the_hwb(real_scenario, tmp_path):
    s, lookup = real_scenario
    root = _copy_population(tmp_path, [LSOA_2020])
    b = s.build(root)
    lsoas = {r[0] for r in lookup if r[4] == CB}
    all_ages, over65 = _sums(REAL / LSOA_2020, "lsoa11_code", lsoas)
    for q in ("2020-04-01", "2021-04-01"):  # only mid-2020 exists: the closest for both years
        m, f = b.metric("nea", q, CB), b.metric("falls65", q, CB)
        assert (m["population_mid_year"], m["population_denominator"], f["population_denominator"]) == (
            2020, pytest.approx(all_ages), pytest.approx(over65))
    # the real localities are the dashboard's units
    locs = {r["locality_code"] for r in b.rows("select locality_code from fct_place_dashboard_quarterly")}
    assert locs == {"ALL", "CV", "IV", "LB", "WMB"}
