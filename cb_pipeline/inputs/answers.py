"""Parse one commissioner answers file strictly, and turn its answers into defined-name values.

Belongs here: the shape of the answers YAML of feeds.md (keys, types, allowed values, lengths,
conditional requirements), the error messages (file, field path, allowed values), and the
answer -> defined name mapping of templates/README.md. Does not: read the warehouse, fill the
workbook, or judge completeness (a field left out is not an error: its cell stays empty and the
template's Checklist marks the return incomplete).

The file is untrusted input. It is read with a SafeLoader subclass (no Python objects, like
yaml.safe_load) that also refuses duplicate keys (PyYAML would silently keep the last) and
anchors/aliases (a few lines of aliases can expand to gigabytes), after a size check.
Every problem in the file is collected, so one message lists them all.
"""

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

MAX_FILE_BYTES = 1 << 20
MAX_TEXT = 2_000
MAX_NARRATIVE = 10_000

YES_NO = ("Yes", "No")
YES_NO_IN_PROGRESS = ("Yes", "No", "No - In Progress")
MATURITY = ("Not yet established", "Plans in place", "Established", "Mature", "Exemplary")
NEEDS_JUSTIFICATION = ("Mature", "Exemplary")
NATIONAL_CONDITIONS = ("nc1", "nc2", "nc3", "nc4")
HICM_CHANGES = ("early_discharge_planning", "systems_to_monitor_patient_flow", "multi_disciplinary_discharge_teams",
                "home_first_discharge_to_assess", "seven_day_service", "trusted_assessors", "focus_on_choice",
                "enhancing_health_in_care_homes")
# The metrics whose commentary the return's Metrics sheet asks for (return.md: the national and local metrics).
COMMENTARY_METRICS = ("nea", "res65", "reab", "dtoc", "falls65")
METRIC_FIELDS = ("challenges", "achievements", "support_needs")
HICM_TEXT_FIELDS = ("justification", "challenges", "milestones", "support_needs")
_FILE_NAME = re.compile(r"^(\d{4})-(\d{2})-Q([1-4])\.yaml$")


class InputsError(ValueError):
    """An answers file that cannot be used: names the file and lists every problem."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = Path(path), problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid commissioner answers file {path} ({len(problems)} problem(s)); "
                         f"fix the file and run again:\n{listed}")


def answers_path(inputs_dir: Path, hwb_code: str, fy_label: str, quarter_number: int) -> Path:
    """`<inputs_dir>/<hwb_code>/<YYYY-YY>-Q<n>.yaml` (inputs_dir is the landing zone's `inputs/`)."""
    return Path(inputs_dir) / hwb_code / f"{fy_label}-Q{quarter_number}.yaml"


# ------------------------------------------------------------------ strict YAML


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError("while reading the file", None,
                                       "anchors and aliases (&name, *name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.MarkedYAMLError("while reading a mapping", node.start_mark,
                                           f"the key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(path: Path):
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputsError(path, [f"the file is {size:,} bytes; answers files are at most {MAX_FILE_BYTES:,}"])
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputsError(path, [f"the file is not UTF-8 text (byte {exc.start}): save it as UTF-8"]) from None
    loader = _StrictLoader(text)  # a SafeLoader subclass: plain data only, like yaml.safe_load
    loader.name = path.name  # error marks say `in "2018-19-Q3.yaml", line 3, column 5`
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise InputsError(path, [f"not valid YAML: {' '.join(str(exc).split())}"]) from None
    finally:
        loader.dispose()


# ------------------------------------------------------------------ validation


@dataclass
class _Checker:
    problems: list[str]

    def _quote(self, allowed: tuple[str, ...]) -> str:
        return ", ".join(f'"{a}"' for a in allowed)

    def mapping(self, value, where: str, allowed_keys: tuple[str, ...]) -> dict | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{where}: expected a mapping with keys {', '.join(allowed_keys)}, "
                                 f"got {_describe(value)}")
            return None
        for key in value:
            if key not in allowed_keys:
                self.problems.append(f"{where + '.' if where else ''}{key}: unknown key; allowed keys here: "
                                     f"{', '.join(allowed_keys)}")
        return {k: v for k, v in value.items() if k in allowed_keys}

    def text(self, value, where: str, limit: int = MAX_TEXT) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            # YAML reads unquoted 03000000000 as an octal number: say so, or the value shown baffles
            hint = " (YAML read it as a number or true/false: put it in quotes)" if isinstance(value, (int, float)) else ""
            self.problems.append(f"{where}: expected text, got {_describe(value)}{hint}")
            return None
        value = value.strip()  # a block scalar's final newline is not content
        if len(value) > limit:
            self.problems.append(f"{where}: {len(value):,} characters; at most {limit:,} are allowed")
            return None
        return value or None

    def choice(self, value, where: str, allowed: tuple[str, ...]) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, str) and value in allowed:
            return value
        hint = ""
        if isinstance(value, bool):
            hint = " (YAML reads an unquoted Yes/No as true/false: write it in quotes, e.g. \"Yes\")"
        elif isinstance(value, str) and value.strip().casefold() in {a.casefold() for a in allowed}:
            hint = " (spell it exactly as listed)"
        self.problems.append(f"{where}: {_describe(value)} is not allowed; allowed values: {self._quote(allowed)}{hint}")
        return None

    def date(self, value, where: str) -> dt.date | None:
        if value is None or value == "":
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problems.append(f"{where}: expected a date YYYY-MM-DD, got {_describe(value)}")
        return None


def _describe(value) -> str:
    if isinstance(value, bool):
        return f"true/false ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f'"{shown}"'
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return f"{type(value).__name__} {value!r}"[:80]


