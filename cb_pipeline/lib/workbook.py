"""The quarterly return workbook: filling the template and writing the return file.

Belongs here: finding template cells through workbook-scoped defined names (never addresses),
writing values and variable-length tables into them, the locality slots of the Place Dashboard,
the content fingerprint, the Python twin of the Checklist formulas (`template_status`), the atomic
write under `<returns dir>/<hwb>/<YYYY-YY>/Q<n>/` with its supersede rule, and the LibreOffice
recalculation helper used by tests.
Does not belong here: metric logic or which figure goes in which name (the SQL models produce
`rpt_bcf_return__cells`), the template layout (that is `templates/bcf_quarterly_return.xlsx`,
bootstrapped by `tools/build_template.py` and owned by analysts afterwards).

Template conventions this module relies on (see `templates/README.md`):
- every workbook-scoped defined name points at exactly one cell, except the dropdown lists,
  whose names start with `LIST_`;
- a name ending in `_TABLE` is the first header cell of a variable-length table: the header is
  the contiguous non-empty cells to its right, rows are written from the row below, and the
  row below the header in the template gives the rows their style;
- the Place Dashboard has locality slots `DASH_LOC<k>_CODE`, `DASH_LOC<k>_NAME` and
  `DASH_<MEASURE>_LOC<k>_Q` / `_YTD`;
- the Checklist table (`CHECKLIST_TABLE`) has the columns named in `CHECKLIST_COLUMNS`, from which
  `template_status` reads which cells are required and when.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from copy import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils.cell import (
    absolute_coordinate,
    column_index_from_string,
    coordinate_from_string,
    get_column_letter,
    quote_sheetname,
)
from openpyxl.workbook.defined_name import DefinedName

LIST_NAME_PREFIX = "LIST_"
TABLE_NAME_SUFFIX = "_TABLE"
# Names whose values change on every run without changing the return's content.
VOLATILE_NAMES = frozenset({"GENERATED_AT", "RUN_ID", "CONTENT_FINGERPRINT"})
FINGERPRINT_NAME = "CONTENT_FINGERPRINT"
STATUS_NAME = "TEMPLATE_STATUS"
COMPLETE, INCOMPLETE = "Complete Template", "Incomplete Template"

# Place Dashboard: measures shown per locality (DTOC is ALL only).
LOCALITY_MEASURES = ("AE_ATT", "ED_RESP_0_4", "NEL", "NEL_RESP_0_4", "READM30", "CH_CALLOUT", "CH_CONVEY", "CH_ADMIT")
ALL_ONLY_MEASURES = ("DTOC",)
LOCALITY_SLOTS = 8
_SLOT_NAME = re.compile(r"^DASH_(?:LOC(\d+)_(?:CODE|NAME)|[A-Z0-9_]+_LOC(\d+)_(?:Q|YTD))$")
_LOCALITY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")

# The Checklist table: header texts of the columns template_status reads.
CHECKLIST_TABLE = "CHECKLIST_TABLE"
CHECKLIST_COLUMNS = {
    "name": "Cell name",
    "when_name": "Required when cell",
    "when_values": "has one of the values",
}
CHECKLIST_VALUE_SEPARATOR = "|"

RETURN_ACTIONS = ("written", "unchanged", "superseded_previous")
_FY_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
_HWB_CODE = re.compile(r"^[A-Za-z0-9]+$")
_EXCEL_MAX_TEXT = 32767
_FORMULA_LEADERS = ("=", "+", "-", "@")


class TemplateError(ValueError):
    """The template (or a filled workbook) breaks one of the conventions above."""


class UnknownNamesError(TemplateError):
    """`values` or `tables` name cells the template does not have."""

    def __init__(self, names: Sequence[str], hint: str = ""):
        self.names = sorted(names)
        message = f"{len(self.names)} name(s) not defined in the template: {', '.join(self.names)}"
        super().__init__(message + (f" ({hint})" if hint else ""))


class LibreOfficeError(RuntimeError):
    """LibreOffice is missing or failed to convert a file."""


@dataclass(frozen=True)
class ReturnWriteResult:
    path: Path
    sha256: str
    action: str  # one of RETURN_ACTIONS
    superseded_path: Path | None = None


@dataclass(frozen=True)
class _Target:
    name: str  # as spelled in the workbook
    sheet: str
    coordinate: str  # e.g. "C5", no $


# --------------------------------------------------------------------------- defined names


def _cell_names(wb: openpyxl.Workbook) -> dict[str, _Target]:
    """Workbook-scoped single-cell names, keyed by upper-cased name (Excel names ignore case)."""
    targets: dict[str, _Target] = {}
    problems: list[str] = []
    for name, defn in wb.defined_names.items():
        if name.startswith("_xlnm.") or name.upper().startswith(LIST_NAME_PREFIX):
            continue
        try:
            destinations = list(defn.destinations) if defn.type == "RANGE" else []
        except Exception:  # an unparseable reference
            destinations = []
        if len(destinations) != 1:
            problems.append(f"{name} -> {defn.attr_text!r} (not a single cell reference)")
            continue
        sheet, ref = destinations[0]
        ref = ref.replace("$", "")
        if ":" in ref:
            first, last = ref.split(":", 1)
            if first != last:
                problems.append(f"{name} -> {defn.attr_text!r} (points at {ref}, more than one cell)")
                continue
            ref = first
        if sheet not in wb.sheetnames:
            problems.append(f"{name} -> {defn.attr_text!r} (no sheet {sheet!r})")
            continue
        targets[name.upper()] = _Target(name, sheet, ref)
    if problems:
        raise TemplateError(
            "every defined name except the LIST_ dropdown lists must point at exactly one cell: "
            + "; ".join(problems)
        )
    return targets


def template_defined_names(template_path: str | os.PathLike) -> dict[str, tuple[str, str]]:
    """Every single-cell defined name of the template: {name: (sheet title, coordinate like 'C5')}.

    Dropdown list names (`LIST_*`, ranges on the hidden Lists sheet) are left out; any other name
    that points at more than one cell, or at nothing, raises TemplateError naming it.
    """
    wb = openpyxl.load_workbook(template_path)
    return {t.name: (t.sheet, t.coordinate) for t in _cell_names(wb).values()}


def _cell(wb: openpyxl.Workbook, target: _Target):
    return wb[target.sheet][target.coordinate]


def read_defined_values(path: str | os.PathLike, *, formulas: bool = False) -> dict[str, object]:
    """{name: value} for every single-cell defined name of a saved workbook.

    By default formula cells give their cached result (None in a file openpyxl wrote, the computed
    value in a file Excel or LibreOffice saved); `formulas=True` gives formula text instead.
    """
    wb = openpyxl.load_workbook(path, data_only=not formulas)
    return {t.name: _cell(wb, t).value for t in _cell_names(wb).values()}


# --------------------------------------------------------------------------- values


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and value == "":
        return True
    # pandas.NA / pandas.NaT / numpy.nan without importing pandas here.
    return type(value).__name__ in ("NAType", "NaTType")


def _plain(value: object, where: str) -> object:
    """The Python value to store: None for missing, numbers, bools, dates, or str."""
    if _is_missing(value):
        return None
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()  # numpy scalar -> Python scalar
        if _is_missing(value):
            return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, decimal.Decimal)):
        return value
    if isinstance(value, float):
        if math.isinf(value):
            raise ValueError(f"{where}: infinite number {value!r} cannot go in a workbook")
        return value
    if isinstance(value, dt.datetime):
        if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
            value = value.to_pydatetime()
        if value.tzinfo is not None:  # Excel has no time zones: store UTC
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, (dt.date, dt.time)):
        return value
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters Excel cannot store
        if len(value) > _EXCEL_MAX_TEXT:
            raise ValueError(f"{where}: text of {len(value)} characters exceeds Excel's {_EXCEL_MAX_TEXT}")
        return value if value else None
    raise TypeError(f"{where}: cannot write a {type(value).__name__} ({value!r}) into a cell")


def _write(cell, value: object, where: str) -> None:
    value = _plain(value, where)
    if value is None:
        cell.value = None
        return
    cell.value = value
    if isinstance(value, str):
        # Always text: openpyxl would turn "=..." into a formula; the quote prefix also keeps
        # Excel and LibreOffice from reading "=", "+", "-", "@" as the start of a formula when
        # the cell is edited.
        cell.data_type = "s"
        if value.startswith(_FORMULA_LEADERS):
            cell.quotePrefix = True


def _canonical(value: object) -> object:
    value = _plain(value, "fingerprint")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # 5 and 5.0 fill the same cell
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return {"time": value.isoformat()}


def content_fingerprint(
    values: Mapping[str, object],
    tables: Mapping[str, Sequence[Sequence[object]]] = {},
    localities: Sequence[tuple[str, str]] = (),
) -> str:
    """SHA-256 (hex) of a canonical JSON of what the return says.

    Leaves out the volatile names (GENERATED_AT, RUN_ID, CONTENT_FINGERPRINT), so re-rendering
    the same figures gives the same fingerprint. Missing values (None, "", NaN) are all null;
    5 and 5.0 are the same; dates are tagged so that a date and its ISO text differ.
    """
    payload: dict[str, object] = {
        "values": {k: _canonical(v) for k, v in values.items() if k.upper() not in VOLATILE_NAMES},
        "tables": {k: [[_canonical(c) for c in row] for row in rows] for k, rows in tables.items()},
    }
    if localities:
        payload["localities"] = [[code, name] for code, name in localities]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- locality slots


def _merged_extent(ws, coordinate: str) -> tuple[int, int, int, int]:
    """(min_col, min_row, max_col, max_row) of the cell, or of the merged range it starts."""
    for merged in ws.merged_cells.ranges:
        if merged.coord.split(":")[0] == coordinate:
            return merged.min_col, merged.min_row, merged.max_col, merged.max_row
    col, row = coordinate_from_string(coordinate)
    index = column_index_from_string(col)
    return index, row, index, row


def _hide_column(ws, index: int) -> None:
    # An Excel-saved template groups equal columns in one <col min max>; split any group that
    # covers this column so that hiding it does not write overlapping <col> elements.
    for key, dim in list(ws.column_dimensions.items()):
        if dim.min and dim.max and dim.min <= index <= dim.max and dim.min != dim.max:
            del ws.column_dimensions[key]
            for i in range(dim.min, dim.max + 1):
                letter = get_column_letter(i)
                piece = copy(dim)
                piece.index, piece.min, piece.max = letter, i, i
                ws.column_dimensions[letter] = piece
    ws.column_dimensions[get_column_letter(index)].hidden = True


def _hide_slot(wb, targets: dict[str, _Target], slot_keys: list[str]) -> bool:
    """Hide the columns (or, for a transposed layout, rows) holding only this slot's cells."""
    slot_targets = [targets[k] for k in slot_keys]
    hidden_any = False
    for sheet in {t.sheet for t in slot_targets}:
        ws = wb[sheet]
        cols: set[int] = set()
        rows: set[int] = set()
        for t in slot_targets:
            if t.sheet == sheet:
                c1, r1, c2, r2 = _merged_extent(ws, t.coordinate)
                cols.update(range(c1, c2 + 1))
                rows.update(range(r1, r2 + 1))
        other_cols: set[int] = set()
        other_rows: set[int] = set()
        for key, t in targets.items():
            if t.sheet == sheet and key not in slot_keys:
                c1, r1, c2, r2 = _merged_extent(ws, t.coordinate)
                other_cols.update(range(c1, c2 + 1))
                other_rows.update(range(r1, r2 + 1))
        if not cols & other_cols:
            for index in sorted(cols):
                _hide_column(ws, index)
            hidden_any = True
        elif not rows & other_rows:
            for index in sorted(rows):
                ws.row_dimensions[index].hidden = True
            hidden_any = True
    return hidden_any


