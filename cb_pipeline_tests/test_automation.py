"""The pipeline running itself (cb_pipeline.automation): the landing-zone sensor, the nightly
schedule, range runs over HWB x quarter partitions, the run-queue tag and the release of DuckDB's file lock.

What belongs here: evaluating the real sensor and schedule against a real Dagster instance (a
local instance in a temporary DAGSTER_HOME) and real files, then running what they request in
process over a real synthetic landing zone and a real DuckDB warehouse.
What does not: the daemon's own tick loop (Dagster's), the webserver (test_webserver.py), the
figures in the returns (metrics/).
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from cb_pipeline import automation
from cb_pipeline.definitions import FANOUT_JOB_NAME, JOB_NAME, build_defs
from cb_pipeline.lib.dagster_assets import PipelineSettingsResource, WarehouseResource
from cb_pipeline.lib.partitions import RANGE_END_TAG, RANGE_START_TAG, range_tags, register_hwbs
from cb_pipeline.lib.periods import FyQuarter
from cb_pipeline.reference import reference_hwb_codes
from cb_pipeline.lib.warehouse import Warehouse

KEY = "automation-test-pseudonymisation-key"


@pytest.fixture(scope="module")
def zone(tmp_path_factory) -> Path:
    """A small synthetic landing zone for 2018-19 (the same generator `cb-pipeline synth` runs)."""
    from cb_pipeline.synth import generate_landing_zone

    root = tmp_path_factory.mktemp("automation")
    generate_landing_zone(root / "zone", start="2018-04", end="2019-03", seed=7, hwbs=1, scale=0.2,
                          defects=0.0, reference_dir=None, progress=lambda *_: None)
    return root / "zone"


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("CB_PSEUDONYMISATION_KEY", KEY)


@pytest.fixture
def instance(tmp_path):
    """A real, persistent local instance (SQLite run, event and schedule storage) in a temp home."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as inst:
        yield inst


def _defs(landing: Path, reference: Path, warehouse_url: str, returns: Path) -> dg.Definitions:
    return build_defs({
        "warehouse": WarehouseResource(url=warehouse_url),
        "settings": PipelineSettingsResource(landing_dir=str(landing), reference_dir=str(reference),
                                             returns_dir=str(returns)),
    })


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    """One evaluation of the landing-zone sensor, as the daemon does it (its resources from defs)."""
    sensor = defs.get_sensor_def(automation.LANDING_SENSOR_NAME)
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources)) as context:
        return sensor.evaluate_tick(context)


def _duckdb_file_is_free(path: Path) -> bool:
    """Another process can open the file for writing (DuckDB allows one writing process)."""
    code = f"import duckdb; c = duckdb.connect({str(path)!r}); c.execute('create table _probe as select 1 as x'); c.close()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


