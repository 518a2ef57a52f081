import pytest

from cb_pipeline_tests.portal.pipeline import pipeline_output


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The real pipeline run once (synth + run, 2 HWBs, 2018-19 Q3): see portal/pipeline.py."""
    return pipeline_output(tmp_path_factory)
