"""The `cb-pipeline` command line, end to end, as a user runs it (return.md, Command line).

What belongs here: the installed console script run in a subprocess over a real synthetic landing
zone, a real DuckDB warehouse and the real Dagster job; the workbook it writes opened with
openpyxl; exit codes and messages; that no NHS number from the landing files is ever printed.
What does not: the figures themselves (cb_pipeline_tests/metrics), workbook mechanics
(lib/test_workbook.py), the generator (synth/).
"""

import datetime as dt
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cb_pipeline.cli import latest_complete_quarter, main
from cb_pipeline.lib.warehouse import Warehouse
from cb_pipeline.lib.workbook import libreoffice_executable, read_defined_values, recalculate_with_libreoffice
from cb_pipeline_tests.shared_data import SHARED

REAL_REFERENCE = SHARED / "reference" / "central_bedfordshire_lsoa11_localities.csv"
QUARTER = "2018-19-Q3"
TEST_KEY = "cli-test-pseudonymisation-key"


def _command() -> list[str]:
    script = Path(sys.executable).with_name("cb-pipeline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cb_pipeline.cli"]


def _env(**extra: str) -> dict[str, str]:
    # the user's CB_* settings and DAGSTER_HOME must not leak into the test run
    env = {k: v for k, v in os.environ.items() if not k.startswith("CB_") and k != "DAGSTER_HOME"}
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env.update(extra)
    return env


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command() + list(args), cwd=cwd, env=_env(**env), capture_output=True, text=True,
                          timeout=600)


def nhs_numbers(landing: Path) -> set[str]:
    """Every 10-digit NHS number in the HES deliveries (spaces and hyphens removed)."""
    found: set[str] = set()
    for feed in ("hes_apc", "hes_ae"):
        for path in (landing / feed).glob("*.csv"):
            header = pd.read_csv(path, dtype=str, nrows=0).columns
            column = next((c for c in header if c.upper() == "NHSNUMBER"), None)
            if column is None:
                continue
            values = pd.read_csv(path, dtype=str, usecols=[column], keep_default_na=False)[column]
            found |= {v for v in values.str.replace(r"[\s-]", "", regex=True) if re.fullmatch(r"\d{10}", v)}
    return found


def assert_no_nhs_number(text: str, numbers: set[str]) -> None:
    leaked = set(re.findall(r"\d{10}", re.sub(r"[ -]", "", text))) & numbers
    assert not leaked, f"{len(leaked)} NHS number(s) from the landing files were printed"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """`cb-pipeline synth`: one financial year, small scale, the real LSOA lookup when present."""
    root = tmp_path_factory.mktemp("cli")
    args = ["synth", "--out", str(root / "zone"), "--fy", "2018-19", "--scale", "0.2", "--seed", "7"]
    if REAL_REFERENCE.exists():
        args += ["--reference", str(REAL_REFERENCE.parent)]
    done = cli(*args, cwd=root)
    assert done.returncode == 0, done.stderr
    assert (root / "zone" / "landing" / "hes_apc").is_dir()
    return root


@pytest.fixture(scope="module")
def run_result(synthetic):
    root = synthetic
    args = ["run", "--quarter", QUARTER, "--landing", str(root / "zone" / "landing"),
            "--reference", str(root / "zone" / "reference"), "--warehouse", f"duckdb:///{root}/warehouse.duckdb",
            "--returns", str(root / "returns")]
    first = cli(*args, cwd=root, CB_PSEUDONYMISATION_KEY=TEST_KEY)
    # the same command again: ingest skips loaded deliveries, the unchanged return is not rewritten
    second = cli(*args, cwd=root, CB_PSEUDONYMISATION_KEY=TEST_KEY)
    return root, first, second


def _returned_paths(stdout: str) -> list[Path]:
    return [Path(line.rsplit(": ", 1)[1]) for line in stdout.splitlines() if line.endswith(".xlsx")]


