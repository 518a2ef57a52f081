"""The strict answers parser: a complete file maps to every answer cell of the template; each kind
of error is reported with the file, the field path and the allowed values; a missing file is not
an error."""

import datetime as dt

import pytest

from cb_pipeline.inputs import InputsError, load_answers, to_defined_names
from cb_pipeline.lib.workbook import template_defined_names
from cb_pipeline_tests.inputs.answers_files import complete_yaml, write_answers
from cb_pipeline_tests.lib.test_workbook import TEMPLATE


def load(tmp_path, text: str):
    write_answers(tmp_path, "E06000056", text)
    return load_answers(tmp_path, "E06000056", "2018-19", 3)


def problems(tmp_path, text: str) -> str:
    with pytest.raises(InputsError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert str(tmp_path / "E06000056" / "2018-19-Q3.yaml") in message  # the file is named
    return message


def test_complete_file_fills_every_answer_name_of_the_template(tmp_path):
    answers, path = load(tmp_path, complete_yaml())
    assert path == tmp_path / "E06000056" / "2018-19-Q3.yaml"
    values = to_defined_names(answers)
    assert set(values) <= set(template_defined_names(TEMPLATE))
    # 6 cover/narrative + 4 x 3 national conditions + 8 x 7 HICM + 5 x 3 metric commentary
    assert len(values) == 6 + 12 + 56 + 15 == 89
    assert values["COMPLETED_BY"] == "Jane Smith" and values["PHONE"] == "0300 000 0000"
    assert values["SIGNED_OFF"] == "Yes" and values["SIGN_OFF_DATE"] == dt.date(2019, 1, 24)
    assert (values["NC4_MET"], values["NC4_COMMENTARY"], values["NC4_TARGET_DATE"]) == (
        "No - In Progress", "Trusted assessor live from February", dt.date(2019, 3, 31))
    assert values["NC1_COMMENTARY"] is None and values["NC1_TARGET_DATE"] is None  # "" -> empty cell
    assert values["HICM_SEVEN_DAY_SERVICE_NOW"] == "Mature"
    assert values["HICM_SEVEN_DAY_SERVICE_JUSTIFICATION"] == "Audited 5"
    assert values["HICM_ENHANCING_HEALTH_IN_CARE_HOMES_PLANNED_YEAR_END"] == "Exemplary"
    assert values["FALLS65_SUPPORT_NEEDS"] == "falls65 support"
    assert values["NARRATIVE"] == "Hubs open in all four localities."
    empty = sorted(k for k, v in values.items() if v is None)
    assert empty == ["NC1_COMMENTARY", "NC1_TARGET_DATE", "NC2_COMMENTARY", "NC2_TARGET_DATE", "NC3_TARGET_DATE"]


def test_missing_file_is_not_an_error(tmp_path):
    assert load_answers(tmp_path, "E06000056", "2018-19", 3) == (None, tmp_path / "E06000056" / "2018-19-Q3.yaml")


def test_a_partial_file_is_valid_and_leaves_the_rest_empty(tmp_path):
    answers, _ = load(tmp_path, 'completed_by: "A N Other"\nnational_conditions:\n  nc2: {met: "No"}\n')
    values = to_defined_names(answers)
    assert values["COMPLETED_BY"] == "A N Other" and values["NC2_MET"] == "No"
    assert sum(v is not None for v in values.values()) == 2


def test_each_kind_of_error_is_reported_with_the_field_and_allowed_values(tmp_path):
    long_text = "x" * 2001
    text = complete_yaml(narrative="y" * 10_001)
    text = text.replace('signed_off_by_hwb: "Yes"', "signed_off_by_hwb: Yes")          # YAML bool, not text
    text = text.replace('phone: "0300 000 0000"', "phone: 03000000000")                  # a number
    text = text.replace('nc1: {met: "Yes", commentary: ""}', 'nc1: {met: "Partly", commentary: ""}')
    text = text.replace('nc2: {met: "Yes", commentary: ""}', f'nc2: {{met: "Yes", commentary: "{long_text}"}}')
    text = text.replace("seven_day_service: {previous: Established, now: Mature",
                        "seven_day_service: {previous: Established, now: Excellent")
    text = text.replace('justification: "Audited 6"', 'justification: ""')               # trusted_assessors is Mature
    text = text.replace('focus_on_choice: {previous: Established,', 'focus_on_choice: {rating: 3, previous: Established,')
    text = text.replace("nc4: {met", "nc5: {met: \"Yes\"}\n  nc4: {met")
    text = text.replace("target_date: 2019-03-31", "target_date: 31/03/2019")
    text = text.replace("metric_commentary:\n", "metric_commentary:\n  dupr: {challenges: \"\"}\n")
    text += "colour: red\n"
    message = problems(tmp_path, text)
    expected = [
        'signed_off_by_hwb: true/false (True) is not allowed; allowed values: "Yes", "No" (YAML reads an unquoted '
        'Yes/No as true/false: write it in quotes, e.g. "Yes")',
        # unquoted 03000000000 is an octal number to YAML 1.1
        "phone: expected text, got int 402653184 (YAML read it as a number or true/false: put it in quotes)",
        'national_conditions.nc1.met: "Partly" is not allowed; allowed values: "Yes", "No", "No - In Progress"',
        "national_conditions.nc2.commentary: 2,001 characters; at most 2,000 are allowed",
        "national_conditions.nc5: unknown key; allowed keys here: nc1, nc2, nc3, nc4",
        'national_conditions.nc4.target_date: expected a date YYYY-MM-DD, got "31/03/2019"',
        'hicm.seven_day_service.now: "Excellent" is not allowed; allowed values: "Not yet established", '
        '"Plans in place", "Established", "Mature", "Exemplary"',
        'hicm.trusted_assessors.justification: required when now is "Mature" or "Exemplary"',
        "hicm.focus_on_choice.rating: unknown key; allowed keys here: previous, now, planned_year_end, "
        "justification, challenges, milestones, support_needs",
        "metric_commentary.dupr: unknown key; allowed keys here: nea, res65, reab, dtoc, falls65",
        "narrative: 10,001 characters; at most 10,000 are allowed",
        "colour: unknown key; allowed keys here: completed_by,",
    ]
    for line in expected:
        assert line in message, line
    assert message.count("\n  - ") == len(expected)  # each problem once, nothing else


@pytest.mark.parametrize("text, expected", [
    ('signed_off_by_hwb: "Yes"\n', 'sign_off_date: required when signed_off_by_hwb is "Yes"'),
    ('signed_off_by_hwb: "yes"\n', 'signed_off_by_hwb: "yes" is not allowed; allowed values: "Yes", "No" '
                                   "(spell it exactly as listed)"),
    ("sign_off_date: 2019-01-24 10:30:00\n", "sign_off_date: expected a date YYYY-MM-DD, got datetime"),
    ("hicm: [early_discharge_planning]\n", "hicm: expected a mapping with keys early_discharge_planning,"),
    ("- completed_by: x\n", ": expected a mapping with keys completed_by,"),
    ("", "the file is empty"),
    ("completed_by: A\ncompleted_by: B\n", "the key 'completed_by' appears twice"),
    ("completed_by: &who A\nemail: *who\n", "anchors and aliases (&name, *name) are not allowed"),
    ("completed_by: [unclosed\n", "not valid YAML"),
    ("national_conditions:\n  nc1: {met: !!python/object:os.system echo}\n", "not valid YAML"),
])
def test_file_level_and_conditional_errors(tmp_path, text, expected):
    assert expected in problems(tmp_path, text)


def test_sign_off_date_not_required_when_not_signed_off(tmp_path):
    answers, _ = load(tmp_path, 'signed_off_by_hwb: "No"\n')
    assert to_defined_names(answers)["SIGNED_OFF"] == "No"