def _slots(targets: dict[str, _Target]) -> dict[int, list[str]]:
    slots: dict[int, list[str]] = {}
    for key in targets:
        match = _SLOT_NAME.match(key)
        if match:
            slots.setdefault(int(match[1] or match[2]), []).append(key)
    return slots


def _apply_localities(wb, targets: dict[str, _Target], localities: Sequence[tuple[str, str]]) -> None:
    slots = _slots(targets)
    if len(localities) > len(slots):
        raise TemplateError(f"{len(localities)} localities but the template has only {len(slots)} dashboard slots")
    codes = [code for code, _ in localities]
    bad = [c for c in codes if not isinstance(c, str) or not _LOCALITY_CODE.match(c) or c.upper() == "ALL"]
    if bad:
        raise ValueError(f"locality codes must be letters, digits, '_' or '.' and not ALL: {bad!r}")
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValueError(f"locality codes repeated: {duplicates!r}")

    for k in sorted(slots):
        position = k - 1
        if position < len(localities):
            code, name = localities[position]
            for suffix, value in (("CODE", code), ("NAME", name)):
                key = f"DASH_LOC{k}_{suffix}"
                if key in targets:
                    _write(_cell(wb, targets[key]), value, key)
            for key in slots[k]:
                match = re.match(rf"^DASH_([A-Z0-9_]+)_LOC{k}_(Q|YTD)$", key)
                if not match:
                    continue
                alias = f"DASH_{match[1]}_{code}_{match[2]}"
                slot = targets[key]
                existing = targets.get(alias.upper())
                if existing is not None:
                    if (existing.sheet, existing.coordinate) != (slot.sheet, slot.coordinate):
                        raise TemplateError(f"{alias} already names another cell than {key}")
                    continue
                ref = f"{quote_sheetname(slot.sheet)}!{absolute_coordinate(slot.coordinate)}"
                wb.defined_names[alias] = DefinedName(alias, attr_text=ref)
                targets[alias.upper()] = _Target(alias, slot.sheet, slot.coordinate)
        else:
            for key in slots[k]:
                _cell(wb, targets[key]).value = None
            _hide_slot(wb, targets, slots[k])


