"""The rendered return for the full fixture of test_return_cells: the Place Dashboard's XmR table and
charts, the Data Quality tables by rule and by month, Provenance with the SHA-256 of every delivery,
and TEMPLATE_STATUS in Python (no commissioner answers: incomplete)."""

import hashlib
from pathlib import Path

import openpyxl
import pytest

from cb_pipeline.bcf_return import render
from cb_pipeline.lib import workbook
from cb_pipeline.lib.periods import FyQuarter
from cb_pipeline_tests.metrics.scenario import HWB_A
from cb_pipeline_tests.metrics.test_return_cells import TEMPLATE, full_scenario

MEASURES = 9


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    built = full_scenario().build(root)
    returns = render.render_returns(built.w, FyQuarter(2018, 2), returns_dir=root / "returns", template=TEMPLATE,
                                    run_id="test-run", hwb_codes=[HWB_A])
    return built, root, returns[0]


def _table(wb, name):
    sheet, coordinate = workbook.template_defined_names(TEMPLATE)[name]
    ws = wb[sheet]
    cell = ws[coordinate]
    width = 0
    while ws.cell(cell.row, cell.column + width).value not in (None, ""):
        width += 1
    rows, r = [], cell.row + 1
    while any(ws.cell(r, cell.column + j).value not in (None, "") for j in range(width)):
        rows.append([ws.cell(r, cell.column + j).value for j in range(width)])
        r += 1
    return ws, cell, rows


def test_xmr_table_and_one_chart_per_measure_from_its_cells(rendered):
    _, _, ret = rendered
    wb = openpyxl.load_workbook(ret.path)
    ws, header, rows = _table(wb, "DASH_XMR_TABLE")
    assert len(rows) == MEASURES * 24
    callouts = [r for r in rows if r[0] == "Ambulance call-outs to care homes"]
    # 2016-10 .. 2018-09; ambulance covers 2018-04 .. 2018-12: months before are empty; Q2 July-September
    assert [r[1] for r in callouts][:1] + [r[1] for r in callouts][-1:] == ["2016-10", "2018-09"]
    assert [r[2] for r in callouts][-6:] == [0, 0, 0, 1, 1, 0] and callouts[0][2] is None
    # openpyxl reads charts back: one per measure, each series pointing at this measure's rows
    assert len(ws._charts) == MEASURES  # DASH_XMR_CHARTS is on the same sheet in this template
    first = header.row + 1
    letter = openpyxl.utils.get_column_letter(header.column + 2)
    refs = [chart.series[0].val.numRef.f for chart in ws._charts]
    # chart k plots the counts of the k-th block of 24 rows; its title is that block's measure
    assert refs == [f"'Place Dashboard'!${letter}${first + 24 * k}:${letter}${first + 24 * k + 23}"
                    for k in range(MEASURES)]
    legends = [s.tx.strRef.f for s in ws._charts[0].series]
    assert len(legends) == 5 and all(f"${header.row}" in f for f in legends)


def test_data_quality_tables_by_rule_and_by_month(rendered):
    _, _, ret = rendered
    wb = openpyxl.load_workbook(ret.path)
    _, _, rules = _table(wb, "DQ_RULES_TABLE")
    assert ["ambulance", "code_invalid", "fatal", 1] in rules
    assert ["hes_apc", "date_invalid", "fatal", 1] in rules
    assert [r[0] for r in rules] == sorted((r[0] for r in rules), key=["hes_apc", "hes_ae", "ambulance",
                                                                        "social_care", "dtoc", "population",
                                                                        "finance", "plan"].index)
    _, _, monthly = _table(wb, "DQ_MONTHLY_TABLE")
    by = {(r[0], r[1]): r[2:] for r in monthly}
    # July 2018 ambulance: the filler, INC1, and INC_BAD quarantined (GARDEN); dtoc July: filler + the re-sent row
    assert by[("ambulance", "2018-07")] == [2, 1, 1]
    assert by[("dtoc", "2018-07")] == [2, 0, 0]
    # hes_apc's quarantined BAD1 has the date 2018-13-45: no readable month
    assert by[("hes_apc", None)] == [0, 0, 1]
    assert {r[0] for r in monthly} == {"hes_apc", "hes_ae", "ambulance", "social_care", "dtoc"}


def test_provenance_lists_every_delivery_with_its_sha256(rendered):
    built, root, ret = rendered
    wb = openpyxl.load_workbook(ret.path)
    _, _, rows = _table(wb, "PROVENANCE_DELIVERIES_TABLE")
    on_disk = {(p.parent.name, p.name): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in (root / "landing").glob("*/*.csv")}
    listed = {(r[0], r[1]): r[2] for r in rows if r[0] != "inputs"}
    assert listed == on_disk


def test_template_status_is_computed_by_the_pipeline(rendered):
    _, _, ret = rendered
    assert ret.complete is False and "NC1_MET" in ret.missing
    assert ret.as_metadata()["template_status"] == workbook.INCOMPLETE
    values = workbook.read_defined_values(ret.path, formulas=True)
    assert str(values["TEMPLATE_STATUS"]).startswith("=")  # and the workbook computes it itself
