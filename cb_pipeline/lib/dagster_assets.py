"""Shared Dagster building blocks: the resources, and the factories that turn registries into assets.

Belongs here: `WarehouseResource` and `PipelineSettingsResource`; `ingest_assets()` (one asset per
feed of the ingest engine's registry `cb_pipeline.lib.ingest.FEEDS`, so a new feed gets its asset
by being registered there); `sql_model_assets()` (one asset per `dbt_like_sql` model, its .yml
tests as blocking asset checks); how a model's `source()` maps to an asset key; metadata helpers.
Does not belong here: what ingest or a model does (lib/ingest, dbt_like_sql), the return asset
(bcf_return/), the reference asset (reference/assets.py), or assembling `Definitions`
(definitions.py).

No `from __future__ import annotations` here: Dagster inspects the `context` annotation of asset
functions at decoration time and needs the real class, not a string.
"""

import re
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from cb_pipeline.lib import sql_models
from cb_pipeline.lib.asset_metadata import table_metadata, table_schema  # noqa: F401 (table_schema: re-export)
from cb_pipeline.lib.partitions import quarter_of_run
from cb_pipeline.lib.retry import IO_RETRY_POLICY, permanent_errors
from cb_pipeline.lib.settings import DEFAULT_WAREHOUSE_URL, Settings, pseudonymisation_key
from cb_pipeline.lib.warehouse import Warehouse
from cb_pipeline.quality.ingest_checks import failure_summary, ingest_check_results, ingest_check_specs

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "templates" / "bcf_quarterly_return.xlsx"

INGEST_GROUP = "ingest"
REFERENCE_ASSET = "reference_lsoa_localities"
# ingest tables every feed's ingest writes to (not one feed's own table)
SHARED_INGEST_TABLES = ("deliveries", "rule_counts")


