"""Synthetic commissioner answers: `inputs/<hwb_code>/<YYYY-YY>-Q<n>.yaml`, complete and valid.

Belongs here: the YAML documents of feeds.md "inputs" (contact, sign-off, national conditions,
High Impact Change Model ratings, metric commentary, narrative) for one HWB and quarter, with
values only from the allowed lists and every conditionally required field filled.
Does not: validating answers files (the pipeline does that) or any figures.
"""

import datetime as dt

import numpy as np
import yaml

from . import calibration as cal
from .vectors import fy_label, stream

FIRST_NAMES = ("Jane", "Amir", "Priya", "Tom", "Grace", "Oliver", "Fatima", "Sam", "Helen", "Kwame")
LAST_NAMES = ("Smith", "Khan", "Patel", "Jones", "Okafor", "Williams", "Brown", "Taylor", "Nowak", "Evans")
NC_COMMENTARY = ("Trusted assessor live from February", "Seven day social work cover being recruited",
                 "Joint commissioning agreement awaiting final sign-off", "Data sharing agreement under legal review")
HICM_TEXT = {
    "justification": ("Embedded across all acute providers with weekly audit", "Consistently delivered and evaluated in year",
                      "Recognised as good practice by the regional team"),
    "challenges": ("Workforce vacancies in domiciliary care", "Winter pressures on community beds", "Variation between acute sites"),
    "milestones": ("Extend to weekends by year end", "Roll out to remaining localities", "Single point of access live"),
    "support_needs": ("None requested this quarter", "Peer support from a mature system", "Analytical support for evaluation"),
}
METRIC_TEXT = {
    "challenges": ("Increased acuity of older patients", "Winter demand above plan", "Care market capacity in rural areas"),
    "achievements": ("Admission avoidance through the complex care team", "Falls response service launched",
                     "Reablement capacity increased"),
    "support_needs": ("None requested this quarter", "None at present", "Regional benchmarking"),
}


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(0, len(options)))]


def answers(seed: int, hwb_code: str, hwb_name: str, fy: int, quarter: int) -> dict:
    person_rng = stream(seed, "inputs_person", hwb_code)
    first, last = _pick(person_rng, FIRST_NAMES), _pick(person_rng, LAST_NAMES)
    rng = stream(seed, "inputs", hwb_code, fy, quarter)
    q_end_month = 4 + 3 * quarter - 1
    q_end = dt.date(fy + (q_end_month - 1) // 12, (q_end_month - 1) % 12 + 1, 1)
    sign_off = q_end + dt.timedelta(days=int(rng.integers(50, 70)))
    signed = rng.random() < 0.85
    doc = {
        "completed_by": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}@example.org",
        "phone": f"0300 {int(rng.integers(100, 999))} {int(rng.integers(1000, 9999))}",
        "signed_off_by_hwb": "Yes" if signed else "No",
    }
    if signed:
        doc["sign_off_date"] = sign_off
    conditions = {}
    for i in range(1, 5):
        met = "Yes" if rng.random() < 0.8 else ("No - In Progress" if rng.random() < 0.8 else "No")
        entry = {"met": met, "commentary": "" if met == "Yes" else _pick(rng, NC_COMMENTARY)}
        if met == "No - In Progress":
            entry["target_date"] = dt.date(fy + 1, 3, 31)
        conditions[f"nc{i}"] = entry
    doc["national_conditions"] = conditions
    hicm = {}
    q_index = max(0, (fy - 2017) * 4 + quarter - 1)  # maturity improves slowly over the quarters
    base_rng = stream(seed, "inputs_hicm", hwb_code)
    for change in cal.HICM_CHANGES:
        base = int(base_rng.integers(0, 3))
        level = lambda qi: min(base + max(qi, 0) // 3, 4)  # noqa: E731
        now = cal.MATURITY[level(q_index)]
        hicm[change] = {
            "previous": cal.MATURITY[level(q_index - 1)], "now": now,
            "planned_year_end": cal.MATURITY[min(level(q_index + (4 - quarter)) + 1, 4)],
            "justification": _pick(rng, HICM_TEXT["justification"]) if now in ("Mature", "Exemplary") else "",
            "challenges": _pick(rng, HICM_TEXT["challenges"]), "milestones": _pick(rng, HICM_TEXT["milestones"]),
            "support_needs": _pick(rng, HICM_TEXT["support_needs"]),
        }
    doc["hicm"] = hicm
    doc["metric_commentary"] = {m: {k: _pick(rng, v) for k, v in METRIC_TEXT.items()} for m in cal.COMMENTARY_METRICS}
    doc["narrative"] = (f"{hwb_name} {fy_label(fy)} Q{quarter}: integrated health and care hubs continue to develop; "
                        f"{_pick(rng, METRIC_TEXT['achievements']).lower()}. {_pick(rng, METRIC_TEXT['challenges'])} "
                        "remains the main risk to the plan.\n")
    return doc


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def render(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120)
