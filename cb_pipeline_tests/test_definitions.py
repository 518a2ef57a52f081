"""The Dagster definitions (cb_pipeline.definitions): the asset graph, checks, job and partitions.

What belongs here: checks of the graph `build_defs()` builds, against (a) the SQL text itself
(each model's dependencies are parsed here independently of lib/sql_models) and (b) a checked-in
snapshot, `definitions_snapshot.json`, so any change to the graph shows in review.
What does not: running assets (test_cli.py runs the whole job end to end).

The snapshot changes whenever a model, feed or .yml test is added or removed. Regenerate it with

    CB_UPDATE_SNAPSHOT=1 .venv/bin/pytest cb_pipeline_tests/test_definitions.py

and review the diff of cb_pipeline_tests/definitions_snapshot.json before committing it.
"""

import json
import os
import re
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cb_pipeline.definitions import JOB_NAME, build_defs
from cb_pipeline.lib.ingest import FEEDS
from cb_pipeline.lib.partitions import ReturnPartition
from cb_pipeline.lib.periods import FyQuarter, quarter_label_for_key

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "dbt_like_sql"
SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")

# Calls anywhere in the text: inside {{ }} or in a {% set %} block.
_REF = re.compile(r"""\bref\(\s*['"]([^'"]+)['"]\s*\)""")
_SOURCE = re.compile(r"""\bsource\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)""")


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_defs()


@pytest.fixture(scope="module")
def graph(defs):
    return defs.resolve_asset_graph()


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name)


def _names(keys) -> list[str]:
    return sorted(k.to_user_string() for k in keys)


def _sql_files() -> dict[str, tuple[str, Path]]:
    return {p.stem: (p.parent.name, p) for p in MODELS.glob("*/*.sql")}


def _expected_deps(sql: str) -> set[str]:
    """What the model reads, parsed from its text: ref('m') -> m; source('ingest', feed) ->
    ingest_<feed>; source('quarantine', feed) -> ingest_<feed>; the shared ingest tables -> every
    ingest asset; source('reference', x) -> reference_x."""
    deps = set(_REF.findall(sql))
    for schema, name in _SOURCE.findall(sql):
        if schema == "ingest" and name in ("deliveries", "rule_counts"):
            deps |= {f"ingest_{feed}" for feed in FEEDS}
        else:
            # quarantine_<feed> is written by the feed's ingest asset
            deps.add(f"{'reference' if schema == 'reference' else 'ingest'}_{name}")
    return deps


def snapshot_of(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": _names(node.parent_keys),
            "partitioned": node.partitions_def is not None,
            "checks": sorted(c.name for c in node.check_keys),
        }
    partitions = defs.resolve_job_def(JOB_NAME).partitions_def
    dims = {d.name: d.partitions_def for d in partitions.partitions_defs}
    first = dims["quarter"].get_partition_keys()[:5]
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(f"{s.name}: {s.cron_schedule} {s.execution_timezone} -> {s.job_name}" for s in defs.schedules),
        "sensors": sorted(f"{s.name} -> {s.job_name}" for s in defs.sensors),
        "partitions": {
            "dimensions": {name: type(p).__name__ for name, p in dims.items()},
            "example_key": ReturnPartition(FyQuarter.parse("2018-10-01"), "E06000056").key,
            "first": [{"key": k, "label": quarter_label_for_key(k)} for k in first],
            "2018-10-01": quarter_label_for_key("2018-10-01"),
        },
    }