# --------------------------------------------------------------------------- resources


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse URL (DuckDB file or PostgreSQL); `warehouse()` opens it.

    One Warehouse per run (per step process with a multiprocess executor), disposed when the run
    ends: DuckDB allows one writing process per file, and an engine left open would keep the file
    locked for the next run (the sensor's, the schedule's) until this process exits.
    """

    url: str = DEFAULT_WAREHOUSE_URL
    _opened: Warehouse | None = PrivateAttr(default=None)

    def warehouse(self) -> Warehouse:
        if self._opened is None:
            self._opened = Warehouse(self.url)
        return self._opened

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._opened is not None:
            self._opened.dispose()
            self._opened = None


class PipelineSettingsResource(dg.ConfigurableResource):
    """Where inputs are read from and returns written to (Settings, as Dagster config)."""

    landing_dir: str
    reference_dir: str
    returns_dir: str
    template_path: str = str(DEFAULT_TEMPLATE)

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir)

    @property
    def reference_path(self) -> Path:
        return Path(self.reference_dir)

    @property
    def returns_path(self) -> Path:
        return Path(self.returns_dir)

    @property
    def template(self) -> Path:
        return Path(self.template_path)


def default_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """Resources from the environment (CB_* variables), read when the definitions are built."""
    settings = settings or Settings.from_env()
    return {
        "warehouse": WarehouseResource(url=settings.warehouse_url),
        "settings": PipelineSettingsResource(
            landing_dir=str(settings.landing_dir),
            reference_dir=str(settings.reference_dir),
            returns_dir=str(settings.returns_dir),
        ),
    }


# --------------------------------------------------------------------------- ingest


def ingest_asset_key(feed: str) -> dg.AssetKey:
    return dg.AssetKey(f"ingest_{feed}")


def ingest_feed_names() -> list[str]:
    """Feeds the ingest engine implements, in registry order."""
    from cb_pipeline.lib.ingest import FEEDS

    return list(FEEDS)


def _metadata_value(value):
    """Numbers and text as they are; lists and dicts as JSON (all plain values from as_metadata)."""
    if isinstance(value, (dict, list, tuple)):
        return dg.MetadataValue.json(_jsonable(value))
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _ingest_asset(feed: str, description: str, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"ingest_{feed}",
        group_name=INGEST_GROUP,
        description=description,
        deps=deps,
        kinds={"python"},
        tags={"feed": feed},
        # reads the landing zone and writes the warehouse: transient faults are retried, bad input is not
        retry_policy=IO_RETRY_POLICY,
        # blocking: rules, reconciliation, coverage (cb_pipeline/quality/ingest_checks.py says when each fails)
        check_specs=ingest_check_specs(feed),
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
               settings: PipelineSettingsResource) -> dg.MaterializeResult:
        from cb_pipeline.lib.ingest import ingest_feed

        # The key is read at run time, never held in config, so it cannot leak into run records.
        # The report carries counts, file names, rule ids and row numbers only, never a row's values.
        with permanent_errors():
            report = ingest_feed(warehouse.warehouse(), feed, settings.landing_path, key=pseudonymisation_key(),
                                 progress=context.log.debug)
        by_status: dict[str, int] = {}
        for d in report.deliveries:
            by_status[d.status] = by_status.get(d.status, 0) + 1
        loaded = [d for d in report.deliveries if d.status == "loaded"]
        context.log.info(
            f"{len(report.deliveries)} deliveries ({', '.join(f'{n} {s}' for s, n in sorted(by_status.items())) or 'none'}); "
            f"loaded now: rows in {sum(d.rows_in for d in loaded):,}, valid {sum(d.valid for d in loaded):,}, "
            f"quarantined {sum(d.quarantined for d in loaded):,}"
        )
        for d in report.deliveries:
            if d.status == "rejected":
                context.log.warning(f"delivery {d.delivery} rejected: {d.reason}")
        metadata = {key: _metadata_value(value) for key, value in report.as_metadata().items()}
        # current rows (not superseded by a later delivery); the preview is rows per month, never rows
        metadata.update(table_metadata(warehouse.warehouse(), f"ingest_{feed}", row_count_where="_superseded_by is null"))
        # the run's quarter (unpartitioned asset in a partitioned run) decides which months coverage needs
        checks = ingest_check_results(warehouse.warehouse(), feed, quarter_of_run(context.run.tags))
        for line in failure_summary(checks):
            context.log.error(line)
        return dg.MaterializeResult(metadata=metadata, check_results=checks)

    return _asset


def ingest_assets(feeds: Iterable[str] | None = None) -> list[dg.AssetsDefinition]:
    """One `ingest_<feed>` asset per feed of the ingest registry (or the feeds given)."""
    from cb_pipeline.lib.ingest import FEEDS

    names = list(feeds) if feeds is not None else ingest_feed_names()
    assets = []
    for feed in names:
        spec = FEEDS[feed]
        text = (getattr(spec, "description", "") or "").strip()
        grain = ", ".join(getattr(spec, "key", ()) or ()) or "one row per delivered row"
        description = (
            f"Grain: one row per delivered record, key ({grain}) plus _delivery; current rows have "
            f"_superseded_by NULL. Source: the {feed} deliveries in <landing dir>/{feed}/ (feeds.md).\n\n"
            f"Ingests every delivery in landing/{feed}/ into table ingest_{feed} (valid rows, with supersede), "
            f"quarantine_{feed} (bad rows and reasons), ingest_deliveries and ingest_rule_counts. "
            "Deliveries already loaded are skipped, so re-running changes nothing."
        )
        # patient-level rows are checked against the LSOA lookup (residence_unknown), so it loads first
        deps = [dg.AssetKey(REFERENCE_ASSET)] if getattr(spec, "patient_level", False) else []
        assets.append(_ingest_asset(feed, f"{text}\n\n{description}".strip(), deps))
    return assets


# --------------------------------------------------------------------------- SQL models


def source_asset_keys(schema: str, name: str, ingest_keys: list[dg.AssetKey]) -> list[dg.AssetKey]:
    """The asset(s) that write the table `{{ source(schema, name) }}` renders to.

    `source('ingest', '<feed>')` -> `ingest_<feed>`; the shared ingest tables (deliveries,
    rule_counts) -> every ingest asset; `source('reference', '<x>')` -> `reference_<x>`;
    `source('quarantine', '<feed>')` (table quarantine_<feed>) -> `ingest_<feed>`.
    """
    if schema == "ingest":
        if name in SHARED_INGEST_TABLES:
            return list(ingest_keys)
        key = dg.AssetKey(f"ingest_{name}")
        if key not in ingest_keys:
            raise sql_models.ModelError(
                f"source('ingest', {name!r}) is not written by any ingest asset "
                f"(feeds: {', '.join(k.path[-1] for k in ingest_keys)}; shared: {', '.join(SHARED_INGEST_TABLES)})"
            )
        return [key]
    if schema == "reference":
        return [dg.AssetKey(f"reference_{name}")]
    if schema == "quarantine":  # quarantine_<feed> is written by the feed's ingest asset
        return source_asset_keys("ingest", name, ingest_keys)
    raise sql_models.ModelError(f"unknown source schema {schema!r}")


def model_deps(model: sql_models.SqlModel, ingest_keys: list[dg.AssetKey]) -> list[dg.AssetKey]:
    keys = [dg.AssetKey(r) for r in model.refs]
    for schema, name in model.sources:
        for key in source_asset_keys(schema, name, ingest_keys):
            if key not in keys:
                keys.append(key)
    return sorted(keys, key=lambda k: k.to_user_string())


def check_name(label: str) -> str:
    """A Dagster-safe check name (letters, digits, _) from a test label such as `hwb_code not_null`."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_").lower()
    return name[:60].rstrip("_") or "test"


