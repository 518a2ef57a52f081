"""The pipeline running itself: the ingest job, the nightly schedule and the landing-zone sensor.

Belongs here: what starts runs without anyone clicking (schedules, sensors), the job the sensor
starts, the run tag that the run queue uses to keep one warehouse writer at a time, the
partition arithmetic of "the current and previous quarter", and the return fan-out job. `definitions.py` adds these to the
graph; docs/operations.md says how to operate them.
Does not: any pipeline step (the assets), the quarterly job itself (definitions.py), or instance
settings such as the run queue limit (deploy/dagster.yaml).

Readiness of a delivery: a file counts once its size and modification time are the same on two
sensor ticks in a row (at least SENSOR_INTERVAL_SECONDS apart); no `.done` marker is needed.
Files still being written under a temporary name (`.tmp`, `.part`, `.partial`, `.crdownload`) or
hidden are never considered (the ingest engine skips them too; `.done` files are ignored as well).
The sensor looks at the file system only, never at the warehouse, so that its ticks (in the daemon
process) never take DuckDB's single-writer lock from a running job.

No `from __future__ import annotations`: Dagster inspects the sensor's resource annotation.
"""

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from cb_pipeline.lib.dagster_assets import (
    INGEST_GROUP,
    REFERENCE_ASSET,
    PipelineSettingsResource,
    ingest_asset_key,
    ingest_feed_names,
)
from cb_pipeline.lib.periods import FyQuarter

log = logging.getLogger(__name__)

TIMEZONE = "Europe/London"
INGEST_JOB_NAME = "ingest_new_deliveries_job"
NIGHTLY_SCHEDULE_NAME = "nightly_refresh_schedule"
LANDING_SENSOR_NAME = "landing_zone_sensor"
# 02:00 London time: after the providers' evening drops, before anyone opens a return in the morning.
NIGHTLY_CRON = "0 2 * * *"
SENSOR_INTERVAL_SECONDS = 60

# Every run that writes the warehouse carries this tag; the run queue (deploy/dagster.yaml,
# tag_concurrency_limits) lets one such run go at a time, which is what DuckDB's single writer needs.
WAREHOUSE_TAG_KEY = "cb_pipeline/warehouse"
WAREHOUSE_TAG = {WAREHOUSE_TAG_KEY: "writer"}
TRIGGER_TAG_KEY = "cb_pipeline/trigger"

_CURSOR_VERSION = 1
_PENDING, _REQUESTED = "pending", "requested"


# --------------------------------------------------------------------------- jobs


def ingest_job():
    """Ingest (and the reference lookup it checks against); what the landing-zone sensor starts."""
    return dg.define_asset_job(
        INGEST_JOB_NAME,
        selection=dg.AssetSelection.groups(INGEST_GROUP) | dg.AssetSelection.assets(REFERENCE_ASSET),
        tags=WAREHOUSE_TAG,
        description="Load new deliveries from the landing zone (and the reference lookup they are checked "
                    "against). Started by the landing-zone sensor for the feeds that received files; the "
                    "metrics and returns are refreshed by the nightly schedule.",
    )


# --------------------------------------------------------------------------- nightly schedule


def nightly_partition_keys(when: dt.datetime) -> list[str]:
    """The previous and the current reporting quarter at `when`: the latest complete FY quarter
    (the one being reported) and the one before it (late and corrected deliveries amend it)."""
    # the same answer as the partitions' last key at `when` (a partition exists once its quarter ends)
    local = when.astimezone(ZoneInfo(TIMEZONE)) if when.tzinfo else when
    current = FyQuarter.latest_complete(local.date())
    return [current.previous().partition_key, current.partition_key]


def nightly_run_request(when: dt.datetime, instance: dg.DagsterInstance,
                        reference_dir: Path) -> dg.RunRequest | dg.SkipReason:
    """One run over both quarters x every HWB (registered from the reference lookup first)."""
    from cb_pipeline.lib.partitions import HWB_DIMENSION, range_tags, register_hwbs
    from cb_pipeline.lib.settings import ConfigurationError
    from cb_pipeline.reference import reference_hwb_codes

    try:
        register_hwbs(instance, reference_hwb_codes(reference_dir))
    except (ConfigurationError, OSError) as exc:
        # the HWBs registered earlier still get their returns; the run's reference asset says what is wrong
        log.warning("nightly: could not read the HWBs of the reference lookup: %s", exc)
    hwbs = instance.get_dynamic_partitions(HWB_DIMENSION)
    if not hwbs:
        return dg.SkipReason(f"no HWB is registered and the reference lookup in {reference_dir} cannot be read: "
                             "put lsoa_localities.csv there (CB_REFERENCE_DIR) and the next night renders the returns")
    quarters = [FyQuarter.parse(k) for k in nightly_partition_keys(when)]
    return dg.RunRequest(
        # one run per night: loads new deliveries, rebuilds every model once, renders both quarters
        run_key=f"nightly-{when.date().isoformat()}",
        tags={**WAREHOUSE_TAG, TRIGGER_TAG_KEY: NIGHTLY_SCHEDULE_NAME, **range_tags(instance, hwbs, quarters)},
    )