def test_snapshot(defs):
    current = snapshot_of(defs)
    if os.environ.get("CB_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot: run CB_UPDATE_SNAPSHOT=1 .venv/bin/pytest cb_pipeline_tests/test_definitions.py"
    stored = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current == stored, (
        "the Dagster definitions changed; if intended, regenerate with "
        "CB_UPDATE_SNAPSHOT=1 .venv/bin/pytest cb_pipeline_tests/test_definitions.py and review the diff"
    )


def test_one_ingest_asset_per_feed_and_the_reference(graph):
    for feed in FEEDS:
        node = graph.get(_key(f"ingest_{feed}"))
        assert node.group_name == "ingest"
    node = graph.get(_key("reference_lsoa_localities"))
    assert node.group_name == "reference"
    # patient-level feeds are checked against the lookup (residence_unknown), so it loads first
    for feed, spec in FEEDS.items():
        parents = graph.get(_key(f"ingest_{feed}")).parent_keys
        assert (_key("reference_lsoa_localities") in parents) == bool(spec.patient_level), feed


def test_every_sql_model_is_an_asset_with_the_deps_its_sql_names(graph):
    files = _sql_files()
    assert files, "no SQL models found"
    for name, (layer, path) in files.items():
        node = graph.get(_key(name))
        assert node.group_name == layer, name
        assert _names(node.parent_keys) == sorted(_expected_deps(path.read_text())), name
        spec = yaml.safe_load(path.with_suffix(".yml").read_text()) or {}
        description = " ".join(str(spec.get("description", "")).split())
        # the .yml description first, then the grain and the source the UI shows under it
        shown = " ".join((node.description or "").split())
        assert shown.startswith(description), name
        assert "Grain: " in shown and f"Source: SQL model dbt_like_sql/{layer}/{name}.sql" in shown, name


def test_model_tests_are_blocking_checks(defs, graph):
    from cb_pipeline.lib.sql_models import discover, test_queries

    models = discover()
    for name, model in models.items():
        specs = list(defs.resolve_assets_def(_key(name)).check_specs)
        # the marts also carry the Great Expectations checks (gx_*, cb_pipeline/quality/expectations.py)
        own = [k for k in graph.get(_key(name)).check_keys if not k.name.startswith("gx_")]
        assert len(specs) == len(own) == len(test_queries(model)), name
        assert all(spec.blocking for spec in specs), name


def test_ingest_assets_have_blocking_quality_checks_and_marts_expectations(defs, graph):
    for feed in FEEDS:
        specs = {s.name: s for s in defs.resolve_assets_def(_key(f"ingest_{feed}")).check_specs}
        assert set(specs) == {"rules", "reconciliation", "coverage"}, feed
        assert all(s.blocking for s in specs.values()), feed
    for mart in ("fct_bcf_metrics_quarterly", "fct_place_dashboard_quarterly", "rpt_bcf_return__cells"):
        names = {k.name for k in graph.get(_key(mart)).check_keys}
        assert {"gx_suite", "gx_same_quarter_last_year"} <= names, mart


def test_return_asset_is_partitioned_by_hwb_and_quarter_and_reads_the_cells(graph):
    node = graph.get(_key("bcf_return"))
    assert node.group_name == "returns"
    assert _key("rpt_bcf_return__cells") in node.parent_keys
    assert {_key(f"ingest_{feed}") for feed in FEEDS} <= set(node.parent_keys)
    dims = {d.name: d.partitions_def for d in node.partitions_def.partitions_defs}
    assert set(dims) == {"hwb", "quarter"} and isinstance(dims["hwb"], dg.DynamicPartitionsDefinition)
    assert graph.get(_key("published_dashboard")).partitions_def == node.partitions_def
    part = ReturnPartition.parse("E06000056|2018-10-01")
    assert (part.hwb, part.quarter.label, part.key) == ("E06000056", "2018-19 Q3", "E06000056|2018-10-01")
    keys = dims["quarter"].get_partition_keys()
    assert keys[0] == "2015-04-01" and quarter_label_for_key(keys[0]) == "2015-16 Q1"
    assert "2018-10-01" in keys and quarter_label_for_key("2018-10-01") == "2018-19 Q3"
    assert all(k[5:7] in ("01", "04", "07", "10") and k.endswith("-01") for k in keys)


def test_job_covers_every_asset_and_runs_in_process(defs, graph):
    job = defs.resolve_job_def(JOB_NAME)
    assert job.partitions_def is not None
    assert job.executor_def.name == "in_process"
    in_job = {k for k in job.asset_layer.asset_graph.get_all_asset_keys()
              if job.asset_layer.asset_graph.get(k).is_materializable}
    assert in_job == {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}


def test_fanout_job_renders_returns_and_dashboards_on_the_multiprocess_executor(monkeypatch):
    from cb_pipeline.definitions import FANOUT_JOB_NAME
    from cb_pipeline.lib.dagster_assets import WarehouseResource

    monkeypatch.setenv("CB_FANOUT_PROCESSES", "3")
    for url, processes, tagged in (("duckdb:///x.duckdb", 1, True), ("postgresql+psycopg://u@h/db", 3, False)):
        job = build_defs({"warehouse": WarehouseResource(url=url)}).resolve_job_def(FANOUT_JOB_NAME)
        assert job.executor_def.name == "multiprocess"
        assert job.executor_def.apply_config_mapping({}).value["config"]["max_concurrent"] == processes, url
        assert ("cb_pipeline/warehouse" in job.tags) is tagged, url
        in_job = {k.to_user_string() for k in job.asset_layer.asset_graph.get_all_asset_keys()
                  if job.asset_layer.asset_graph.get(k).is_materializable}
        assert in_job == {"bcf_return", "published_dashboard"}


def test_resource_overrides_replace_the_environment_defaults(tmp_path):
    from cb_pipeline.lib.dagster_assets import WarehouseResource

    url = f"duckdb:///{tmp_path}/w.duckdb"
    defs = build_defs({"warehouse": WarehouseResource(url=url)})
    assert defs.resources["warehouse"].url == url
    assert "settings" in defs.resources
