"""The committed template against the workbook contract of shared/spec/return.md.

Expected names and strings are written out here from the spec, not read from the build script.
"""

import re
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

from cb_pipeline.lib.workbook import template_defined_names

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "bcf_quarterly_return.xlsx"

SHEETS = ["Guidance", "Cover", "Checklist", "National Conditions", "Metrics", "HICM", "Income and Expenditure",
          "Place Dashboard", "Data Quality", "Narrative", "Provenance"]
CHANGES = ["EARLY_DISCHARGE_PLANNING", "SYSTEMS_TO_MONITOR_PATIENT_FLOW", "MULTI_DISCIPLINARY_DISCHARGE_TEAMS",
           "HOME_FIRST_DISCHARGE_TO_ASSESS", "SEVEN_DAY_SERVICE", "TRUSTED_ASSESSORS", "FOCUS_ON_CHOICE",
           "ENHANCING_HEALTH_IN_CARE_HOMES"]
LOCALITY_MEASURES = ["AE_ATT", "ED_RESP_0_4", "NEL", "NEL_RESP_0_4", "READM30", "CH_CALLOUT", "CH_CONVEY", "CH_ADMIT"]
FEEDS = ["HES_APC", "HES_AE", "AMBULANCE", "SOCIAL_CARE", "DTOC"]
SOURCES = ["CCG_MINIMUM", "DFG", "IBCF", "ADDITIONAL_LA", "ADDITIONAL_CCG"]
COMMENTED_METRICS = ["NEA", "RES65", "REAB", "DTOC", "FALLS65"]

YES_NO = ["Yes", "No"]
YES_NO_IN_PROGRESS = ["Yes", "No", "No - In Progress"]
MATURITY = ["Not yet established", "Plans in place", "Established", "Mature", "Exemplary"]
ASSESSMENT = ["On track to meet target", "Not on track to meet target", "Data not available to assess progress"]

# return.md's table of defined names, written out.
RETURN_MD_NAMES = (
    ["HWB_CODE", "HWB_NAME", "REPORTING_QUARTER", "TEMPLATE_STATUS", "POPULATION_MID_YEAR"]
    + ["NEA_ACTUAL_Q", "NEA_ACTUAL_YTD", "NEA_PLAN_Q", "NEA_PLAN_YTD", "NEA_RATE_Q", "NEA_ASSESSMENT"]
    + ["RES65_ACTUAL_Q", "RES65_ACTUAL_YTD", "RES65_PLAN_YTD", "RES65_RATE_YTD", "RES65_ASSESSMENT"]
    + ["REAB_COHORT_QUARTER", "REAB_DENOMINATOR", "REAB_NUMERATOR", "REAB_PCT", "REAB_UNLINKED", "REAB_PLAN_PCT",
       "REAB_ASSESSMENT"]
    + ["DTOC_DAYS_Q", "DTOC_DAYS_NHS_Q", "DTOC_DAYS_SOCIAL_CARE_Q", "DTOC_DAYS_BOTH_Q", "DTOC_DAYS_YTD",
       "DTOC_PLAN_YTD", "DTOC_RATE_Q", "DTOC_ASSESSMENT"]
    + ["FALLS65_ACTUAL_Q", "FALLS65_ACTUAL_YTD", "FALLS65_PLAN_YTD", "FALLS65_RATE_Q", "FALLS65_DSR_Q",
       "FALLS65_ASSESSMENT"]
    + ["DUPR_DENOMINATOR_Q", "DUPR_NUMERATOR_Q", "DUPR_PCT_Q", "ACSC_ACTUAL_Q", "ACSC_RATE_Q"]
    + [f"DASH_{m}_ALL_{s}" for m in LOCALITY_MEASURES + ["DTOC"] for s in ("Q", "YTD", "TARGET_YTD", "RAG")]
    + ["INCOME_PLAN_FY", "INCOME_ACTUAL_YTD", "EXPENDITURE_PLAN_FY", "EXPENDITURE_ACTUAL_YTD"]
    + [f"INCOME_PLAN_FY_{s}" for s in SOURCES]
    + [f"NC{n}_MET" for n in range(1, 5)] + [f"HICM_{c}_NOW" for c in CHANGES] + ["NARRATIVE", "SIGNED_OFF"]
    + [f"DQ_{f}_{s}" for f in FEEDS for s in ("ROWS_IN", "VALID", "QUARANTINED", "SUPERSEDED")]
    + ["PIPELINE_VERSION", "GENERATED_AT"]
)
SLOT_NAMES = (
    [f"DASH_{m}_LOC{k}_{s}" for m in LOCALITY_MEASURES for k in range(1, 9) for s in ("Q", "YTD")]
    + [f"DASH_LOC{k}_{s}" for k in range(1, 9) for s in ("CODE", "NAME")]
)
INPUT_NAMES = (
    ["COMPLETED_BY", "EMAIL", "PHONE", "SIGNED_OFF", "SIGN_OFF_DATE", "NARRATIVE"]
    + [f"NC{n}_{s}" for n in range(1, 5) for s in ("MET", "COMMENTARY", "TARGET_DATE")]
    + [f"HICM_{c}_{s}" for c in CHANGES for s in ("PREVIOUS", "NOW", "PLANNED_YEAR_END", "JUSTIFICATION",
                                                  "CHALLENGES", "MILESTONES", "SUPPORT_NEEDS")]
    + [f"{m}_{s}" for m in COMMENTED_METRICS for s in ("ASSESSMENT", "CHALLENGES", "ACHIEVEMENTS", "SUPPORT_NEEDS")]
)
PROVENANCE_NAMES = ["RUN_ID", "METRIC_DEFINITIONS_VERSION", "CONTENT_FINGERPRINT"]
TABLE_NAMES = ["DQ_RULES_TABLE", "DQ_COVERAGE_TABLE", "PROVENANCE_DELIVERIES_TABLE", "CHECKLIST_TABLE"]
DROPDOWNS = (
    {"SIGNED_OFF": YES_NO}
    | {f"NC{n}_MET": YES_NO_IN_PROGRESS for n in range(1, 5)}
    | {f"HICM_{c}_{s}": MATURITY for c in CHANGES for s in ("PREVIOUS", "NOW", "PLANNED_YEAR_END")}
    | {f"{m}_ASSESSMENT": ASSESSMENT for m in COMMENTED_METRICS}
)
PREPOPULATED = [n for n in RETURN_MD_NAMES + SLOT_NAMES + PROVENANCE_NAMES
                if n not in INPUT_NAMES and n != "TEMPLATE_STATUS"]
