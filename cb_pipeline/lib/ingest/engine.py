"""The one ingest engine: landing-zone deliveries of a feed -> valid, quarantined and superseded rows.

Belongs here: the order deliveries are applied in, idempotency (the ledger), whole-delivery
rejection, running the feed's pandera rules batch by batch, pseudonymisation, loading the
warehouse in one transaction per delivery, supersede, and the counts that reconcile. Does not:
know any feed's columns (cb_pipeline/<feed>/feed.py) or parse values (values.py, spec.py).

Memory is bounded by the batch size: a delivery is read twice (once for its keys, to find keys
repeated anywhere in it, then for its rows), never held whole.
"""

import datetime as dt
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from ..settings import ConfigurationError
from ..warehouse import Warehouse
from . import values as v
from .reader import DeliveryRejected, MalformedRows, file_sha256, read_batches, read_header
from .spec import Context, FeedSpec, key_series, prepare

log = logging.getLogger(__name__)

STAGE_ABOVE_BYTES = 64 << 20  # deliveries larger than this load through staging tables
IGNORED_SUFFIXES = (".done", ".tmp", ".part", ".partial", ".crdownload")
_STAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})")
_DATE_TOKEN = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}")


class PseudonymisationKeyMissing(ConfigurationError):
    """Raw NHS numbers arrived and CB_PSEUDONYMISATION_KEY is not set."""


@dataclass
class DeliveryReport:
    delivery: str
    status: str  # loaded | already_loaded | rejected
    reason: str = ""
    sha256: str = ""
    rows_in: int = 0
    valid: int = 0
    quarantined: int = 0
    warning_rows: int = 0
    rule_counts: dict[str, int] = field(default_factory=dict)
    first_problems: list[dict] = field(default_factory=list)  # row number + rule ids, never values


@dataclass
class FeedIngestReport:
    feed: str
    deliveries: list[DeliveryReport] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(d, attr) for d in self.deliveries if d.status == "loaded")

    def as_metadata(self) -> dict:
        """Plain values for Dagster metadata: counts, rule ids, row numbers; never a value from a row."""
        return {
            "deliveries_seen": len(self.deliveries),
            "deliveries_loaded_now": sum(d.status == "loaded" for d in self.deliveries),
            "deliveries_already_loaded": sum(d.status == "already_loaded" for d in self.deliveries),
            "deliveries_rejected_now": [f"{d.delivery}: {d.reason}" for d in self.deliveries if d.status == "rejected"],
            "rows_in_now": self.total("rows_in"),
            "valid_now": self.total("valid"),
            "quarantined_now": self.total("quarantined"),
            "warning_rows_now": self.total("warning_rows"),
            "rule_counts_now": _sum_rule_counts(self.deliveries),
            "first_problems": [p for d in self.deliveries for p in d.first_problems][:20],
        }


