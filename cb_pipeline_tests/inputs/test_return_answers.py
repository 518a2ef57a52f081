"""Commissioner answers on their way into the return, end to end: real warehouse tables (a hand-made
cells mart), the real template, real files, LibreOffice recalculation when installed, and a real
Dagster materialisation of `bcf_return`.

A complete answers file gives `Complete Template`; a missing one leaves the answer cells empty and
`Incomplete Template`; an invalid one stops that HWB's return (the other HWB's is written) and fails
the Dagster run with the file, field and allowed values; text starting with = + - @ stays text."""

import datetime as dt
import hashlib

import dagster as dg
import openpyxl
import pytest

from cb_pipeline.bcf_return import render
from cb_pipeline.bcf_return.assets import bcf_return_asset
from cb_pipeline.lib import workbook
from cb_pipeline.lib.dagster_assets import PipelineSettingsResource, WarehouseResource
from cb_pipeline.lib.partitions import ReturnPartition, register_hwbs
from cb_pipeline.lib.periods import FyQuarter
from cb_pipeline.lib.warehouse import Warehouse
from cb_pipeline_tests.inputs.answers_files import complete_yaml, write_answers
from cb_pipeline_tests.lib.test_workbook import TEMPLATE, needs_libreoffice

Q3 = FyQuarter.parse("2018-19-Q3")
HWBS = ("E06000001", "E06000002")
ASSESSED = ("NEA", "RES65", "REAB", "DTOC", "FALLS65")
FORMULA_LIKE = {"COMPLETED_BY": "=1+1", "PHONE": "+44 300 000 0000", "NC3_COMMENTARY": "-2 beds this quarter",
                "NARRATIVE": "@SUM(A1) is not a formula here"}


def figures_warehouse(w: Warehouse) -> Warehouse:
    """The two tables the return reads, with the figures (not answers) the Checklist requires."""
    w.execute("create table rpt_bcf_return__cells (hwb_code varchar, quarter_start date, defined_name varchar, "
              "value_number double precision, value_text varchar)")
    w.execute("create table fct_ingest_reconciliation (feed varchar, delivery varchar, sha256 varchar, "
              "status varchar, rows_in bigint)")
    for hwb in HWBS:
        cells = [("HWB_CODE", hwb), ("HWB_NAME", f"Place {hwb[-1]}"), ("REPORTING_QUARTER", "2018-19 Q3")]
        cells += [(f"{m}_ASSESSMENT", "On track to meet target") for m in ASSESSED]
        for name, text in cells:
            w.execute("insert into rpt_bcf_return__cells values (:h, :q, :n, null, :t)",
                      {"h": hwb, "q": Q3.start, "n": name, "t": text})
    return w


def formula_like_yaml() -> str:
    text = complete_yaml(completed_by="=1+1", narrative="@SUM(A1) is not a formula here")
    text = text.replace('phone: "0300 000 0000"', 'phone: "+44 300 000 0000"')
    return text.replace('commentary: "Joint plan awaiting sign-off"', 'commentary: "-2 beds this quarter"')


def render_q3(w, tmp_path, hwbs=None):
    return render.render_returns(w, Q3, returns_dir=tmp_path / "returns", template=TEMPLATE, run_id="test",
                                 hwb_codes=hwbs, inputs_dir=tmp_path / "landing" / "inputs")


@pytest.fixture
def rendered(tmp_path, warehouse):
    """HWB 1 answered completely (with formula-like text), HWB 2 without an answers file."""
    answers = write_answers(tmp_path / "landing" / "inputs", HWBS[0], formula_like_yaml())
    returns = {r.hwb_code: r for r in render_q3(figures_warehouse(warehouse), tmp_path)}
    return returns, answers


