"""Fixtures for the metric tests: build a hand-made scenario into a fresh DuckDB warehouse."""

import pytest

from cb_pipeline_tests.metrics.scenario import Scenario


@pytest.fixture
def build(tmp_path):
    """build(scenario) -> Built, in a DuckDB file warehouse under tmp_path."""
    counter = {"n": 0}

    def _build(scenario: Scenario):
        counter["n"] += 1
        return scenario.build(tmp_path / f"run{counter['n']}")

    return _build
