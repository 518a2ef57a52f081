"""The instance configurations in deploy/: they load, limit warehouse writers, keep telemetry off,
and (production) keep run history in a real PostgreSQL database.

What belongs here: loading deploy/dagster.local.yaml and deploy/dagster.yaml into real Dagster
instances, and running one small job on the PostgreSQL-backed one (CB_TEST_POSTGRES_URL; skipped
with a message without it). What does not: the warehouse on PostgreSQL (test_cli.py runs the whole
pipeline there), the schedules and sensors themselves (test_automation.py).
"""

import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from cb_pipeline import automation
from cb_pipeline.definitions import build_defs
from cb_pipeline.lib.dagster_assets import REFERENCE_ASSET, PipelineSettingsResource, WarehouseResource
from cb_pipeline_tests.conftest import POSTGRES_URL

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _home(tmp_path: Path, config: str) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / config, home / "dagster.yaml")
    return home


def _writer_limit(instance: dg.DagsterInstance) -> list[dict]:
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    return [l for l in limits if l["key"] == automation.WAREHOUSE_TAG_KEY]


def test_the_local_instance_runs_one_writer_at_a_time_without_telemetry(tmp_path):
    with dg.DagsterInstance.from_config(str(_home(tmp_path, "dagster.local.yaml"))) as instance:
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 1
        assert [l["limit"] for l in _writer_limit(instance)] == [1]
        assert not instance.telemetry_enabled


def test_the_workspace_loads_the_package_module():
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "cb_pipeline.definitions"


@pytest.mark.postgres
def test_the_production_instance_keeps_history_in_postgresql(tmp_path, monkeypatch):
    if not POSTGRES_URL:
        pytest.skip("CB_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (CI sets it)")
    from cb_pipeline.synth import generate_landing_zone

    # the Dagster tables go to a schema of their own, dropped afterwards
    schema = f"dagster_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'create schema "{schema}"')
    # dagster-postgres speaks psycopg2: the plain postgresql:// scheme
    base = "postgresql://" + POSTGRES_URL.split("://", 1)[1]
    monkeypatch.setenv("DAGSTER_PG_URL", f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}")
    try:
        home = _home(tmp_path, "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
            assert not instance.telemetry_enabled
            assert [l["limit"] for l in _writer_limit(instance)] == [1]
            assert instance.get_settings("retention")["sensor"]["purge_after_days"]["skipped"] == 7

            zone = generate_landing_zone(tmp_path / "zone", start="2018-04", end="2018-04", scale=0.05,
                                         progress=lambda *_: None)
            defs = build_defs({
                "warehouse": WarehouseResource(url=f"duckdb:///{tmp_path}/w.duckdb"),
                "settings": PipelineSettingsResource(landing_dir=str(zone.landing_dir),
                                                     reference_dir=str(zone.reference_path.parent),
                                                     returns_dir=str(tmp_path / "returns")),
            })
            result = defs.resolve_job_def(automation.INGEST_JOB_NAME).execute_in_process(
                instance=instance, asset_selection=[dg.AssetKey(REFERENCE_ASSET)])
            assert result.success
        # a new instance over the same database sees the run: history lives in PostgreSQL
        with dg.DagsterInstance.from_config(str(home)) as again:
            run = again.get_run_by_id(result.run_id)
            assert run is not None and run.tags[automation.WAREHOUSE_TAG_KEY] == "writer"
            assert again.get_latest_materialization_event(dg.AssetKey(REFERENCE_ASSET)) is not None
        with engine.begin() as conn:
            tables = conn.exec_driver_sql(
                "select count(*) from information_schema.tables where table_schema = %s", (schema,)).scalar()
        assert tables >= 5
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'drop schema "{schema}" cascade')
        engine.dispose()