# --------------------------------------------------------------------------- tables


def _write_table(wb, targets: dict[str, _Target], name: str, rows: Sequence[Sequence[object]]) -> None:
    header = targets[name.upper()]
    ws = wb[header.sheet]
    col, row = coordinate_from_string(header.coordinate)
    first_col = column_index_from_string(col)
    width = 0
    while ws.cell(row, first_col + width).value not in (None, ""):
        width += 1
    if width == 0:
        raise TemplateError(f"{name} points at an empty cell: it must be the first cell of the table's header")
    style_row = [ws.cell(row + 1, first_col + i) for i in range(width)]
    styles = [(c._style, c.number_format) for c in style_row]
    last_row = row + len(rows)
    for other in targets.values():
        if other.sheet == header.sheet and other.name.upper() != name.upper():
            c, r = coordinate_from_string(other.coordinate)
            if row < r <= last_row and first_col <= column_index_from_string(c) < first_col + width:
                raise TemplateError(f"{name}: {len(rows)} rows would overwrite {other.name} at {other.coordinate}")
    for i, values in enumerate(rows, start=1):
        if isinstance(values, (str, bytes)) or len(values) > width:
            raise ValueError(f"{name} row {i}: {values!r} does not fit the {width} header columns")
        for j in range(width):
            cell = ws.cell(row + i, first_col + j)
            cell._style = copy(styles[j][0])
            _write(cell, values[j] if j < len(values) else None, f"{name} row {i}")


