"""The blocking asset checks of every ingest asset: rule results, reconciliation, coverage.

Belongs here: what each check reads (the ledger `ingest_deliveries`, `ingest_rule_counts`, the
feed's `ingest_<feed>` and `quarantine_<feed>` tables, never the landing files), when it fails,
and its metadata (counts, file names, row numbers, rule ids and the rules' own messages and
fixes: never a value from a row). Does not: run the rules (lib/ingest), or build the asset
(lib/dagster_assets.py calls `ingest_check_specs` and `ingest_check_results`).

When a check fails, and why (docs/architecture.md, "Ingest checks", says the same):

- `rules` (the pandera rule results). Quarantined rows alone are expected (feeds.md: bad rows
  are kept aside and counted) and never fail it. It fails, ERROR severity (blocking), when a loaded
  delivery quarantines more than `CB_QUARANTINE_MAX_RATE` of its rows (default 0.5): that is a
  systemic fault (a changed layout, a wrong date format, a shifted column), not a few bad rows, and
  a return computed from the remainder would be wrong. A rejected delivery is a WARN (shown, not
  blocking): feeds.md says it loads nothing and is listed with its reason, and the return's Data
  Quality sheet shows it; a re-sent corrected file is picked up by the next run.
- `reconciliation`: ERROR when, for any delivery, rows_in != valid + quarantined + superseded
  counted in the tables themselves (not copied from the ledger), when the ledger's valid or
  quarantined counts differ from the tables, when a row is stored twice, or when rows of a
  rejected or unknown delivery are in the tables. Any of these means the figures are not computed
  from exactly the checked data, so the return must not be produced.
- `coverage` (which months each feed covers, from its current valid rows). WARN only: when the
  run's quarter (the partition) has a month a monthly feed does not cover, the metrics of that
  feed are already empty, never 0 (metrics.md), and the return marks them; a late feed must not
  stop the rest of the return.
"""

import datetime as dt
import os

import dagster as dg

from cb_pipeline.lib.ingest.reader import redact_line
from cb_pipeline.lib.warehouse import Warehouse

CHECK_NAMES = ("rules", "reconciliation", "coverage")
DEFAULT_MAX_QUARANTINE_RATE = 0.5
# Deliveries smaller than this never fail on their rate: 1 bad row of 2 is not a systemic fault.
MIN_ROWS_FOR_RATE = 20
FIRST_PROBLEMS = 10
_IDENTICAL = "identical content"


def max_quarantine_rate(env: dict | None = None) -> float:
    env = os.environ if env is None else env
    raw = env.get("CB_QUARANTINE_MAX_RATE", "")
    try:
        value = float(raw) if raw else DEFAULT_MAX_QUARANTINE_RATE
    except ValueError:
        from cb_pipeline.lib.settings import ConfigurationError

        raise ConfigurationError(f"CB_QUARANTINE_MAX_RATE={raw!r} is not a number between 0 and 1") from None
    return min(max(value, 0.0), 1.0)


def ingest_check_specs(feed: str) -> list[dg.AssetCheckSpec]:
    asset = f"ingest_{feed}"
    return [
        dg.AssetCheckSpec("rules", asset=asset, blocking=True, description=(
            "pandera rule results of every loaded delivery (rows per rule and kind, first quarantined rows with "
            "their reasons). Fails (blocking) when a delivery quarantines more than CB_QUARANTINE_MAX_RATE of its "
            f"rows; a rejected delivery is a warning. Look in quarantine_{feed}, ingest_rule_counts, ingest_deliveries.")),
        dg.AssetCheckSpec("reconciliation", asset=asset, blocking=True, description=(
            "rows_in = valid + quarantined + superseded for every delivery, counted in the tables; no row stored "
            f"twice; nothing from a rejected delivery. Look in ingest_deliveries, ingest_{feed}, quarantine_{feed}.")),
        dg.AssetCheckSpec("coverage", asset=asset, blocking=True, description=(
            "The months the feed's current valid rows cover; a month of the run's quarter without rows is a "
            f"warning (its metrics are empty, never 0). Look in ingest_{feed}.")),
    ]


def ingest_check_results(warehouse: Warehouse, feed: str, partition_key: str | None = None,
                         ) -> list[dg.AssetCheckResult]:
    """The three checks' results for `feed`, from the warehouse as it is after the ingest."""
    from cb_pipeline.lib.ingest import FEEDS

    spec = FEEDS[feed]
    ledger = warehouse.query_df(
        "select delivery, status, reason, rows_in, valid, quarantined, warning_rows from ingest_deliveries "
        "where feed = :f order by delivery", {"f": feed})
    return [rules_result(warehouse, spec, ledger), reconciliation_result(warehouse, spec, ledger),
            coverage_result(warehouse, spec, partition_key)]


