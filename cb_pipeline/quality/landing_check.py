"""`cb-pipeline check`: validate a landing zone without loading it, with the same rules and code.

Belongs here: running the real ingest engine over every feed into a throw-away DuckDB file in a
temporary folder (deleted afterwards, so nothing is loaded anywhere), and the summary per feed and
rule: deliveries rejected (file and reason), rows per rule with what would fix them, and the first
quarantined rows (file, row number, rule, fix). Never a value from a row.
Does not: any rule (lib/ingest), or the command line itself (cli.py calls `check_landing`).
"""

import datetime as dt
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cb_pipeline.lib.ingest import FEEDS, Context, ingest_feed
from cb_pipeline.lib.settings import ConfigurationError, pseudonymisation_key
from cb_pipeline.lib.warehouse import Warehouse

MALFORMED_FIX = "send every row with the header's number of fields (quote values holding commas or line breaks)"


def rule_fixes(feed: str) -> dict[tuple[str, str], str]:
    """(rule id, message) -> fix, for every rule of the feed (the messages do not depend on the run date
    except date_future's, matched on its rule id alone)."""
    spec = FEEDS[feed]
    out: dict[tuple[str, str], str] = {("row_malformed", ""): MALFORMED_FIX}
    for rule in spec.rules(Context(run_date=dt.date.today())):
        out[(rule.id, rule.message)] = rule.fix
        out.setdefault((rule.id, ""), rule.fix)
    return out


def explain(feed: str, rules: str, reasons: str) -> list[dict]:
    """A quarantined row's reasons (`rule: message; ...`) as rule, message and fix."""
    fixes = rule_fixes(feed)
    out = []
    for piece in [p for p in (reasons or "").split("; ") if p] or [r for r in (rules or "").split(",") if r]:
        rule, _, message = piece.partition(": ")
        out.append({"rule": rule, "message": message,
                    "fix": fixes.get((rule, message)) or fixes.get((rule, ""), "see feeds.md for the rule")})
    return out


@dataclass
class FeedSummary:
    feed: str
    deliveries: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    rows_in: int = 0
    valid: int = 0
    quarantined: int = 0
    warning_rows: int = 0
    rules: list[tuple[str, str, int, str]] = field(default_factory=list)  # rule, kind, rows, fix
    first_rows: list[tuple[str, int, str, str, str]] = field(default_factory=list)  # file, row, rule, message, fix


def check_landing(landing: Path, reference: Path) -> list[FeedSummary]:
    """Ingest every feed of `landing` into a temporary DuckDB (the real engine), summarise, delete it."""
    from cb_pipeline.reference import load_reference

    if not Path(landing).is_dir():
        raise ConfigurationError(f"landing directory {landing} does not exist")
    if not (Path(reference) / "lsoa_localities.csv").is_file():
        raise ConfigurationError(f"{reference}/lsoa_localities.csv not found: give --reference DIR (the LSOA lookup "
                                 "decides residence_unknown)")
    # Nothing is kept, so a random key does when none is set: the pseudonyms die with the folder.
    key = pseudonymisation_key() or secrets.token_bytes(32)
    summaries = []
    with tempfile.TemporaryDirectory(prefix="cb-check-") as tmp:
        warehouse = Warehouse(f"duckdb:///{tmp}/check.duckdb")
        try:
            load_reference(warehouse, Path(reference))
            for feed in FEEDS:
                report = ingest_feed(warehouse, feed, Path(landing), key=key, progress=lambda message: None)
                summaries.append(_summarise(warehouse, feed, report))
        finally:
            warehouse.dispose()
    return summaries


def _summarise(warehouse: Warehouse, feed: str, report) -> FeedSummary:
    spec = FEEDS[feed]
    s = FeedSummary(feed, deliveries=len(report.deliveries))
    s.rejected = [(d.delivery, d.reason) for d in report.deliveries if d.status == "rejected"]
    for attr in ("rows_in", "valid", "quarantined", "warning_rows"):
        setattr(s, attr, report.total(attr))
    fixes = rule_fixes(feed)
    counts = warehouse.query_df("select rule_id, kind, sum(rows) as n from ingest_rule_counts where feed = :f "
                                "group by rule_id, kind order by kind, sum(rows) desc, rule_id", {"f": feed})
    for r in counts.itertuples():
        s.rules.append((str(r.rule_id), str(r.kind), int(r.n), fixes.get((str(r.rule_id), ""), "")))
    first = warehouse.query_df(f'select _delivery, _row_number, _rules, _reasons from "{spec.quarantine_table}" '
                               "order by _delivery, _row_number limit 10")
    for r in first.to_dict("records"):
        for e in explain(feed, r["_rules"], r["_reasons"]):
            s.first_rows.append((r["_delivery"], int(r["_row_number"]), e["rule"], e["message"], e["fix"]))
    return s


def format_summary(summaries: list[FeedSummary]) -> list[str]:
    lines = []
    for s in summaries:
        lines.append(f"{s.feed}: {s.deliveries} deliveries, {len(s.rejected)} rejected; rows in {s.rows_in:,}: "
                     f"valid {s.valid:,}, quarantined {s.quarantined:,}, with warnings {s.warning_rows:,}")
        for delivery, reason in s.rejected:
            lines.append(f"  REJECTED {s.feed}/{delivery}: {reason}")
        for rule, kind, rows, fix in s.rules:
            lines.append(f"  {kind:<7} {rule:<28} {rows:>9,} rows  fix: {fix}")
        for delivery, row, rule, message, fix in s.first_rows[:10]:
            lines.append(f"  quarantined {s.feed}/{delivery} row {row}: {rule}: {message}; fix: {fix}")
    return lines