# --------------------------------------------------------------------------- fill


def fill_template(
    template_path: str | os.PathLike,
    values: Mapping[str, object],
    tables: Mapping[str, Sequence[Sequence[object]]] = {},
    localities: Sequence[tuple[str, str]] = (),
) -> openpyxl.Workbook:
    """Open the template and fill it through its defined names; returns the workbook (unsaved).

    - `localities`: [(code, name)] of the HWB in order. Slot k of the Place Dashboard gets the
      k-th code and name, and the names `DASH_<M>_<code>_Q` / `_YTD` are added for its cells;
      unused slots are emptied and their columns (or rows) hidden.
    - `values`: {defined name: value}. None (also "", NaN) empties the cell, never 0; numbers
      stay numbers, dates dates; str is always text, even "=SUM(A1)". Names of formula cells
      (TEMPLATE_STATUS) and CONTENT_FINGERPRINT are refused; unknown names raise
      UnknownNamesError listing them all.
    - `tables`: {`*_TABLE` name: rows}, written from the row below the named header cell.
    CONTENT_FINGERPRINT gets `content_fingerprint(values, tables, localities)`.
    """
    wb = openpyxl.load_workbook(template_path)
    targets = _cell_names(wb)
    if FINGERPRINT_NAME not in targets:
        raise TemplateError(f"the template has no {FINGERPRINT_NAME} cell")
    _apply_localities(wb, targets, localities)

    unknown = [k for k in values if k.upper() not in targets]
    unknown += [k for k in tables if k.upper() not in targets or not k.upper().endswith(TABLE_NAME_SUFFIX)]
    if unknown:
        hint = ""
        if any(k.upper().startswith("DASH_") for k in unknown):
            hint = "dashboard names for a locality need its code in `localities`"
        raise UnknownNamesError(unknown, hint)
    if any(k.upper() == FINGERPRINT_NAME for k in values):
        raise TemplateError(f"{FINGERPRINT_NAME} is computed by fill_template; leave it out of values")

    formula_cells = [k for k in values if _cell(wb, targets[k.upper()]).data_type == "f"]
    if formula_cells:
        raise TemplateError(f"these names hold formulas the workbook computes and cannot be filled: {sorted(formula_cells)}")

    for key, value in values.items():
        _write(_cell(wb, targets[key.upper()]), value, key)
    for key, rows in tables.items():
        _write_table(wb, targets, key, rows)
    _write(_cell(wb, targets[FINGERPRINT_NAME]), content_fingerprint(values, tables, localities), FINGERPRINT_NAME)
    wb.calculation.fullCalcOnLoad = True  # the Checklist and TEMPLATE_STATUS compute on open
    return wb