NUMERIC = (["NEA_ACTUAL_Q", "NEA_PLAN_YTD", "RES65_RATE_YTD", "REAB_PCT", "DTOC_DAYS_Q", "FALLS65_DSR_Q",
            "DUPR_PCT_Q", "ACSC_RATE_Q", "INCOME_PLAN_FY", "INCOME_PLAN_FY_DFG", "EXPENDITURE_ACTUAL_YTD",
            "DASH_NEL_ALL_YTD", "DASH_NEL_ALL_TARGET_YTD", "DASH_AE_ATT_LOC3_Q", "DQ_DTOC_ROWS_IN"])
YELLOW, GREY = "FFFF99", "D9D9D9"


@pytest.fixture(scope="module")
def wb():
    return openpyxl.load_workbook(TEMPLATE)


@pytest.fixture(scope="module")
def names():
    return template_defined_names(TEMPLATE)


def cell(wb, names, name):
    sheet, coordinate = names[name]
    return wb[sheet][coordinate]


def validations_of(wb, names, name):
    sheet, coordinate = names[name]
    return [dv for dv in wb[sheet].data_validations.dataValidation if coordinate in dv.sqref]


def list_values(wb, list_name):
    (sheet, ref), = wb.defined_names[list_name].destinations
    min_col, min_row, max_col, max_row = range_boundaries(ref.replace("$", ""))
    return [wb[sheet].cell(r, c).value for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)]


def test_sheets_in_order_and_lists_hidden(wb):
    assert wb.sheetnames == SHEETS + ["Lists"]
    assert wb["Lists"].sheet_state == "hidden"
    assert all(wb[s].sheet_state == "visible" for s in SHEETS)


@pytest.mark.parametrize("name", RETURN_MD_NAMES + SLOT_NAMES + INPUT_NAMES + PROVENANCE_NAMES + TABLE_NAMES)
def test_name_exists_and_points_at_one_cell(names, name):
    sheet, coordinate = names[name]  # template_defined_names raises if any name is a range
    assert sheet in SHEETS
    assert re.fullmatch(r"[A-Z]{1,3}[0-9]+", coordinate)


