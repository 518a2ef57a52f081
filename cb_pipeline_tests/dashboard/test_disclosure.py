"""Disclosure control (metrics.md), with values worked out by hand: 0 stays 0, 1-7 is `*`, other
counts go to the nearest 5, and anything derived from a suppressed count is suppressed.

What belongs here: the rule in cb_pipeline/dashboard/disclosure.py, one figure at a time.
What does not: which figures the dashboard publishes (test_publish.py) or the files (test_published_dashboard.py).
"""

import math

import pytest

from cb_pipeline.dashboard.disclosure import publish_count, publish_derived, publish_rate, round_half_away


@pytest.mark.parametrize("count, published", [
    (0, "0"), (1, "*"), (2, "*"), (7, "*"),
    (8, "10"), (9, "10"), (10, "10"), (12, "10"), (13, "15"), (17, "15"), (18, "20"),
    (22, "20"), (23, "25"), (100, "100"), (10257, "10255"), (10258, "10260"),
    (None, ""), (math.nan, ""), (12.0, "10"),
])
def test_counts(count, published):
    assert publish_count(count) == published


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_a_count_is_a_whole_non_negative_number(bad):
    with pytest.raises(ValueError):
        publish_count(bad)


def test_totals_are_rounded_from_the_exact_total_not_summed_from_rounded_parts():
    parts = [12, 12, 12]  # each published as 10
    assert [publish_count(p) for p in parts] == ["10", "10", "10"]
    assert publish_count(sum(parts)) == "35"  # 36 -> 35, not 10 + 10 + 10 = 30
    small = [3, 3, 4]  # each suppressed; the total 10 is not
    assert [publish_count(p) for p in small] == ["*", "*", "*"]
    assert publish_count(sum(small)) == "10"


@pytest.mark.parametrize("value, numerators, decimals, published", [
    (9.11, (3,), 1, "*"),          # numerator 3 is suppressed: so is the rate
    (9.11, (100,), 1, "9.1"),
    (0.05, (20,), 1, "0.1"),       # half away from zero
    (-0.05, (20,), 1, "-0.1"),
    (-1.53, (200,), 2, "-1.53"),
    (0.0, (0,), 1, "0.0"),         # a 0 numerator is published
    (None, (20,), 1, ""),
    (12.5, (20, 5), 1, "*"),       # any suppressed numerator suppresses
])
def test_rates(value, numerators, decimals, published):
    assert publish_rate(value, *numerators, decimals=decimals) == published


def test_round_half_away_from_zero():
    assert str(round_half_away(2.25, 1)) == "2.3"
    assert str(round_half_away(-2.25, 1)) == "-2.3"
    assert str(round_half_away(4392.5, 0)) == "4393"


@pytest.mark.parametrize("text, counts, published", [
    ("G", (5,), "*"), ("G", (8,), "G"), ("R", (0,), "R"), (None, (8,), ""), ("outside limits", (7,), "*"),
])
def test_derived_figures(text, counts, published):
    assert publish_derived(text, *counts) == published