# --------------------------------------------------------------------------- checklist


def template_status(workbook: openpyxl.Workbook) -> tuple[bool, list[str]]:
    """(complete, names of required cells still empty): the Checklist's formulas, in Python.

    Reads the rules from the workbook's own Checklist table (`CHECKLIST_TABLE`): each row names a
    required cell and, optionally, the cell and values that make it required. A cell is answered
    when it is not empty (LEN > 0 in the workbook); values compare case-insensitively, as Excel does.
    """
    targets = _cell_names(workbook)
    if CHECKLIST_TABLE not in targets:
        raise TemplateError(f"the workbook has no {CHECKLIST_TABLE}")
    header = targets[CHECKLIST_TABLE]
    ws = workbook[header.sheet]
    col, header_row = coordinate_from_string(header.coordinate)
    columns: dict[str, int] = {}
    for index in range(column_index_from_string(col), ws.max_column + 1):
        text = ws.cell(header_row, index).value
        for key, title in CHECKLIST_COLUMNS.items():
            if isinstance(text, str) and text.strip() == title:
                columns[key] = index
    absent = [CHECKLIST_COLUMNS[k] for k in CHECKLIST_COLUMNS if k not in columns]
    if absent:
        raise TemplateError(f"the Checklist table has no column(s) {absent}")

    def value_of(name: str) -> object:
        target = targets.get(name.upper())
        if target is None:
            raise TemplateError(f"the Checklist refers to {name}, which is not a defined name")
        return _cell(workbook, target).value

    missing: list[str] = []
    for row in range(header_row + 1, ws.max_row + 1):
        name = ws.cell(row, columns["name"]).value
        if not isinstance(name, str) or not name.strip():
            continue
        name = name.strip()
        when_name = ws.cell(row, columns["when_name"]).value
        if isinstance(when_name, str) and when_name.strip():
            when_values = str(ws.cell(row, columns["when_values"]).value or "")
            wanted = {v.strip().casefold() for v in when_values.split(CHECKLIST_VALUE_SEPARATOR) if v.strip()}
            trigger = value_of(when_name.strip())
            if not (isinstance(trigger, str) and trigger.casefold() in wanted):
                continue
        value = value_of(name)
        if value is None or (isinstance(value, str) and len(value) == 0):
            missing.append(name)
    return (not missing, missing)


# --------------------------------------------------------------------------- writing the return