def test_names_are_workbook_scoped_and_distinct_cells(wb, names):
    assert all(not ws.defined_names for ws in wb.worksheets)
    cells = [names[n] for n in names]
    assert len(cells) == len(set(cells)), "two names share a cell"


def test_names_sit_on_the_sheets_return_md_says(names):
    assert names["HWB_CODE"][0] == names["TEMPLATE_STATUS"][0] == names["SIGNED_OFF"][0] == "Cover"
    assert {names[f"NC{n}_MET"][0] for n in range(1, 5)} == {"National Conditions"}
    assert {names[f"HICM_{c}_NOW"][0] for c in CHANGES} == {"HICM"}
    assert names["NEA_ASSESSMENT"][0] == names["ACSC_RATE_Q"][0] == "Metrics"
    assert names["INCOME_PLAN_FY_IBCF"][0] == "Income and Expenditure"
    assert names["DASH_NEL_LOC8_YTD"][0] == names["DASH_DTOC_ALL_RAG"][0] == "Place Dashboard"
    assert names["DQ_AMBULANCE_SUPERSEDED"][0] == names["DQ_RULES_TABLE"][0] == "Data Quality"
    assert names["NARRATIVE"][0] == "Narrative"
    assert names["GENERATED_AT"][0] == names["PROVENANCE_DELIVERIES_TABLE"][0] == "Provenance"


def test_no_locality_slot_for_dtoc(names):
    assert not [n for n in names if re.match(r"DASH_DTOC_LOC\d", n)]


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_table_names_sit_on_a_header(wb, names, name):
    sheet, coordinate = names[name]
    header = wb[sheet][coordinate]
    assert isinstance(header.value, str) and header.value
    assert isinstance(wb[sheet].cell(header.row, header.column + 1).value, str)


@pytest.mark.parametrize("name", ["DQ_RULES_TABLE", "DQ_COVERAGE_TABLE", "PROVENANCE_DELIVERIES_TABLE"])
def test_variable_tables_have_free_rows_below(wb, names, name):
    sheet, coordinate = names[name]
    ws = wb[sheet]
    header = ws[coordinate]
    width = 0
    while ws.cell(header.row, header.column + width).value:
        width += 1
    assert width >= 4
    for row in ws.iter_rows(min_row=header.row + 1, max_row=header.row + 200,
                            min_col=header.column, max_col=header.column + width - 1):
        assert all(c.value is None for c in row)


@pytest.mark.parametrize("name,expected", sorted(DROPDOWNS.items()))
def test_dropdowns_carry_exactly_the_spec_strings(wb, names, name, expected):
    (dv,) = validations_of(wb, names, name)
    assert dv.type == "list"
    assert dv.formula1.startswith("LIST_"), "the list must be a named range on the Lists sheet"
    assert list_values(wb, dv.formula1) == expected
    assert dv.showErrorMessage


def test_list_names_are_on_the_lists_sheet(wb):
    lists = {n: d for n, d in wb.defined_names.items() if n.startswith("LIST_")}
    assert set(lists) == {"LIST_YES_NO", "LIST_YES_NO_IN_PROGRESS", "LIST_MATURITY", "LIST_ASSESSMENT"}
    assert {s for d in lists.values() for s, _ in d.destinations} == {"Lists"}


@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_cells_limited_to_0_to_100_million(wb, names, name):
    (dv,) = validations_of(wb, names, name)
    assert (dv.type, dv.operator, dv.formula1, dv.formula2) == ("decimal", "between", "0", "100000000")


@pytest.mark.parametrize("name", ["SIGN_OFF_DATE", "NC1_TARGET_DATE", "NC4_TARGET_DATE"])
def test_date_inputs_validated_as_dates(wb, names, name):
    (dv,) = validations_of(wb, names, name)
    assert dv.type == "date"
    assert "yy" in cell(wb, names, name).number_format


def test_free_text_limited_to_spec_lengths(wb, names):
    (dv,) = validations_of(wb, names, "NARRATIVE")
    assert (dv.type, dv.formula1) == ("textLength", "10000")
    (dv,) = validations_of(wb, names, "HICM_FOCUS_ON_CHOICE_MILESTONES")
    assert (dv.type, dv.formula1) == ("textLength", "2000")


