"""Hand-written commissioner answers files shared by the inputs tests (not a test module).

Belongs here: the text of a complete answers file and helpers to write variants of it. Does not:
assertions.
"""

from pathlib import Path

CHANGES = ("early_discharge_planning", "systems_to_monitor_patient_flow", "multi_disciplinary_discharge_teams",
           "home_first_discharge_to_assess", "seven_day_service", "trusted_assessors", "focus_on_choice",
           "enhancing_health_in_care_homes")


def complete_yaml(completed_by: str = "Jane Smith", narrative: str = "Hubs open in all four localities.") -> str:
    """Every field answered; nc4 in progress (so commentary and target date are needed), every HICM
    change Mature (so every justification is needed)."""
    hicm = "\n".join(
        f"  {c}: {{previous: Established, now: Mature, planned_year_end: Exemplary, justification: \"Audited {i}\", "
        f"challenges: \"Workforce {i}\", milestones: \"Weekend cover {i}\", support_needs: \"Peer review {i}\"}}"
        for i, c in enumerate(CHANGES, start=1))
    metrics = "\n".join(
        f"  {m}: {{challenges: \"{m} challenge\", achievements: \"{m} achievement\", support_needs: \"{m} support\"}}"
        for m in ("nea", "res65", "reab", "dtoc", "falls65"))
    return f"""\
completed_by: "{completed_by}"
email: jane.smith@example.org
phone: "0300 000 0000"
signed_off_by_hwb: "Yes"
sign_off_date: 2019-01-24
national_conditions:
  nc1: {{met: "Yes", commentary: ""}}
  nc2: {{met: "Yes", commentary: ""}}
  nc3: {{met: "No", commentary: "Joint plan awaiting sign-off"}}
  nc4: {{met: "No - In Progress", commentary: "Trusted assessor live from February", target_date: 2019-03-31}}
hicm:
{hicm}
metric_commentary:
{metrics}
narrative: |
  {narrative}
"""


def write_answers(inputs_dir: Path, hwb: str, text: str, fy: str = "2018-19", q: int = 3) -> Path:
    path = inputs_dir / hwb / f"{fy}-Q{q}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