def _where(spec, *tables: str) -> str:
    return ", ".join(tables) + f" (warehouse); the check's metadata in the Dagster UI (asset {spec.table})"


# --------------------------------------------------------------------------- rules


def rules_result(warehouse: Warehouse, spec, ledger) -> dg.AssetCheckResult:
    threshold = max_quarantine_rate()
    counts = warehouse.query_df(
        "select rule_id, kind, sum(rows) as n from ingest_rule_counts where feed = :f group by rule_id, kind "
        "order by kind, rule_id", {"f": spec.name})
    by_rule = {f"{r.rule_id}:{r.kind}": int(r.n) for r in counts.itertuples()}
    by_kind = {"fatal": 0, "warning": 0}
    for r in counts.itertuples():
        by_kind[str(r.kind)] = by_kind.get(str(r.kind), 0) + int(r.n)
    loaded = ledger[ledger["status"] == "loaded"]
    rejected = ledger[ledger["status"] == "rejected"]
    deliveries, over = [], []
    for d in loaded.itertuples():
        rows_in, quarantined = int(d.rows_in), int(d.quarantined)
        rate = quarantined / rows_in if rows_in else 0.0
        deliveries.append({"delivery": d.delivery, "rows_in": rows_in, "quarantined": quarantined,
                           "quarantine_rate": round(rate, 4), "warning_rows": int(d.warning_rows)})
        if rows_in >= MIN_ROWS_FOR_RATE and rate > threshold:
            over.append(f"{d.delivery} quarantined {quarantined:,} of {rows_in:,} rows ({rate:.0%})")
    # A file sent twice under another name is refused harmlessly (loaded once); not a warning.
    refused = [{"delivery": d.delivery, "reason": d.reason} for d in rejected.itertuples()
               if not str(d.reason or "").startswith(_IDENTICAL)]
    first = warehouse.query_df(
        f'select _delivery, _row_number, _rules, _reasons from "{spec.quarantine_table}" '
        f"order by _delivery, _row_number limit {FIRST_PROBLEMS}") if warehouse.table_exists(spec.quarantine_table) else None
    first_rows = [] if first is None else [
        # reasons are the rules' own messages; the redaction is a second guard, never a row value
        {"delivery": r["_delivery"], "row": int(r["_row_number"]), "rules": r["_rules"],
         "reasons": redact_line(str(r["_reasons"]), 600)}
        for r in first.to_dict("records")]
    metadata = {
        "rows_by_rule": dg.MetadataValue.json(by_rule),
        "rows_by_kind": dg.MetadataValue.json(by_kind),
        "deliveries_loaded": len(loaded),
        "deliveries_rejected": dg.MetadataValue.json(refused),
        "deliveries": dg.MetadataValue.json(deliveries[-50:]),
        "first_quarantined_rows": dg.MetadataValue.json(first_rows),
        "max_quarantine_rate": threshold,
        "where_to_look": _where(spec, spec.quarantine_table, "ingest_rule_counts", "ingest_deliveries"),
    }
    if over:
        metadata["failure"] = (f"{len(over)} deliveries over the quarantine rate limit {threshold:.0%} "
                               f"(CB_QUARANTINE_MAX_RATE): " + "; ".join(over[:5]))
        return dg.AssetCheckResult(check_name="rules", asset_key=spec.table, passed=False,
                                   severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)
    if refused:
        metadata["failure"] = f"{len(refused)} deliveries rejected whole (nothing loaded from them): " + "; ".join(
            f"{r['delivery']}: {r['reason']}" for r in refused[:5])
        return dg.AssetCheckResult(check_name="rules", asset_key=spec.table, passed=False,
                                   severity=dg.AssetCheckSeverity.WARN, metadata=metadata)
    return dg.AssetCheckResult(check_name="rules", asset_key=spec.table, passed=True, metadata=metadata)


# --------------------------------------------------------------------------- reconciliation


def _unit_columns(spec) -> list[str]:
    """Columns that tell two stored rows of one delivery apart: the row number, and for reshaped
    feeds (population: 91 long rows per input row) every reshaped column."""
    if spec.reshape is not None:
        return ["_row_number"] + [name for name, _ in spec.reshape_columns]
    return ["_row_number"]