def return_path(returns_dir: str | os.PathLike, hwb_code: str, fy_label: str, quarter_number: int) -> Path:
    """`<returns_dir>/<hwb_code>/<YYYY-YY>/Q<n>/BCF_<hwb_code>_<YYYY-YY>_Q<n>.xlsx`."""
    if not isinstance(hwb_code, str) or not _HWB_CODE.match(hwb_code):
        raise ValueError(f"hwb_code {hwb_code!r} must be letters and digits (e.g. E06000056)")
    match = _FY_LABEL.match(fy_label) if isinstance(fy_label, str) else None
    if not match or (int(match[1]) + 1) % 100 != int(match[2]):
        raise ValueError(f"fy_label {fy_label!r} must be a financial year such as 2018-19")
    if quarter_number not in (1, 2, 3, 4) or isinstance(quarter_number, bool):
        raise ValueError(f"quarter_number {quarter_number!r} must be 1, 2, 3 or 4")
    name = f"BCF_{hwb_code}_{fy_label}_Q{quarter_number}.xlsx"
    return Path(returns_dir) / hwb_code / fy_label / f"Q{quarter_number}" / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _existing_fingerprint(path: Path) -> str | None:
    try:
        value = read_defined_values(path).get(FINGERPRINT_NAME)
    except Exception:  # unreadable or not a return: treat as different content
        return None
    return value if isinstance(value, str) else None


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_return(
    workbook: openpyxl.Workbook,
    returns_dir: str | os.PathLike,
    hwb_code: str,
    fy_label: str,
    quarter_number: int,
    fingerprint: str,
) -> ReturnWriteResult:
    """Save the return atomically at `return_path(...)`.

    Same CONTENT_FINGERPRINT as the file already there: nothing is written (`unchanged`). A
    different file already there: it goes to `superseded/<UTC timestamp>_<name>` beside it and the
    new file takes its place in one rename (`superseded_previous`). Else `written`.
    """
    path = return_path(returns_dir, hwb_code, fy_label, quarter_number)
    targets = _cell_names(workbook)
    if FINGERPRINT_NAME not in targets:
        raise TemplateError(f"the workbook has no {FINGERPRINT_NAME} cell")
    in_workbook = _cell(workbook, targets[FINGERPRINT_NAME]).value
    if in_workbook != fingerprint:
        raise ValueError(f"fingerprint {fingerprint!r} differs from the workbook's {FINGERPRINT_NAME} {in_workbook!r}")

    if path.exists() and _existing_fingerprint(path) == fingerprint:
        return ReturnWriteResult(path, _sha256(path), "unchanged")

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            workbook.save(fh)
            fh.flush()
            os.fsync(fh.fileno())
        sha = _sha256(tmp)
        superseded: Path | None = None
        if path.exists():
            superseded_dir = path.parent / "superseded"
            superseded_dir.mkdir(exist_ok=True)
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            superseded = superseded_dir / f"{stamp}_{path.name}"
            n = 1
            while superseded.exists():
                superseded = superseded_dir / f"{stamp}-{n}_{path.name}"
                n += 1
            # Link (or copy) the old file aside, then replace it in one rename, so the return's
            # path never goes missing; the end state is the old file moved to superseded/.
            try:
                os.link(path, superseded)
            except OSError:
                shutil.copy2(path, superseded)
            _fsync_dir(superseded_dir)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    action = "superseded_previous" if superseded else "written"
    return ReturnWriteResult(path, sha, action, superseded)


# --------------------------------------------------------------------------- LibreOffice


def libreoffice_executable() -> str | None:
    """Path of `soffice` (or `libreoffice`) if installed, else None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


# Always recalculate formulas when loading xlsx/ods, whatever the file says.
_LO_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def recalculate_with_libreoffice(path: str | os.PathLike, out_dir: str | os.PathLike, *, timeout: float = 180) -> Path:
    """Open `path` in headless LibreOffice, recalculate every formula, save it as xlsx in `out_dir`.

    Uses a throw-away user profile (so it runs beside a desktop LibreOffice and in CI) set to
    recalculate on load. Returns the converted file; raises LibreOfficeError when soffice is
    missing, fails, or produces nothing.
    """
    soffice = libreoffice_executable()
    if soffice is None:
        raise LibreOfficeError("LibreOffice (soffice) is not installed or not on PATH")
    source = Path(path).resolve()
    out = Path(out_dir).resolve()
    if out == source.parent:
        raise ValueError("out_dir must differ from the source file's folder (the output keeps its name)")
    out.mkdir(parents=True, exist_ok=True)
    target = out / (source.stem + ".xlsx")
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="cb_lo_profile_") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_LO_PROFILE_SETTINGS, encoding="utf-8")
        command = [
            soffice,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            "--convert-to", "xlsx:Calc MS Excel 2007 XML",
            "--outdir", str(out), str(source),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise LibreOfficeError(f"LibreOffice did not finish converting {source.name} in {timeout}s") from exc
    if done.returncode != 0 or not target.exists() or "Error" in done.stderr:
        raise LibreOfficeError(
            f"LibreOffice failed to convert {source.name} (exit {done.returncode}): "
            f"{done.stdout.strip()} {done.stderr.strip()}".strip()
        )
    return target
