"""One full run (`cb-pipeline run` in a subprocess, a real DAGSTER_HOME instance) over a synthetic
landing zone with defects and raw NHS numbers, plus formula text in every text field of one extra
delivery and in the reference lookup's names. Afterwards: the checks are recorded with their
metadata, and no NHS number from the landing files is anywhere (warehouse tables, warehouse file,
quarantine, logs, Dagster event log and metadata, Data Docs, returns, dashboards); no formula text
became a formula in the return."""

import csv
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from cb_pipeline.lib.ingest import FEEDS
from cb_pipeline.lib.warehouse import Warehouse

from .conftest import APC_HEADER, apc, write

QUARTER = "2018-19-Q3"
FORMULA = '=HYPERLINK("http://formula.invalid","x")'
NHS_COLUMNS = {"nhsnumber", "nhs_number"}


def nhs_numbers(landing: Path) -> set[str]:
    found = set()
    for path in landing.rglob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [h.strip().lower() for h in next(reader, [])]
            cols = [i for i, h in enumerate(header) if h in NHS_COLUMNS]
            for row in reader:
                for i in cols:
                    if i < len(row):
                        digits = re.sub(r"[\s-]", "", row[i])
                        if re.fullmatch(r"\d{10}", digits):
                            found.add(digits)
    return found