def assert_return_matches_warehouse(path: Path, warehouse: Warehouse) -> None:
    """Every defined name of the cells mart for the return's HWB and quarter holds that value in the
    workbook; provenance is filled; the registry's SHA-256 is the file's."""
    hwb = path.parent.parent.parent.name
    cells = warehouse.query_df(
        "select defined_name, value_number, value_text from rpt_bcf_return__cells "
        "where hwb_code = :h and quarter_start = :q", {"h": hwb, "q": dt.date(2018, 10, 1)})
    assert len(cells) > 50
    written = read_defined_values(path)
    wrong = []
    for row in cells.itertuples(index=False):
        text = None if pd.isna(row.value_text) else row.value_text
        number = None if pd.isna(row.value_number) else float(row.value_number)
        expected = text if text is not None else number
        actual = written.get(row.defined_name, "<no such name>")
        if isinstance(expected, float) and isinstance(actual, (int, float)):
            ok = math.isclose(expected, actual, rel_tol=1e-12, abs_tol=1e-12)
        else:
            ok = expected == actual
        if not ok:
            wrong.append((row.defined_name, expected, actual))
    assert not wrong, wrong[:10]
    assert written["REPORTING_QUARTER"] == "2018-19 Q3"
    for name in ("PIPELINE_VERSION", "RUN_ID", "METRIC_DEFINITIONS_VERSION"):
        assert isinstance(written[name], str) and written[name], name
    assert isinstance(written["GENERATED_AT"], dt.datetime)

    registry = warehouse.query_df("select * from return_registry where path = :p", {"p": str(path)})
    assert len(registry) == 1
    entry = registry.iloc[0]
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["hwb_code"] == hwb and entry["fy_label"] == "2018-19"
    assert entry["run_id"] == written["RUN_ID"]
    # the synthetic commissioner answers (inputs/<hwb>/2018-19-Q3.yaml) answer every Checklist question
    assert written["COMPLETED_BY"] and written["NC1_MET"] in ("Yes", "No", "No - In Progress")
    assert bool(entry["complete"]) and not (entry["missing"] or ""), entry["missing"]


@pytest.mark.slow
def test_run_writes_every_cell_and_registers_the_return(run_result):
    root, first, _ = run_result
    assert first.returncode == 0, first.stderr
    paths = _returned_paths(first.stdout)
    assert len(paths) == 1, first.stdout
    path = paths[0]
    hwb = path.parent.parent.parent.name
    assert path == (root / "returns" / hwb / "2018-19" / "Q3" / f"BCF_{hwb}_2018-19_Q3.xlsx").resolve()
    assert_return_matches_warehouse(path, Warehouse(f"duckdb:///{root}/warehouse.duckdb"))


# Run-specific by design: which run wrote the file, and when.
RUN_SPECIFIC_NAMES = {"RUN_ID", "GENERATED_AT"}


def defined_name_values(path: Path) -> dict[str, list]:
    """{defined name: [cell values, row by row]} for every defined name of the workbook, single
    cells and ranges alike (the tables of the Data Quality and Provenance sheets too)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for name, dn in wb.defined_names.items():
        values = []
        for sheet, ref in dn.destinations:
            cells = wb[sheet][ref.replace("$", "")]
            rows = cells if isinstance(cells, tuple) else ((cells,),)
            for row in rows:
                values.extend(c.value for c in (row if isinstance(row, tuple) else (row,)))
        out[name] = values
    return out


def assert_same_defined_names(duckdb_path: Path, postgres_path: Path) -> None:
    """Every defined name holds the same values in both workbooks (floats to 1e-9 relative: the two
    engines may sum in a different order), except the run's own id and time."""
    ours, theirs = defined_name_values(duckdb_path), defined_name_values(postgres_path)
    assert set(ours) == set(theirs)
    differ = []
    for name in sorted(set(ours) - RUN_SPECIFIC_NAMES):
        a, b = ours[name], theirs[name]
        same = len(a) == len(b) and all(
            math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool) else x == y
            for x, y in zip(a, b))
        if not same:
            differ.append((name, a[:5], b[:5]))
    assert not differ, differ[:10]
    assert len(ours) > 100


@pytest.mark.slow
@pytest.mark.postgres
def test_run_on_postgresql(synthetic, run_result, tmp_path):
    base = os.environ.get("CB_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("CB_TEST_POSTGRES_URL is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    import sqlalchemy as sa

    schema = f"cb_test_cli_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'create schema "{schema}"')
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        done = cli("run", "--quarter", QUARTER, "--landing", str(synthetic / "zone" / "landing"),
                   "--reference", str(synthetic / "zone" / "reference"), "--warehouse", url,
                   "--returns", str(tmp_path / "returns"), cwd=tmp_path, CB_PSEUDONYMISATION_KEY=TEST_KEY)
        assert done.returncode == 0, done.stderr
        paths = _returned_paths(done.stdout)
        assert len(paths) == 1
        assert_return_matches_warehouse(paths[0], Warehouse(url))
        # the same landing zone through the same command on DuckDB: the same workbook, name by name
        assert run_result[1].returncode == 0, run_result[1].stderr
        assert_same_defined_names(_returned_paths(run_result[1].stdout)[0], paths[0])
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'drop schema "{schema}" cascade')


@pytest.mark.slow
def test_rerun_leaves_an_unchanged_return_alone(run_result):
    root, first, second = run_result
    assert second.returncode == 0, second.stderr
    assert _returned_paths(second.stdout) == _returned_paths(first.stdout)
    assert " unchanged " in second.stdout
    path = _returned_paths(second.stdout)[0]
    assert not (path.parent / "superseded").exists()
    warehouse = Warehouse(f"duckdb:///{root}/warehouse.duckdb")
    assert warehouse.scalar("select count(*) from return_registry") == 1


