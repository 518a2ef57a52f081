"""The ingest engine on small hand-written deliveries: every rule, quarantine, supersede, idempotency,
pseudonymisation and rejection, checked against values worked out by hand from the rows below."""

import csv
import hashlib
import hmac
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from cb_pipeline.lib.ingest import PseudonymisationKeyMissing, ingest_feed
from cb_pipeline.lib.warehouse import Warehouse
from cb_pipeline.reference import load_reference
from cb_pipeline_tests.shared_data import SHARED

KEY = b"unit-test-key"
VALID_NHS = "9434765919"  # the example of feeds.md
VALID_NHS_2 = "4010232137"  # 4*10+0*9+1*8+0*7+2*6+3*5+2*4+1*3+3*2 = 92; 92 mod 11 = 4; 11-4 = 7
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


@pytest.fixture
def env(tmp_path, warehouse):
    """(warehouse with the reference lookup loaded, landing dir), on DuckDB and on PostgreSQL."""
    ref = tmp_path / "reference"
    write(ref / "lsoa_localities.csv", REF_HEADER, [
        ["E01000001", "A 001A", "E02000001", "A 001", "E06000099", "Test", "L1", "Loc one"],
        ["E01000002", "A 001B", "E02000001", "A 001", "E06000099", "Test", "L2", "Loc two"],
    ])
    load_reference(warehouse, ref)
    return warehouse, tmp_path / "landing"


def apc(epikey, **kw):
    row = {"EPIKEY": epikey, "PROCODE3": "RC9", "NHSNUMBER": VALID_NHS, "PSEUDO_HESID": "", "ADMIDATE": "2018-05-01",
           "DISDATE": "2018-05-03", "EPIORDER": "1", "ADMIMETH": "21", "ADMISORC": "19", "DISMETH": "1",
           "STARTAGE": "70", "LSOA11": "E01000001", "TRETSPEF": "300", "DIAG_4_01": "I10X"}
    row.update(kw)
    return [row[c] for c in APC_HEADER]


def rows(w: Warehouse, sql: str) -> list[dict]:
    """Query rows as dicts, with SQL NULL as None."""
    with w.begin() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql))]


def test_each_rule_quarantines_or_flags_and_counts_reconcile(env):
    w, landing = env
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [
        apc("1"),                                               # 1 valid
        apc("", ADMIDATE="2018-05-02"),                         # 2 key_missing
        apc("3", ADMIDATE="2018-02-30"),                        # 3 date_invalid
        apc("4", DISDATE="2018-04-30"),                         # 4 date_order
        apc("5", ADMIDATE="2018-06-02", DISDATE=""),            # 5 date_future (run date 2018-06-01)
        apc("6", ADMIMETH="77"),                                # 6 code_invalid
        apc("7", DISMETH="7"),                                  # 7 code_unknown (warning, DISMETH -> NULL)
        apc("8", STARTAGE="121"),                               # 8 age_invalid
        apc("9", STARTAGE="7003"),                              # 9 infant code -> age 0
        apc("10", STARTAGE="42.0", NHSNUMBER="9434765918"),     # 10 42; nhs_number_invalid -> fallback
        apc("11", LSOA11="-"),                                  # 11 residence_unknown (missing token)
        apc("12", EPIORDER="0"),                                # 12 value_invalid
        apc("13", ADMIDATE="01/05/2018", ADMIMETH="2a"),        # 13 DD/MM/YYYY and lower-case code: valid
        apc("14"), apc("14"),                                   # 14,15 key_duplicate_in_delivery (both)
        apc("16", ADMIDATE="", STARTAGE="-1"),                  # 16 two fatal reasons
    ])
    report = ingest_feed(w, "hes_apc", landing, key=KEY)
    d = report.deliveries[0]
    assert (d.status, d.rows_in, d.valid, d.quarantined) == ("loaded", 16, 6, 10)
    q = {r["_row_number"]: r["_rules"] for r in rows(w, "select _row_number, _rules from quarantine_hes_apc")}
    assert q == {2: "key_missing", 3: "date_invalid", 4: "date_order", 5: "date_future", 6: "code_invalid",
                 8: "age_invalid", 12: "value_invalid", 14: "key_duplicate_in_delivery",
                 15: "key_duplicate_in_delivery", 16: "date_invalid,age_invalid"}
    reason = w.scalar("select _reasons from quarantine_hes_apc where _row_number = 4")
    assert reason == "date_order: DISDATE is before ADMIDATE"
    valid = {r["epikey"]: r for r in rows(w, "select * from ingest_hes_apc")}
    assert sorted(valid, key=int) == ["1", "7", "9", "10", "11", "13"]
    assert valid["7"]["dismeth"] is None and valid["7"]["_warnings"] == "code_unknown"
    assert valid["9"]["startage"] == 0 and valid["10"]["startage"] == 42
    assert valid["10"]["person_key"] is None and valid["10"]["_warnings"] == "nhs_number_invalid"
    assert valid["11"]["_warnings"] == "residence_unknown" and valid["1"]["_warnings"] is None
    assert str(valid["13"]["admidate"]) == "2018-05-01" and valid["13"]["admimeth"] == "2A"
    counts = {(r["rule_id"], r["kind"]): r["rows"] for r in rows(w, "select * from ingest_rule_counts")}
    assert counts[("key_duplicate_in_delivery", "fatal")] == 2
    assert counts[("date_invalid", "fatal")] == 2 and counts[("age_invalid", "fatal")] == 2
    assert counts[("residence_unknown", "warning")] == 1 and counts[("code_unknown", "warning")] == 1
    ledger = rows(w, "select rows_in, valid, quarantined, warning_rows from ingest_deliveries")[0]
    assert ledger == {"rows_in": 16, "valid": 6, "quarantined": 10, "warning_rows": 3}


