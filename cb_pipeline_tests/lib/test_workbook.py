"""cb_pipeline.lib.workbook: filling the template, the checklist in Python, writing returns,
and the LibreOffice round trip."""

import datetime as dt
import hashlib
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

from cb_pipeline.lib.workbook import (
    ReturnWriteResult,
    TemplateError,
    UnknownNamesError,
    content_fingerprint,
    fill_template,
    libreoffice_executable,
    read_defined_values,
    recalculate_with_libreoffice,
    template_defined_names,
    template_status,
    write_return,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "bcf_quarterly_return.xlsx"
CHANGES = ["EARLY_DISCHARGE_PLANNING", "SYSTEMS_TO_MONITOR_PATIENT_FLOW", "MULTI_DISCIPLINARY_DISCHARGE_TEAMS",
           "HOME_FIRST_DISCHARGE_TO_ASSESS", "SEVEN_DAY_SERVICE", "TRUSTED_ASSESSORS", "FOCUS_ON_CHOICE",
           "ENHANCING_HEALTH_IN_CARE_HOMES"]
CENTRAL_BEDS = [("CV", "Chiltern Vale"), ("LB", "Leighton Buzzard"), ("WMB", "West Mid Beds"), ("IV", "Ivel Valley")]

needs_libreoffice = pytest.mark.skipif(
    libreoffice_executable() is None and not os.environ.get("CB_REQUIRE_LIBREOFFICE"),
    reason="LibreOffice (soffice) is not installed: install libreoffice-calc to run the recalculation tests "
           "(CI does; set CB_REQUIRE_LIBREOFFICE=1 to make its absence fail)",
)


def answers() -> dict:
    """A fully answered return, as a commissioner's inputs file would give it."""
    a = {
        "COMPLETED_BY": "Jane Smith", "EMAIL": "jane.smith@example.org", "PHONE": "0300 000 0000",
        "SIGNED_OFF": "Yes", "SIGN_OFF_DATE": dt.date(2019, 1, 24),
        "NARRATIVE": "Hubs opened in Dunstable and Biggleswade.",
        "NC1_MET": "Yes", "NC2_MET": "Yes", "NC3_MET": "Yes",
        "NC4_MET": "No - In Progress", "NC4_COMMENTARY": "Trusted assessor live from February",
        "NC4_TARGET_DATE": dt.date(2019, 3, 31),
    }
    for metric in ("NEA", "RES65", "REAB", "DTOC", "FALLS65"):
        a[f"{metric}_ASSESSMENT"] = "On track to meet target"
        a[f"{metric}_CHALLENGES"] = "Winter pressures"
        a[f"{metric}_ACHIEVEMENTS"] = "Fewer admissions than planned"
        a[f"{metric}_SUPPORT_NEEDS"] = "None"
    for change in CHANGES:
        a[f"HICM_{change}_PREVIOUS"] = "Established"
        a[f"HICM_{change}_NOW"] = "Mature"
        a[f"HICM_{change}_PLANNED_YEAR_END"] = "Exemplary"
        a[f"HICM_{change}_JUSTIFICATION"] = "Seven-day working in all four localities"
        a[f"HICM_{change}_CHALLENGES"] = "Recruitment"
        a[f"HICM_{change}_MILESTONES"] = "Discharge lounge opened"
        a[f"HICM_{change}_SUPPORT_NEEDS"] = "None"
    return a


def figures() -> dict:
    return {
        "HWB_CODE": "E06000056", "HWB_NAME": "Central Bedfordshire", "REPORTING_QUARTER": "2018-19 Q3",
        "POPULATION_MID_YEAR": 2017, "NEA_ACTUAL_Q": 7521, "NEA_PLAN_Q": 7400, "NEA_RATE_Q": 2655.3,
        "REAB_PCT": None, "INCOME_PLAN_FY": 23456789.12, "DASH_NEL_ALL_YTD": 22132, "DASH_NEL_ALL_RAG": "A",
        "PIPELINE_VERSION": "0.1.0", "GENERATED_AT": dt.datetime(2019, 1, 20, 9, 30), "RUN_ID": "run-1",
    }


def names():
    return template_defined_names(TEMPLATE)


def cell_of(wb, name):
    (sheet, coordinate), = [(s, c) for s, c in wb.defined_names[name].destinations]
    return wb[sheet][coordinate.replace("$", "")]


# ----------------------------------------------------------------------------- fill_template


def test_values_read_back_by_name(tmp_path):
    values = figures() | answers()
    wb = fill_template(TEMPLATE, values)
    wb.save(tmp_path / "r.xlsx")
    back = read_defined_values(tmp_path / "r.xlsx")
    assert back["HWB_CODE"] == "E06000056"
    assert back["NEA_ACTUAL_Q"] == 7521 and isinstance(back["NEA_ACTUAL_Q"], int)
    assert back["NEA_RATE_Q"] == 2655.3
    assert back["INCOME_PLAN_FY"] == 23456789.12
    assert back["SIGN_OFF_DATE"] == dt.datetime(2019, 1, 24)  # a date cell, not text
    assert back["GENERATED_AT"] == dt.datetime(2019, 1, 20, 9, 30)
    assert back["NC4_MET"] == "No - In Progress"
    assert back["DASH_NEL_ALL_RAG"] == "A"
    assert back["CONTENT_FINGERPRINT"] == content_fingerprint(values)
    assert back["REAB_PCT"] is None


def test_none_empties_a_cell_never_zero(tmp_path):
    # An analyst may leave sample text in a cell; None must empty it (and not write 0).
    wb = openpyxl.load_workbook(TEMPLATE)
    for name in ("HWB_NAME", "NEA_ACTUAL_Q"):
        cell_of(wb, name).value = "sample"
    wb.save(tmp_path / "template.xlsx")
    filled = fill_template(tmp_path / "template.xlsx", {"HWB_NAME": None, "NEA_ACTUAL_Q": float("nan"),
                                                       "NEA_PLAN_Q": 0, "NARRATIVE": ""})
    assert cell_of(filled, "HWB_NAME").value is None
    assert cell_of(filled, "NEA_ACTUAL_Q").value is None
    assert cell_of(filled, "NEA_PLAN_Q").value == 0
    assert cell_of(filled, "NARRATIVE").value is None


@pytest.mark.parametrize("text", ["=SUM(A1)", "+44", "-x", "@x", "=1+1"])
def test_strings_stay_text(tmp_path, text):
    wb = fill_template(TEMPLATE, {"NARRATIVE": text})
    cell = cell_of(wb, "NARRATIVE")
    assert (cell.value, cell.data_type) == (text, "s")
    assert cell.quotePrefix  # Excel and LibreOffice keep it text even when the cell is edited
    wb.save(tmp_path / "r.xlsx")
    reloaded = cell_of(openpyxl.load_workbook(tmp_path / "r.xlsx"), "NARRATIVE")
    assert (reloaded.value, reloaded.data_type) == (text, "s")
    with zipfile.ZipFile(tmp_path / "r.xlsx") as z:
        sheet_xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>SUM(A1)</f>" not in sheet_xml


def test_control_characters_are_dropped_not_fatal():
    wb = fill_template(TEMPLATE, {"NARRATIVE": "pasted\x0btext"})
    assert cell_of(wb, "NARRATIVE").value == "pastedtext"


def test_localities_fill_slots_add_names_and_hide_unused_slots(tmp_path):
    values = {"DASH_AE_ATT_CV_Q": 1234, "DASH_AE_ATT_CV_YTD": 3456, "DASH_NEL_IV_YTD": 789,
              "DASH_NEL_ALL_YTD": 22132}
    wb = fill_template(TEMPLATE, values, localities=CENTRAL_BEDS)
    wb.save(tmp_path / "r.xlsx")
    back = read_defined_values(tmp_path / "r.xlsx")
    assert [back[f"DASH_LOC{k}_CODE"] for k in range(1, 5)] == ["CV", "LB", "WMB", "IV"]
    assert back["DASH_LOC2_NAME"] == "Leighton Buzzard"
    assert back["DASH_AE_ATT_CV_Q"] == back["DASH_AE_ATT_LOC1_Q"] == 1234
    assert back["DASH_NEL_IV_YTD"] == back["DASH_NEL_LOC4_YTD"] == 789
    for measure in ("AE_ATT", "ED_RESP_0_4", "NEL", "NEL_RESP_0_4", "READM30", "CH_CALLOUT", "CH_CONVEY", "CH_ADMIT"):
        for code in ("CV", "LB", "WMB", "IV"):
            for period in ("Q", "YTD"):
                assert f"DASH_{measure}_{code}_{period}" in back
    assert "DASH_DTOC_CV_Q" not in back  # DTOC is ALL only
    assert back["DASH_LOC5_CODE"] is None and back["DASH_AE_ATT_LOC5_Q"] is None

    reloaded = openpyxl.load_workbook(tmp_path / "r.xlsx")
    tpl = names()
    ws = reloaded[tpl["DASH_AE_ATT_LOC1_Q"][0]]

    def column_hidden(name):
        letter = coordinate_from_string(tpl[name][1])[0]
        index = column_index_from_string(letter)
        return any(d.hidden and d.min <= index <= d.max for d in ws.column_dimensions.values())

    for k in range(1, 9):
        for period in ("Q", "YTD"):
            assert column_hidden(f"DASH_NEL_LOC{k}_{period}") is (k > 4)
    assert not column_hidden("DASH_NEL_ALL_Q") and not column_hidden("DASH_NEL_ALL_RAG")


def test_locality_names_are_only_for_given_localities():
    with pytest.raises(UnknownNamesError, match="DASH_AE_ATT_CV_Q"):
        fill_template(TEMPLATE, {"DASH_AE_ATT_CV_Q": 1})


@pytest.mark.parametrize("localities", [
    [("CV", "a"), ("CV", "b")],
    [("ALL", "everything")],
    [("C V", "space")],
    [(f"L{k}", "x") for k in range(9)],
])
def test_bad_localities_rejected(localities):
    with pytest.raises(ValueError):
        fill_template(TEMPLATE, {}, localities=localities)


def test_unknown_names_listed_in_the_error():
    with pytest.raises(UnknownNamesError) as info:
        fill_template(TEMPLATE, {"HWB_CODE": "E06000056", "NOT_A_NAME": 1, "ALSO_MISSING": 2})
    assert info.value.names == ["ALSO_MISSING", "NOT_A_NAME"]
    assert "ALSO_MISSING" in str(info.value) and "NOT_A_NAME" in str(info.value)


def test_formula_and_fingerprint_cells_are_not_fillable():
    with pytest.raises(TemplateError, match="TEMPLATE_STATUS"):
        fill_template(TEMPLATE, {"TEMPLATE_STATUS": "Complete Template"})
    with pytest.raises(TemplateError, match="CONTENT_FINGERPRINT"):
        fill_template(TEMPLATE, {"CONTENT_FINGERPRINT": "x"})


def test_tables_written_below_their_header(tmp_path):
    rules = [["hes_apc", "date_invalid", "fatal", 12], ["hes_ae", "code_unknown", "warning", None],
             ["ambulance", "=cmd", "fatal", 1]]
    wb = fill_template(TEMPLATE, {}, {"DQ_RULES_TABLE": rules, "PROVENANCE_DELIVERIES_TABLE": []})
    sheet, coordinate = names()["DQ_RULES_TABLE"]
    ws = wb[sheet]
    col, row = coordinate_from_string(coordinate)
    first = column_index_from_string(col)
    got = [[ws.cell(row + i, first + j).value for j in range(4)] for i in range(1, 5)]
    assert got == rules + [[None] * 4]
    assert ws.cell(row + 3, first + 1).data_type == "s"
    assert ws.cell(row + 2, first + 3).fill.fgColor.rgb == ws.cell(row + 1, first + 3).fill.fgColor.rgb


def test_table_rows_wider_than_header_rejected():
    with pytest.raises(ValueError, match="DQ_RULES_TABLE row 1"):
        fill_template(TEMPLATE, {}, {"DQ_RULES_TABLE": [["a", "b", "c", 1, "extra"]]})
    with pytest.raises(UnknownNamesError):
        fill_template(TEMPLATE, {}, {"HWB_CODE": [["a"]]})


def test_names_still_found_after_an_analyst_moves_and_restyles(tmp_path):
    wb = openpyxl.load_workbook(TEMPLATE)
    # Excel groups equal-width columns into one <col min max> element when it saves.
    ws = wb["Place Dashboard"]
    for letter in [get_column_letter(i) for i in range(4, 20)]:
        del ws.column_dimensions[letter]
    ws.column_dimensions["D"].min, ws.column_dimensions["D"].max = 4, 19
    ws.column_dimensions["D"].width = 9
    # ... and the analyst moves the narrative to another sheet.
    wb["Guidance"]["B40"].value = None
    wb.defined_names["NARRATIVE"].attr_text = "Guidance!$B$40"
    wb.save(tmp_path / "template.xlsx")

    filled = fill_template(tmp_path / "template.xlsx", {"NARRATIVE": "moved"}, localities=CENTRAL_BEDS[:1])
    assert filled["Guidance"]["B40"].value == "moved"
    filled.save(tmp_path / "r.xlsx")
    with zipfile.ZipFile(tmp_path / "r.xlsx") as z:
        sheet_xml = z.read("xl/worksheets/sheet8.xml").decode()
    cols = re.findall(r"<col [^>]*>", sheet_xml)
    spans = [(int(re.search(r'min="(\d+)"', c)[1]), int(re.search(r'max="(\d+)"', c)[1])) for c in cols]
    assert spans
    covered = [i for a, b in spans for i in range(a, b + 1)]
    assert len(covered) == len(set(covered)), f"overlapping <col> elements: {spans}"
    dims = openpyxl.load_workbook(tmp_path / "r.xlsx")["Place Dashboard"].column_dimensions
    hidden = {i for d in dims.values() if d.hidden for i in range(d.min, d.max + 1)}
    assert hidden == set(range(6, 20))  # slots 2..8; slot 1 (D:E) stays visible


def test_template_defined_names_rejects_range_names(tmp_path):
    wb = openpyxl.load_workbook(TEMPLATE)
    wb.defined_names["HWB_NAME"].attr_text = "Cover!$C$6:$C$7"
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(TemplateError, match="HWB_NAME"):
        template_defined_names(tmp_path / "bad.xlsx")


# ----------------------------------------------------------------------------- fingerprint


def test_fingerprint_ignores_volatile_names_and_order():
    a = figures()
    b = dict(reversed(list(a.items())))
    b |= {"GENERATED_AT": dt.datetime(2020, 1, 1), "RUN_ID": "run-2"}
    assert content_fingerprint(a) == content_fingerprint(b)
    assert len(content_fingerprint(a)) == 64


def test_fingerprint_changes_with_content():
    base = figures()
    assert content_fingerprint(base) != content_fingerprint(base | {"NEA_ACTUAL_Q": 7522})
    assert content_fingerprint(base) != content_fingerprint(base, {"DQ_RULES_TABLE": [["hes_apc", "x", "fatal", 1]]})
    assert content_fingerprint(base | {"NEA_ACTUAL_Q": 5}) == content_fingerprint(base | {"NEA_ACTUAL_Q": 5.0})
    assert content_fingerprint({"X": dt.date(2019, 1, 1)}) != content_fingerprint({"X": "2019-01-01"})
    assert content_fingerprint({"X": None}) == content_fingerprint({"X": float("nan")})


# ----------------------------------------------------------------------------- template_status


def status_of(values):
    return template_status(fill_template(TEMPLATE, values))


def test_status_complete_when_everything_answered():
    assert status_of(figures() | answers()) == (True, [])


def test_status_lists_missing_cells_in_checklist_order():
    values = answers()
    del values["NARRATIVE"], values["COMPLETED_BY"]
    values["NEA_CHALLENGES"] = None
    assert status_of(values) == (False, ["COMPLETED_BY", "NEA_CHALLENGES", "NARRATIVE"])


def test_empty_template_is_incomplete():
    complete, missing = status_of({})
    assert not complete
    assert "SIGNED_OFF" in missing and "SIGN_OFF_DATE" not in missing and "NC1_COMMENTARY" not in missing


def test_status_conditional_requirements():
    values = answers()
    del values["SIGN_OFF_DATE"]
    assert status_of(values) == (False, ["SIGN_OFF_DATE"])
    assert status_of(values | {"SIGNED_OFF": "No"}) == (True, [])

    values = answers() | {"NC1_MET": "No"}
    assert status_of(values) == (False, ["NC1_COMMENTARY"])  # no target date needed for a plain No
    values = answers() | {"NC2_MET": "No - In Progress"}
    assert status_of(values) == (False, ["NC2_COMMENTARY", "NC2_TARGET_DATE"])

    values = answers() | {"HICM_TRUSTED_ASSESSORS_JUSTIFICATION": None}
    assert status_of(values) == (False, ["HICM_TRUSTED_ASSESSORS_JUSTIFICATION"])
    assert status_of(values | {"HICM_TRUSTED_ASSESSORS_NOW": "Established"}) == (True, [])


def test_whitespace_counts_as_answered_like_len():
    assert status_of(answers() | {"NARRATIVE": " "}) == (True, [])


# ----------------------------------------------------------------------------- write_return


def filled(values=None):
    values = figures() | answers() if values is None else values
    return fill_template(TEMPLATE, values), content_fingerprint(values)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_write_return_path_and_atomic(tmp_path):
    wb, fingerprint = filled()
    result = write_return(wb, tmp_path / "returns", "E06000056", "2018-19", 3, fingerprint)
    expected = tmp_path / "returns" / "E06000056" / "2018-19" / "Q3" / "BCF_E06000056_2018-19_Q3.xlsx"
    assert result == ReturnWriteResult(expected, sha256(expected), "written", None)
    assert sorted(p.name for p in expected.parent.iterdir()) == [expected.name]  # no temporary file left
    assert read_defined_values(expected)["CONTENT_FINGERPRINT"] == fingerprint


def test_unchanged_return_not_rewritten(tmp_path):
    wb, fingerprint = filled()
    first = write_return(wb, tmp_path, "E06000056", "2018-19", 3, fingerprint)
    os.utime(first.path, (1_000_000_000, 1_000_000_000))
    values = figures() | answers() | {"GENERATED_AT": dt.datetime(2019, 2, 1), "RUN_ID": "run-2"}
    wb2, fingerprint2 = filled(values)
    assert fingerprint2 == fingerprint
    second = write_return(wb2, tmp_path, "E06000056", "2018-19", 3, fingerprint2)
    assert second.action == "unchanged"
    assert second.sha256 == first.sha256 == sha256(first.path)
    assert first.path.stat().st_mtime == 1_000_000_000
    assert not (first.path.parent / "superseded").exists()


def test_changed_return_supersedes_previous(tmp_path):
    wb, fingerprint = filled()
    first = write_return(wb, tmp_path, "E06000056", "2018-19", 3, fingerprint)
    wb2, fingerprint2 = filled(figures() | answers() | {"NEA_ACTUAL_Q": 7600})
    second = write_return(wb2, tmp_path, "E06000056", "2018-19", 3, fingerprint2)
    assert second.action == "superseded_previous"
    assert second.path == first.path and second.sha256 == sha256(first.path) != first.sha256
    (old,) = (first.path.parent / "superseded").iterdir()
    assert old == second.superseded_path
    assert old.name.endswith("Z_BCF_E06000056_2018-19_Q3.xlsx") and len(old.name.split("_")[0]) == 16
    assert sha256(old) == first.sha256
    assert sorted(p.name for p in first.path.parent.iterdir()) == [first.path.name, "superseded"]
    assert read_defined_values(first.path)["NEA_ACTUAL_Q"] == 7600


def test_write_return_checks_arguments(tmp_path):
    wb, fingerprint = filled()
    for args in [("E06/56", "2018-19", 3), ("E06000056", "2018-2019", 3), ("E06000056", "2018-20", 3),
                 ("E06000056", "2018-19", 5)]:
        with pytest.raises(ValueError):
            write_return(wb, tmp_path, *args, fingerprint)
    with pytest.raises(ValueError, match="fingerprint"):
        write_return(wb, tmp_path, "E06000056", "2018-19", 3, "0" * 64)
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- LibreOffice


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory):
    """Fully answered and partly answered returns, converted by LibreOffice (which recalculates)."""
    work = tmp_path_factory.mktemp("lo")
    out = {}
    text_values = {"HWB_NAME": "=SUM(A1)", "PHONE": "+44 300 000 0000", "RUN_ID": "-x", "PIPELINE_VERSION": "@x"}
    partial = answers() | {"NARRATIVE": None, "NC3_MET": "No", "HICM_FOCUS_ON_CHOICE_JUSTIFICATION": None}
    for label, values in {"complete": figures() | answers() | text_values, "incomplete": partial}.items():
        source = work / f"{label}.xlsx"
        fill_template(TEMPLATE, values, localities=CENTRAL_BEDS).save(source)
        out[label] = recalculate_with_libreoffice(source, work / "out")
    return out


