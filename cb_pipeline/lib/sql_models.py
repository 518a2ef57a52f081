"""The SQL model runner: `dbt_like_sql/` files become warehouse tables and Dagster assets.

Belongs here: discovering models, rendering `{{ ref('m') }}` / `{{ source('s', 't') }}`, ordering
by dependencies, materialising as tables, running the tests declared in each model's `.yml`, and
generating the metric catalogue. Does not: any metric logic (that is the SQL itself).

Model files: `dbt_like_sql/<layer>/<model>.sql` with `<model>.yml` beside it:

    name: fct_bcf_metrics_quarterly
    description: ...
    grain: [hwb_code, quarter_start, metric_id]      # also tested as unique
    columns:
      - name: hwb_code
        description: ...
        tests: [not_null, {accepted_values: [...]}]
    tests: [{expression_is_true: "value >= 0"}]
    metrics: [{id: nea, title: ..., definition: ...}]   # optional, for the catalogue
"""

import graphlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import yaml

from cb_pipeline.lib.warehouse import Warehouse

MODELS_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
LAYERS = ("staging", "intermediate", "marts")
SOURCE_PREFIX = {"ingest": "ingest_", "reference": "ref_", "quarantine": "quarantine_"}


class ModelError(Exception):
    """A model file is malformed, references something unknown, or failed in the warehouse."""


@dataclass
class SqlModel:
    name: str
    layer: str
    path: Path
    sql_template: str
    spec: dict
    refs: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)

    @property
    def description(self) -> str:
        return (self.spec.get("description") or "").strip()

    @property
    def grain(self) -> list[str]:
        return list(self.spec.get("grain") or [])

    def render(self, dialect: str) -> str:
        return _render(self.sql_template, dialect, self.path)


def source_table(schema: str, name: str) -> str:
    if schema not in SOURCE_PREFIX:
        raise ModelError(f"unknown source schema {schema!r}; known: {sorted(SOURCE_PREFIX)}")
    return SOURCE_PREFIX[schema] + name


def _render(template: str, dialect: str, path: Path, collect: dict | None = None) -> str:
    def ref(name: str) -> str:
        if collect is not None:
            collect.setdefault("refs", []).append(name)
        return name

    def source(schema: str, name: str) -> str:
        if collect is not None:
            collect.setdefault("sources", []).append((schema, name))
        return source_table(schema, name)

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    try:
        return env.from_string(template).render(ref=ref, source=source, dialect=dialect)
    except jinja2.TemplateError as exc:
        raise ModelError(f"{path}: {exc}") from exc


def discover(models_dir: Path = MODELS_DIR) -> dict[str, SqlModel]:
    """All models, keyed by name, checked for a .yml, known refs and no cycles."""
    models: dict[str, SqlModel] = {}
    for layer in LAYERS:
        for sql_path in sorted((models_dir / layer).glob("*.sql")):
            yml_path = sql_path.with_suffix(".yml")
            if not yml_path.exists():
                raise ModelError(f"{sql_path}: no {yml_path.name} beside it (grain, columns, tests)")
            spec = yaml.safe_load(yml_path.read_text()) or {}
            if spec.get("name", sql_path.stem) != sql_path.stem:
                raise ModelError(f"{yml_path}: name {spec.get('name')!r} does not match the file {sql_path.stem!r}")
            if sql_path.stem in models:
                raise ModelError(f"{sql_path}: model name {sql_path.stem!r} is defined twice")
            template = sql_path.read_text()
            found: dict = {}
            _render(template, "duckdb", sql_path, found)
            models[sql_path.stem] = SqlModel(
                name=sql_path.stem,
                layer=layer,
                path=sql_path,
                sql_template=template,
                spec=spec,
                refs=sorted(set(found.get("refs", []))),
                sources=sorted(set(found.get("sources", []))),
            )
    for model in models.values():
        unknown = [r for r in model.refs if r not in models]
        if unknown:
            raise ModelError(f"{model.path}: ref() to unknown model(s) {unknown}")
        if model.layer == "staging" and model.refs:
            raise ModelError(f"{model.path}: staging models read sources only, not ref({model.refs})")
    topological_order(models)
    return models


def topological_order(models: dict[str, SqlModel]) -> list[str]:
    sorter = graphlib.TopologicalSorter({m.name: set(m.refs) for m in models.values()})
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        raise ModelError(f"dependency cycle between models: {exc.args[1]}") from exc


def materialise(warehouse: Warehouse, model: SqlModel) -> int:
    """Rebuild the model's table in one transaction; returns its row count."""
    sql = model.render(warehouse.dialect).strip().rstrip(";")
    cascade = " cascade" if warehouse.dialect == "postgresql" else ""
    try:
        with warehouse.begin() as conn:
            conn.exec_driver_sql(f'drop table if exists "{model.name}"{cascade}')
            conn.exec_driver_sql(f'create table "{model.name}" as\n{sql}')
            return conn.exec_driver_sql(f'select count(*) from "{model.name}"').scalar()
    except Exception as exc:  # noqa: BLE001 - re-raised with the model named
        raise ModelError(f"model {model.name} ({model.path.name}) failed on {warehouse.dialect}: {exc}") from exc