def test_missing_required_column_rejects_the_whole_delivery(env):
    w, landing = env
    header = [c for c in APC_HEADER if c != "ADMIDATE"]
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", header, [apc("1")[:4] + apc("1")[5:]])
    d = ingest_feed(w, "hes_apc", landing, key=KEY).deliveries[0]
    assert d.status == "rejected" and "required column(s) missing: ADMIDATE" in d.reason
    assert w.scalar("select count(*) from ingest_hes_apc") == 0
    assert w.scalar("select count(*) from quarantine_hes_apc") == 0
    assert rows(w, "select status, rows_in from ingest_deliveries") == [{"status": "rejected", "rows_in": 0}]


def test_header_is_case_insensitive_with_bom_and_unlisted_columns_ignored(env):
    w, landing = env
    header = [c.lower() for c in APC_HEADER] + ["FYEAR"]
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", header, [apc("1") + ["1819"]], encoding="utf-8-sig")
    d = ingest_feed(w, "hes_apc", landing, key=KEY).deliveries[0]
    assert (d.status, d.valid) == ("loaded", 1)


def test_later_delivery_supersedes_and_lexical_order_decides_whatever_the_arrival_order(env):
    w, landing = env
    folder = landing / "hes_apc"
    # The later-named delivery arrives first.
    write(folder / "20180701T0200_RC9_apc.csv", APC_HEADER, [apc("1", STARTAGE="71"), apc("2", ADMIDATE="bad")])
    ingest_feed(w, "hes_apc", landing, key=KEY)
    write(folder / "20180601T0200_RC9_apc.csv", APC_HEADER, [apc("1", STARTAGE="70"), apc("2", STARTAGE="50")])
    ingest_feed(w, "hes_apc", landing, key=KEY)
    current = {r["epikey"]: r["startage"] for r in rows(w, "select * from ingest_hes_apc where _superseded_by is null")}
    # EPIKEY 1: the later name wins although it arrived first. EPIKEY 2: the later row is quarantined,
    # so the earlier valid row stays current.
    assert current == {"1": 71, "2": 50}
    assert rows(w, "select _delivery, _superseded_by from ingest_hes_apc where _superseded_by is not null") == [
        {"_delivery": "20180601T0200_RC9_apc.csv", "_superseded_by": "20180701T0200_RC9_apc.csv"}]
    recon = rows(w, """select d.delivery, d.rows_in, d.valid - coalesce(s.n, 0) as current_valid, d.quarantined,
                              coalesce(s.n, 0) as superseded
                       from ingest_deliveries d left join (select _delivery, count(*) n from ingest_hes_apc
                         where _superseded_by is not null group by 1) s on s._delivery = d.delivery order by 1""")
    assert recon == [
        {"delivery": "20180601T0200_RC9_apc.csv", "rows_in": 2, "current_valid": 1, "quarantined": 0, "superseded": 1},
        {"delivery": "20180701T0200_RC9_apc.csv", "rows_in": 2, "current_valid": 1, "quarantined": 1, "superseded": 0}]


