"""Fan-out: the returns per HWB x quarter partition, on the multiprocess executor, through the real CLIs.

What belongs here: `cb-pipeline run` registering the lookup's HWBs as partitions in a persistent
instance, then `dagster job execute` of bcf_return_fanout_job over a rectangle of partitions on
DuckDB (steps one at a time) and PostgreSQL (steps in parallel processes), and what it wrote.
What does not: the figures (metrics/), the partitions' definitions (test_definitions.py), the
nightly range (test_automation.py).
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from cb_pipeline.lib.warehouse import Warehouse
from cb_pipeline_tests.test_cli import _env, assert_same_defined_names, cli

QUARTER = "2018-19-Q1"
HWBS = ["E06000056", "E06900002"]


@pytest.fixture(scope="module")
def zone(tmp_path_factory) -> Path:
    """Two HWBs, one quarter (the same generator `cb-pipeline synth` runs)."""
    from cb_pipeline.synth import generate_landing_zone

    root = tmp_path_factory.mktemp("fanout") / "zone"
    generate_landing_zone(root, start="2018-04", end="2018-06", seed=11, hwbs=2, scale=0.2, defects=0.0,
                          reference_dir=None, progress=lambda *_: None)
    return root


def _warehouse_urls() -> list:
    base = os.environ.get("CB_TEST_POSTGRES_URL")
    pg = pytest.param("postgresql", marks=pytest.mark.skipif(
        not base, reason="CB_TEST_POSTGRES_URL is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"))
    return ["duckdb", pg]


@pytest.fixture
def warehouse_url(request, tmp_path):
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path}/warehouse.duckdb"
        return
    base = os.environ["CB_TEST_POSTGRES_URL"]
    schema = f"cb_test_fanout_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'create schema "{schema}"')
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'drop schema "{schema}" cascade')


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", _warehouse_urls(), indirect=True)
def test_fanout_job_renders_every_hwb_partition_in_separate_processes(zone, warehouse_url, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {"DAGSTER_HOME": str(home), "CB_PSEUDONYMISATION_KEY": "fanout-test-key", "CB_WAREHOUSE_URL": warehouse_url,
           "CB_LANDING_DIR": str(zone / "landing"), "CB_REFERENCE_DIR": str(zone / "reference")}
    # 1. the main job for the quarter builds the models and registers the lookup's HWBs as partitions
    first = cli("run", "--quarter", QUARTER, "--returns", str(tmp_path / "returns"), cwd=tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert "HWBs E06000056 to E06900002" in first.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("hwb") == HWBS
    # 2. the fan-out job alone re-renders both HWBs' partitions from the built marts, into a new folder
    tags = {"dagster/asset_partition_range_start": f"{HWBS[0]}|2018-04-01",
            "dagster/asset_partition_range_end": f"{HWBS[-1]}|2018-04-01"}
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
    done = subprocess.run([dagster, "job", "execute", "-m", "cb_pipeline.definitions", "-j", "bcf_return_fanout_job",
                           "--tags", json.dumps(tags)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=_env(**env, CB_RETURNS_DIR=str(tmp_path / "fanout"), CB_FANOUT_PROCESSES="2"))
    assert done.returncode == 0, done.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [record] = instance.get_run_records(dg.RunsFilter(job_name="bcf_return_fanout_job"))
        events = instance.all_logs(record.dagster_run.run_id)
        # the multiprocess executor: each step in its own worker process
        workers = {e.step_key: e.dagster_event.pid for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_START"}
        assert set(workers) == {"bcf_return", "published_dashboard"}
        assert os.getpid() not in workers.values() and len(set(workers.values())) == 2
        materialized = sorted(e.dagster_event.partition for e in events
                              if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
                              and e.dagster_event.asset_key.to_user_string() == "bcf_return")
    assert materialized == [f"{h}|2018-04-01" for h in HWBS]
    for hwb in HWBS:
        name = f"{hwb}/2018-19/Q1/BCF_{hwb}_2018-19_Q1.xlsx"
        # the fan-out run's workbook holds the same figures as the main run's, name by name
        assert_same_defined_names(tmp_path / "returns" / name, tmp_path / "fanout" / name)
        assert (tmp_path / "fanout" / f"{hwb}/2018-19/Q1/dashboard_{hwb}_2018-19_Q1.html").exists()
    registry = Warehouse(warehouse_url)
    try:
        rows = registry.query_df("select hwb_code from return_registry where run_id = :r order by hwb_code",
                                 {"r": record.dagster_run.run_id})
    finally:
        registry.dispose()
    assert rows["hwb_code"].tolist() == HWBS