def leaked(data: bytes, numbers: set[str]) -> set[str]:
    text = data.decode("utf-8", "replace")
    candidates = set(re.findall(r"(?<!\d)\d{10}(?!\d)", text))
    candidates |= {re.sub(r"[ -]", "", m) for m in re.findall(r"(?<!\d)\d{3}[ -]\d{3}[ -]\d{4}(?!\d)", text)}
    return candidates & numbers


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fullrun")
    env = {**os.environ, "CB_PSEUDONYMISATION_KEY": "full-run-test-key", "DAGSTER_HOME": str(root / "dagster_home"),
           "GX_ANALYTICS_ENABLED": "false"}
    env.pop("CB_DATA_DOCS_DIR", None)
    (root / "dagster_home").mkdir()
    cli = [sys.executable, "-m", "cb_pipeline.cli"]
    done = subprocess.run(cli + ["synth", "--out", str(root / "zone"), "--fy", "2018-19", "--scale", "0.1",
                                 "--seed", "11", "--defects", "0.05"], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    landing, ref = root / "zone" / "landing", root / "zone" / "reference" / "lsoa_localities.csv"
    # formula text in the names the return and dashboards show, and in every text field of one delivery
    lines = ref.read_text(encoding="utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    rows = list(csv.reader(lines[1:]))
    for row in rows:
        row[header.index("locality_name")] = FORMULA
    write(ref, header, rows)
    text_fields = {c: FORMULA for c in ("PSEUDO_HESID", "TRETSPEF", "DIAG_4_01")}
    write(landing / "hes_apc" / "20181115T0200_ZZZ_apc.csv", APC_HEADER,
          [apc(f"F{i}", ADMIDATE="2018-11-0" + str(i), DISDATE="2018-11-09", **text_fields) for i in range(1, 6)]
          + [apc("F9", ADMIMETH=FORMULA, PROCODE3=FORMULA, LSOA11=FORMULA)])
    log = root / "run.log"
    with log.open("w") as out:
        done = subprocess.run(cli + ["run", "--quarter", QUARTER, "--landing", str(landing),
                                     "--reference", str(ref.parent), "--warehouse", f"duckdb:///{root}/data/warehouse.duckdb",
                                     "--returns", str(root / "data" / "returns")],
                              cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    assert done.returncode == 0, log.read_text()[-3000:]
    return root, env


def _check_evaluations(root: Path, env: dict) -> list:
    code = (
        "import json, dagster as dg\n"
        "from dagster._core.events import DagsterEventType\n"
        "inst = dg.DagsterInstance.get()\n"
        "out = []\n"
        "for rec in inst.get_run_records():\n"
        "    for e in inst.all_logs(rec.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):\n"
        "        ev = e.dagster_event.event_specific_data\n"
        "        out.append({'asset': ev.asset_key.to_user_string(), 'check': ev.check_name, 'passed': ev.passed,\n"
        "                    'severity': ev.severity.value, 'metadata': sorted(ev.metadata)})\n"
        "print(json.dumps(out))\n")
    import json

    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_checks_are_recorded_with_metadata_in_the_dagster_instance(full_run):
    root, env = full_run
    evaluations = {(e["asset"], e["check"]): e for e in _check_evaluations(root, env)}
    for feed in FEEDS:
        for name in ("rules", "reconciliation", "coverage"):
            assert (f"ingest_{feed}", name) in evaluations, (feed, name)
        assert evaluations[(f"ingest_{feed}", "reconciliation")]["passed"], feed
        assert {"rows_by_rule", "first_quarantined_rows", "where_to_look"} <= set(
            evaluations[(f"ingest_{feed}", "rules")]["metadata"])
    for mart in ("fct_bcf_metrics_quarterly", "fct_place_dashboard_quarterly", "rpt_bcf_return__cells"):
        suite = evaluations[(mart, "gx_suite")]
        assert suite["passed"] and "data_docs" in suite["metadata"], mart
        assert (root / "data" / "data_docs" / mart / "index.html").is_file()
    # the Data Quality figures of the return reconcile for every feed (the defects make them non-trivial)
    w = Warehouse(f"duckdb:///{root}/data/warehouse.duckdb")
    dq = w.query_df("select defined_name, value_number from rpt_bcf_return__cells where defined_name like 'DQ_%' "
                    "and quarter_start = date '2018-10-01'")
    values = dict(zip(dq["defined_name"], dq["value_number"]))
    feeds = {n[3:-len("_ROWS_IN")] for n in values if n.endswith("_ROWS_IN")}
    assert {"HES_APC", "HES_AE"} <= feeds
    for f in feeds:
        assert values[f"DQ_{f}_ROWS_IN"] == (values[f"DQ_{f}_VALID"] + values[f"DQ_{f}_QUARANTINED"]
                                              + values[f"DQ_{f}_SUPERSEDED"]), f
        assert values[f"DQ_{f}_QUARANTINED"] > 0
    w.dispose()


@pytest.mark.slow
def test_no_raw_nhs_number_anywhere_after_a_full_run(full_run):
    root, _ = full_run
    numbers = nhs_numbers(root / "zone" / "landing")
    assert len(numbers) > 500  # the deliveries do carry raw NHS numbers
    # every text column of every table (the file itself is compressed, so ask the database too)
    w = Warehouse(f"duckdb:///{root}/data/warehouse.duckdb")
    columns = w.query_df("select table_name, column_name from information_schema.columns "
                         "where data_type = 'VARCHAR'")
    assert columns["table_name"].str.startswith("quarantine_").any()
    found = {}
    for table, group in columns.groupby("table_name"):
        body = " || '|' || ".join(f'coalesce("{c}", \'\')' for c in group["column_name"])
        for chunk in w.query_df(f'select {body} as t from "{table}"')["t"]:
            hits = leaked(str(chunk).encode(), numbers)
            if hits:
                found[table] = len(hits)
    w.dispose()
    assert not found, f"NHS numbers in tables: {found}"
    # every file the run wrote: warehouse, Data Docs, returns and dashboards (xlsx unzipped),
    # the Dagster instance (event log with all metadata, run storage, compute logs) and the run's log
    scanned = 0
    for path in [p for p in root.rglob("*") if p.is_file() and "zone" not in p.relative_to(root).parts]:
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        assert not leaked(data, numbers), f"NHS number in {path}"
        scanned += 1
    assert scanned > 20
    assert any(p.suffix == ".db" for p in (root / "dagster_home").rglob("*"))


@pytest.mark.slow
def test_formula_text_never_becomes_a_formula(full_run):
    root, _ = full_run
    returns = list((root / "data" / "returns").rglob("*.xlsx"))
    assert returns
    shown = 0
    for path in returns:
        wb = openpyxl.load_workbook(path)  # formulas as formulas
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and "formula.invalid" in cell.value:
                        shown += 1
                        assert cell.data_type == "s", (path.name, ws.title, cell.coordinate)
    assert shown > 0  # the locality names did reach the return, as text
    for path in (root / "data" / "returns").rglob("*.csv"):
        for row in csv.reader(path.read_text(encoding="utf-8-sig").splitlines()):
            for value in row:
                if "formula.invalid" in value:
                    assert value[:1] not in "=+-@", (path.name, value)