def test_loading_twice_loads_once_and_a_renamed_copy_is_not_loaded_again(env):
    w, landing = env
    path = write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [apc("1"), apc("2")])
    first = ingest_feed(w, "hes_apc", landing, key=KEY)
    second = ingest_feed(w, "hes_apc", landing, key=KEY)
    assert [d.status for d in first.deliveries] == ["loaded"]
    assert [d.status for d in second.deliveries] == ["already_loaded"]
    shutil.copy(path, path.with_name("20180602T0200_RC9_apc.csv"))
    third = ingest_feed(w, "hes_apc", landing, key=KEY)
    assert third.deliveries[1].status == "rejected" and "identical content" in third.deliveries[1].reason
    assert w.scalar("select count(*) from ingest_hes_apc") == 2


def test_nhs_numbers_become_keyed_hashes_and_never_reach_the_warehouse(env):
    w, landing = env
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [
        apc("1", NHSNUMBER="943 476 5919"), apc("2", NHSNUMBER=VALID_NHS_2, PSEUDO_HESID="H2"),
        apc("3", NHSNUMBER="", PSEUDO_HESID="H3"), apc("4", NHSNUMBER="1234567890", ADMIDATE="x")])
    ingest_feed(w, "hes_apc", landing, key=KEY)
    keys = {r["epikey"]: (r["person_key"], r["person_key_source"]) for r in rows(w, "select * from ingest_hes_apc")}
    assert keys["1"] == (hmac.new(KEY, VALID_NHS.encode(), hashlib.sha256).hexdigest(), "nhs_number")
    assert keys["2"][1] == "nhs_number" and keys["3"] == ("H3", "pseudo_hesid")
    quarantined = w.scalar("select nhsnumber from quarantine_hes_apc")
    assert quarantined == hmac.new(KEY, b"1234567890", hashlib.sha256).hexdigest()
    raws = (VALID_NHS, VALID_NHS_2, "1234567890", "943 476 5919")
    for table in ("ingest_hes_apc", "quarantine_hes_apc", "ingest_deliveries", "ingest_rule_counts"):
        text = repr(rows(w, f"select * from {table}"))
        assert not any(raw in text for raw in raws), table
    if w.dialect == "duckdb":
        w.dispose()
        blob = Path(w.engine.url.database).read_bytes()
        assert not any(raw.encode() in blob for raw in raws)


def test_nhs_numbers_without_a_key_stop_ingest_with_a_clear_error(env):
    w, landing = env
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [apc("1")])
    with pytest.raises(PseudonymisationKeyMissing, match="CB_PSEUDONYMISATION_KEY is not set"):
        ingest_feed(w, "hes_apc", landing, key=None)
    assert w.scalar("select count(*) from ingest_hes_apc") == 0
    assert w.scalar("select count(*) from ingest_deliveries") == 0


def test_ragged_rows_are_quarantined_with_their_row_numbers_across_batches(env, monkeypatch):
    w, landing = env
    monkeypatch.setenv("CB_INGEST_BLOCK_BYTES", "300")  # forces one batch per few rows
    lines = [",".join(APC_HEADER)]
    for i in range(1, 41):
        lines.append(",".join(apc(str(i))) if i % 10 else "short,row")
    lines.append(",".join(apc("1")))  # row 41 duplicates row 1's key, batches apart
    (landing / "hes_apc").mkdir(parents=True)
    (landing / "hes_apc" / "20180601T0200_RC9_apc.csv").write_text("\n".join(lines) + "\n")
    d = ingest_feed(w, "hes_apc", landing, key=KEY).deliveries[0]
    assert (d.rows_in, d.valid, d.quarantined) == (41, 35, 6)
    q = {r["_row_number"]: r["_rules"] for r in rows(w, "select _row_number, _rules from quarantine_hes_apc")}
    assert q == {10: "row_malformed", 20: "row_malformed", 30: "row_malformed", 40: "row_malformed",
                 1: "key_duplicate_in_delivery", 41: "key_duplicate_in_delivery"}
    raw = w.scalar("select _raw_line from quarantine_hes_apc where _row_number = 10")
    assert raw == "short,row"
    assert sorted(r["_row_number"] for r in rows(w, "select _row_number from ingest_hes_apc")) == [
        i for i in range(2, 40) if i % 10]


