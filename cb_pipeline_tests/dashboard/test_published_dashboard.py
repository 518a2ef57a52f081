"""The published dashboard as the real pipeline writes it (return.md, The published dashboard).

What belongs here: the files `cb-pipeline run` writes beside each return and registers in
dashboard_registry, checked against the warehouse's exact figures through the disclosure rule;
that the page is self-contained; that re-rendering unchanged figures rewrites nothing; and the
page rendered by headless Chromium to PNG, with pixels drawn in every chart.
What does not: the rule's arithmetic with hand values (test_disclosure.py, test_publish.py), the portal.
"""

import csv
import hashlib
import io
import re

import pytest

from cb_pipeline.dashboard.disclosure import publish_count
from cb_pipeline.dashboard.render import render_dashboards
from cb_pipeline.lib.periods import FyQuarter
from cb_pipeline.lib.warehouse import Warehouse
from cb_pipeline_tests.portal.browser import make_driver, read_png

Q3 = FyQuarter(2018, 3)
pytestmark = pytest.mark.slow


def _warehouse_frames(url: str, sql: str, params: dict | None = None):
    w = Warehouse(url)
    try:
        return w.query_df(sql, params)
    finally:
        w.dispose()  # release the DuckDB file for the portal's process


@pytest.fixture(scope="module")
def registry(pipeline):
    return _warehouse_frames(pipeline.warehouse_url, "select * from dashboard_registry order by hwb_code, kind")


def test_files_are_beside_the_return_and_registered(pipeline, registry):
    hwbs = sorted(set(registry["hwb_code"]))
    assert len(hwbs) == 2
    assert len(registry) == 4  # html + csv per HWB
    for row in registry.itertuples(index=False):
        folder = pipeline.returns_dir / row.hwb_code / "2018-19" / "Q3"
        suffix = ".html" if row.kind == "dashboard_html" else ".csv"
        assert row.path == str(folder / f"dashboard_{row.hwb_code}_2018-19_Q3{suffix}")
        assert (folder / f"BCF_{row.hwb_code}_2018-19_Q3.xlsx").exists()
        assert hashlib.sha256((folder / f"dashboard_{row.hwb_code}_2018-19_Q3{suffix}").read_bytes()).hexdigest() == row.sha256


def test_csv_is_the_marts_figures_under_disclosure_control(pipeline, registry):
    exact = _warehouse_frames(pipeline.warehouse_url,
                              "select hwb_code, measure_id, locality_code, actual_q, actual_ytd from "
                              "fct_place_dashboard_quarterly where quarter_start = :q", {"q": Q3.start})
    monthly = _warehouse_frames(pipeline.warehouse_url,
                                "select hwb_code, measure_id, month_start, n from fct_place_dashboard_monthly_xmr "
                                "where quarter_start = :q", {"q": Q3.start})
    checked = 0
    for entry in registry[registry["kind"] == "dashboard_csv"].itertuples(index=False):
        rows = list(csv.DictReader(io.StringIO(open(entry.path, encoding="utf-8").read())))
        published = {(r["measure_id"], r["locality_code"], r["period_type"]): r["value"]
                     for r in rows if r["figure"] == "count" and r["period_type"] in ("quarter", "ytd")}
        for r in exact[exact["hwb_code"] == entry.hwb_code].itertuples(index=False):
            assert published[(r.measure_id, r.locality_code, "quarter")] == publish_count(r.actual_q)
            assert published[(r.measure_id, r.locality_code, "ytd")] == publish_count(r.actual_ytd)
            checked += 2
        months = {(r["measure_id"], r["period"]): r["value"] for r in rows if r["period_type"] == "month" and r["figure"] == "count"}
        for r in monthly[monthly["hwb_code"] == entry.hwb_code].itertuples(index=False):
            assert months[(r.measure_id, f"{r.month_start:%Y-%m}")] == publish_count(r.n)
            checked += 1
        # no count between 1 and 7 anywhere; every other count a multiple of 5
        for r in rows:
            if r["figure"] in ("count", "target") and r["value"] not in ("", "*", "0"):
                assert int(r["value"]) >= 10 and int(r["value"]) % 5 == 0, r
        assert any(r["value"] == "*" for r in rows)  # small localities are suppressed in this data
    assert checked > 500


def test_page_is_self_contained_with_a_chart_per_measure(pipeline, registry):
    for entry in registry[registry["kind"] == "dashboard_html"].itertuples(index=False):
        page = open(entry.path, encoding="utf-8").read()
        measures = set(re.findall(r'<tr data-measure="([a-z0-9_]+)"><td>[A-Z]', page))
        assert len(re.findall(r'<svg [^>]*class="xmr-chart"', page)) == len(measures) == 9
        assert "<script" not in page.lower() and "@import" not in page and "url(" not in page
        assert not re.search(r'\b(src|href)\s*=', page, re.I)
        # the only URL is the SVG namespace, which is a name, not a request
        assert set(re.findall(r'https?://[^"\s<]+', page)) <= {"http://www.w3.org/2000/svg"}
        assert "default-src 'none'" in page
        counts = re.findall(r'<td class="num count">([^<]*)</td>', page)
        assert counts and all(c in ("", "*", "0") or (int(c.replace(",", "")) >= 10 and int(c.replace(",", "")) % 5 == 0)
                              for c in counts)


def test_unchanged_figures_are_not_rewritten(pipeline, registry):
    w = Warehouse(pipeline.warehouse_url)
    try:
        again = render_dashboards(w, Q3, returns_dir=pipeline.returns_dir, run_id="rerun")
        assert {f.action for r in again for f in r.files} == {"unchanged"}
        assert w.scalar("select count(*) from dashboard_registry") == len(registry)
    finally:
        w.dispose()


def test_dashboard_renders_to_png_with_its_charts(pipeline, registry, tmp_path):
    path = registry[registry["kind"] == "dashboard_html"].iloc[0]["path"]
    driver = make_driver(width=1200, height=5200)
    try:
        driver.get(f"file://{path}")
        charts = driver.find_elements("css selector", "svg.xmr-chart")
        assert len(charts) == 9
        boxes = [(c.rect, c.get_attribute("data-measure")) for c in charts]
        points = driver.execute_script("return document.querySelectorAll('svg.xmr-chart .xmr-point').length")
        assert points > 9 * 6  # at least 6 published monthly points per chart on average
        png = driver.get_screenshot_as_png()
    finally:
        driver.quit()
    (tmp_path / "dashboard.png").write_bytes(png)
    width, height, rows, bpp = read_png(png)
    for rect, measure in boxes:
        x0, y0 = int(rect["x"]), int(rect["y"])
        x1, y1 = min(width, x0 + int(rect["width"])), min(height, y0 + int(rect["height"]))
        assert y1 - y0 > 100 and x1 - x0 > 300, (measure, rect)  # laid out inside the screenshot
        blue = dark = 0
        for y in range(y0, y1, 2):
            row = rows[y]
            for x in range(x0, x1, 2):
                r, g, b = row[x * bpp], row[x * bpp + 1], row[x * bpp + 2]
                blue += b > 150 and r < 60 and g < 140  # the series line and points (#005eb8)
                dark += r < 100 and g < 100 and b < 100  # axes and labels
        assert blue > 50 and dark > 50, (measure, blue, dark)