def test_complete_answers_complete_the_template_and_a_missing_file_leaves_cells_empty(rendered):
    returns, answers_file = rendered
    full, bare = returns[HWBS[0]], returns[HWBS[1]]
    assert (full.complete, full.missing) == (True, [])
    values = workbook.read_defined_values(full.path)
    assert values["SIGN_OFF_DATE"] == dt.datetime(2019, 1, 24)  # openpyxl reads dates back as datetimes
    assert (values["NC4_MET"], values["HICM_FOCUS_ON_CHOICE_NOW"], values["REAB_ACHIEVEMENTS"]) == (
        "No - In Progress", "Mature", "reab achievement")
    # The answers file is an input of the return: its SHA-256 is in Provenance.
    sha = hashlib.sha256(answers_file.read_bytes()).hexdigest()
    sheet_text = [c.value for ws in openpyxl.load_workbook(full.path) for row in ws.iter_rows() for c in row]
    assert sha in sheet_text and f"{HWBS[0]}/2018-19-Q3.yaml" in sheet_text

    assert bare.complete is False
    assert bare.missing[:5] == ["COMPLETED_BY", "EMAIL", "PHONE", "SIGNED_OFF", "NC1_MET"]
    assert "NARRATIVE" in bare.missing and not any(m.endswith("_ASSESSMENT") for m in bare.missing)
    bare_values = workbook.read_defined_values(bare.path)
    assert bare_values["COMPLETED_BY"] is None and bare_values["NC1_MET"] is None and bare_values["NARRATIVE"] is None


def test_formula_like_answers_are_written_as_text(rendered):
    returns, _ = rendered
    wb = openpyxl.load_workbook(returns[HWBS[0]].path)
    targets = workbook._cell_names(wb)
    for name, text in FORMULA_LIKE.items():
        cell = wb[targets[name].sheet][targets[name].coordinate]
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True), name


@needs_libreoffice
def test_libreoffice_computes_the_status_and_keeps_formula_like_text(rendered, tmp_path):
    returns, _ = rendered
    full = workbook.read_defined_values(workbook.recalculate_with_libreoffice(returns[HWBS[0]].path, tmp_path / "lo1"))
    bare = workbook.read_defined_values(workbook.recalculate_with_libreoffice(returns[HWBS[1]].path, tmp_path / "lo2"))
    assert full["TEMPLATE_STATUS"] == workbook.COMPLETE and bare["TEMPLATE_STATUS"] == workbook.INCOMPLETE
    for name, text in FORMULA_LIKE.items():
        assert full[name] == text, name  # still the text, not a computed 2 or an error


def test_an_invalid_file_stops_that_hwbs_return_only(tmp_path):
    w = figures_warehouse(Warehouse(f"duckdb:///{tmp_path}/warehouse.duckdb"))
    bad = write_answers(tmp_path / "landing" / "inputs", HWBS[0],
                        complete_yaml().replace('nc1: {met: "Yes"', 'nc1: {met: "Partly"'))
    write_answers(tmp_path / "landing" / "inputs", HWBS[1], complete_yaml())
    with pytest.raises(render.InvalidAnswers) as info:
        render_q3(w, tmp_path)
    message = str(info.value)
    assert str(bad) in message
    assert 'national_conditions.nc1.met: "Partly" is not allowed; allowed values: "Yes", "No", "No - In Progress"' \
        in message
    assert not workbook.return_path(tmp_path / "returns", HWBS[0], "2018-19", 3).exists()
    assert workbook.return_path(tmp_path / "returns", HWBS[1], "2018-19", 3).exists()
    assert list(render.registry_rows(w)["hwb_code"]) == [HWBS[1]]
    w.dispose()


def test_the_dagster_run_fails_with_the_message(tmp_path):
    w = figures_warehouse(Warehouse(f"duckdb:///{tmp_path}/warehouse.duckdb"))
    w.dispose()
    write_answers(tmp_path / "landing" / "inputs", HWBS[0], 'signed_off_by_hwb: "Yes"\n')
    resources = {
        "warehouse": WarehouseResource(url=f"duckdb:///{tmp_path}/warehouse.duckdb"),
        "settings": PipelineSettingsResource(landing_dir=str(tmp_path / "landing"), reference_dir=str(tmp_path),
                                             returns_dir=str(tmp_path / "returns")),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        register_hwbs(instance, HWBS)
        result = dg.materialize([bcf_return_asset([], set())], partition_key=ReturnPartition(Q3, HWBS[0]).key,
                                resources=resources, instance=instance, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data
    text = f"{failure.error.message if failure.error else ''} {failure.user_failure_data.description}"
    assert "InvalidAnswers" in text and f"{HWBS[0]}/2018-19-Q3.yaml" in text
    assert 'sign_off_date: required when signed_off_by_hwb is "Yes"' in text