@pytest.mark.slow
def test_a_delivery_dropped_into_the_landing_zone_starts_ingest_without_clicking(zone, tmp_path, instance, key):
    landing = tmp_path / "landing"
    for feed in ("plan", "hes_ae"):
        (landing / feed).mkdir(parents=True)
    db = tmp_path / "warehouse.duckdb"
    defs = _defs(landing, zone / "reference", f"duckdb:///{db}", tmp_path / "returns")
    sensor = defs.get_sensor_def(automation.LANDING_SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING

    first = _tick(defs, instance, None)
    assert not first.run_requests and "no new delivery" in first.skip_message

    # a plan delivery arrives whole; a hes_ae delivery is half written; a temporary file and a marker
    plan = sorted((zone / "landing" / "plan").glob("*.csv"))[0]
    shutil.copy(plan, landing / "plan" / plan.name)
    ae = sorted((zone / "landing" / "hes_ae").glob("*.csv"))[0]
    data = ae.read_bytes()
    (landing / "hes_ae" / ae.name).write_bytes(data[: len(data) // 2])
    (landing / "hes_ae" / "upload.csv.part").write_bytes(data)
    (landing / "hes_ae" / f"{ae.name}.done").write_text("")
    second = _tick(defs, instance, first.cursor)
    assert not second.run_requests, "a file seen once may still be growing"
    assert "waiting for 2 file(s)" in second.skip_message
    assert "upload.csv.part" not in second.cursor and ".done" not in second.cursor

    # the writer finishes the hes_ae file; the process restarts (new definitions, new instance object
    # over the same storage) and the next tick resumes from the stored cursor
    (landing / "hes_ae" / ae.name).write_bytes(data)
    os.utime(landing / "hes_ae" / ae.name, ns=(0, 10**18))  # a different mtime even on coarse clocks
    defs = _defs(landing, zone / "reference", f"duckdb:///{db}", tmp_path / "returns")
    with dg.DagsterInstance.from_config(instance.root_directory) as restarted:
        third = _tick(defs, restarted, second.cursor)
        assert len(third.run_requests) == 1
        request = third.run_requests[0]
        assert sorted(k.to_user_string() for k in request.asset_selection) == ["ingest_plan", "reference_lsoa_localities"]
        assert request.tags[automation.WAREHOUSE_TAG_KEY] == "writer"

        # the requested run, in process, on the real instance: plan is loaded, hes_ae not yet
        job = defs.resolve_job_def(automation.INGEST_JOB_NAME)
        result = job.execute_in_process(instance=restarted, asset_selection=request.asset_selection,
                                        tags=request.tags)
        assert result.success
        run = restarted.get_run_by_id(result.run_id)
        assert run.tags[automation.TRIGGER_TAG_KEY] == automation.LANDING_SENSOR_NAME
        assert _duckdb_file_is_free(db), "the run left the DuckDB file locked"
        wh = Warehouse(f"duckdb:///{db}")
        try:
            ledger = wh.query_df("select feed, delivery, status from ingest_deliveries order by feed")
        finally:
            wh.dispose()
        assert ledger.to_dict("records") == [{"feed": "plan", "delivery": plan.name, "status": "loaded"}]

        # the completed hes_ae file is stable on the next tick: its own ingest run
        fourth = _tick(defs, restarted, third.cursor)
        assert [sorted(k.to_user_string() for k in r.asset_selection) for r in fourth.run_requests] == [
            ["ingest_hes_ae", "reference_lsoa_localities"]]
        assert fourth.run_requests[0].run_key != request.run_key
        result = job.execute_in_process(instance=restarted, asset_selection=fourth.run_requests[0].asset_selection,
                                        tags=fourth.run_requests[0].tags)
        assert result.success
        ingest = result.asset_materializations_for_node("ingest_hes_ae")[0].metadata
        assert ingest["dagster/row_count"].value > 0 and ingest["dagster/table_name"].value == "ingest_hes_ae"
        assert "person_key" not in json.dumps(ingest["preview"].value.records[0].data)

        # nothing new: no run; a corrected delivery under the same name is picked up again
        fifth = _tick(defs, restarted, fourth.cursor)
        assert not fifth.run_requests
        shutil.copy(sorted((zone / "landing" / "plan").glob("*.csv"))[-1], landing / "plan" / plan.name)
        os.utime(landing / "plan" / plan.name, ns=(0, 2 * 10**18))
        assert not _tick(defs, restarted, fifth.cursor).run_requests
        sixth = _tick(defs, restarted, _tick(defs, restarted, fifth.cursor).cursor)
        assert [sorted(k.to_user_string() for k in r.asset_selection) for r in sixth.run_requests] == [
            ["ingest_plan", "reference_lsoa_localities"]]


def _reference(folder: Path, hwbs: list[str]) -> Path:
    """A two-row-per-HWB reference lookup in the real file's columns."""
    from cb_pipeline.reference import COLUMNS, FILE_NAME

    folder.mkdir(parents=True, exist_ok=True)
    rows = [",".join(COLUMNS)] + [f"E01{i:06d},n,E02{i:06d},m,{hwb},name,L1,Loc" for i, hwb in
                                  enumerate([h for h in hwbs for _ in range(2)])]
    (folder / FILE_NAME).write_text("\n".join(rows) + "\n")
    return folder


def test_nightly_schedule_refreshes_the_current_and_previous_quarter_for_every_hwb_in_one_run(tmp_path, instance):
    reference = _reference(tmp_path / "reference", ["E06000056", "E06000055"])
    defs = _defs(tmp_path / "landing", reference, f"duckdb:///{tmp_path}/w.duckdb", tmp_path / "returns")
    schedule = defs.get_schedule_def(automation.NIGHTLY_SCHEDULE_NAME)
    assert schedule.execution_timezone == "Europe/London" and schedule.cron_schedule == "0 2 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == JOB_NAME
    when = dt.datetime(2019, 1, 15, 2, 0, tzinfo=ZoneInfo("Europe/London"))
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                   resources=dict(defs.resources)) as context:
        data = schedule.evaluate_tick(context)
    # the lookup's HWBs became partitions, sorted
    assert instance.get_dynamic_partitions("hwb") == ["E06000055", "E06000056"]
    [request] = data.run_requests
    # on 15 January 2019 the quarter being reported is 2018-19 Q3 (Oct-Dec); the previous is Q2;
    # the range is a rectangle: both HWBs x both quarters
    assert request.tags[RANGE_START_TAG] == "E06000055|2018-07-01"
    assert request.tags[RANGE_END_TAG] == "E06000056|2018-10-01"
    assert request.tags[automation.WAREHOUSE_TAG_KEY] == "writer"
    # the first night of a quarter already reports the quarter that has just ended
    assert automation.nightly_partition_keys(dt.datetime(2019, 4, 1, 2, tzinfo=ZoneInfo("Europe/London"))) == [
        "2018-10-01", "2019-01-01"]


def test_nightly_schedule_without_a_lookup_or_any_hwb_skips_and_says_why(tmp_path, instance):
    defs = _defs(tmp_path / "landing", tmp_path / "nowhere", f"duckdb:///{tmp_path}/w.duckdb", tmp_path / "returns")
    schedule = defs.get_schedule_def(automation.NIGHTLY_SCHEDULE_NAME)
    when = dt.datetime(2019, 1, 15, 2, tzinfo=ZoneInfo("Europe/London"))
    with dg.build_schedule_context(instance=instance, resources=dict(defs.resources),
                                   scheduled_execution_time=when) as context:
        data = schedule.evaluate_tick(context)
    assert not data.run_requests
    assert "lsoa_localities.csv" in data.skip_message and str(tmp_path / "nowhere") in data.skip_message
    # once an HWB is registered (by the reference asset), the night runs for it
    instance.add_dynamic_partitions("hwb", ["E06000056"])
    with dg.build_schedule_context(instance=instance, resources=dict(defs.resources),
                                   scheduled_execution_time=when) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.tags[RANGE_END_TAG] == "E06000056|2018-10-01"


def test_every_job_carries_the_warehouse_writer_tag():
    defs = build_defs()
    # the fan-out job too on DuckDB (the default warehouse); on PostgreSQL it runs in parallel, untagged
    for name in (JOB_NAME, automation.INGEST_JOB_NAME, FANOUT_JOB_NAME):
        assert defs.resolve_job_def(name).tags[automation.WAREHOUSE_TAG_KEY] == "writer", name


@pytest.mark.slow
def test_a_backfill_of_four_quarters_is_one_run_and_writes_four_returns(zone, tmp_path, instance, key):
    """What a UI backfill of 2018-19 Q1..Q4 (or `dagster asset materialize --partition-range`) runs:
    one run whose tags carry the range; every model is built once, then the four returns."""
    db = tmp_path / "warehouse.duckdb"
    defs = _defs(zone / "landing", zone / "reference", f"duckdb:///{db}", tmp_path / "returns")
    job = defs.resolve_job_def(JOB_NAME)
    # a UI backfill splits into runs of 38 partitions (HWB x quarter); these 4 are one run
    assert defs.resolve_assets_def("bcf_return").backfill_policy == dg.BackfillPolicy.multi_run(38)
    register_hwbs(instance, reference_hwb_codes(zone / "reference"))
    tags = range_tags(instance, ["E06000056"], [FyQuarter(2018, 1), FyQuarter(2018, 4)])
    assert tags == {RANGE_START_TAG: "E06000056|2018-04-01", RANGE_END_TAG: "E06000056|2019-01-01"}
    result = job.execute_in_process(instance=instance, tags={**automation.WAREHOUSE_TAG, **tags})
    assert result.success
    returns = sorted((tmp_path / "returns").rglob("BCF_*.xlsx"))
    assert [p.name.split("_", 2)[2] for p in returns] == [f"2018-19_Q{n}.xlsx" for n in (1, 2, 3, 4)]
    materialised = result.asset_materializations_for_node("bcf_return")
    assert sorted(m.partition for m in materialised) == [f"E06000056|{k}" for k in (
        "2018-04-01", "2018-07-01", "2018-10-01", "2019-01-01")]
    metadata = materialised[0].metadata
    assert metadata["returns"].value == 4 and metadata["fy_label"].value == "2018-19"
    assert len(metadata["sha256"].value) == 4 and isinstance(metadata["complete"].value, bool)
    # one run for the whole range, recorded in the instance; the DuckDB file is free afterwards
    assert len(instance.get_run_records()) == 1
    assert _duckdb_file_is_free(db)
