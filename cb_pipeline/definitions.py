"""The Dagster definitions: every asset, check, job and resource of the pipeline, in one place.

Belongs here: assembling `Definitions` from the asset factories and modules, the job, the default
executor and resources. `dagster dev` (workspace.yaml), `dagster asset materialize -m
cb_pipeline.definitions` and `cb-pipeline run` all load this same graph.
Does not: what any asset does (lib/dagster_assets.py, reference/assets.py, bcf_return/assets.py,
dashboard/assets.py).
"""

import os

import dagster as dg

from cb_pipeline import automation
from cb_pipeline.bcf_return.assets import ASSET_NAME as BCF_RETURN
from cb_pipeline.bcf_return.assets import bcf_return_asset
from cb_pipeline.dashboard.assets import ASSET_NAME as PUBLISHED_DASHBOARD
from cb_pipeline.dashboard.assets import published_dashboard_asset
from cb_pipeline.lib import sql_models
from cb_pipeline.lib.dagster_assets import default_resources, ingest_assets, ingest_asset_key, ingest_feed_names, sql_model_assets
from cb_pipeline.quality.expectations import mart_expectation_checks
from cb_pipeline.reference.assets import reference_lsoa_localities

JOB_NAME = "bcf_quarterly_return_job"
FANOUT_JOB_NAME = "bcf_return_fanout_job"
FANOUT_PROCESSES_ENV = "CB_FANOUT_PROCESSES"


def build_defs(resource_overrides: dict | None = None, *, loggers: dict | None = None) -> dg.Definitions:
    """The whole graph; resources default to the CB_* environment (read now), then the overrides.

    `loggers` replaces Dagster's default console logger (the CLI passes its terse progress logger).
    """
    ingest = ingest_assets()
    ingest_keys = [ingest_asset_key(feed) for feed in ingest_feed_names()]
    models = sql_models.discover()
    assets = [*ingest, reference_lsoa_localities, *sql_model_assets(ingest_keys, models),
              bcf_return_asset(ingest_keys, set(models)), published_dashboard_asset(set(models))]
    job = dg.define_asset_job(
        JOB_NAME,
        # partitioned by the return's quarters (inferred from bcf_return; the other assets are not partitioned)
        selection=dg.AssetSelection.all(),
        # the run queue lets one warehouse writer run at a time (deploy/dagster.yaml; DuckDB has one writer)
        tags=automation.WAREHOUSE_TAG,
        description="Ingest every feed, load the reference lookup, build every SQL model (with its tests) and "
                    "render the quarter's returns. Partition = quarter start date (2018-10-01 = 2018-19 Q3).",
    )
    resources = {**default_resources(), **(resource_overrides or {})}
    return dg.Definitions(
        assets=assets,
        # Great Expectations on the marts the return reads (blocking suite + same-quarter-last-year warning)
        asset_checks=mart_expectation_checks(set(models)),
        jobs=[job, fanout_job(resources["warehouse"].url), *automation.automation_jobs()],
        schedules=automation.schedules(JOB_NAME),
        sensors=automation.sensors(),
        resources=resources,
        # one process: the steps are short SQL statements against one warehouse file, so the
        # multiprocess executor's per-step process start would cost more than the work (~5x).
        executor=dg.in_process_executor,
        loggers=loggers,
    )


def fanout_job(warehouse_url: str):
    """The returns and dashboards alone, per HWB x quarter partition, on the multiprocess executor.

    For re-rendering many HWBs after the models are built (by the main job): a backfill of N
    partitions becomes runs of CB_RETURN_PARTITIONS_PER_RUN partitions, each run's steps in their
    own processes. On PostgreSQL the runs and steps go in parallel (CB_FANOUT_PROCESSES, default one
    per core; on a cluster the run launcher or executor spreads them over pods or workers). DuckDB
    has one writer process, so there the steps go one at a time and the runs queue on the warehouse tag.
    """
    duckdb = warehouse_url.startswith("duckdb")
    processes = 1 if duckdb else int(os.environ.get(FANOUT_PROCESSES_ENV, os.cpu_count() or 1))
    return dg.define_asset_job(
        FANOUT_JOB_NAME,
        selection=dg.AssetSelection.assets(BCF_RETURN, PUBLISHED_DASHBOARD),
        executor_def=dg.multiprocess_executor.configured({"max_concurrent": processes}),
        tags=automation.WAREHOUSE_TAG if duckdb else None,
        description="Render the returns and published dashboards per HWB x quarter partition from the "
                    "already built marts (run bcf_quarterly_return_job first), one process per step. "
                    "Backfill it over many HWBs to fan out; see docs/operations.md (Fan-out).",
    )


defs = build_defs()
