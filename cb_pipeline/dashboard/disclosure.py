"""Disclosure control for anything published (metrics.md, Disclosure control): the one place it lives.

Belongs here: the rule, applied to one exact figure at a time: 0 stays 0; 1-7 shows `*`; any other
count is rounded to the nearest 5; a rate, percentage or other figure derived from a count whose
published form is `*` is `*` too. Totals are computed from exact values before they come here
(the marts do that), so a published total is never the sum of published parts.
Does not: decide which figures are published (publish.py) or compute any figure (the SQL marts).

The statutory return is not published and never passes through this module.
"""

import math
from decimal import ROUND_HALF_UP, Decimal

SUPPRESSED = "*"
EMPTY = ""  # a figure that could not be produced (no coverage, no plan): empty, never 0
SMALL_MAX = 7


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(math.isnan(value))
    except TypeError:
        return type(value).__name__ in ("NAType", "NaTType")


def publish_count(value) -> str:
    """The published form of an exact count: `''` (none), `'0'`, `'*'` (1-7) or a multiple of 5."""
    if _missing(value):
        return EMPTY
    if float(value) != int(value):
        raise ValueError(f"a count must be a whole number, not {value!r}")
    n = int(value)
    if n < 0:
        raise ValueError(f"a count cannot be negative: {n}")
    if n == 0:
        return "0"
    if n <= SMALL_MAX:
        return SUPPRESSED
    # nearest multiple of 5; a whole number is never exactly halfway between two of them
    return str((n + 2) // 5 * 5)


def is_suppressed(published: str) -> bool:
    return published == SUPPRESSED


def round_half_away(value: float, decimals: int = 1) -> Decimal:
    """metrics.md rounding: once, at the end, half away from zero."""
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)  # HALF_UP is away from zero


def publish_rate(value, *numerators, decimals: int = 1) -> str:
    """A rate, percentage or statistic from exact counts: `*` when any numerator count is published
    as `*`, `''` when the value is missing, else the value rounded half away from zero."""
    if any(is_suppressed(publish_count(n)) for n in numerators):
        return SUPPRESSED
    if _missing(value):
        return EMPTY
    return str(round_half_away(value, decimals))


def publish_derived(text, *counts) -> str:
    """A non-numeric figure derived from counts (a RAG, an SPC signal): `*` when any of the counts
    is published as `*`, else the text itself (`''` for none)."""
    if any(is_suppressed(publish_count(n)) for n in counts):
        return SUPPRESSED
    return EMPTY if _missing(text) else str(text)