TOP_KEYS = ("completed_by", "email", "phone", "signed_off_by_hwb", "sign_off_date", "national_conditions", "hicm",
            "metric_commentary", "narrative")
NC_KEYS = ("met", "commentary", "target_date")
HICM_KEYS = ("previous", "now", "planned_year_end") + HICM_TEXT_FIELDS


def parse_answers(doc, path: Path) -> dict:
    """A validated, normalised answers dict (same shape as the file; empty text -> None).
    Raises InputsError listing every problem."""
    c = _Checker([])
    if doc is None:
        raise InputsError(path, ["the file is empty: write the answers (see feeds.md, inputs) or remove the file"])
    top = c.mapping(doc, "", TOP_KEYS)
    if top is None:
        raise InputsError(path, c.problems)
    out: dict = {
        "completed_by": c.text(top.get("completed_by"), "completed_by"),
        "email": c.text(top.get("email"), "email"),
        "phone": c.text(top.get("phone"), "phone"),
        "signed_off_by_hwb": c.choice(top.get("signed_off_by_hwb"), "signed_off_by_hwb", YES_NO),
        "sign_off_date": c.date(top.get("sign_off_date"), "sign_off_date"),
        "narrative": c.text(top.get("narrative"), "narrative", MAX_NARRATIVE),
    }
    if out["signed_off_by_hwb"] == "Yes" and out["sign_off_date"] is None and "sign_off_date" not in _bad(c, "sign_off_date"):
        c.problems.append('sign_off_date: required when signed_off_by_hwb is "Yes" (a date YYYY-MM-DD)')

    conditions = c.mapping(top.get("national_conditions"), "national_conditions", NATIONAL_CONDITIONS) or {}
    out["national_conditions"] = {}
    for nc, entry in conditions.items():
        where = f"national_conditions.{nc}"
        fields = c.mapping(entry, where, NC_KEYS)
        if fields is None:
            continue
        out["national_conditions"][nc] = {
            "met": c.choice(fields.get("met"), f"{where}.met", YES_NO_IN_PROGRESS),
            "commentary": c.text(fields.get("commentary"), f"{where}.commentary"),
            "target_date": c.date(fields.get("target_date"), f"{where}.target_date"),
        }

    changes = c.mapping(top.get("hicm"), "hicm", HICM_CHANGES) or {}
    out["hicm"] = {}
    for change, entry in changes.items():
        where = f"hicm.{change}"
        fields = c.mapping(entry, where, HICM_KEYS)
        if fields is None:
            continue
        answer = {k: c.choice(fields.get(k), f"{where}.{k}", MATURITY) for k in ("previous", "now", "planned_year_end")}
        answer.update({k: c.text(fields.get(k), f"{where}.{k}") for k in HICM_TEXT_FIELDS})
        if answer["now"] in NEEDS_JUSTIFICATION and answer["justification"] is None \
                and f"{where}.justification" not in _bad(c, f"{where}.justification"):
            c.problems.append(f'{where}.justification: required when now is "Mature" or "Exemplary"')
        out["hicm"][change] = answer

    metrics = c.mapping(top.get("metric_commentary"), "metric_commentary", COMMENTARY_METRICS) or {}
    out["metric_commentary"] = {}
    for metric, entry in metrics.items():
        where = f"metric_commentary.{metric}"
        fields = c.mapping(entry, where, METRIC_FIELDS)
        if fields is None:
            continue
        out["metric_commentary"][metric] = {k: c.text(fields.get(k), f"{where}.{k}") for k in METRIC_FIELDS}
    if c.problems:
        raise InputsError(path, c.problems)
    return out


def _bad(c: _Checker, where: str) -> set[str]:
    """Field paths already reported (so a malformed value is not also reported as missing)."""
    return {p.split(":", 1)[0] for p in c.problems if p.startswith(where + ":")}


def load_answers(inputs_dir: Path, hwb_code: str, fy_label: str, quarter_number: int) -> tuple[dict | None, Path]:
    """(validated answers, path), or (None, path) when there is no file (not an error: the return
    is produced with those cells empty and marked incomplete). Raises InputsError when invalid."""
    path = answers_path(inputs_dir, hwb_code, fy_label, quarter_number)
    if not path.is_file():
        return None, path
    return parse_answers(_load_yaml(path), path), path


# ------------------------------------------------------------------ defined names


def to_defined_names(answers: dict) -> dict[str, object]:
    """{template defined name: value} for every answer (None = an empty cell), per templates/README.md."""
    values: dict[str, object] = {
        "COMPLETED_BY": answers["completed_by"],
        "EMAIL": answers["email"],
        "PHONE": answers["phone"],
        "SIGNED_OFF": answers["signed_off_by_hwb"],
        "SIGN_OFF_DATE": answers["sign_off_date"],
        "NARRATIVE": answers["narrative"],
    }
    for i, nc in enumerate(NATIONAL_CONDITIONS, start=1):
        entry = answers["national_conditions"].get(nc, {})
        values[f"NC{i}_MET"] = entry.get("met")
        values[f"NC{i}_COMMENTARY"] = entry.get("commentary")
        values[f"NC{i}_TARGET_DATE"] = entry.get("target_date")
    for change in HICM_CHANGES:
        entry = answers["hicm"].get(change, {})
        for field in ("previous", "now", "planned_year_end") + HICM_TEXT_FIELDS:
            values[f"HICM_{change.upper()}_{field.upper()}"] = entry.get(field)
    for metric in COMMENTARY_METRICS:
        entry = answers["metric_commentary"].get(metric, {})
        for field in METRIC_FIELDS:
            values[f"{metric.upper()}_{field.upper()}"] = entry.get(field)
    return values