def model_check_names(model: sql_models.SqlModel) -> list[tuple[str, str, str]]:
    """(check name, label, SQL) per .yml test; names made unique within the model."""
    out, seen = [], set()
    for label, sql in sql_models.test_queries(model):
        base = check_name(label)
        name, n = base, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        out.append((name, label, sql))
    return out


def _model_asset(model: sql_models.SqlModel, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    checks = model_check_names(model)
    column_descriptions = {
        c["name"]: " ".join(str(c.get("description", "")).split())
        for c in (model.spec.get("columns") or []) if isinstance(c, dict) and "name" in c
    }
    relative = model.path.relative_to(REPO_ROOT).as_posix() if model.path.is_relative_to(REPO_ROOT) else str(model.path)
    # what the UI's asset page opens with: the .yml description, then grain and source
    reads = [f"ref {r}" for r in model.refs] + [f"source {a}.{b}" for a, b in model.sources]
    description = "\n\n".join(part for part in (
        model.description,
        f"Grain: one row per ({', '.join(model.grain)})." if model.grain else "Grain: not declared.",
        f"Source: SQL model {relative} (table {model.name}), reading {', '.join(reads) or 'nothing'}.",
    ) if part)

    @dg.asset(
        name=model.name,
        group_name=model.layer,
        deps=deps,
        description=description,
        kinds={"sql"},
        # blocking: a failing .yml test stops every downstream model and the return
        check_specs=[dg.AssetCheckSpec(name, asset=model.name, description=label, blocking=True)
                     for name, label, _ in checks],
        metadata={"sql_path": relative, "grain": ", ".join(model.grain) or "(none declared)"},
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        wh = warehouse.warehouse()
        rows = sql_models.materialise(wh, model)
        results = []
        failed = []
        # one connection for every test: opening one per query costs more than most queries
        with wh.begin() as conn:
            for name, label, sql in checks:
                failing = int(conn.exec_driver_sql(sql).scalar() or 0)
                if failing:
                    failed.append(f"{label} ({failing} rows)")
                results.append(dg.AssetCheckResult(
                    asset_key=model.name, check_name=name, passed=failing == 0,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"failing_rows": failing, "sql": dg.MetadataValue.md(f"```sql\n{sql}\n```")},
                ))
        context.log.info(f"{rows:,} rows; {len(checks) - len(failed)}/{len(checks)} tests passed")
        if failed:
            context.log.error(f"failing tests: {'; '.join(failed)}")
        metadata = table_metadata(wh, model.name, descriptions=column_descriptions)
        metadata["dagster/row_count"] = rows
        return dg.MaterializeResult(metadata=metadata, check_results=results)

    return _asset


def sql_model_assets(ingest_keys: list[dg.AssetKey], models: dict[str, sql_models.SqlModel] | None = None,
                     ) -> list[dg.AssetsDefinition]:
    """One asset per SQL model: key = model name, group = layer, deps from its ref()/source()."""
    models = models if models is not None else sql_models.discover()
    return [_model_asset(models[name], model_deps(models[name], ingest_keys))
            for name in sql_models.topological_order(models)]