REAL = SHARED / "real-data"


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real ONS files not found at {REAL}")
def test_real_ons_files_load_unchanged(env):
    w, landing = env
    for name in ("ons_mye_mid-2019_utla_E06000056.csv", "ons_mye_mid-2020_utla_E06000056.csv",
                 "ons_mye_mid-2020_lsoa11_central_bedfordshire.csv"):
        shutil.copy(REAL / name, (landing / "population").mkdir(parents=True, exist_ok=True) or landing / "population" / name)
    report = ingest_feed(w, "population", landing, key=None)
    assert [(d.status, d.quarantined) for d in report.deliveries] == [("loaded", 0)] * 3
    # Expected figures read straight from the files with the csv module.
    expected = {}
    for name, year in (("ons_mye_mid-2019_utla_E06000056.csv", 2019), ("ons_mye_mid-2020_lsoa11_central_bedfordshire.csv", 2020)):
        with (REAL / name).open(newline="") as f:
            data = list(csv.DictReader(f))
        expected[year] = (len(data), sum(float(r["total_population"]) for r in data),
                          sum(float(r[str(a)]) for r in data for a in range(65, 90)) + sum(float(r["90+"]) for r in data))
    got_utla = rows(w, "select count(distinct area_code) n, sum(population) total, "
                       "sum(case when age >= 65 then population end) p65 from ingest_population where mid_year = 2019")[0]
    assert (got_utla["n"], got_utla["total"], got_utla["p65"]) == expected[2019]
    assert expected[2019][1] == 288648.0
    got_lsoa = rows(w, "select count(distinct area_code) n, sum(population) total, "
                       "sum(case when age >= 65 then population end) p65 from ingest_population "
                       "where mid_year = 2020 and area_code like 'E01%'")[0]
    assert (got_lsoa["n"], got_lsoa["total"], got_lsoa["p65"]) == expected[2020]
    assert w.scalar("select count(*) from ingest_population where mid_year = 2020 and area_code like 'E01%'") == 157 * 91


def test_plan_rules_each_quarantine_their_row(env):
    w, landing = env
    header = ["hwb_code", "financial_year", "quarter", "metric_id", "target"]
    write(landing / "plan" / "20180301T0900_plan.csv", header, [
        ["E06000099", "2018-19", "1", "nea", "100"],      # 1 valid
        ["E06000099", "2018-19", "5", "nea", "100"],      # 2 quarter out of range
        ["E06000099", "2018-19", "x", "dupr", "80.5"],    # 3 quarter not a number
        ["E06000099", "2018-20", "2", "nea", "100"],      # 4 not a financial year
        ["E06000099", "2018-19", "2", "beds", "100"],     # 5 unknown metric id
        ["E06000099", "2018-19", "3", "nea", "-1"],       # 6 negative target
        ["E06000099", "2018-19", "4", "NEA", "7.5"],      # 7 valid (metric ids match case-insensitively)
    ])
    d = ingest_feed(w, "plan", landing, key=None).deliveries[0]
    assert (d.rows_in, d.valid, d.quarantined) == (7, 2, 5)
    q = {r["_row_number"]: r["_rules"] for r in rows(w, "select _row_number, _rules from quarantine_plan")}
    assert q == {2: "value_invalid", 3: "value_invalid", 4: "value_invalid", 5: "code_invalid", 6: "value_invalid"}
    assert rows(w, "select quarter, metric_id, target from ingest_plan order by quarter") == [
        {"quarter": 1, "metric_id": "nea", "target": 100.0}, {"quarter": 4, "metric_id": "nea", "target": 7.5}]