@pytest.mark.slow
def test_no_nhs_number_is_printed_or_written(synthetic, run_result):
    root, first, second = run_result
    numbers = nhs_numbers(root / "zone" / "landing")
    assert len(numbers) > 1000  # the synthetic feeds do carry NHS numbers
    for done in (first, second):
        assert_no_nhs_number(done.stdout + done.stderr, numbers)
    with zipfile.ZipFile(_returned_paths(first.stdout)[0]) as xlsx:
        text = "".join(xlsx.read(n).decode("utf-8", "replace") for n in xlsx.namelist() if n.endswith(".xml"))
    assert_no_nhs_number(text, numbers)


@pytest.mark.slow
def test_missing_pseudonymisation_key_is_a_configuration_error(synthetic, tmp_path):
    # one real hes_apc delivery (with NHS numbers) is enough for ingest to refuse it
    landing = tmp_path / "landing"
    (landing / "hes_apc").mkdir(parents=True)
    delivery = sorted((synthetic / "zone" / "landing" / "hes_apc").glob("*.csv"))[0]
    shutil.copy(delivery, landing / "hes_apc" / delivery.name)
    done = cli("run", "--quarter", QUARTER, "--landing", str(landing),
               "--reference", str(synthetic / "zone" / "reference"),
               "--warehouse", f"duckdb:///{tmp_path}/w.duckdb", "--returns", str(tmp_path / "returns"), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("cb-pipeline run: error:") and "CB_PSEUDONYMISATION_KEY" in last
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "returns").exists()
    assert_no_nhs_number(done.stdout + done.stderr, nhs_numbers(landing))


@pytest.mark.parametrize("quarter", ["2018-19-Q5", "2018-20-Q3", "2018-10-02", "Q3", "2099-00-Q1", "2014-15-Q4"])
def test_bad_quarter_exits_2_with_one_line(tmp_path, quarter, capsys):
    (tmp_path / "landing").mkdir()
    (tmp_path / "reference").mkdir()
    code = main(["run", "--quarter", quarter, "--landing", str(tmp_path / "landing"),
                 "--reference", str(tmp_path / "reference"), "--warehouse", f"duckdb:///{tmp_path}/w.duckdb"])
    out = capsys.readouterr()
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cb-pipeline run: error:"), out.err
    assert not (tmp_path / "w.duckdb").exists()


def test_bad_quarter_in_a_subprocess_has_no_traceback(tmp_path):
    done = cli("run", "--quarter", "2018-19-Q5", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


def test_missing_landing_dir_and_bad_synth_arguments_exit_2(tmp_path, capsys):
    assert main(["run", "--quarter", QUARTER, "--landing", str(tmp_path / "nowhere")]) == 2
    assert "landing directory" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "z"), "--scale", "0"]) == 2
    assert "scale" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "z"), "--fy", "2018-19", "--start", "2018-04"]) == 2
    assert main(["run"]) == 2  # argparse: --quarter is required
    assert not (tmp_path / "z").exists()


def test_catalogue_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "catalogue.md"
    assert main(["catalogue", "--check", "--out", str(out)]) == 1  # missing = stale
    assert main(["catalogue", "--out", str(out)]) == 0
    assert out.read_text().startswith("# Metric and model catalogue")
    assert main(["catalogue", "--check", "--out", str(out)]) == 0
    out.write_text(out.read_text() + "hand edit\n")
    assert main(["catalogue", "--check", "--out", str(out)]) == 1
    assert "stale" in capsys.readouterr().err


@pytest.mark.parametrize("end, quarter", [("2019-03", "2018-19 Q4"), ("2019-02", "2018-19 Q3"),
                                          ("2018-12", "2018-19 Q3"), ("2018-04", "2017-18 Q4")])
def test_demo_runs_the_latest_complete_quarter(end, quarter):
    assert latest_complete_quarter(end).label == quarter


@pytest.mark.slow
@pytest.mark.skipif(libreoffice_executable() is None and not os.environ.get("CB_REQUIRE_LIBREOFFICE"),
                    reason="LibreOffice (soffice) is not installed: .ci/run installs libreoffice-calc")
def test_the_generated_return_opens_in_libreoffice(run_result, tmp_path):
    """LibreOffice headless opens the pipeline's own return, recalculates it, and its formulas agree
    with the pipeline: the same figures by name, and the completion banner computed by the workbook's
    own formulas says Complete, as the pipeline's registry does (the synthetic answers are complete)."""
    _, first, _ = run_result
    path = _returned_paths(first.stdout)[0]
    converted = recalculate_with_libreoffice(path, tmp_path / "lo")
    ours, theirs = read_defined_values(path), read_defined_values(converted)
    for name in ("NEA_Q_ACTUAL", "FALLS65_DSR", "DASH_AE_ATT_ALL_YTD", "DQ_HES_APC_ROWS_IN", "HWB_CODE"):
        if name in ours:
            assert theirs[name] == ours[name], name
    assert theirs["TEMPLATE_STATUS"] == "Complete Template"
