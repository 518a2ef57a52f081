"""Render, write and register the published dashboard of one HWB for one quarter.

Belongs here: the self-contained HTML page (inline CSS and SVG, a Content-Security-Policy that
forbids every network request; no script, font or image from anywhere) and its CSV, both drawn
from one PublishedDashboard; where they go (beside the return: `<returns dir>/<hwb>/<YYYY-YY>/Q<n>/
dashboard_<hwb>_<YYYY-YY>_Q<n>.html` / `.csv`, return.md); the atomic write with the return's
supersede rule (an unchanged file is not rewritten; a different one moves to `superseded/` first);
and the `dashboard_registry` table the download portal lists. Plain Python over a Warehouse.
Does not: read figures (figures.py), disclosure control (publish.py, disclosure.py), Dagster (assets.py).
"""

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markupsafe import Markup

from cb_pipeline.dashboard import charts, figures as figures_module, publish as publish_module
from cb_pipeline.dashboard.figures import DashboardNotProduced
from cb_pipeline.lib.periods import FyQuarter
from cb_pipeline.lib.warehouse import Warehouse

REGISTRY_TABLE = "dashboard_registry"
KINDS = ("dashboard_html", "dashboard_csv")
FINGERPRINT_META = "cb-content-fingerprint"
_HWB_CODE = re.compile(r"^[A-Za-z0-9]+$")

REGISTRY_DDL = f"""
create table if not exists {REGISTRY_TABLE} (
    id varchar primary key,
    kind varchar not null,
    hwb_code varchar not null,
    quarter_start date not null,
    fy_label varchar not null,
    path varchar not null,
    sha256 varchar not null,
    generated_at timestamp not null,
    complete boolean not null,
    missing text,
    run_id varchar,
    action varchar
)
"""

# What the page looks like is part of its content: a change to the renderer re-renders the files.
_RENDERER_SOURCES = ("render.py", "charts.py", "publish.py", "disclosure.py")

