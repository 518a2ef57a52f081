"""The Dagster UI, for real: `dagster-webserver` started offline on loopback over cb_pipeline.definitions.

What belongs here: starting the installed webserver in its own process group with a temporary
DAGSTER_HOME (telemetry off), waiting for /server_info, asking its GraphQL API for the asset
graph, the checks, the schedules and the sensors, and stopping it by its process group id.
What does not: running assets (test_automation.py, test_cli.py) or the graph's shape in detail
(test_definitions.py checks that without a server).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cb_pipeline.automation import LANDING_SENSOR_NAME, NIGHTLY_SCHEDULE_NAME
from cb_pipeline.lib.ingest import FEEDS

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT_SECONDS = 120

QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    description
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        name
        schedules { name cronSchedule executionTimezone scheduleState { status } }
        sensors { name sensorState { status } }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _webserver() -> list[str]:
    script = Path(sys.executable).with_name("dagster-webserver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dagster_webserver.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CB_")}
    data = tmp_path_factory.mktemp("data")
    env.update(DAGSTER_HOME=str(home), DAGSTER_DISABLE_TELEMETRY="1",
               CB_LANDING_DIR=str(data / "landing"), CB_REFERENCE_DIR=str(data / "reference"),
               CB_RETURNS_DIR=str(data / "returns"), CB_WAREHOUSE_URL=f"duckdb:///{data}/warehouse.duckdb")
    log = (home / "webserver.log").open("w")
    # its own session = its own process group, so SIGTERM to the group stops it and its code server
    process = subprocess.Popen(
        _webserver() + ["-m", "cb_pipeline.definitions", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{(home / 'webserver.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dagster-webserver not ready after {READY_TIMEOUT_SECONDS}s")
            time.sleep(0.5)
        yield base
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    # the code location loads in the background after /server_info answers: retry until it is in
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body["errors"]
        if body["data"]["assetNodes"] or time.monotonic() > deadline:
            return body["data"]
        time.sleep(1)


@pytest.fixture(scope="module")
def ui(server) -> dict:
    return _graphql(server, QUERY)


@pytest.mark.slow
def test_the_ui_shows_lineage_from_every_feed_to_the_return(ui):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in ui["assetNodes"]}
    parents = {name: {"/".join(d["path"]) for d in n["dependencyKeys"]} for name, n in nodes.items()}

    def upstream(name: str) -> set[str]:
        seen, todo = set(), [name]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    above_return = upstream("bcf_return")
    for feed in FEEDS:
        assert f"ingest_{feed}" in above_return, feed
        # through the SQL models, not only the direct data-quality edge
        assert any(parents.get(m, set()) & {f"ingest_{feed}"} and nodes[m]["groupName"] == "staging"
                   for m in above_return), feed
    assert "reference_lsoa_localities" in above_return
    assert "rpt_bcf_return__cells" in parents["bcf_return"]
    for layer in ("staging", "intermediate", "marts"):
        assert any(nodes[m]["groupName"] == layer for m in above_return), layer
    # every asset says what it holds: grain and source in its description
    for name, node in nodes.items():
        text = node["description"] or ""
        assert "Grain" in text or "grain" in text, name
        assert "Source" in text or "source" in text, name


@pytest.mark.slow
def test_the_ui_shows_the_blocking_checks(ui):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in ui["assetNodes"]}
    from cb_pipeline.lib.dagster_assets import model_check_names
    from cb_pipeline.lib.sql_models import discover

    # every .yml test of every model is a check in the UI, and blocking (other checks may be added)
    for name, model in discover().items():
        shown = {c["name"]: c["blocking"] for c in nodes[name]["assetChecksOrError"]["checks"]}
        for check, _, _ in model_check_names(model):
            assert shown.get(check) is True, (name, check)
    assert sum(len(n["assetChecksOrError"].get("checks", [])) for n in nodes.values()) > 20


@pytest.mark.slow
def test_the_ui_shows_the_schedule_and_the_sensor_running(ui):
    [repo] = ui["repositoriesOrError"]["nodes"]
    schedules = {s["name"]: s for s in repo["schedules"]}
    sensors = {s["name"]: s for s in repo["sensors"]}
    nightly = schedules[NIGHTLY_SCHEDULE_NAME]
    assert nightly["executionTimezone"] == "Europe/London" and nightly["cronSchedule"] == "0 2 * * *"
    assert nightly["scheduleState"]["status"] == "RUNNING"
    assert sensors[LANDING_SENSOR_NAME]["sensorState"]["status"] == "RUNNING"