def _sum_rule_counts(deliveries: list[DeliveryReport]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in deliveries:
        for k, n in d.rule_counts.items():
            out[k] = out.get(k, 0) + n
    return dict(sorted(out.items()))


# ------------------------------------------------------------------ tables


def _sql_type(kind: str) -> str:
    return {"date": "date", "datetime": "date", "age": "integer", "whole": "bigint", "positive_whole": "integer",
            "number": "double precision"}.get(kind, "varchar")


def output_columns(spec: FeedSpec) -> list[tuple[str, str]]:
    """(name, SQL type) of `ingest_<feed>`, in order."""
    if spec.reshape is not None:
        cols = list(spec.reshape_columns)
    else:
        cols = [(c.field, _sql_type(c.kind)) for c in spec.columns if c.kind != "nhs_number" and c.keep]
        if spec.patient_level:
            cols += [("person_key", "varchar"), ("person_key_source", "varchar")]
        cols += list(spec.derived_columns)
    return cols + [("_delivery", "varchar"), ("_row_number", "bigint"), ("_run_date", "date"),
                   ("_warnings", "varchar"), ("_superseded_by", "varchar")]


def quarantine_columns(spec: FeedSpec) -> list[tuple[str, str]]:
    return ([("_delivery", "varchar"), ("_row_number", "bigint"), ("_run_date", "date"), ("_rules", "varchar"),
             ("_reasons", "varchar"), ("_raw_line", "varchar")]
            + [(c.field, "varchar") for c in spec.columns if c.keep])


LEDGER_DDL = [
    """create table if not exists ingest_deliveries (
        feed varchar, delivery varchar, sha256 varchar, status varchar, reason varchar,
        rows_in bigint, valid bigint, quarantined bigint, warning_rows bigint,
        run_date date, loaded_at timestamp)""",
    "create table if not exists ingest_rule_counts (feed varchar, delivery varchar, rule_id varchar, kind varchar, rows bigint)",
]


def ensure_tables(warehouse: Warehouse, spec: FeedSpec) -> None:
    with warehouse.begin() as conn:
        for ddl in LEDGER_DDL:
            conn.execute(sa.text(ddl))
        for table, cols in ((spec.table, output_columns(spec)), (spec.quarantine_table, quarantine_columns(spec))):
            body = ", ".join(f'"{n}" {t}' for n, t in cols)
            conn.execute(sa.text(f'create table if not exists "{table}" ({body})'))


# ------------------------------------------------------------------ deliveries


def list_deliveries(feed_dir: Path) -> list[Path]:
    """Every file of the feed folder, in lexical order of name (hidden and part-written files skipped)."""
    if not feed_dir.is_dir():
        return []
    return sorted((p for p in feed_dir.iterdir() if p.is_file() and not p.name.startswith(".")
                   and not p.name.lower().endswith(IGNORED_SUFFIXES)), key=lambda p: p.name)


def delivery_run_date(name: str, default: dt.date) -> dt.date:
    m = _STAMP.match(name)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    return default


def ingest_feed(warehouse: Warehouse, feed: str, landing_dir: Path, *, key: bytes | None,
                run_date: dt.date | None = None, progress: Callable[[str], None] | None = None) -> FeedIngestReport:
    """Load every new delivery of `feed` from `landing_dir/<feed>/`; returns what happened to each."""
    from . import FEEDS

    if feed not in FEEDS:
        raise ConfigurationError(f"unknown feed {feed!r}; implemented feeds: {', '.join(sorted(FEEDS))}")
    spec = FEEDS[feed]
    say = progress or (lambda msg: log.info(msg))
    ensure_tables(warehouse, spec)
    _drop_staging(warehouse, spec)  # left by a run killed half way through a large delivery
    today = run_date or dt.date.today()
    known_lsoas = _known_lsoas(warehouse) if spec.patient_level else frozenset()
    report = FeedIngestReport(feed)
    ledger = warehouse.query_df("select delivery, sha256, status from ingest_deliveries where feed = :f", {"f": feed})
    seen = {r.delivery: r.sha256 for r in ledger.itertuples()}
    seen_sha = {r.sha256: r.delivery for r in ledger.itertuples() if r.status == "loaded"}
    for path in list_deliveries(Path(landing_dir) / feed):
        sha = file_sha256(path)
        if seen.get(path.name) == sha:
            report.deliveries.append(DeliveryReport(path.name, "already_loaded", sha256=sha))
            continue
        replacing = path.name in seen
        ctx = Context(run_date=delivery_run_date(path.name, today), known_lsoas=known_lsoas)
        try:
            if sha in seen_sha and seen_sha[sha] != path.name:
                raise DeliveryRejected(f"identical content to delivery {seen_sha[sha]}, already loaded: not loaded twice "
                                       "(nothing to fix: remove the copy)")
            rep = _load_delivery(warehouse, spec, path, sha, ctx, key, replacing, say)
            seen_sha[sha] = path.name
        except DeliveryRejected as exc:
            rep = DeliveryReport(path.name, "rejected", reason=exc.reason, sha256=sha)
            _record_rejection(warehouse, spec, rep, ctx.run_date, replacing)
            say(f"{feed}/{path.name}: REJECTED: {exc.reason}")
        seen[path.name] = sha
        report.deliveries.append(rep)
    return report


def _known_lsoas(warehouse: Warehouse) -> frozenset[str]:
    if not warehouse.table_exists("ref_lsoa_localities"):
        raise ConfigurationError(
            "the reference lookup is not loaded (table ref_lsoa_localities): load reference/lsoa_localities.csv "
            "first (the reference_lsoa_localities asset, or cb_pipeline.reference.load_reference)")
    codes = warehouse.query_df("select distinct upper(trim(lsoa11_code)) as c from ref_lsoa_localities")["c"]
    return frozenset(codes.dropna().tolist())


def _record_rejection(warehouse, spec, rep: DeliveryReport, run_date, replacing: bool) -> None:
    with warehouse.begin() as conn:
        if replacing:
            _delete_delivery(conn, spec, rep.delivery)
        conn.execute(sa.text(
            "insert into ingest_deliveries (feed, delivery, sha256, status, reason, rows_in, valid, quarantined, "
            "warning_rows, run_date, loaded_at) values (:f, :d, :s, 'rejected', :r, 0, 0, 0, 0, :rd, :t)"),
            {"f": spec.name, "d": rep.delivery, "s": rep.sha256, "r": rep.reason, "rd": run_date, "t": _now()})
        if replacing:
            _recompute_supersede(conn, spec, None)


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _delete_delivery(conn, spec: FeedSpec, delivery: str) -> None:
    for table in (spec.table, spec.quarantine_table):
        conn.execute(sa.text(f'delete from "{table}" where _delivery = :d'), {"d": delivery})
    conn.execute(sa.text("delete from ingest_deliveries where feed = :f and delivery = :d"), {"f": spec.name, "d": delivery})
    conn.execute(sa.text("delete from ingest_rule_counts where feed = :f and delivery = :d"), {"f": spec.name, "d": delivery})


# ------------------------------------------------------------------ one delivery


def _with_file_values(batch: pd.DataFrame, file_values: dict) -> pd.DataFrame:
    for col, value in file_values.items():
        if col not in batch and value is not None:
            batch[col] = pd.Series(str(value), index=batch.index, dtype="string")
    return batch


def _duplicate_keys(spec: FeedSpec, path: Path, header: list[str], mapping: dict[str, str],
                    file_values: dict) -> frozenset[str]:
    """Keys that occur more than once anywhere in the delivery (first pass, key columns only)."""
    wanted = {k: mapping[k] for k in spec.key if k in mapping}
    if path.stat().st_size <= int(os.environ.get("CB_INGEST_STAGE_ABOVE_BYTES", STAGE_ABOVE_BYTES)):
        # Small delivery: its keys fit in memory many times over; pandas is quicker than a database.
        keys = pd.concat([prepare_keys(spec, _with_file_values(b, file_values))
                          for b in read_batches(path, header, wanted, MalformedRows())] or [pd.Series([], dtype="string")])
        keys = keys.dropna()
        return frozenset(keys[keys.duplicated(keep=False)].tolist())
    con = duckdb.connect(config={"memory_limit": "512MB"})
    try:
        con.execute("create table k (key varchar)")
        for batch in read_batches(path, header, wanted, MalformedRows()):
            frame = prepare_keys(spec, _with_file_values(batch, file_values))
            con.register("kb", pa.table({"key": pa.array(frame.to_numpy(dtype=object, na_value=None), type=pa.string())}))
            con.execute("insert into k select key from kb where key is not null")
            con.unregister("kb")
        rows = con.execute("select key from k group by key having count(*) > 1").fetchall()
    finally:
        con.close()
    return frozenset(r[0] for r in rows)


def prepare_keys(spec: FeedSpec, batch: pd.DataFrame) -> pd.Series:
    na = pd.Series(pd.NA, index=batch.index, dtype="string")
    texts = pd.DataFrame({f"_text_{spec.column(k).field}": v.string_series(v.clean_text(batch[k]), batch.index)
                          if k in batch else na for k in spec.key}, index=batch.index)
    return key_series(spec, texts)


def _load_delivery(warehouse, spec: FeedSpec, path: Path, sha: str, ctx: Context, key: bytes | None,
                   replacing: bool, say) -> DeliveryReport:
    header = read_header(path)
    mapping, missing = spec.map_header(header, path.name)
    if missing:
        raise DeliveryRejected(
            f"required column(s) missing: {', '.join(missing)} (columns match case-insensitively; "
            f"the header has: {', '.join(h.strip() for h in header[:40])}{' ...' if len(header) > 40 else ''}); "
            "add the missing column(s) to the header and send the file again")
    file_values = spec.file_defaults(path.name) if spec.file_defaults else {}
    for col, value in file_values.items():
        if col not in mapping and value is None:
            raise DeliveryRejected(f"no {col}: add a {col.lower()} column or put the year in the file name")
    ctx.duplicate_keys = _duplicate_keys(spec, path, header, mapping, file_values)
    schemas = spec.schemas(ctx)
    rules = {r.check_name: r for r in spec.rules(ctx)}
    rep = DeliveryReport(path.name, "loaded", sha256=sha)
    counts: dict[tuple[str, str], int] = {}
    malformed = MalformedRows()
    staged = path.stat().st_size > int(os.environ.get("CB_INGEST_STAGE_ABOVE_BYTES", STAGE_ABOVE_BYTES))
    if staged:
        # A large delivery is loaded into staging tables a batch per transaction (DuckDB holds an open
        # transaction's rows in memory), then published in one transaction: memory stays bounded and
        # a run killed half way leaves only staging tables, dropped by the next attempt.
        targets = _create_staging(warehouse, spec)
        for batch in read_batches(path, header, mapping, malformed):
            with warehouse.begin() as conn:
                _load_batch(warehouse, conn, spec, _with_file_values(batch, file_values), ctx, key, schemas, rules,
                            rep, counts, path.name, targets)
            say(f"{spec.name}/{path.name}: {rep.rows_in:,} rows read")
    with warehouse.begin() as conn:
        if replacing:
            _delete_delivery(conn, spec, path.name)
            rep.reason = "replaced an earlier file of the same name with different content"
        if staged:
            for final, stage in zip((spec.table, spec.quarantine_table), targets):
                conn.execute(sa.text(f'insert into "{final}" select * from "{stage}"'))
                conn.execute(sa.text(f'drop table "{stage}"'))
        else:
            for batch in read_batches(path, header, mapping, malformed):
                _load_batch(warehouse, conn, spec, _with_file_values(batch, file_values), ctx, key, schemas, rules,
                            rep, counts, path.name, (spec.table, spec.quarantine_table))
        if malformed.numbers:
            _load_malformed(warehouse, conn, spec, malformed, ctx, rep, counts, path.name)
        conn.execute(sa.text(
            "insert into ingest_deliveries (feed, delivery, sha256, status, reason, rows_in, valid, quarantined, "
            "warning_rows, run_date, loaded_at) values (:f, :d, :s, 'loaded', :r, :ri, :va, :q, :w, :rd, :t)"),
            {"f": spec.name, "d": path.name, "s": sha, "r": rep.reason, "ri": rep.rows_in, "va": rep.valid,
             "q": rep.quarantined, "w": rep.warning_rows, "rd": ctx.run_date, "t": _now()})
        if counts:
            conn.execute(sa.text("insert into ingest_rule_counts (feed, delivery, rule_id, kind, rows) values "
                                 + ", ".join(f"(:f, :d, :r{i}, :k{i}, :n{i})" for i in range(len(counts)))),
                         {"f": spec.name, "d": path.name,
                          **{f"{x}{i}": val for i, ((r, k), n) in enumerate(sorted(counts.items()))
                             for x, val in (("r", r), ("k", k), ("n", n))}})
        _recompute_supersede(conn, spec, None if replacing else path.name)
    rep.rule_counts = {f"{r}:{k}": n for (r, k), n in sorted(counts.items())}
    say(f"{spec.name}/{path.name}: loaded {rep.rows_in:,} rows: {rep.valid:,} valid, {rep.quarantined:,} quarantined, "
        f"{rep.warning_rows:,} with warnings")
    return rep


def _staging_names(spec: FeedSpec) -> tuple[str, str]:
    return f"_stage_{spec.table}", f"_stage_{spec.quarantine_table}"


def _drop_staging(warehouse, spec: FeedSpec) -> None:
    with warehouse.begin() as conn:
        for name in _staging_names(spec):
            conn.execute(sa.text(f'drop table if exists "{name}"'))


def _create_staging(warehouse, spec: FeedSpec) -> tuple[str, str]:
    names = _staging_names(spec)
    with warehouse.begin() as conn:
        for name, cols in zip(names, (output_columns(spec), quarantine_columns(spec))):
            conn.execute(sa.text(f'drop table if exists "{name}"'))
            body = ", ".join(f'"{n}" {t}' for n, t in cols)
            conn.execute(sa.text(f'create table "{name}" ({body})'))
    return names


def _load_batch(warehouse, conn, spec: FeedSpec, raw: pd.DataFrame, ctx: Context, key: bytes | None,
                schemas, rules, rep: DeliveryReport, counts, delivery: str, targets: tuple[str, str]) -> None:
    n = len(raw)
    frame = prepare(spec, raw)
    nhs = spec.nhs_column
    if nhs is not None and key is None and frame[f"_text_{nhs.field}"].notna().any():
        raise PseudonymisationKeyMissing(
            f"{spec.name}/{delivery} contains NHS numbers ({nhs.name}) but CB_PSEUDONYMISATION_KEY is not set: "
            "set it to the organisation's secret pseudonymisation key (never commit it); nothing was loaded")
    failing: dict[str, dict[str, np.ndarray]] = {"fatal": {}, "warning": {}}
    for kind, schema in schemas.items():
        for check in schema.checks:
            # The Check's own function: pandera's __call__ would also build failure-case tables
            # (an isna() over the whole frame per check), which the engine does once, vectorised.
            ok = check._check_fn(frame)
            failing[kind][check.name] = ~np.asarray(ok.fillna(False) if hasattr(ok, "fillna") else ok, dtype=bool)
    fatal_any = np.zeros(n, dtype=bool)
    for mask in failing["fatal"].values():
        fatal_any |= mask
    # Rows per rule id (a row failing one rule on two columns counts once).
    for kind in ("fatal", "warning"):
        by_rule: dict[str, np.ndarray] = {}
        for name, mask in failing[kind].items():
            rid = rules[name].id
            by_rule[rid] = by_rule.get(rid, np.zeros(n, dtype=bool)) | (mask if kind == "fatal" else mask & ~fatal_any)
        for rid, mask in by_rule.items():
            if mask.any():
                counts[(rid, kind)] = counts.get((rid, kind), 0) + int(mask.sum())
    valid = ~fatal_any
    warn_ids = _joined(failing["warning"], rules, valid, ids_only=True)
    reasons = _joined(failing["fatal"], rules, fatal_any, ids_only=False)
    fatal_ids = _joined(failing["fatal"], rules, fatal_any, ids_only=True)
    rep.rows_in += n
    rep.valid += int(valid.sum())
    rep.quarantined += int(fatal_any.sum())
    rep.warning_rows += int((warn_ids.notna() & valid).sum())
    if fatal_any.any() and len(rep.first_problems) < 10:
        idx = np.flatnonzero(fatal_any)[: 10 - len(rep.first_problems)]
        rep.first_problems += [{"delivery": delivery, "row": int(raw["_row_number"].iloc[i]), "rules": fatal_ids.iloc[i]}
                               for i in idx]
    pseudonym = (v.string_series(v.hmac_sha256_hex(frame[nhs.field], key), frame.index)
                 if nhs is not None and key is not None else None)
    if valid.any():
        out = _valid_rows(spec, frame, raw, pseudonym, nhs, delivery, ctx, warn_ids, valid)
        warehouse.load_arrow(conn, targets[0], out)
    if fatal_any.any():
        q = {"_delivery": delivery, "_row_number": raw["_row_number"][fatal_any].to_numpy(),
             "_run_date": ctx.run_date, "_rules": fatal_ids[fatal_any], "_reasons": reasons[fatal_any], "_raw_line": None}
        for c in (c for c in spec.columns if c.keep):
            col = raw[c.name][fatal_any] if c.name in raw else pd.Series(pd.NA, index=raw.index[fatal_any], dtype="string")
            q[c.field] = pseudonym[fatal_any] if (nhs is not None and c is nhs) else col
        warehouse.load_arrow(conn, targets[1], _arrow(quarantine_columns(spec), q, int(fatal_any.sum())))


def _joined(masks: dict[str, np.ndarray], rules, rows: np.ndarray, *, ids_only: bool) -> pd.Series:
    """Per row, the failing rules joined in rule order: ids (`a,b`) or reasons (`a: message; b: ...`)."""
    n = len(rows)
    # Built on a numpy array of Python strings, touching only the failing rows of each rule:
    # most rows fail nothing, and pandas' where() per rule cost more than the joining.
    out = np.full(n, "", dtype=object)
    sep = "," if ids_only else "; "
    seen_ids: dict[str, np.ndarray] = {}
    for name, mask in masks.items():
        rule = rules[name]
        if ids_only:
            already = seen_ids.get(rule.id, np.zeros(n, dtype=bool))
            add = mask & ~already
            seen_ids[rule.id] = already | mask
            piece = rule.id
        else:
            add = mask
            piece = f"{rule.id}: {rule.message}"
        if add.any():
            before = out[add]
            out[add] = np.where(before == "", piece, before + sep + piece)
    text = pa.array(out, type=pa.large_string(), mask=out == "")
    return v.string_series(text, pd.RangeIndex(n))


def _valid_rows(spec, frame, raw, pseudonym, nhs, delivery, ctx, warn_ids, valid: np.ndarray) -> pa.Table:
    """The rows of the batch where `valid`, as the arrow table of `ingest_<feed>`."""
    if spec.reshape is not None:
        if not valid.all():
            frame, raw, warn_ids = frame[valid], raw[valid], warn_ids[valid]
        long = spec.reshape(frame)
        rows = long.pop("_source_index").to_numpy()
        data = {name: long[name] for name, _ in spec.reshape_columns}
        pos = frame.index.get_indexer(rows)
        data.update({"_delivery": delivery, "_row_number": raw["_row_number"].to_numpy()[pos], "_run_date": ctx.run_date,
                     "_warnings": warn_ids.to_numpy()[pos], "_superseded_by": None})
        return _arrow(output_columns(spec), data, len(long))
    # Every column is converted whole and the table filtered once at the end: selecting the valid
    # rows of the prepared frame first would copy all its columns (twice as many as are written).
    n = len(frame)
    data = {}
    for c in spec.columns:
        if c.kind != "nhs_number" and c.keep:
            data[c.field] = frame[c.field]
    if spec.patient_level:
        # Row by row, so computing it on every row and filtering afterwards gives the same values.
        person, source = _person_keys(spec, frame, pseudonym, nhs)
        data["person_key"], data["person_key_source"] = person, source
    data.update({"_delivery": delivery, "_row_number": raw["_row_number"].to_numpy(), "_run_date": ctx.run_date,
                 "_warnings": warn_ids, "_superseded_by": None})
    columns = output_columns(spec)
    derived = {name for name, _ in spec.derived_columns}
    table = _arrow([c for c in columns if c[0] not in derived], data, n)
    if not valid.all():
        table = table.filter(pa.array(valid))
    if spec.derive is not None:
        # derive() is given the valid rows only, as before.
        extra = _arrow(list(spec.derived_columns), spec.derive(frame if valid.all() else frame[valid]), table.num_rows)
        for name in extra.column_names:
            table = table.append_column(name, extra.column(name))
        table = table.select([name for name, _ in columns])
    return table


def _person_keys(spec: FeedSpec, frame: pd.DataFrame, pseudonym, nhs) -> tuple[pa.Array, pa.Array]:
    """person_key and person_key_source: the pseudonym of a valid NHS number, else the fallback id."""
    n = len(frame)
    null = pa.scalar(None, type=pa.large_string())
    person = pa.nulls(n, type=pa.large_string())
    source = pa.nulls(n, type=pa.large_string())
    if nhs is not None and pseudonym is not None:
        ok = pa.array(v.nhs_number_valid(frame[nhs.field]) & frame[nhs.field].notna().to_numpy(dtype=bool))
        person = pc.if_else(ok, v.as_arrow(pseudonym).cast(pa.large_string()), null)
        source = pc.if_else(ok, pa.scalar("nhs_number", type=pa.large_string()), null)
    if spec.fallback_person_id:
        fb = v.as_arrow(frame[spec.column(spec.fallback_person_id).field])
        if spec.fallback_prefix_column:
            prefix = v.as_arrow(frame[spec.column(spec.fallback_prefix_column).field])
            fb = pc.binary_join_element_wise(prefix, fb, pa.scalar(":", type=fb.type))  # null if either is
        use = pc.and_(pc.is_null(person), pc.is_valid(fb))
        person = pc.if_else(use, fb, person)
        source = pc.if_else(use, pa.scalar(spec.fallback_person_source or spec.fallback_person_id.lower(),
                                           type=pa.large_string()), source)
    return person, source


def _arrow(columns: list[tuple[str, str]], data: dict, n: int) -> pa.Table:
    arrays = []
    for name, sql_type in columns:
        value = data.get(name)
        typ = {"date": pa.date32(), "integer": pa.int32(), "bigint": pa.int64(),
               "double precision": pa.float64()}.get(sql_type, pa.string())
        if value is None or np.isscalar(value) or isinstance(value, (dt.date,)):
            arrays.append(pa.array([value] * n, type=typ) if value is not None else pa.nulls(n, type=typ))
            continue
        if isinstance(value, (pa.Array, pa.ChunkedArray)):
            arrays.append(value.cast(typ))
            continue
        series = pd.Series(value) if not isinstance(value, pd.Series) else value
        if typ == pa.date32():
            if series.dtype != "datetime64[s]":  # prepared dates already are
                series = pd.to_datetime(series).astype("datetime64[s]")
            arr = pa.array(series, from_pandas=True).cast(pa.date32())
        elif typ == pa.string():
            if series.dtype != v.STRING:  # prepared text already is
                series = series.astype("string")
            arr = pa.array(series, from_pandas=True).cast(pa.string())
        else:
            arr = pa.array(series, from_pandas=True).cast(typ)
        arrays.append(arr)
    return pa.table(arrays, names=[c for c, _ in columns])


def _load_malformed(warehouse, conn, spec, malformed: MalformedRows, ctx, rep: DeliveryReport, counts, delivery) -> None:
    n = len(malformed.numbers)
    reasons = [f"row_malformed: the record has {a} fields, the header has {malformed.expected}"
               for a in malformed.actual]
    texts = malformed.texts
    if not all(c.keep for c in spec.columns):
        # The raw line may hold a value the feed never keeps (a date of birth): remove every date.
        texts = [_DATE_TOKEN.sub("[date removed]", t) for t in texts]
    q = {"_delivery": delivery, "_row_number": np.asarray(malformed.numbers, dtype=np.int64), "_run_date": ctx.run_date,
         "_rules": "row_malformed", "_reasons": pd.Series(reasons), "_raw_line": pd.Series(texts)}
    warehouse.load_arrow(conn, spec.quarantine_table, _arrow(quarantine_columns(spec), q, n))
    rep.rows_in += n
    rep.quarantined += n
    counts[("row_malformed", "fatal")] = counts.get(("row_malformed", "fatal"), 0) + n
    if len(rep.first_problems) < 10:
        rep.first_problems += [{"delivery": delivery, "row": r, "rules": "row_malformed"}
                               for r in malformed.numbers[: 10 - len(rep.first_problems)]]


# ------------------------------------------------------------------ supersede


def _recompute_supersede(conn, spec: FeedSpec, delivery: str | None) -> None:
    """Mark every valid row whose key also arrived in a lexically later delivery.

    With `delivery`, only keys present in that delivery are recomputed (the only ones that can
    change); with None, the whole feed (after a delivery was replaced or removed)."""
    keys = spec.supersede_key or tuple(spec.column(k).field for k in spec.key)
    on = " and ".join(f't."{k}" = latest."{k}"' for k in keys)
    cols = ", ".join(f'"{k}"' for k in keys)
    scope = ""
    params = {}
    if delivery is not None:
        scope = f'where ({cols}) in (select {cols} from "{spec.table}" where _delivery = :d)'
        params["d"] = delivery
    conn.execute(sa.text(
        f'update "{spec.table}" as t set _superseded_by = case when latest.last_delivery = t._delivery then null '
        f"else latest.last_delivery end "
        f'from (select {cols}, max(_delivery) as last_delivery from "{spec.table}" {scope} group by {cols}) as latest '
        f"where {on} and t._superseded_by is distinct from "
        f"(case when latest.last_delivery = t._delivery then null else latest.last_delivery end)"), params)