PAGE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="{{ fingerprint_meta }}" content="{{ fingerprint }}">
<meta name="generator" content="cb-pipeline {{ version }}">
<title>{{ d.hwb_name }} place based progress dashboard, {{ d.quarter.label }}</title>
<style>
body { font-family: Arial, Helvetica, sans-serif; color: #212b32; margin: 24px; max-width: 1100px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; } h3 { margin-bottom: 0.2em; }
.subtitle { color: #425563; margin-top: 0; }
.notice { background: #fff9c4; border-left: 6px solid #ffeb3b; padding: 8px 12px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #aeb7bd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.rag-G { background: #007f3b; color: #fff; } .rag-A { background: #ffb81c; } .rag-R { background: #d5281b; color: #fff; }
.chart { margin: 12px 0 28px; } .chart p { margin: 2px 0; color: #425563; }
footer { margin-top: 2em; color: #425563; font-size: 0.9em; }
</style>
</head>
<body>
<h1>{{ d.hwb_name }} place based progress dashboard</h1>
<p class="subtitle">{{ d.hwb_code }} &middot; {{ d.quarter.label }} &middot; year to date {{ d.ytd_period }}</p>
<p class="notice">Disclosure control: counts of 1 to 7 are shown as <strong>*</strong>; other counts are
rounded to the nearest 5 (0 stays 0); totals are computed before rounding, so parts may not add up to
the total; a RAG or chart statistic based on a suppressed count is suppressed too. Empty
cells: the data do not cover the period, or there is no target.</p>

<h2>Progress against target</h2>
<table id="progress">
<thead><tr><th>Area</th><th>Measure</th><th>Frequency of reporting</th><th class="num">YTD target</th>
<th class="num">{{ d.quarter.label }}</th><th class="num">YTD</th><th>RAG</th></tr></thead>
<tbody>
{% for m in d.measures %}{% set f = m.figures.get('ALL') %}
<tr data-measure="{{ m.measure_id }}"><td>{{ m.section }}</td><td>{{ m.title }}</td><td>Monthly</td>
<td class="num">{{ f.target_ytd | fmt if f and f.target_ytd else 'No Target' }}</td>
<td class="num count">{{ f.actual_q | fmt if f else '' }}</td><td class="num count">{{ f.actual_ytd | fmt if f else '' }}</td>
<td class="rag rag-{{ f.rag if f else '' }}">{{ f.rag if f else '' }}</td></tr>
{% endfor %}
</tbody>
</table>

<h2>By locality</h2>
<table id="localities">
<thead><tr><th rowspan="2">Measure</th>{% for code, name in places %}<th colspan="2">{{ name }}{% if code != 'ALL' %} ({{ code }}){% endif %}</th>{% endfor %}</tr>
<tr>{% for _ in places %}<th class="num">Quarter</th><th class="num">YTD</th>{% endfor %}</tr></thead>
<tbody>
{% for m in d.measures %}
<tr data-measure="{{ m.measure_id }}"><td>{{ m.title }}</td>
{% for code, _ in places %}{% set f = m.figures.get(code) %}<td class="num count">{{ f.actual_q | fmt if f else '' }}</td><td class="num count">{{ f.actual_ytd | fmt if f else '' }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>

<h2>Monthly trend and statistical process control (XmR)</h2>
<p>Each chart shows the whole-area monthly count for the last 24 months, the mean (solid green) and
the control limits, mean &plusmn; 2.66 &times; mean moving range (dashed red). A red point is a
signal: outside the limits, or one of 7 or more in a row on one side of the mean.</p>
{% for m in d.measures %}
<section class="chart" id="chart-{{ m.measure_id }}">
<h3>{{ m.title }}</h3>
<p>Mean {{ m.series.mean or 'n/a' }}; upper limit {{ m.series.upper or 'n/a' }}; lower limit {{ m.series.lower or 'n/a' }};
signals: {{ signals[m.measure_id] }}</p>
{{ svgs[m.measure_id] }}
</section>
{% endfor %}

<footer>
<p>Generated at {{ generated_at }} UTC by cb-pipeline {{ version }} (run {{ run_id or 'n/a' }}; metric
definitions {{ definitions }}). The same figures: <code>{{ csv_name }}</code>.</p>
</footer>
</body>
</html>
""")
PAGE.environment.filters["fmt"] = lambda v: (f"{int(v):,}" if isinstance(v, str) and v.isdigit() else v)


class DashboardWriteError(Exception):
    pass


@dataclass(frozen=True)
class WrittenFile:
    kind: str
    path: Path
    sha256: str
    action: str  # written | unchanged | superseded_previous
    superseded_path: Path | None = None


@dataclass(frozen=True)
class RenderedDashboard:
    hwb_code: str
    quarter: FyQuarter
    files: list[WrittenFile]
    complete: bool
    missing: list[str] = field(default_factory=list)
    generated_at: dt.datetime | None = None

    def as_metadata(self) -> dict[str, object]:
        return {
            "hwb_code": self.hwb_code, "quarter": self.quarter.label, "complete": self.complete,
            "missing": self.missing, "generated_at": self.generated_at.isoformat() if self.generated_at else None,
            "files": [{"kind": f.kind, "path": str(f.path), "sha256": f.sha256, "action": f.action} for f in self.files],
        }


def dashboard_paths(returns_dir: Path, hwb_code: str, quarter: FyQuarter) -> dict[str, Path]:
    if not _HWB_CODE.match(hwb_code):
        raise ValueError(f"hwb_code {hwb_code!r} must be letters and digits")
    folder = Path(returns_dir) / hwb_code / quarter.fy_label / f"Q{quarter.number}"
    stem = f"dashboard_{hwb_code}_{quarter.fy_label}_Q{quarter.number}"
    return {"dashboard_html": folder / f"{stem}.html", "dashboard_csv": folder / f"{stem}.csv"}


def renderer_version() -> str:
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _RENDERER_SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _existing_fingerprint(path: Path) -> str | None:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return None
    match = re.search(rf'<meta name="{FINGERPRINT_META}" content="([0-9a-f]+)">', head)
    return match[1] if match else None


def write_atomic(path: Path, data: bytes) -> tuple[str, str, Path | None]:
    """(sha256, action, superseded path): temporary file then rename; an existing file is first
    linked to `superseded/<UTC timestamp>_<name>` beside it (the return's rule, lib/workbook.py)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    superseded = None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            folder = path.parent / "superseded"
            folder.mkdir(exist_ok=True)
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            superseded, n = folder / f"{stamp}_{path.name}", 1
            while superseded.exists():
                superseded, n = folder / f"{stamp}-{n}_{path.name}", n + 1
            try:
                os.link(path, superseded)
            except OSError:
                shutil.copy2(path, superseded)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest(), ("superseded_previous" if superseded else "written"), superseded


def render_page(pub: publish_module.PublishedDashboard, *, fingerprint: str, generated_at: dt.datetime,
                run_id: str | None, csv_name: str) -> str:
    from cb_pipeline.bcf_return.render import metric_definitions_version, pipeline_version

    places = [("ALL", pub.hwb_name)] + [(loc.code, loc.name) for loc in pub.localities]
    svgs = {m.measure_id: Markup(charts.xmr_svg(m.series, measure_id=m.measure_id, title=m.title)) for m in pub.measures}
    signals = {}
    for m in pub.measures:
        flagged = [f"{p.month:%b %Y}" for p in m.series.points if p.signal and p.signal != "*"]
        signals[m.measure_id] = ", ".join(flagged) if flagged else "none"
    return PAGE.render(d=pub, places=places, svgs=svgs, signals=signals, fingerprint=fingerprint,
                       fingerprint_meta=FINGERPRINT_META, generated_at=f"{generated_at:%Y-%m-%d %H:%M:%S}",
                       run_id=run_id, version=pipeline_version(), definitions=metric_definitions_version(),
                       csv_name=csv_name)


def ensure_registry(warehouse: Warehouse) -> None:
    warehouse.execute(REGISTRY_DDL)


def _register(warehouse: Warehouse, hwb_code: str, quarter: FyQuarter, f: WrittenFile, generated_at: dt.datetime,
              complete: bool, missing: list[str], run_id: str | None) -> None:
    if f.action == "unchanged" and warehouse.scalar(
            f"select count(*) from {REGISTRY_TABLE} where path = :p and sha256 = :s",
            {"p": str(f.path), "s": f.sha256}):
        return
    warehouse.execute(
        f"insert into {REGISTRY_TABLE} (id, kind, hwb_code, quarter_start, fy_label, path, sha256, generated_at, "
        "complete, missing, run_id, action) values (:id, :kind, :hwb, :q, :fy, :path, :sha, :at, :complete, :missing, "
        ":run, :action)",
        {"id": uuid.uuid4().hex, "kind": f.kind, "hwb": hwb_code, "q": quarter.start, "fy": quarter.fy_label,
         "path": str(f.path), "sha": f.sha256, "at": generated_at, "complete": complete,
         "missing": ",".join(missing) or None, "run": run_id, "action": f.action},
    )


def render_dashboard(warehouse: Warehouse, hwb_code: str, quarter: FyQuarter, *, returns_dir: Path,
                     run_id: str | None, generated_at: dt.datetime | None = None) -> RenderedDashboard:
    generated_at = generated_at or _utc_now()
    pub = publish_module.publish(figures_module.read_figures(warehouse, hwb_code, quarter))
    paths = dashboard_paths(Path(returns_dir).resolve(), hwb_code, quarter)
    csv_bytes = publish_module.csv_text(pub).encode("utf-8")
    fingerprint = hashlib.sha256(csv_bytes + renderer_version().encode()).hexdigest()
    files = []
    csv_path, html_path = paths["dashboard_csv"], paths["dashboard_html"]
    if csv_path.exists() and csv_path.read_bytes() == csv_bytes:
        files.append(WrittenFile("dashboard_csv", csv_path, _sha256(csv_path), "unchanged"))
    else:
        files.append(WrittenFile("dashboard_csv", csv_path, *write_atomic(csv_path, csv_bytes)))
    if html_path.exists() and _existing_fingerprint(html_path) == fingerprint:
        files.insert(0, WrittenFile("dashboard_html", html_path, _sha256(html_path), "unchanged"))
    else:
        page = render_page(pub, fingerprint=fingerprint, generated_at=generated_at, run_id=run_id,
                           csv_name=csv_path.name)
        files.insert(0, WrittenFile("dashboard_html", html_path, *write_atomic(html_path, page.encode("utf-8"))))
    complete = not pub.missing
    ensure_registry(warehouse)
    for f in files:
        _register(warehouse, hwb_code, quarter, f, generated_at, complete, pub.missing, run_id)
    return RenderedDashboard(hwb_code, quarter, files, complete, pub.missing, generated_at)


def render_dashboards(warehouse: Warehouse, quarter: FyQuarter, *, returns_dir: Path, run_id: str | None,
                      hwb_codes: Sequence[str] | None = None) -> list[RenderedDashboard]:
    available = figures_module.hwbs_with_figures(warehouse, quarter)
    wanted = list(dict.fromkeys(hwb_codes)) if hwb_codes else available
    absent = [h for h in wanted if h not in available]
    if absent or not wanted:
        raise DashboardNotProduced(
            f"no dashboard figures for {', '.join(absent) or 'any HWB'} in {quarter.label} "
            f"(HWBs with figures: {', '.join(available) or 'none'})")
    generated_at = _utc_now()
    return [render_dashboard(warehouse, h, quarter, returns_dir=returns_dir, run_id=run_id, generated_at=generated_at)
            for h in wanted]