def test_every_validation_is_classic(wb):
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            assert dv.type in {"list", "decimal", "date", "textLength"}
            assert str(dv.sqref)


def test_protection_on_without_password(wb):
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
        assert not ws.protection.password, ws.title


@pytest.mark.parametrize("name", INPUT_NAMES)
def test_input_cells_unlocked_and_yellow(wb, names, name):
    c = cell(wb, names, name)
    assert c.protection.locked is False
    assert c.fill.fgColor.rgb.endswith(YELLOW)


@pytest.mark.parametrize("name", PREPOPULATED)
def test_prepopulated_cells_locked_and_grey(wb, names, name):
    c = cell(wb, names, name)
    assert c.protection.locked is True
    assert c.fill.fgColor.rgb.endswith(GREY)


def test_guidance_explains_colour_key(wb):
    text = " ".join(str(c.value) for row in wb["Guidance"].iter_rows() for c in row if c.value)
    assert "Yellow" in text and "Grey" in text and "pre-populated" in text
    fills = {c.fill.fgColor.rgb[-6:] for row in wb["Guidance"].iter_rows() for c in row if c.fill.fill_type}
    assert {YELLOW, GREY} <= fills


def test_status_and_banner_are_formulas(wb, names):
    status = cell(wb, names, "TEMPLATE_STATUS")
    assert status.data_type == "f"
    assert '"Complete Template"' in status.value and '"Incomplete Template"' in status.value
    banners = [c for row in wb["Cover"].iter_rows() for c in row
               if c.data_type == "f" and "TEMPLATE_STATUS" in c.value and c.coordinate != status.coordinate]
    assert banners, "the Cover completion banner must be a formula on TEMPLATE_STATUS"


def test_formulas_use_only_basic_functions(wb):
    allowed = {"IF", "COUNTIF", "COUNTA", "LEN", "AND", "HYPERLINK"}
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    seen |= set(re.findall(r"([A-Z][A-Z0-9.]*)\(", c.value))
    assert seen and seen <= allowed


def test_full_calc_on_load(wb):
    assert wb.calculation.fullCalcOnLoad


def checklist_rows(wb, names):
    sheet, coordinate = names["CHECKLIST_TABLE"]
    ws = wb[sheet]
    header = ws[coordinate]
    titles = {ws.cell(header.row, c).value: c for c in range(1, ws.max_column + 1)}
    rows = []
    for r in range(header.row + 1, ws.max_row + 1):
        name = ws.cell(r, titles["Cell name"]).value
        if name:
            rows.append({t: ws.cell(r, c).value for t, c in titles.items()})
    return rows


def test_checklist_has_one_row_per_required_input(wb, names):
    rows = checklist_rows(wb, names)
    required = {r["Cell name"] for r in rows}
    assert len(required) == len(rows)
    assert required == set(INPUT_NAMES)  # every input cell, some only after a given answer
    conditional = {r["Cell name"]: (r["Required when cell"], r["has one of the values"]) for r in rows
                   if r["Required when cell"]}
    assert conditional["SIGN_OFF_DATE"] == ("SIGNED_OFF", "Yes")
    assert conditional["NC2_COMMENTARY"] == ("NC2_MET", "No|No - In Progress")
    assert conditional["NC3_TARGET_DATE"] == ("NC3_MET", "No - In Progress")
    assert conditional["HICM_SEVEN_DAY_SERVICE_JUSTIFICATION"] == ("HICM_SEVEN_DAY_SERVICE_NOW", "Mature|Exemplary")
    assert len(conditional) == 1 + 4 * 2 + 8


def test_checklist_rows_link_to_their_cell_and_compute_yes_no(wb, names):
    for row in checklist_rows(wb, names):
        name = row["Cell name"]
        assert row["Sheet"] == names[name][0]
        assert row["Question"]
        assert row["Go to"] == f'=HYPERLINK("#{name}","Go to cell")'
        assert row["Complete?"].startswith("=IF(") and f"LEN({name})" in row["Complete?"]
        assert '"Yes"' in row["Complete?"] and '"No"' in row["Complete?"]


def test_checklist_yes_no_coloured(wb, names):
    ws = wb[names["CHECKLIST_TABLE"][0]]
    rules = [rule for cf in ws.conditional_formatting for rule in cf.rules]
    formulas = {tuple(r.formula) for r in rules}
    assert ('"Yes"',) in formulas and ('"No"',) in formulas