def nightly_schedule(job_name: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=NIGHTLY_SCHEDULE_NAME,
        job_name=job_name,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=TIMEZONE,
        # safe on by default: its runs queue behind any other warehouse writer (run queue tag limit)
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every night at 02:00 (Europe/London): ingest new deliveries, rebuild every SQL model "
                    "and render the returns of the current reporting quarter (the latest complete FY "
                    "quarter) and the previous one, in one run (every HWB of the reference lookup).",
    )
    def _nightly(context: dg.ScheduleEvaluationContext, settings: PipelineSettingsResource) -> dg.RunRequest | dg.SkipReason:
        return nightly_run_request(context.scheduled_execution_time, context.instance, settings.reference_path)

    return _nightly


# --------------------------------------------------------------------------- landing-zone sensor


def scan_landing_zone(landing: Path, feeds: list[str]) -> dict[str, list[int]]:
    """{"<feed>/<file>": [size, mtime_ns]} of every candidate delivery (the engine's own listing)."""
    from cb_pipeline.lib.ingest import list_deliveries

    found = {}
    for feed in feeds:
        for path in list_deliveries(landing / feed):
            try:
                stat = path.stat()
            except FileNotFoundError:  # moved away between listing and stat
                continue
            found[f"{feed}/{path.name}"] = [stat.st_size, stat.st_mtime_ns]
    return found


def read_cursor(cursor: str | None) -> dict[str, list]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except json.JSONDecodeError:
        return {}
    if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION:
        return {}
    return data.get("files", {})


def evaluate_landing_zone(landing: Path, feeds: list[str], cursor: str | None
                          ) -> tuple[list[str], dict[str, list], str]:
    """(ready deliveries not yet ingested, new cursor state, the cursor as text).

    A delivery is ready when its size and mtime equal what the previous tick saw. A file that
    changes after it was requested (a corrected delivery under the same name) starts over.
    """
    previous = read_cursor(cursor)
    now = scan_landing_zone(landing, feeds)
    state, ready = {}, []
    for name, fingerprint in sorted(now.items()):
        before = previous.get(name)
        if before is not None and before[:2] == fingerprint:
            if before[2] == _PENDING:
                ready.append(name)
            state[name] = [*fingerprint, _REQUESTED]
        else:
            state[name] = [*fingerprint, _PENDING]  # new, or still growing: look again next tick
    # ready files are recorded as requested; files that vanished are forgotten
    text = json.dumps({"v": _CURSOR_VERSION, "files": state}, sort_keys=True, separators=(",", ":"))
    return ready, state, text


def landing_zone_sensor(job_name: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=LANDING_SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        # safe on by default: it only reads file names and sizes, and its runs queue behind any
        # other warehouse writer; ingest skips deliveries already loaded, so a repeat is harmless
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Watches <landing dir>/<feed>/ and starts ingest of the feeds that received a delivery "
                    "once the file's size and modification time are unchanged over two ticks (60 s apart). "
                    "Temporary (.tmp, .part, .partial, .crdownload), hidden and .done files are ignored. "
                    "The cursor (stored in the instance, so it survives restarts) remembers every file seen.",
    )
    def _landing_zone(context: dg.SensorEvaluationContext, settings: PipelineSettingsResource) -> dg.SensorResult:
        feeds = ingest_feed_names()
        ready, state, cursor = evaluate_landing_zone(settings.landing_path, feeds, context.cursor)
        pending = sorted(n for n, v in state.items() if v[2] == _PENDING)
        if not ready:
            reason = (f"waiting for {len(pending)} file(s) to stop changing: {', '.join(pending[:5])}"
                      if pending else f"no new delivery in {settings.landing_path}")
            return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor)
        feeds_ready = sorted({name.split("/", 1)[0] for name in ready})
        context.log.info(f"{len(ready)} new deliveries ready: {', '.join(ready)}")
        # the run key names exactly these files and versions: a tick replayed after a crash before
        # the cursor was saved asks for the same run, which Dagster then does not start twice
        digest = hashlib.sha256(json.dumps([[n, state[n][:2]] for n in ready]).encode()).hexdigest()[:16]
        request = dg.RunRequest(
            run_key=f"landing-{digest}",
            asset_selection=[dg.AssetKey(REFERENCE_ASSET), *(ingest_asset_key(f) for f in feeds_ready)],
            tags={**WAREHOUSE_TAG, TRIGGER_TAG_KEY: LANDING_SENSOR_NAME,
                  "cb_pipeline/feeds": ",".join(feeds_ready), "cb_pipeline/deliveries": str(len(ready))},
        )
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return _landing_zone


# --------------------------------------------------------------------------- for definitions.py


def automation_jobs() -> list:
    return [ingest_job()]


def schedules(quarterly_job_name: str) -> list[dg.ScheduleDefinition]:
    return [nightly_schedule(quarterly_job_name)]


def sensors() -> list[dg.SensorDefinition]:
    return [landing_zone_sensor(INGEST_JOB_NAME)]