def test_population_count_and_total_rules(env):
    w, landing = env
    header = ["area_code", "area_name", "all_ages"] + [str(a) for a in range(90)] + ["90+"]
    ones = ["1"] * 91
    write(landing / "population" / "ons_mye_mid-2017_test.csv", header, [
        ["E06000099", "Test", "91"] + ones,                       # 1 valid: 91 ages of 1
        ["E01000001", "A", "92"] + ones,                          # 2 total off by 1: allowed
        ["E01000002", "B", "93"] + ones,                          # 3 total off by 2: total_mismatch
        ["E01000003", "C", "91"] + ["-1"] + ["1"] * 90,           # 4 negative count (and total off)
        ["E01000004", "D", "91"] + ["x"] + ["1"] * 90,            # 5 non-numeric count
    ])
    d = ingest_feed(w, "population", landing, key=None).deliveries[0]
    assert (d.rows_in, d.valid, d.quarantined) == (5, 2, 3)
    q = {r["_row_number"]: r["_rules"] for r in rows(w, "select _row_number, _rules from quarantine_population")}
    assert q == {3: "total_mismatch", 4: "count_invalid,total_mismatch", 5: "count_invalid"}
    got = rows(w, "select area_code, mid_year, count(*) n, sum(population) p from ingest_population "
                  "group by 1, 2 order by 1")
    assert got == [{"area_code": "E01000001", "mid_year": 2017, "n": 91, "p": 91.0},
                   {"area_code": "E06000099", "mid_year": 2017, "n": 91, "p": 91.0}]


def test_hes_ae_rules(env):
    w, landing = env
    header = ["AEKEY", "PROCODE3", "NHSNUMBER", "ARRIVALDATE", "ARRIVALTIME", "ARRIVALAGE", "LSOA11", "AEATTENDCAT",
              "AEDEPTTYPE"]
    write(landing / "hes_ae" / "20180601T0200_RC9_ae.csv", header, [
        ["A1", "RC9", VALID_NHS, "2018-05-01", "0930", "3", "E01000002", "1", "1"],   # valid; dept 1 -> 01
        ["A2", "RC9", "", "2018-05-01", "25:00", "1.0", "E01000001", "7", "01"],      # warnings: time, attendcat
        ["A3", "RC9", "", "", "0930", "40", "E01000001", "1", "01"],                   # date_invalid
        ["A4", "RC9", "", "2018-05-01", "0930", "", "E01000001", "1", "01"],           # age_invalid (required)
    ])
    d = ingest_feed(w, "hes_ae", landing, key=KEY).deliveries[0]
    assert (d.rows_in, d.valid, d.quarantined) == (4, 2, 2)
    valid = {r["aekey"]: r for r in rows(w, "select * from ingest_hes_ae")}
    assert valid["A1"]["aedepttype"] == "01" and valid["A1"]["arrivaltime"] == "09:30" and valid["A1"]["arrivalage"] == 3
    assert valid["A2"]["arrivaltime"] is None and valid["A2"]["aeattendcat"] is None and valid["A2"]["arrivalage"] == 1
    assert valid["A2"]["_warnings"] == "optional_value_invalid,code_unknown"
    q = {r["_row_number"]: r["_rules"] for r in rows(w, "select _row_number, _rules from quarantine_hes_ae")}
    assert q == {3: "date_invalid", 4: "age_invalid"}


def test_staging_tables_left_by_a_killed_run_are_dropped_by_the_next_load(env):
    """A run killed while staging a large delivery leaves `_stage_*` tables (never published); the
    next ingest of the feed drops them, even when its own deliveries are small."""
    w, landing = env
    w.execute('create table "_stage_ingest_hes_apc" (epikey varchar)')
    w.execute('create table "_stage_quarantine_hes_apc" (epikey varchar)')
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [apc("1")])
    ingest_feed(w, "hes_apc", landing, key=KEY)
    assert not w.table_exists("_stage_ingest_hes_apc") and not w.table_exists("_stage_quarantine_hes_apc")
    assert w.scalar("select count(*) from ingest_hes_apc") == 1
