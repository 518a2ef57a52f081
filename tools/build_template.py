"""Bootstrap templates/bcf_quarterly_return.xlsx, the quarterly Better Care Fund return template.

Run once (`python tools/build_template.py`) to create the template; the xlsx is then committed and
owned by analysts, who may restyle it in Excel (templates/README.md says what they must keep).
Re-running overwrites their changes, so after the first commit change the xlsx, not this script,
unless the contract (shared/spec/return.md) changes.

Layout modelled on the national BCF quarterly reporting template 2017-19: yellow cells are
commissioner input (unlocked), grey cells are filled by the pipeline (locked); every cell the code
touches has a workbook-scoped defined name; dropdowns point at named lists on a hidden Lists sheet.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import absolute_coordinate, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from cb_pipeline.lib.workbook import (
    CHECKLIST_COLUMNS,
    CHECKLIST_TABLE,
    CHECKLIST_VALUE_SEPARATOR,
    COMPLETE,
    INCOMPLETE,
    LOCALITY_SLOTS,
    STATUS_NAME,
)

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "templates" / "bcf_quarterly_return.xlsx"

# ----------------------------------------------------------------------------- spec vocabulary
YES_NO = ["Yes", "No"]
YES_NO_IN_PROGRESS = ["Yes", "No", "No - In Progress"]
MATURITY = ["Not yet established", "Plans in place", "Established", "Mature", "Exemplary"]
ASSESSMENT = ["On track to meet target", "Not on track to meet target", "Data not available to assess progress"]
LISTS = {
    "LIST_YES_NO": ("Yes / No", YES_NO),
    "LIST_YES_NO_IN_PROGRESS": ("National condition met", YES_NO_IN_PROGRESS),
    "LIST_MATURITY": ("HICM maturity", MATURITY),
    "LIST_ASSESSMENT": ("Metric assessment", ASSESSMENT),
}
MAX_NUMBER = 100_000_000
MAX_FIELD_TEXT = 2000  # feeds.md: one answer field
MAX_NARRATIVE = 10000  # feeds.md: the narrative

# (short title for the Checklist, full text)
NATIONAL_CONDITIONS = [
    ("Plans jointly agreed", "Plans to be jointly agreed"),
    ("NHS contribution to adult social care",
     "NHS contribution to adult social care is maintained in line with inflation"),
    ("Investment in out-of-hospital services",
     "Agreement to invest in NHS commissioned out-of-hospital services"),
    ("Managing transfers of care",
     "Managing transfers of care: a clear plan for improved integrated services at the interface "
     "between health and social care that reduces delayed transfers of care, including "
     "implementation of the High Impact Change Model for Managing Transfers of Care"),
]
HICM_CHANGES = [
    ("EARLY_DISCHARGE_PLANNING", "Chg 1 - Early discharge planning"),
    ("SYSTEMS_TO_MONITOR_PATIENT_FLOW", "Chg 2 - Systems to monitor patient flow"),
    ("MULTI_DISCIPLINARY_DISCHARGE_TEAMS", "Chg 3 - Multi-disciplinary / multi-agency discharge teams"),
    ("HOME_FIRST_DISCHARGE_TO_ASSESS", "Chg 4 - Home first / discharge to assess"),
    ("SEVEN_DAY_SERVICE", "Chg 5 - Seven-day service"),
    ("TRUSTED_ASSESSORS", "Chg 6 - Trusted assessors"),
    ("FOCUS_ON_CHOICE", "Chg 7 - Focus on choice"),
    ("ENHANCING_HEALTH_IN_CARE_HOMES", "Chg 8 - Enhancing health in care homes"),
]
FUNDING_SOURCES = [
    ("CCG_MINIMUM", "CCG minimum contribution"),
    ("DFG", "Disabled Facilities Grant"),
    ("IBCF", "Improved Better Care Fund"),
    ("ADDITIONAL_LA", "Additional LA contribution"),
    ("ADDITIONAL_CCG", "Additional CCG contribution"),
]
DQ_FEEDS = [
    ("HES_APC", "hes_apc: hospital admitted patient care"),
    ("HES_AE", "hes_ae: A&E attendances"),
    ("AMBULANCE", "ambulance: incidents"),
    ("SOCIAL_CARE", "social_care: client level data events"),
    ("DTOC", "dtoc: delayed transfers of care"),
]
# (group, [(measure, label)]) in the order of the 2018/19 place based progress dashboard.
DASHBOARD = [
    ("Paediatric non-elective activity", [
        ("ED_RESP_0_4", "ED attendances, 0 - 4 for respiratory conditions"),
        ("NEL_RESP_0_4", "NE admissions, 0 - 4 for respiratory conditions"),
    ]),
    ("Transitions of care", [
        ("AE_ATT", "A&E attendances"),
        ("NEL", "Non-elective admissions"),
        ("READM30", "30 day non-elective re-admissions"),
        ("DTOC", "Delayed transfers of care (delayed days)"),
    ]),
    ("Care homes", [
        ("CH_CALLOUT", "Care home call outs"),
        ("CH_CONVEY", "Care home conveyances"),
        ("CH_ADMIT", "Admissions to hospital from care homes"),
    ]),
]
ALL_ONLY = {"DTOC"}

# (id, title, definition, [(name suffix, label, format)], national?)
COUNT, RATE, PCT, TEXT = "#,##0", "0.0", "0.0", "@"
METRICS = [
    ("NEA", "Non-elective admissions (specific acute)",
     "Emergency admissions (first episodes, ADMIMETH 21-28, 2A-2D, 81) of residents, excluding the "
     "specific non-acute treatment functions; rate per 100,000 population of all ages. Lower is better.",
     [("PLAN_Q", "Plan for the quarter (admissions)", COUNT),
      ("ACTUAL_Q", "Actual for the quarter (admissions)", COUNT),
      ("PLAN_YTD", "Plan for the year to date", COUNT),
      ("ACTUAL_YTD", "Actual for the year to date", COUNT),
      ("RATE_Q", "Rate for the quarter per 100,000 population", RATE)], True),
    ("RES65", "Permanent admissions of people aged 65+ to residential and nursing care homes",
     "Distinct people aged 65 and over supported by the council into long term residential or nursing "
     "care (moves between homes excluded); rate per 100,000 population aged 65+. Lower is better.",
     [("ACTUAL_Q", "Actual for the quarter (people)", COUNT),
      ("ACTUAL_YTD", "Actual for the year to date", COUNT),
      ("PLAN_YTD", "Plan for the year to date", COUNT),
      ("RATE_YTD", "Rate for the year to date per 100,000 population aged 65+", RATE)], True),
    ("REAB", "Proportion of older people (65+) still at home 91 days after discharge into reablement",
     "People aged 65 and over discharged from hospital into reablement in the cohort quarter (the "
     "quarter before the one reported) who are at home 91 days later. Higher is better.",
     [("COHORT_QUARTER", "Cohort quarter (discharges in)", TEXT),
      ("DENOMINATOR", "People discharged into reablement (denominator)", COUNT),
      ("NUMERATOR", "Of whom at home after 91 days (numerator)", COUNT),
      ("PCT", "Percentage at home after 91 days", PCT),
      ("UNLINKED", "Cohort members without an NHS number (hospital status not checked)", COUNT),
      ("PLAN_PCT", "Planned percentage", PCT)], True),
    ("DTOC", "Delayed transfers of care (delayed days)",
     "Delayed days from the monthly situation report for patients whose responsible council is the "
     "HWB; rate = average delayed days per day per 100,000 population aged 18+. Lower is better.",
     [("DAYS_Q", "Delayed days in the quarter", COUNT),
      ("DAYS_NHS_Q", "of which attributable to the NHS", COUNT),
      ("DAYS_SOCIAL_CARE_Q", "of which attributable to social care", COUNT),
      ("DAYS_BOTH_Q", "of which attributable to both", COUNT),
      ("DAYS_YTD", "Delayed days in the year to date", COUNT),
      ("PLAN_YTD", "Plan for the year to date", COUNT),
      ("RATE_Q", "Rate for the quarter (per day per 100,000 aged 18+)", RATE)], True),
    ("FALLS65", "Local metric: emergency admissions due to falls, people aged 65+",
     "Emergency admissions of residents aged 65+ with an injury as primary diagnosis and a fall code "
     "(W00-W19) as a secondary diagnosis; crude rate and rate directly standardised to the European "
     "Standard Population 2013, per 100,000 aged 65+. Lower is better.",
     [("ACTUAL_Q", "Actual for the quarter (admissions)", COUNT),
      ("ACTUAL_YTD", "Actual for the year to date", COUNT),
      ("PLAN_YTD", "Plan for the year to date", COUNT),
      ("RATE_Q", "Crude rate for the quarter per 100,000 aged 65+", RATE),
      ("DSR_Q", "Directly standardised rate for the quarter per 100,000 aged 65+", RATE)], True),
    ("DUPR", "Discharge to usual place of residence",
     "Hospital spells ending in the quarter with a known destination (deaths, maternity and "
     "non-acute specialties excluded) where the patient went back to their usual place of residence.",
     [("DENOMINATOR_Q", "Spells ending in the quarter (denominator)", COUNT),
      ("NUMERATOR_Q", "Of which discharged to usual place of residence (numerator)", COUNT),
      ("PCT_Q", "Percentage", PCT)], False),
    ("ACSC", "Unplanned hospitalisation for chronic ambulatory care sensitive conditions",
     "Emergency admissions of residents with a chronic ambulatory care sensitive condition as primary "
     "diagnosis; crude rate per 100,000 population of all ages. Lower is better.",
     [("ACTUAL_Q", "Admissions in the quarter", COUNT),
      ("RATE_Q", "Rate for the quarter per 100,000 population", RATE)], False),
]

# ----------------------------------------------------------------------------- styles
YELLOW = PatternFill("solid", fgColor="FFFF99")  # commissioner input
GREY = PatternFill("solid", fgColor="D9D9D9")  # pre-populated by the pipeline
HEADER = PatternFill("solid", fgColor="1F4E78")
SECTION = PatternFill("solid", fgColor="DDEBF7")
RED = PatternFill("solid", fgColor="FFC7CE")
GREEN = PatternFill("solid", fgColor="C6EFCE")
AMBER = PatternFill("solid", fgColor="FFEB9C")
RED_FONT, GREEN_FONT, AMBER_FONT = Font(color="9C0006"), Font(color="006100"), Font(color="9C5700")
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
TITLE = Font(bold=True, size=14, color="1F4E78")
BOLD = Font(bold=True)
WHITE_BOLD = Font(bold=True, color="FFFFFF")
WRAP = Alignment(wrap_text=True, vertical="top")
UNLOCKED = Protection(locked=False)
DATE_FORMAT = "dd/mm/yyyy"


@dataclass
class Requirement:
    sheet: str
    question: str
    name: str
    when_name: str = ""
    when_values: tuple[str, ...] = ()


class TemplateBuilder:
    def __init__(self) -> None:
        self.wb = Workbook()
        self.wb.remove(self.wb.active)
        self.names: dict[str, str] = {}
        self.requirements: list[Requirement] = []
        self.validations: dict[tuple[str, str], DataValidation] = {}

    # -- primitives
    def sheet(self, title: str, widths: dict[str, float]):
        ws = self.wb.create_sheet(title)
        for column, width in widths.items():
            ws.column_dimensions[column].width = width
        ws.sheet_view.showGridLines = False
        return ws

    def define(self, ws, coordinate: str, name: str) -> None:
        if name in self.names:
            raise ValueError(f"{name} defined twice")
        ref = f"{quote_sheetname(ws.title)}!{absolute_coordinate(coordinate)}"
        self.names[name] = ref
        self.wb.defined_names[name] = DefinedName(name, attr_text=ref)

    def validate(self, ws, coordinate: str, kind: str) -> None:
        key = (ws.title, kind)
        if key not in self.validations:
            if kind.startswith("LIST_"):
                title, values = LISTS[kind]
                dv = DataValidation(type="list", formula1=kind, allow_blank=True,
                                    error=f"Choose one of: {', '.join(values)}", errorTitle=title,
                                    prompt="Choose from the list", promptTitle=title)
            elif kind == "number":
                dv = DataValidation(type="decimal", operator="between", formula1="0",
                                    formula2=str(MAX_NUMBER), allow_blank=True,
                                    error=f"Enter a number from 0 to {MAX_NUMBER:,}", errorTitle="Number")
            elif kind == "date":
                # 01/01/2010 .. 31/12/2099 as serial numbers (portable between Excel and LibreOffice)
                dv = DataValidation(type="date", operator="between", formula1="40179", formula2="73050",
                                    allow_blank=True, error="Enter a date as dd/mm/yyyy", errorTitle="Date")
            elif kind.startswith("text"):
                limit = int(kind.split(":")[1])
                dv = DataValidation(type="textLength", operator="lessThanOrEqual", formula1=str(limit),
                                    allow_blank=True, error=f"At most {limit:,} characters", errorTitle="Text")
            else:
                raise ValueError(kind)
            dv.showErrorMessage = True
            dv.showInputMessage = kind.startswith("LIST_")
            ws.add_data_validation(dv)
            self.validations[key] = dv
        self.validations[key].add(coordinate)

    def label(self, ws, coordinate: str, text: str, *, bold: bool = False, wrap: bool = True) -> None:
        cell = ws[coordinate]
        cell.value = text
        cell.alignment = WRAP if wrap else Alignment(vertical="top")
        if bold:
            cell.font = BOLD

    def header(self, ws, row: int, first_col: int, titles: list[str]) -> None:
        for offset, title in enumerate(titles):
            cell = ws.cell(row, first_col + offset, title)
            cell.fill, cell.font, cell.border = HEADER, WHITE_BOLD, BOX
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")

    def section(self, ws, coordinate: str, text: str, last_col: str | None = None) -> None:
        cell = ws[coordinate]
        cell.value, cell.font, cell.fill = text, BOLD, SECTION
        if last_col:
            ws.merge_cells(f"{coordinate}:{last_col}{cell.row}")

    def prepop(self, ws, coordinate: str, name: str, number_format: str = "General", *,
               numeric: bool = False, merge_to: str | None = None) -> None:
        cell = ws[coordinate]
        cell.fill, cell.border, cell.number_format = GREY, BOX, number_format
        cell.alignment = Alignment(vertical="top", wrap_text=number_format == TEXT)
        if merge_to:
            ws.merge_cells(f"{coordinate}:{merge_to}")
        self.define(ws, coordinate, name)
        if numeric:
            self.validate(ws, coordinate, "number")

    def input(self, ws, coordinate: str, name: str, question: str, kind: str, *,
              required: bool = True, when: tuple[str, tuple[str, ...]] | None = None,
              merge_to: str | None = None) -> None:
        cell = ws[coordinate]
        cell.fill, cell.border, cell.protection = YELLOW, BOX, UNLOCKED
        cell.alignment = WRAP
        if kind == "date":
            cell.number_format = DATE_FORMAT
        if merge_to:
            ws.merge_cells(f"{coordinate}:{merge_to}")
        self.define(ws, coordinate, name)
        self.validate(ws, coordinate, kind)
        if required:
            when_name, when_values = when or ("", ())
            self.requirements.append(Requirement(ws.title, question, name, when_name, when_values))

    def protect(self, ws) -> None:
        ws.protection.sheet = True  # no password: a guard against accidents, not a lock
        ws.protection.formatColumns = False  # allow resizing columns and rows
        ws.protection.formatRows = False

    # -- sheets
    def guidance(self) -> None:
        ws = self.sheet("Guidance", {"A": 3, "B": 22, "C": 100})
        ws["B1"].value, ws["B1"].font = "Better Care Fund quarterly return: guidance", TITLE
        row = 3
        paragraphs = [
            ("What this is", "The quarterly Better Care Fund (BCF) return of a Health and Wellbeing Board (HWB), "
             "modelled on the national BCF quarterly reporting template 2017-19. The pipeline fills every "
             "figure from the warehouse; commissioners answer the questions in the yellow cells."),
            ("Colour key", "Yellow cells are for the commissioner to complete. Grey cells are pre-populated by "
             "the pipeline and locked (the sheets are protected without a password, to prevent accidental "
             "changes to computed figures). Metric assessments arrive pre-populated but are yellow: change "
             "them if your assessment differs."),
            ("", ""),
            ("How to complete", "Work through Cover, National Conditions, Metrics, HICM and Narrative. Choose "
             "answers from the dropdowns; dates as dd/mm/yyyy; free text up to 2,000 characters per cell "
             "(10,000 for the narrative)."),
            ("Checklist", "The Checklist sheet lists every required cell with a link to it and shows Yes (green) "
             "once it is answered, No (red) while it is not. Some cells are required only after a given "
             "answer: the sign-off date when the return is signed off; the commentary on a national "
             "condition when it is not met (No or No - In Progress), and its target date when it is "
             "No - In Progress; the justification for a High Impact Change rated Mature or Exemplary now."),
            ("Completion", f"The Cover shows '{COMPLETE}' only when every Checklist row is Yes, otherwise "
             f"'{INCOMPLETE}'. Only complete templates should be submitted."),
            ("Submission", "Once signed off by the HWB, send the workbook to the national BCF team by the "
             "published deadline. Do not rename sheets or delete cells: the pipeline and the national "
             "collection find every cell by its defined name."),
            ("Sheets", "Cover; Checklist; National Conditions; Metrics (national metrics, the local metric and "
             "the newer metrics); HICM (High Impact Change Model); Income and Expenditure; Place Dashboard "
             "(measures by locality, year-to-date target and RAG); Data Quality; Narrative; Provenance "
             "(how and from which deliveries this return was produced)."),
            ("Blank figures", "A figure the data could not support (incomplete data coverage, no plan) is left "
             "empty, never 0, and its assessment is 'Data not available to assess progress'."),
        ]
        for heading, text in paragraphs:
            if heading:
                self.label(ws, f"B{row}", heading, bold=True)
                self.label(ws, f"C{row}", text)
                ws.row_dimensions[row].height = max(15, 15 * (len(text) // 95 + 1))
            if heading == "Colour key":
                for offset, (fill, meaning) in enumerate(
                        [(YELLOW, "Commissioner input"), (GREY, "Pre-populated by the pipeline")], start=1):
                    key = ws.cell(row + offset, 2, "")
                    key.fill, key.border = fill, BOX
                    ws.cell(row + offset, 3, meaning)
                row += 2
            row += 1
        self.protect(ws)

    def cover(self) -> None:
        ws = self.sheet("Cover", {"A": 3, "B": 55, "C": 45, "D": 20})
        ws["B1"].value, ws["B1"].font = "Better Care Fund quarterly return", TITLE
        banner = ws["B3"]
        banner.value = (f'=IF({STATUS_NAME}="{COMPLETE}","{COMPLETE}: every required cell is answered",'
                        f'"{INCOMPLETE}: see the Checklist sheet for the cells still to answer")')
        banner.font = Font(bold=True, size=12)
        banner.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.merge_cells("B3:D3")
        ws.row_dimensions[3].height = 30
        ws.conditional_formatting.add("B3:D3", FormulaRule(formula=[f'{STATUS_NAME}="{COMPLETE}"'],
                                                           fill=GREEN, font=GREEN_FONT, stopIfTrue=True))
        ws.conditional_formatting.add("B3:D3", FormulaRule(formula=[f'{STATUS_NAME}<>"{COMPLETE}"'],
                                                           fill=RED, font=RED_FONT))
        rows = [
            ("Health and Wellbeing Board code", "HWB_CODE", "prepop", TEXT),
            ("Health and Wellbeing Board", "HWB_NAME", "prepop", TEXT),
            ("Reporting quarter", "REPORTING_QUARTER", "prepop", TEXT),
            ("Completed by", "COMPLETED_BY", f"text:{MAX_FIELD_TEXT}", None),
            ("E-mail", "EMAIL", f"text:{MAX_FIELD_TEXT}", None),
            ("Contact number", "PHONE", f"text:{MAX_FIELD_TEXT}", None),
            ("Has this return been signed off by the Health and Wellbeing Board?", "SIGNED_OFF", "LIST_YES_NO", None),
            ("Date of sign-off by the Health and Wellbeing Board (required when signed off)", "SIGN_OFF_DATE", "date", None),
            ("Population estimates used (mid-year)", "POPULATION_MID_YEAR", "prepop", "0"),
        ]
        row = 5
        for question, name, kind, number_format in rows:
            self.label(ws, f"B{row}", question)
            if kind == "prepop":
                self.prepop(ws, f"C{row}", name, number_format, numeric=number_format == "0")
            else:
                when = ("SIGNED_OFF", ("Yes",)) if name == "SIGN_OFF_DATE" else None
                self.input(ws, f"C{row}", name, question, kind, when=when)
            row += 1
        self.label(ws, f"B{row}", "Template status", bold=True)
        status = ws[f"C{row}"]
        status.border, status.font = BOX, BOLD
        self.define(ws, f"C{row}", STATUS_NAME)
        self.status_cell = status  # its formula needs the Checklist's extent
        ws.conditional_formatting.add(f"C{row}", CellIsRule(operator="equal", formula=[f'"{COMPLETE}"'],
                                                           fill=GREEN, font=GREEN_FONT))
        ws.conditional_formatting.add(f"C{row}", CellIsRule(operator="equal", formula=[f'"{INCOMPLETE}"'],
                                                           fill=RED, font=RED_FONT))
        self.label(ws, f"B{row + 2}", "Yellow cells are for you to complete; grey cells are filled by the "
                   "pipeline. See the Guidance sheet.")
        self.protect(ws)

    def national_conditions(self) -> None:
        ws = self.sheet("National Conditions", {"A": 5, "B": 60, "C": 22, "D": 60, "E": 20})
        ws["B1"].value, ws["B1"].font = "National conditions", TITLE
        self.label(ws, "B2", "Confirm whether each of the four 2017-19 national conditions, as set out in the "
                   "BCF policy framework and planning requirements, continues to be met.")
        ws.merge_cells("B2:E2")
        ws.row_dimensions[2].height = 30
        self.header(ws, 4, 1, ["#", "National condition", "Is the condition being met?",
                               "If No or No - In Progress: why not, and how it is being addressed",
                               "If No - In Progress: date by which it will be met"])
        for n, (short, text) in enumerate(NATIONAL_CONDITIONS, start=1):
            row = 4 + n
            ws.cell(row, 1, n).alignment = Alignment(vertical="top")
            self.label(ws, f"B{row}", text)
            ws.row_dimensions[row].height = 60
            self.input(ws, f"C{row}", f"NC{n}_MET", f"NC{n} {short}: is the condition being met?", "LIST_YES_NO_IN_PROGRESS")
            self.input(ws, f"D{row}", f"NC{n}_COMMENTARY", f"NC{n} {short}: why not met, and how it is being addressed",
                       f"text:{MAX_FIELD_TEXT}", when=(f"NC{n}_MET", ("No", "No - In Progress")))
            self.input(ws, f"E{row}", f"NC{n}_TARGET_DATE", f"NC{n} {short}: date by which it will be met",
                       "date", when=(f"NC{n}_MET", ("No - In Progress",)))
        self.protect(ws)

    def metrics(self) -> None:
        ws = self.sheet("Metrics", {"A": 3, "B": 62, "C": 70})
        ws["B1"].value, ws["B1"].font = "Metrics", TITLE
        self.label(ws, "B2", "Figures are computed by the pipeline from the delivered data (grey). Review the "
                   "assessment of progress against plan (pre-populated; change it if your assessment "
                   "differs) and complete the commentary (yellow).")
        ws.merge_cells("B2:C2")
        ws.row_dimensions[2].height = 30
        row = 4
        newer_done = False
        for metric_id, title, definition, figures, national in METRICS:
            if not national and not newer_done:
                self.section(ws, f"B{row}", "Newer metrics (for information: no plan, assessment or commentary)", "C")
                row += 2
                newer_done = True
            self.header(ws, row, 2, [f"{metric_id.lower()}: {title}", ""])
            ws.merge_cells(f"B{row}:C{row}")
            ws[f"B{row}"].alignment = Alignment(horizontal="left", vertical="center", wrap_text=True)
            row += 1
            self.label(ws, f"B{row}", definition)
            ws[f"B{row}"].font = Font(italic=True)
            ws.merge_cells(f"B{row}:C{row}")
            ws.row_dimensions[row].height = 45
            row += 1
            for suffix, label, number_format in figures:
                self.label(ws, f"B{row}", label)
                self.prepop(ws, f"C{row}", f"{metric_id}_{suffix}", number_format, numeric=number_format != TEXT)
                row += 1
            if national:
                short = metric_id.lower()
                self.label(ws, f"B{row}", "Assessment of progress against the plan", bold=True)
                self.input(ws, f"C{row}", f"{metric_id}_ASSESSMENT", f"{short}: assessment of progress",
                           "LIST_ASSESSMENT")
                row += 1
                for suffix, question in [
                    ("CHALLENGES", "Challenges: what is making the target hard to meet?"),
                    ("ACHIEVEMENTS", "Achievements in the quarter"),
                    ("SUPPORT_NEEDS", "Support needs: what support would help?"),
                ]:
                    self.label(ws, f"B{row}", question)
                    self.input(ws, f"C{row}", f"{metric_id}_{suffix}", f"{short}: {question.split(':')[0].lower()}",
                               f"text:{MAX_FIELD_TEXT}")
                    ws.row_dimensions[row].height = 45
                    row += 1
            row += 1
        self.protect(ws)

    def hicm(self) -> None:
        ws = self.sheet("HICM", {"A": 3, "B": 42, "C": 20, "D": 20, "E": 20, "F": 40, "G": 40, "H": 40, "I": 40})
        ws["B1"].value, ws["B1"].font = "High Impact Change Model for managing transfers of care", TITLE
        self.label(ws, "B2", "Rate the maturity of each change at the previous quarter, now, and as planned at the "
                   "end of the year. A rating of Mature or Exemplary now needs a justification.")
        ws.merge_cells("B2:I2")
        ws.row_dimensions[2].height = 30
        self.header(ws, 4, 2, ["Change", "Maturity at the previous quarter", "Maturity now",
                               "Planned maturity at year end", "If Mature or Exemplary now: justification",
                               "Challenges", "Milestones met during the quarter / observed impact", "Support needs"])
        ws.row_dimensions[4].height = 45
        for n, (key, title) in enumerate(HICM_CHANGES):
            row = 5 + n
            self.label(ws, f"B{row}", title)
            ws.row_dimensions[row].height = 45
            prefix = f"HICM_{key}"
            self.input(ws, f"C{row}", f"{prefix}_PREVIOUS", f"{title}: maturity at the previous quarter", "LIST_MATURITY")
            self.input(ws, f"D{row}", f"{prefix}_NOW", f"{title}: maturity now", "LIST_MATURITY")
            self.input(ws, f"E{row}", f"{prefix}_PLANNED_YEAR_END", f"{title}: planned maturity at year end", "LIST_MATURITY")
            self.input(ws, f"F{row}", f"{prefix}_JUSTIFICATION", f"{title}: justification (Mature or Exemplary)",
                       f"text:{MAX_FIELD_TEXT}", when=(f"{prefix}_NOW", ("Mature", "Exemplary")))
            self.input(ws, f"G{row}", f"{prefix}_CHALLENGES", f"{title}: challenges", f"text:{MAX_FIELD_TEXT}")
            self.input(ws, f"H{row}", f"{prefix}_MILESTONES", f"{title}: milestones / observed impact", f"text:{MAX_FIELD_TEXT}")
            self.input(ws, f"I{row}", f"{prefix}_SUPPORT_NEEDS", f"{title}: support needs", f"text:{MAX_FIELD_TEXT}")
        self.protect(ws)

    def income_and_expenditure(self) -> None:
        ws = self.sheet("Income and Expenditure", {"A": 3, "B": 40, "C": 26, "D": 26})
        ws["B1"].value, ws["B1"].font = "Income and expenditure of the pooled budget", TITLE
        self.label(ws, "B2", "From the pooled budget finance returns for the financial year of the reported "
                   "quarter. The year to date is empty when any quarter's actual is missing.")
        ws.merge_cells("B2:D2")
        ws.row_dimensions[2].height = 30
        money = "#,##0.00"
        self.header(ws, 4, 2, ["", "Planned for the year (£)", "Actual year to date (£)"])
        for row, (label, kind) in ((5, ("Income", "INCOME")), (6, ("Expenditure", "EXPENDITURE"))):
            self.label(ws, f"B{row}", label, bold=True)
            self.prepop(ws, f"C{row}", f"{kind}_PLAN_FY", money, numeric=True)
            self.prepop(ws, f"D{row}", f"{kind}_ACTUAL_YTD", money, numeric=True)
        self.header(ws, 8, 2, ["Planned income by funding source", "Planned for the year (£)"])
        for offset, (key, label) in enumerate(FUNDING_SOURCES):
            row = 9 + offset
            self.label(ws, f"B{row}", label)
            self.prepop(ws, f"C{row}", f"INCOME_PLAN_FY_{key}", money, numeric=True)
        self.protect(ws)

    def place_dashboard(self) -> None:
        slot_cols = [4 + 2 * k for k in range(LOCALITY_SLOTS)]  # D, F, H, ...
        all_col = 4 + 2 * LOCALITY_SLOTS
        widths = {"A": 20, "B": 44, "C": 11}
        for col in range(4, all_col + 4):
            widths[get_column_letter(col)] = 11
        ws = self.sheet("Place Dashboard", widths)
        ws["A1"].value, ws["A1"].font = "Place based progress dashboard", TITLE
        ws["A2"].value = '=HWB_NAME&"  "&REPORTING_QUARTER'
        ws["A2"].font = BOLD
        self.label(ws, "C4", "Locality code", bold=True, wrap=False)
        self.label(ws, "C5", "Locality", bold=True, wrap=False)
        for k, col in enumerate(slot_cols, start=1):
            left, right = get_column_letter(col), get_column_letter(col + 1)
            self.prepop(ws, f"{left}4", f"DASH_LOC{k}_CODE", TEXT, merge_to=f"{right}4")
            self.prepop(ws, f"{left}5", f"DASH_LOC{k}_NAME", TEXT, merge_to=f"{right}5")
            ws[f"{left}4"].alignment = ws[f"{left}5"].alignment = Alignment(horizontal="center", wrap_text=True)
        a, d = get_column_letter(all_col), get_column_letter(all_col + 3)
        for row, text in ((4, "ALL"), (5, "Whole HWB area")):
            cell = ws[f"{a}{row}"]
            cell.value, cell.font, cell.fill, cell.border = text, BOLD, GREY, BOX
            cell.alignment = Alignment(horizontal="center")
            ws.merge_cells(f"{a}{row}:{d}{row}")
        ws.row_dimensions[5].height = 30
        titles = ["Group", "Measure", "Frequency"] + ["Quarter", "YTD"] * LOCALITY_SLOTS + [
            "Quarter", "YTD", "YTD target", "RAG"]
        self.header(ws, 6, 1, titles)
        row = 7
        for group, measures in DASHBOARD:
            first = row
            for measure, label in measures:
                self.label(ws, f"B{row}", label)
                ws[f"C{row}"].value = "Monthly"
                for k, col in enumerate(slot_cols, start=1):
                    for offset, period in enumerate(("Q", "YTD")):
                        coordinate = f"{get_column_letter(col + offset)}{row}"
                        if measure in ALL_ONLY:
                            cell = ws[coordinate]
                            cell.value, cell.border = "n/a", BOX
                            cell.font = Font(italic=True, color="808080")
                            cell.alignment = Alignment(horizontal="center")
                        else:
                            self.prepop(ws, coordinate, f"DASH_{measure}_LOC{k}_{period}", COUNT, numeric=True)
                for offset, suffix in enumerate(("ALL_Q", "ALL_YTD", "ALL_TARGET_YTD")):
                    self.prepop(ws, f"{get_column_letter(all_col + offset)}{row}", f"DASH_{measure}_{suffix}",
                                COUNT, numeric=True)
                rag = f"{get_column_letter(all_col + 3)}{row}"
                self.prepop(ws, rag, f"DASH_{measure}_ALL_RAG", TEXT)
                ws[rag].alignment = Alignment(horizontal="center")
                row += 1
            ws.cell(first, 1, group).font = BOLD
            ws.cell(first, 1).alignment = WRAP
            if row - 1 > first:
                ws.merge_cells(start_row=first, start_column=1, end_row=row - 1, end_column=1)
        rag_range = f"{get_column_letter(all_col + 3)}7:{get_column_letter(all_col + 3)}{row - 1}"
        for value, fill, font in (("G", GREEN, GREEN_FONT), ("A", AMBER, AMBER_FONT), ("R", RED, RED_FONT)):
            ws.conditional_formatting.add(rag_range, CellIsRule(operator="equal", formula=[f'"{value}"'],
                                                                fill=fill, font=font))
        self.label(ws, f"B{row + 1}", "RAG on the year to date against the target: G at or below the target; "
                   "A up to 5% above it; R more than 5% above it; No Target where there is none. All measures "
                   "are counts of residents; lower is better. Delayed transfers of care are reported for the "
                   "whole HWB only.")
        ws.merge_cells(f"B{row + 1}:{get_column_letter(all_col + 3)}{row + 1}")
        ws.row_dimensions[row + 1].height = 30
        ws.freeze_panes = "D7"
        # The monthly XmR views: the pipeline writes each ALL measure's last 24 months into
        # DASH_XMR_TABLE (from fct_place_dashboard_monthly_xmr) and draws one line chart per measure
        # from those cells, stacked from DASH_XMR_CHARTS down (cb_pipeline/bcf_return/charts.py).
        self.section(ws, f"A{row + 3}", "Monthly statistical process control (XmR) view: last 24 months, whole HWB",
                     "B")
        self.label(ws, f"A{row + 4}", "Centre line = mean; limits = mean +/- 2.66 x mean moving range; a signal "
                   "is a month outside the limits or in a run of 7 or more on one side of the centre line. Data: "
                   "the table to the right (columns Y onwards).")
        ws.merge_cells(f"A{row + 4}:B{row + 4}")
        ws.row_dimensions[row + 4].height = 45
        self.define(ws, f"A{row + 5}", "DASH_XMR_CHARTS")
        xmr_col = all_col + 5  # Y: clear of the locality slots, whose unused columns are hidden
        for offset, width in enumerate((40, 10, 9, 10, 10, 10, 10, 30)):
            ws.column_dimensions[get_column_letter(xmr_col + offset)].width = width
        self.section(ws, f"{get_column_letter(xmr_col)}5", "XmR data (filled by the pipeline)",
                     get_column_letter(xmr_col + 7))
        self.table(ws, 6, xmr_col, "DASH_XMR_TABLE",
                   ["Measure", "Month", "Count", "Centre line", "Lower limit", "Upper limit", "Signal point", "Signal"],
                   [TEXT, TEXT, COUNT, "0.00", "0.00", "0.00", COUNT, TEXT])
        self.protect(ws)

    def table(self, ws, row: int, first_col: int, name: str, titles: list[str], formats: list[str]) -> None:
        """A variable-length table: named header, one styled empty row that fill_template copies."""
        self.header(ws, row, first_col, titles)
        self.define(ws, f"{get_column_letter(first_col)}{row}", name)
        for offset, number_format in enumerate(formats):
            cell = ws.cell(row + 1, first_col + offset)
            cell.fill, cell.border, cell.number_format = GREY, BOX, number_format

    def data_quality(self) -> None:
        ws = self.sheet("Data Quality", {"A": 3, "B": 40, "C": 14, "D": 14, "E": 14, "F": 14, "G": 16,
                                         "H": 4, "I": 12, "J": 12, "K": 12, "L": 12, "M": 12, "N": 12})
        ws["B1"].value, ws["B1"].font = "Data quality of the input feeds", TITLE
        self.label(ws, "B2", "All deliveries loaded so far, all HWBs. Every row that arrives is valid, "
                   "quarantined (fails a rule; never used) or superseded (replaced by a later delivery).")
        ws.merge_cells("B2:G2")
        ws.row_dimensions[2].height = 30
        self.header(ws, 4, 2, ["Feed", "Rows in", "Valid", "Quarantined", "Superseded", "Reconciles"])
        for offset, (key, label) in enumerate(DQ_FEEDS):
            row = 5 + offset
            self.label(ws, f"B{row}", label)
            for col, suffix in zip("CDEF", ("ROWS_IN", "VALID", "QUARANTINED", "SUPERSEDED")):
                self.prepop(ws, f"{col}{row}", f"DQ_{key}_{suffix}", COUNT, numeric=True)
            check = ws[f"G{row}"]
            check.value = f'=IF(LEN(C{row})=0,"",IF(C{row}=D{row}+E{row}+F{row},"Yes","No"))'
            check.border, check.alignment = BOX, Alignment(horizontal="center")
        self.section(ws, "B11", "Rows by rule (fatal rules quarantine, warnings flag)", "F")
        self.table(ws, 12, 2, "DQ_RULES_TABLE", ["Feed", "Rule", "Kind", "Rows"], [TEXT, TEXT, TEXT, COUNT])
        self.section(ws, "I11", "Valid rows by month (coverage)", "N")
        self.table(ws, 12, 9, "DQ_COVERAGE_TABLE", ["Month", "hes_apc", "hes_ae", "ambulance", "social_care", "dtoc"],
                   [TEXT] + [COUNT] * 5)
        for col, width in (("O", 4), ("P", 14), ("Q", 10), ("R", 12), ("S", 12), ("T", 13)):
            ws.column_dimensions[col].width = width
        self.section(ws, "P11", "Rows by month of their date: valid, with warnings, quarantined", "T")
        self.table(ws, 12, 16, "DQ_MONTHLY_TABLE", ["Feed", "Month", "Valid", "Warnings", "Quarantined"],
                   [TEXT, TEXT, COUNT, COUNT, COUNT])
        self.protect(ws)

    def narrative(self) -> None:
        ws = self.sheet("Narrative", {"A": 3, "B": 20, "C": 20, "D": 20, "E": 20, "F": 20, "G": 20})
        ws["B1"].value, ws["B1"].font = "Narrative", TITLE
        question = ("Progress against the local plan for integration of health and social care, and any "
                    "integration success story from the quarter (up to 10,000 characters).")
        self.label(ws, "B3", question)
        ws.merge_cells("B3:G3")
        ws.row_dimensions[3].height = 30
        self.input(ws, "B5", "NARRATIVE", "Narrative: progress against the local plan", f"text:{MAX_NARRATIVE}",
                   merge_to="G40")
        self.protect(ws)

    def provenance(self) -> None:
        ws = self.sheet("Provenance", {"A": 3, "B": 36, "C": 44, "D": 68, "E": 14, "F": 12})
        ws["B1"].value, ws["B1"].font = "Provenance", TITLE
        self.label(ws, "B2", "How this return was produced. The content fingerprint changes only when a "
                   "figure or answer changes.")
        ws.merge_cells("B2:D2")
        rows = [
            ("Pipeline version", "PIPELINE_VERSION", TEXT),
            ("Generated at (UTC)", "GENERATED_AT", "yyyy-mm-dd hh:mm:ss"),
            ("Run id", "RUN_ID", TEXT),
            ("Metric definitions version", "METRIC_DEFINITIONS_VERSION", TEXT),
            ("Content fingerprint (SHA-256)", "CONTENT_FINGERPRINT", TEXT),
        ]
        for offset, (label, name, number_format) in enumerate(rows):
            row = 4 + offset
            self.label(ws, f"B{row}", label)
            self.prepop(ws, f"C{row}", name, number_format, merge_to=f"D{row}")
        self.label(ws, "B9", "Population estimates used (mid-year)")
        ws["C9"].value = '=IF(LEN(POPULATION_MID_YEAR)=0,"",POPULATION_MID_YEAR)'
        ws["C9"].alignment = Alignment(horizontal="left")
        self.section(ws, "B11", "Input deliveries used", "F")
        self.table(ws, 12, 2, "PROVENANCE_DELIVERIES_TABLE", ["Feed", "Delivery file", "SHA-256", "Status", "Rows in"],
                   [TEXT, TEXT, TEXT, TEXT, COUNT])
        self.protect(ws)

    def lists(self) -> None:
        ws = self.sheet("Lists", {"A": 20, "B": 24, "C": 24, "D": 40})
        for col, (name, (title, values)) in enumerate(LISTS.items(), start=1):
            ws.cell(1, col, title).font = BOLD
            for row, value in enumerate(values, start=2):
                ws.cell(row, col, value)
            letter = get_column_letter(col)
            ref = f"{quote_sheetname(ws.title)}!${letter}$2:${letter}${len(values) + 1}"
            self.wb.defined_names[name] = DefinedName(name, attr_text=ref)
        ws.sheet_state = "hidden"
        self.protect(ws)

    def checklist(self, ws) -> None:
        """Filled last: one row per required cell, per-sheet completion, and TEMPLATE_STATUS."""
        ws["A1"].value, ws["A1"].font = "Checklist", TITLE
        self.label(ws, "A2", "Every required cell, with a link to it. Yes (green) = answered, No (red) = still to "
                   "answer. Some cells are required only after a given answer (last two columns).")
        ws.merge_cells("A2:G2")
        ws.row_dimensions[2].height = 30
        sheets = list(dict.fromkeys(r.sheet for r in self.requirements))
        summary_row = 4
        table_row = summary_row + len(sheets) + 3
        first, last = table_row + 1, table_row + len(self.requirements)
        status_range = f"$D${first}:$D${last}"
        name_range = f"$E${first}:$E${last}"
        self.header(ws, summary_row, 1, ["Sheet", "Complete?", "Answered"])
        overall = summary_row + len(sheets) + 1
        row = first
        spans: dict[str, tuple[int, int]] = {}
        for r in self.requirements:
            start, _ = spans.get(r.sheet, (row, row))
            spans[r.sheet] = (start, row)
            row += 1
        for offset, sheet in enumerate(sheets, start=1):
            start, end = spans[sheet]
            r = summary_row + offset
            ws.cell(r, 1, sheet).border = BOX
            ws.cell(r, 2, f'=IF(COUNTIF($D${start}:$D${end},"Yes")=COUNTA($E${start}:$E${end}),"Yes","No")').border = BOX
            ws.cell(r, 3, f'=COUNTIF($D${start}:$D${end},"Yes")&" of "&COUNTA($E${start}:$E${end})').border = BOX
        ws.cell(overall, 1, "Overall").font = BOLD
        ws.cell(overall, 2, f"={STATUS_NAME}").font = BOLD
        ws.cell(overall, 3, f'=COUNTIF({status_range},"Yes")&" of "&COUNTA({name_range})')

        self.header(ws, table_row, 1, ["Sheet", "Question", "Go to", "Complete?", CHECKLIST_COLUMNS["name"],
                                       CHECKLIST_COLUMNS["when_name"], CHECKLIST_COLUMNS["when_values"]])
        self.define(ws, f"A{table_row}", CHECKLIST_TABLE)
        for row, r in enumerate(self.requirements, start=first):
            ws.cell(row, 1, r.sheet)
            ws.cell(row, 2, r.question).alignment = WRAP
            link = ws.cell(row, 3, f'=HYPERLINK("#{r.name}","Go to cell")')
            link.font = Font(color="0563C1", underline="single")
            if r.when_name:
                trigger = "+".join(f'({r.when_name}="{v}")' for v in r.when_values)
                formula = f'=IF(AND(({trigger})>0,LEN({r.name})=0),"No","Yes")'
            else:
                formula = f'=IF(LEN({r.name})>0,"Yes","No")'
            ws.cell(row, 4, formula).alignment = Alignment(horizontal="center")
            ws.cell(row, 5, r.name)
            ws.cell(row, 6, r.when_name or None)
            ws.cell(row, 7, CHECKLIST_VALUE_SEPARATOR.join(r.when_values) or None)
            for col in range(1, 8):
                ws.cell(row, col).border = BOX
            for col in (5, 6, 7):
                ws.cell(row, col).font = Font(size=9, color="595959")
        yes_no = [f"B{summary_row + 1}:B{overall}", f"D{first}:D{last}"]
        for ref in yes_no:
            ws.conditional_formatting.add(ref, CellIsRule(operator="equal", formula=['"Yes"'], fill=GREEN, font=GREEN_FONT))
            ws.conditional_formatting.add(ref, CellIsRule(operator="equal", formula=['"No"'], fill=RED, font=RED_FONT))
        ws.conditional_formatting.add(f"B{overall}", CellIsRule(operator="equal", formula=[f'"{COMPLETE}"'],
                                                              fill=GREEN, font=GREEN_FONT))
        ws.conditional_formatting.add(f"B{overall}", CellIsRule(operator="equal", formula=[f'"{INCOMPLETE}"'],
                                                              fill=RED, font=RED_FONT))
        ws.freeze_panes = f"A{table_row + 1}"
        self.status_cell.value = (f'=IF(COUNTIF(Checklist!{status_range},"Yes")=COUNTA(Checklist!{name_range}),'
                                  f'"{COMPLETE}","{INCOMPLETE}")')
        self.protect(ws)

    def build(self) -> Workbook:
        self.guidance()
        self.cover()
        checklist = self.sheet("Checklist", {"A": 22, "B": 60, "C": 11, "D": 11, "E": 40, "F": 32, "G": 26})
        self.national_conditions()
        self.metrics()
        self.hicm()
        self.income_and_expenditure()
        self.place_dashboard()
        self.data_quality()
        self.narrative()
        self.provenance()
        self.lists()
        self.checklist(checklist)
        self.wb.active = 1  # open on the Cover
        self.wb.calculation.fullCalcOnLoad = True
        return self.wb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    wb = TemplateBuilder().build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(args.out)
    print(f"wrote {args.out} ({len(wb.defined_names)} defined names)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
