"""What the portal reads from and writes to the warehouse: the registered files and the audit table.

Belongs here: listing the current version of every file registered in `return_registry` (the
returns) and `dashboard_registry` (the published dashboards) for a set of HWBs, newest first;
looking one entry up by its registry id; and the `portal_downloads` audit table (who, what, when,
SHA-256, outcome). Every call opens the warehouse and closes it again, so a DuckDB file is not held
while the pipeline needs it. Does not: web requests or permissions (app.py), writing registries
(bcf_return/render.py, dashboard/render.py).
"""

import datetime as dt
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from cb_pipeline.lib.periods import FyQuarter
from cb_pipeline.lib.warehouse import Warehouse

RETURN_REGISTRY = "return_registry"
DASHBOARD_REGISTRY = "dashboard_registry"
AUDIT_TABLE = "portal_downloads"
KIND_LABELS = {"return": "Return (xlsx)", "dashboard_html": "Dashboard (HTML)", "dashboard_csv": "Dashboard figures (CSV)"}

AUDIT_DDL = f"""
create table if not exists {AUDIT_TABLE} (
    id varchar primary key,
    downloaded_at timestamp not null,
    username varchar not null,
    registry_id varchar,
    kind varchar,
    hwb_code varchar,
    file_name varchar,
    sha256 varchar,
    outcome varchar not null,
    client varchar
)
"""
OUTCOMES = ("served", "viewed", "refused_checksum", "refused_missing", "refused_superseded", "denied", "not_found")


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    hwb_code: str
    quarter: FyQuarter
    path: str
    sha256: str
    generated_at: dt.datetime
    complete: bool
    missing: str | None
    current: bool  # the latest registered version of its path

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def file_name(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def missing_count(self) -> int:
        return len([m for m in (self.missing or "").split(",") if m])


@contextmanager
def opened(url: str):
    warehouse = Warehouse(url, connect_retries=2, retry_base_seconds=0.2)
    try:
        yield warehouse
    finally:
        warehouse.dispose()


def ensure_audit(url: str) -> None:
    with opened(url) as w:
        w.execute(AUDIT_DDL)


def _union_sql(warehouse: Warehouse) -> str | None:
    parts = []
    if warehouse.table_exists(RETURN_REGISTRY):
        parts.append(f"select id, 'return' as kind, hwb_code, quarter_start, path, sha256, generated_at, complete, "
                     f"missing from {RETURN_REGISTRY}")
    if warehouse.table_exists(DASHBOARD_REGISTRY):
        parts.append(f"select id, kind, hwb_code, quarter_start, path, sha256, generated_at, complete, missing "
                     f"from {DASHBOARD_REGISTRY}")
    if not parts:
        return None
    union = " union all ".join(parts)
    # current = no later registration of the same path (earlier versions were moved to superseded/)
    return (f"with r as ({union}), latest as (select path, max(generated_at) as latest_at from r group by path) "
            "select r.*, r.generated_at = latest.latest_at as is_current from r join latest on latest.path = r.path")


def _entry(row) -> Entry:
    q = row.quarter_start
    q = q.date() if isinstance(q, (dt.datetime, pd.Timestamp)) else q
    at = row.generated_at.to_pydatetime() if isinstance(row.generated_at, pd.Timestamp) else row.generated_at
    missing = None if row.missing is None or (isinstance(row.missing, float) and pd.isna(row.missing)) else str(row.missing)
    return Entry(str(row.id), str(row.kind), str(row.hwb_code), FyQuarter.containing(q), str(row.path),
                 str(row.sha256), at, bool(row.complete), missing, bool(row.is_current))


def list_files(url: str, hwbs: tuple[str, ...]) -> list[Entry]:
    """The current version of every registered file of these HWBs, newest first."""
    if not hwbs:
        return []
    with opened(url) as w:
        sql = _union_sql(w)
        if sql is None:
            return []
        names = ", ".join(f":h{i}" for i in range(len(hwbs)))
        frame = w.query_df(f"select * from ({sql}) x where is_current and hwb_code in ({names}) "
                           "order by generated_at desc, quarter_start desc, hwb_code, kind",
                           {f"h{i}": h for i, h in enumerate(hwbs)})
    return [_entry(r) for r in frame.itertuples(index=False)]


def get_entry(url: str, registry_id: str) -> Entry | None:
    with opened(url) as w:
        sql = _union_sql(w)
        if sql is None:
            return None
        frame = w.query_df(f"select * from ({sql}) x where id = :id", {"id": registry_id})
    return _entry(next(frame.itertuples(index=False))) if len(frame) else None


def record(url: str, *, username: str, outcome: str, entry: Entry | None = None, registry_id: str | None = None,
           sha256: str | None = None, client: str | None = None) -> None:
    """One audit row: who, what (registry id, kind, HWB, file name), when (UTC), SHA-256, outcome.
    `sha256` is the digest of the bytes served (or found, when refused)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    with opened(url) as w:
        w.execute(AUDIT_DDL)
        w.execute(
            f"insert into {AUDIT_TABLE} (id, downloaded_at, username, registry_id, kind, hwb_code, file_name, sha256, outcome, "
            "client) values (:id, :at, :u, :rid, :kind, :hwb, :name, :sha, :outcome, :client)",
            {"id": uuid.uuid4().hex, "at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), "u": username,
             "rid": entry.id if entry else registry_id, "kind": entry.kind if entry else None,
             "hwb": entry.hwb_code if entry else None, "name": entry.file_name if entry else None,
             "sha": sha256, "outcome": outcome, "client": client},
        )


def audit_rows(url: str) -> pd.DataFrame:
    with opened(url) as w:
        if not w.table_exists(AUDIT_TABLE):
            return pd.DataFrame()
        return w.query_df(f"select * from {AUDIT_TABLE} order by downloaded_at")
