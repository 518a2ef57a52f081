"""The ingest checks, the Great Expectations suites and `cb-pipeline check` on small hand-made
inputs, with the expected results worked out by hand; and a run stopped by a failing blocking check."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from cb_pipeline.cli import main
from cb_pipeline.lib.ingest import ingest_feed
from cb_pipeline.quality import expectations as gxq
from cb_pipeline.quality.ingest_checks import ingest_check_results

from .conftest import APC_HEADER, KEY, apc, write, write_reference


def results(w, partition=None):
    return {r.check_name: r for r in ingest_check_results(w, "hes_apc", partition)}


def meta(result, name):
    value = result.metadata[name]
    return getattr(value, "value", getattr(value, "data", value))


# --------------------------------------------------------------------------- ingest checks


def test_rules_check_counts_by_rule_and_passes_on_expected_quarantine(duck):
    w, landing = duck
    # 25 rows: 3 quarantined (12% < 50%), 1 warning
    rows = [apc(str(i)) for i in range(1, 23)] + [apc("23", ADMIMETH="77"), apc("24", STARTAGE="130"),
                                                  apc("", ADMIDATE="2018-05-02")]
    rows[0] = apc("1", DISMETH="7")
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, rows)
    ingest_feed(w, "hes_apc", landing, key=KEY)
    r = results(w, "2018-04-01")
    assert r["rules"].passed
    assert meta(r["rules"], "rows_by_rule") == {"age_invalid:fatal": 1, "code_invalid:fatal": 1,
                                                "key_missing:fatal": 1, "code_unknown:warning": 1}
    assert meta(r["rules"], "rows_by_kind") == {"fatal": 3, "warning": 1}
    first = meta(r["rules"], "first_quarantined_rows")
    assert [(f["row"], f["rules"]) for f in first] == [(23, "code_invalid"), (24, "age_invalid"), (25, "key_missing")]
    assert first[0]["reasons"].startswith("code_invalid: ADMIMETH is missing or not one of")
    # nothing from a row in the metadata: no NHS number, no key value
    assert "9434765919" not in str({k: meta(r[c], k) for c in r for k in r[c].metadata})
    assert r["reconciliation"].passed and meta(r["reconciliation"], "total_rows_in") == 25
    # coverage: rows in May 2018 only; the run's quarter (Apr-Jun 2018) misses April and June -> warning
    assert meta(r["coverage"], "rows_by_period") == {"2018-05": 22}
    assert not r["coverage"].passed and r["coverage"].severity.value == "WARN"
    assert meta(r["coverage"], "run_quarter_months_missing") == ["2018-04", "2018-06"]


def test_rules_check_blocks_a_delivery_mostly_quarantined(duck, monkeypatch):
    w, landing = duck
    # 20 rows, 11 with an invalid admission method: 55% > 50%
    rows = [apc(str(i)) for i in range(1, 10)] + [apc(str(i), ADMIMETH="77") for i in range(10, 21)]
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, rows)
    ingest_feed(w, "hes_apc", landing, key=KEY)
    r = results(w)["rules"]
    assert not r.passed and r.severity.value == "ERROR"
    assert "20180601T0200_RC9_apc.csv quarantined 11 of 20 rows (55%)" in meta(r, "failure")
    monkeypatch.setenv("CB_QUARANTINE_MAX_RATE", "0.6")
    assert results(w)["rules"].passed


def test_reconciliation_fails_on_a_row_stored_twice_or_lost(duck):
    w, landing = duck
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [apc("1"), apc("2"), apc("3", ADMIMETH="x")])
    ingest_feed(w, "hes_apc", landing, key=KEY)
    assert results(w)["reconciliation"].passed
    w.execute("insert into ingest_hes_apc select * from ingest_hes_apc where epikey = '1'")
    r = results(w)["reconciliation"]
    assert not r.passed and r.severity.value == "ERROR"
    assert "rows_in 3 != valid 2 + quarantined 1 + superseded 0" not in meta(r, "failure")  # row 1 is one row
    assert "1 rows stored more than once" in meta(r, "failure")
    w.execute("delete from quarantine_hes_apc")
    failure = meta(results(w)["reconciliation"], "failure")
    assert "rows_in 3 != valid 2 + quarantined 0 + superseded 0" in failure
    assert "the ledger's quarantined 1 != 0 rows in quarantine_hes_apc" in failure


# --------------------------------------------------------------------------- Great Expectations


def _metrics(rows):
    return pd.DataFrame(rows, columns=["hwb_code", "quarter_start", "metric_id", "actual_q", "pct_q"])


def test_gx_suites_find_negative_counts_bad_percentages_and_missing_localities(tmp_path):
    q1, q2 = dt.date(2017, 4, 1), dt.date(2018, 4, 1)
    metrics = _metrics([["E1", q1, "nea", 100, None], ["E1", q2, "nea", 250, None],   # x2.5: outside the band
                        ["E1", q2, "dupr", None, 100.5], ["E1", q2, "falls65", -1, None]])
    context = gxq.new_context(tmp_path / "site")
    blocking, warning = gxq.metrics_validations(metrics)
    suite = gxq.run_validations(blocking, context, "m")
    assert not suite.passed
    failed = {(e["column"], e["unexpected"]) for e in suite.expectations if not e["success"]}
    assert failed == {("actual_q", 1), ("pct_q", 1)}
    yoy = gxq.run_validations(warning, context, "y")
    assert not yoy.passed and yoy.expectations[0]["rows"] == 1 and yoy.expectations[0]["unexpected"] == 1

    dash = pd.DataFrame([
        ["E1", q1, "dash_nel", "ALL", 10], ["E1", q1, "dash_nel", "L1", 6], ["E1", q1, "dash_nel", "L2", 4],
        ["E1", q2, "dash_nel", "ALL", 9], ["E1", q2, "dash_nel", "L1", 9],       # L2 missing in q2
        ["E1", q1, "dash_dtoc", "ALL", 3], ["E1", q2, "dash_dtoc", "ALL", 4],    # whole-HWB only: fine
    ], columns=["hwb_code", "quarter_start", "measure_id", "locality_code", "actual_q"])
    localities = pd.DataFrame({"hwb_code": ["E1", "E1", "E1"], "locality_code": ["L1", "L2", "L3"]})
    presence = gxq.locality_presence(gxq._numeric(dash, ["actual_q"]), localities)
    # dash_nel: 2 quarters x (ALL, L1, L2, L3) = 8 expected, L2 missing in q2 and L3 in both -> 3 missing
    # dash_dtoc: 2 quarters x ALL, both present
    assert len(presence) == 10 and int((presence["present"] == 0).sum()) == 3
    blocking, _ = gxq.dashboard_validations(dash, localities)
    assert not gxq.run_validations(blocking, context, "d").passed


def test_gx_cells_suite_checks_the_data_quality_figures_reconcile(tmp_path):
    q = dt.date(2018, 10, 1)
    cells = pd.DataFrame([["E1", q, n, v, None] for n, v in [
        ("DQ_HES_APC_ROWS_IN", 10), ("DQ_HES_APC_VALID", 7), ("DQ_HES_APC_QUARANTINED", 2), ("DQ_HES_APC_SUPERSEDED", 1),
        ("DQ_PLAN_ROWS_IN", 5), ("DQ_PLAN_VALID", 5), ("DQ_PLAN_QUARANTINED", 1), ("DQ_PLAN_SUPERSEDED", 0),
        ("DUPR_PCT_Q", 96.5), ("NEA_ACTUAL_Q", 12)]],
        columns=["hwb_code", "quarter_start", "defined_name", "value_number", "value_text"])
    blocking, _ = gxq.cells_validations(cells)
    outcome = gxq.run_validations(blocking, gxq.new_context(tmp_path / "s"), "c")
    failed = [(e["frame"], e["unexpected"]) for e in outcome.expectations if not e["success"]]
    # plan: 5 != 5 + 1 + 0; hes_apc reconciles
    assert failed == [("rpt_bcf_return__cells__data_quality_reconciles", 1)]


def test_data_docs_are_built_beside_the_warehouse_and_load_nothing_from_the_network(tmp_path):
    from cb_pipeline.lib.warehouse import Warehouse

    w = Warehouse(f"duckdb:///{tmp_path}/wh/warehouse.duckdb")
    w.execute("create table fct_bcf_metrics_quarterly as select 'E1' as hwb_code, date '2018-04-01' as quarter_start, "
              "'nea' as metric_id, 5 as actual_q, cast(null as double) as pct_q")
    docs = gxq.data_docs_dir(w.url, env={})
    assert docs == tmp_path / "wh" / "data_docs"
    quality = gxq.validate_mart(w, "fct_bcf_metrics_quarterly", docs)
    assert quality.suite.passed and quality.docs_index.is_file() and (docs / "index.html").is_file()
    pages = list(docs.rglob("*.html"))
    assert len(pages) >= 4
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for pattern in (r'<script[^>]*src="http', r'<link[^>]*href="http', r"url\(['\"]?http", r'<img[^>]*src="http'):
            assert not pd.Series([text]).str.contains(pattern, regex=True)[0], (page, pattern)
    w.dispose()


# --------------------------------------------------------------------------- the command line and a blocked run


def test_check_command_summarises_without_loading(tmp_path, capsys):
    landing, ref = tmp_path / "landing", write_reference(tmp_path / "reference")
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [apc("1"), apc("2", ADMIMETH="77")])
    write(landing / "hes_apc" / "20180602T0200_RC9_apc.csv", ["EPIKEY", "PROCODE3"], [["3", "RC9"]])
    code = main(["check", "--landing", str(landing), "--reference", str(ref)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "hes_apc: 2 deliveries, 1 rejected; rows in 2: valid 1, quarantined 1" in out
    assert "REJECTED hes_apc/20180602T0200_RC9_apc.csv: required column(s) missing: ADMIDATE" in out
    assert "add the missing column(s) to the header" in out
    assert "fatal   code_invalid" in out and "fix: send one of the admission method codes" in out
    assert ("quarantined hes_apc/20180601T0200_RC9_apc.csv row 2: code_invalid: ADMIMETH is missing or not one of"
            in out)
    assert "9434765919" not in out + err
    assert "nothing was loaded" in err
    assert not list(tmp_path.rglob("*.duckdb"))  # nothing was loaded anywhere
    (landing / "hes_apc" / "20180602T0200_RC9_apc.csv").unlink()
    assert main(["check", "--landing", str(landing), "--reference", str(ref)]) == 0


def test_a_failing_blocking_check_stops_the_return_and_says_where_to_look(tmp_path, capsys, monkeypatch):
    landing, ref = tmp_path / "landing", write_reference(tmp_path / "reference")
    rows = [apc(str(i)) for i in range(1, 10)] + [apc(str(i), ADMIMETH="77") for i in range(10, 31)]
    write(landing / "hes_apc" / "20181201T0200_RC9_apc.csv", APC_HEADER, rows)
    monkeypatch.setenv("CB_PSEUDONYMISATION_KEY", "k")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    code = main(["run", "--quarter", "2018-19-Q3", "--landing", str(landing), "--reference", str(ref),
                 "--warehouse", f"duckdb:///{tmp_path}/wh.duckdb", "--returns", str(tmp_path / "returns")])
    err = capsys.readouterr().err
    assert code == 1
    assert "ingest_hes_apc: a blocking data test failed" in err and "ingest_hes_apc: rules" in err
    assert ("check ingest_hes_apc:rules failed: 1 deliveries over the quarantine rate limit 50% "
            "(CB_QUARANTINE_MAX_RATE): 20181201T0200_RC9_apc.csv quarantined 21 of 30 rows (70%)") in err
    assert "Look in quarantine_hes_apc, ingest_rule_counts, ingest_deliveries" in err
    assert not (tmp_path / "returns").exists() or not list((tmp_path / "returns").rglob("*.xlsx"))