@needs_libreoffice
def test_libreoffice_computes_complete_template(recalculated):
    assert read_defined_values(recalculated["complete"])["TEMPLATE_STATUS"] == "Complete Template"


@needs_libreoffice
def test_libreoffice_computes_incomplete_template(recalculated):
    assert read_defined_values(recalculated["incomplete"])["TEMPLATE_STATUS"] == "Incomplete Template"


@needs_libreoffice
def test_libreoffice_checklist_agrees_with_python(recalculated):
    wb = openpyxl.load_workbook(recalculated["incomplete"], data_only=True)
    sheet, coordinate = names()["CHECKLIST_TABLE"]
    ws = wb[sheet]
    col, row = coordinate_from_string(coordinate)
    headers = {ws.cell(row, c).value: c for c in range(1, ws.max_column + 1)}
    no = [ws.cell(r, headers["Cell name"]).value for r in range(row + 1, ws.max_row + 1)
          if ws.cell(r, headers["Complete?"]).value == "No"]
    assert no == ["NC3_COMMENTARY", "HICM_FOCUS_ON_CHOICE_JUSTIFICATION", "NARRATIVE"]
    assert template_status(openpyxl.load_workbook(recalculated["incomplete"])) == (False, no)


@needs_libreoffice
def test_text_that_looks_like_a_formula_survives_libreoffice(recalculated):
    wb = openpyxl.load_workbook(recalculated["complete"])
    for name, text in {"HWB_NAME": "=SUM(A1)", "PHONE": "+44 300 000 0000", "RUN_ID": "-x",
                       "PIPELINE_VERSION": "@x"}.items():
        cell = cell_of(wb, name)
        assert (cell.value, cell.data_type) == (text, "s"), name


@needs_libreoffice
def test_libreoffice_keeps_locality_names_and_values(recalculated):
    back = read_defined_values(recalculated["complete"])
    assert back["DASH_LOC4_CODE"] == "IV"
    assert back["DASH_NEL_ALL_YTD"] == 22132
    assert "DASH_CH_ADMIT_WMB_YTD" in back