def table_counts(warehouse: Warehouse, spec) -> dict[str, dict[str, int]]:
    """Per delivery, counted in the tables: current and superseded input rows, quarantined rows,
    and rows stored more than once."""
    units = ", ".join(f'"{c}"' for c in _unit_columns(spec))
    valid = warehouse.query_df(
        "select _delivery, "
        "count(distinct case when _superseded_by is null then _row_number end) as current_rows, "
        "count(distinct case when _superseded_by is not null then _row_number end) as superseded_rows "
        f'from "{spec.table}" group by _delivery')
    dups = warehouse.query_df(
        f"select _delivery, sum(n - 1) as duplicates from (select _delivery, {units}, count(*) as n "
        f'from "{spec.table}" group by _delivery, {units} having count(*) > 1) as d group by _delivery')
    quarantine = warehouse.query_df(
        "select _delivery, count(*) as quarantined_rows, count(*) - count(distinct _row_number) as q_duplicates "
        f'from "{spec.quarantine_table}" group by _delivery')
    out: dict[str, dict[str, int]] = {}
    for frame in (valid, dups, quarantine):
        for row in frame.to_dict("records"):
            entry = out.setdefault(row.pop("_delivery"), {})
            entry.update({k: int(v or 0) for k, v in row.items()})
    return out


def reconciliation_result(warehouse: Warehouse, spec, ledger) -> dg.AssetCheckResult:
    counted = table_counts(warehouse, spec)
    problems: list[str] = []
    rows, totals = [], {"rows_in": 0, "valid": 0, "quarantined": 0, "superseded": 0}
    entries = ledger["delivery"].tolist()
    for name in sorted({n for n in entries if entries.count(n) > 1}):
        problems.append(f"{name}: listed {entries.count(name)} times in ingest_deliveries")
    for d in ledger.itertuples():
        c = counted.pop(d.delivery, {})
        current, superseded = c.get("current_rows", 0), c.get("superseded_rows", 0)
        quarantined = c.get("quarantined_rows", 0)
        duplicates = c.get("duplicates", 0) + c.get("q_duplicates", 0)
        if d.status != "loaded":
            if current or superseded or quarantined:
                problems.append(f"{d.delivery}: rejected, yet {current + superseded + quarantined:,} of its rows are stored")
            continue
        rows_in = int(d.rows_in)
        if rows_in != current + quarantined + superseded:
            problems.append(f"{d.delivery}: rows_in {rows_in:,} != valid {current:,} + quarantined {quarantined:,} "
                            f"+ superseded {superseded:,}")
        if int(d.valid) != current + superseded:
            problems.append(f"{d.delivery}: the ledger's valid {int(d.valid):,} != {current + superseded:,} rows stored")
        if int(d.quarantined) != quarantined:
            problems.append(f"{d.delivery}: the ledger's quarantined {int(d.quarantined):,} != {quarantined:,} rows "
                            f"in {spec.quarantine_table}")
        if duplicates:
            problems.append(f"{d.delivery}: {duplicates:,} rows stored more than once")
        rows.append({"delivery": d.delivery, "rows_in": rows_in, "valid": current, "quarantined": quarantined,
                     "superseded": superseded})
        for key, value in (("rows_in", rows_in), ("valid", current), ("quarantined", quarantined),
                           ("superseded", superseded)):
            totals[key] += value
    for name, c in sorted(counted.items()):
        problems.append(f"{name}: {sum(c.values()):,} rows stored but the delivery is not in ingest_deliveries")
    metadata = {
        **{f"total_{k}": v for k, v in totals.items()},
        "deliveries": dg.MetadataValue.json(rows[-50:]),
        "where_to_look": _where(spec, "ingest_deliveries", spec.table, spec.quarantine_table),
    }
    if problems:
        metadata["failure"] = f"{len(problems)} reconciliation problems: " + "; ".join(problems[:5])
        metadata["problems"] = dg.MetadataValue.json(problems[:50])
    return dg.AssetCheckResult(check_name="reconciliation", asset_key=spec.table, passed=not problems,
                               severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)


# --------------------------------------------------------------------------- coverage


