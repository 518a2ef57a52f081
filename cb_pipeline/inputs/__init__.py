"""Commissioner answers (feeds.md "inputs"): `inputs/<hwb_code>/<YYYY-YY>-Q<n>.yaml`.

Belongs here: finding, strictly parsing and validating an answers file, and mapping the answers
to the return template's defined names. Does not: write workbooks (lib/workbook.py) or decide when a
return is complete (the template's Checklist, lib/workbook.template_status).
"""

from .answers import (  # noqa: F401
    HICM_CHANGES,
    InputsError,
    answers_path,
    load_answers,
    parse_answers,
    to_defined_names,
)
