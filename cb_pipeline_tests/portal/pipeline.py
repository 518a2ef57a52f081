"""The real pipeline, run once per test session for the dashboard and portal tests.

`cb-pipeline synth --fy 2018-19 --scale 0.2 --hwbs 2` (on the real LSOA lookup when shared/ has it)
and `cb-pipeline run --quarter 2018-19-Q3`, both as subprocesses of the installed command, exactly
as test_cli.py does: two HWBs' returns and published dashboards, registered in a DuckDB warehouse.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cb_pipeline_tests.shared_data import SHARED

REAL_REFERENCE = SHARED / "reference" / "central_bedfordshire_lsoa11_localities.csv"
QUARTER = "2018-19-Q3"
_cache: dict[str, "PipelineOutput"] = {}


@dataclass(frozen=True)
class PipelineOutput:
    root: Path
    warehouse_url: str
    returns_dir: Path
    stdout: str


def command() -> list[str]:
    script = Path(sys.executable).with_name("cb-pipeline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cb_pipeline.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CB_") and k != "DAGSTER_HOME"}
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env.update(extra)
    return env


def pipeline_output(tmp_path_factory) -> PipelineOutput:
    if "run" in _cache:
        return _cache["run"]
    root = tmp_path_factory.mktemp("published")
    synth = command() + ["synth", "--out", str(root / "zone"), "--fy", "2018-19", "--scale", "0.2", "--seed", "7",
                         "--hwbs", "2"]
    if REAL_REFERENCE.exists():
        synth += ["--reference", str(REAL_REFERENCE.parent)]
    done = subprocess.run(synth, cwd=root, env=clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    url = f"duckdb:///{root}/warehouse.duckdb"
    run = command() + ["run", "--quarter", QUARTER, "--landing", str(root / "zone" / "landing"),
                       "--reference", str(root / "zone" / "reference"), "--warehouse", url,
                       "--returns", str(root / "returns")]
    done = subprocess.run(run, cwd=root, env=clean_env(CB_PSEUDONYMISATION_KEY="published-test-key"),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    _cache["run"] = PipelineOutput(root, url, (root / "returns").resolve(), done.stdout)
    return _cache["run"]