def run_models(warehouse: Warehouse, models: dict[str, SqlModel] | None = None, select: list[str] | None = None) -> dict[str, int]:
    """Materialise models in dependency order (all, or `select` and their upstream models)."""
    models = models or discover()
    wanted = set(models) if select is None else _with_upstream(models, select)
    counts = {}
    for name in topological_order(models):
        if name in wanted:
            counts[name] = materialise(warehouse, models[name])
    return counts


def _with_upstream(models: dict[str, SqlModel], select: list[str]) -> set[str]:
    wanted, todo = set(), list(select)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(models[name].refs)
    return wanted


# ---- tests declared in .yml ------------------------------------------------------------------

@dataclass
class TestFailure:
    test: str
    failing_rows: int
    sql: str


def test_queries(model: SqlModel) -> list[tuple[str, str]]:
    """(test label, SQL counting failing rows) for every test the model's .yml declares."""
    table = f'"{model.name}"'
    queries = []
    if model.grain:
        cols = ", ".join(model.grain)
        queries.append((f"grain unique ({cols})",
                        f"select count(*) from (select {cols} from {table} group by {cols} having count(*) > 1) d"))
    for column in model.spec.get("columns") or []:
        col = column["name"]
        for test in column.get("tests") or []:
            if test == "not_null":
                queries.append((f"{col} not_null", f"select count(*) from {table} where {col} is null"))
            elif test == "unique":
                queries.append((f"{col} unique",
                                f"select count(*) from (select {col} from {table} where {col} is not null group by {col} having count(*) > 1) d"))
            elif isinstance(test, dict) and "accepted_values" in test:
                values = ", ".join(_sql_literal(v) for v in test["accepted_values"])
                queries.append((f"{col} accepted_values",
                                f"select count(*) from {table} where {col} is not null and {col} not in ({values})"))
            elif isinstance(test, dict) and ("min" in test or "max" in test):
                cond = []
                if "min" in test:
                    cond.append(f"{col} < {test['min']}")
                if "max" in test:
                    cond.append(f"{col} > {test['max']}")
                queries.append((f"{col} range", f"select count(*) from {table} where {' or '.join(cond)}"))
            else:
                raise ModelError(f"{model.path.with_suffix('.yml')}: unknown column test {test!r} on {col}")
    for test in model.spec.get("tests") or []:
        if isinstance(test, dict) and "expression_is_true" in test:
            expr = test["expression_is_true"]
            queries.append((f"expression_is_true: {expr}", f"select count(*) from {table} where not ({expr})"))
        else:
            raise ModelError(f"{model.path.with_suffix('.yml')}: unknown model test {test!r}")
    return queries


def _sql_literal(value) -> str:
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def run_tests(warehouse: Warehouse, model: SqlModel) -> list[TestFailure]:
    failures = []
    for label, sql in test_queries(model):
        n = warehouse.scalar(sql)
        if n:
            failures.append(TestFailure(label, int(n), sql))
    return failures


# ---- catalogue ------------------------------------------------------------------------------

def render_catalogue(models: dict[str, SqlModel]) -> str:
    """Markdown catalogue of metrics and models, generated from the models' .yml files only."""
    lines = ["# Metric and model catalogue", "",
             "Generated by `cb-pipeline catalogue` from `dbt_like_sql/**/*.yml`; do not edit by hand.", ""]
    metrics = [(m, metric) for m in models.values() for metric in (m.spec.get("metrics") or [])]
    if metrics:
        lines += ["## Metrics", ""]
        for model, metric in sorted(metrics, key=lambda x: x[1]["id"]):
            lines += [f"### `{metric['id']}`: {metric.get('title', '')}".rstrip(": "), ""]
            lines += [str(metric.get("definition", "")).strip(), ""]
            for key in ("choices", "plan_unit", "direction"):
                if metric.get(key):
                    lines += [f"- {key.replace('_', ' ').capitalize()}: {str(metric[key]).strip()}"]
            lines += [f"- Computed in: `{model.name}` ({model.path.relative_to(model.path.parents[2]).as_posix()})", ""]
    lines += ["## Models", ""]
    for layer in LAYERS:
        layer_models = [m for m in models.values() if m.layer == layer]
        if not layer_models:
            continue
        lines += [f"### {layer.capitalize()}", ""]
        for m in sorted(layer_models, key=lambda m: m.name):
            lines += [f"#### `{m.name}`", "", m.description, ""]
            if m.grain:
                lines += [f"Grain: one row per {', '.join(m.grain)}.", ""]
            upstream = [f"`{r}`" for r in m.refs] + [f"`{source_table(*s)}`" for s in m.sources]
            if upstream:
                lines += [f"Reads: {', '.join(upstream)}.", ""]
            cols = m.spec.get("columns") or []
            if cols:
                lines += ["| column | description | tests |", "| --- | --- | --- |"]
                for c in cols:
                    tests = ", ".join(t if isinstance(t, str) else next(iter(t)) for t in (c.get("tests") or []))
                    desc = re.sub(r"\s+", " ", str(c.get("description", ""))).strip().replace("|", "\\|")
                    lines += [f"| `{c['name']}` | {desc} | {tests} |"]
                lines += [""]
    return "\n".join(lines).rstrip() + "\n"