def _period_column(spec) -> tuple[str, str] | None:
    """(kind, column) deciding a row's period: ('date', col) for monthly feeds (the feed's own
    `period_column` if it declares one, else its first required date column that is stored, else
    the first stored date column); ('fy_quarter', '') for plan-like feeds; ('mid_year', col)."""
    from cb_pipeline.lib.ingest.engine import output_columns

    stored = dict(output_columns(spec))
    declared = getattr(spec, "period_column", None)
    if declared and declared in stored:
        return ("date", declared) if stored[declared] == "date" else ("mid_year", declared)
    for c in spec.columns:
        if c.required and c.kind in ("date", "datetime") and stored.get(c.field) == "date":
            return "date", c.field
    for name, sql_type in stored.items():
        if sql_type == "date" and not name.startswith("_"):
            return "date", name
    if "financial_year" in stored and "quarter" in stored:
        return "fy_quarter", ""
    if "mid_year" in stored:
        return "mid_year", "mid_year"
    return None


def covered_months(warehouse: Warehouse, spec) -> tuple[str, dict[str, int]]:
    """(unit, {period label: current valid rows}): months `YYYY-MM`, or mid-years `YYYY`."""
    period = _period_column(spec)
    if period is None:
        return "none", {}
    kind, col = period
    current = f'from "{spec.table}" where _superseded_by is null'
    if kind == "date":
        frame = warehouse.query_df(
            f'select extract(year from "{col}") as y, extract(month from "{col}") as m, count(*) as n {current} '
            f'and "{col}" is not null group by 1, 2')
        return "month", dict(sorted((f"{int(r.y):04d}-{int(r.m):02d}", int(r.n)) for r in frame.itertuples()))
    if kind == "fy_quarter":
        frame = warehouse.query_df(f"select financial_year as fy, quarter as q, count(*) as n {current} group by 1, 2")
        out: dict[str, int] = {}
        for r in frame.itertuples():
            try:
                start_year, q = int(str(r.fy)[:4]), int(r.q)
            except (TypeError, ValueError):
                continue
            for k in range(3):
                month = 4 + 3 * (q - 1) + k
                label = f"{start_year + (month - 1) // 12:04d}-{(month - 1) % 12 + 1:02d}"
                out[label] = out.get(label, 0) + int(r.n)
        return "month", dict(sorted(out.items()))
    frame = warehouse.query_df(f'select "{col}" as y, count(*) as n {current} and "{col}" is not null group by 1')
    return "mid_year", dict(sorted((str(int(r.y)), int(r.n)) for r in frame.itertuples()))


def _month_range(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def quarter_months(partition_key: str) -> list[str]:
    start = dt.date.fromisoformat(partition_key)
    return [f"{start.year + (start.month + k - 1) // 12:04d}-{(start.month + k - 1) % 12 + 1:02d}" for k in range(3)]


def coverage_result(warehouse: Warehouse, spec, partition_key: str | None) -> dg.AssetCheckResult:
    unit, covered = covered_months(warehouse, spec)
    metadata: dict = {"unit": unit, "periods_covered": len(covered),
                      "rows_by_period": dg.MetadataValue.json(covered),
                      "where_to_look": _where(spec, spec.table)}
    problem = ""
    if covered:
        labels = list(covered)
        metadata["first"], metadata["last"] = labels[0], labels[-1]
        if unit == "month":
            gaps = [m for m in _month_range(labels[0], labels[-1]) if m not in covered]
            metadata["gaps"] = dg.MetadataValue.json(gaps)
            if partition_key:
                missing = [m for m in quarter_months(partition_key) if m not in covered]
                metadata["run_quarter_months_missing"] = dg.MetadataValue.json(missing)
                # plan-like feeds (one row per quarter) and monthly feeds alike: the run's quarter needs all 3
                if missing:
                    problem = (f"no valid current rows for {', '.join(missing)} (the run's quarter "
                               f"{partition_key}): metrics from {spec.name} are empty for it")
    else:
        problem = "no valid current rows at all" if unit != "none" else ""
    if problem:
        metadata["failure"] = problem
    return dg.AssetCheckResult(check_name="coverage", asset_key=spec.table, passed=not problem,
                               severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


def failure_summary(results: list[dg.AssetCheckResult]) -> list[str]:
    """One line per blocking (ERROR) failure: the check, what is wrong, where to look."""
    out = []
    for r in results:
        if not r.passed and r.severity == dg.AssetCheckSeverity.ERROR:
            meta = r.metadata or {}
            failure = getattr(meta.get("failure"), "value", meta.get("failure"))
            where = getattr(meta.get("where_to_look"), "value", meta.get("where_to_look"))
            out.append(f"check {r.asset_key.to_user_string()}:{r.check_name} failed: {failure}. Look in {where}")
    return out
