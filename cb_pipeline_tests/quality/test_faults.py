"""Faults, with real components: an ingest killed half way (SIGKILL to a subprocess) and run again,
the same delivery twice, superseding deliveries in either order, and a warehouse that refuses
connections for a while (a TCP proxy started late in front of the real PostgreSQL) or for good."""

import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cb_pipeline.lib.ingest import ingest_feed
from cb_pipeline.lib.warehouse import Warehouse, WarehouseUnavailable
from cb_pipeline.quality.ingest_checks import ingest_check_results
from cb_pipeline.reference import load_reference
from cb_pipeline_tests.conftest import POSTGRES_URL

from .conftest import APC_HEADER, KEY, apc, write, write_reference

REPO = Path(__file__).resolve().parents[2]


def reconciliation(w, feed="hes_apc"):
    return next(r for r in ingest_check_results(w, feed) if r.check_name == "reconciliation")


def records(frame) -> list[dict]:
    """Rows as dicts with SQL NULL as None (NaN never equals itself, None does)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def snapshot(w) -> tuple:
    """Everything the figures are computed from: valid rows, quarantine, ledger counts."""
    valid = w.query_df("select epikey, admidate, startage, person_key, _delivery, _row_number, _superseded_by "
                       "from ingest_hes_apc order by _delivery, _row_number")
    quarantine = w.query_df("select _delivery, _row_number, _rules from quarantine_hes_apc "
                            "order by _delivery, _row_number")
    ledger = w.query_df("select delivery, status, rows_in, valid, quarantined, warning_rows from ingest_deliveries "
                        "order by delivery")
    return records(valid), records(quarantine), records(ledger)


# --------------------------------------------------------------------------- killed mid-ingest

_INGEST_SCRIPT = """
import sys
from pathlib import Path
from cb_pipeline.lib.ingest import ingest_feed
from cb_pipeline.lib.warehouse import Warehouse
w = Warehouse(sys.argv[1])
ingest_feed(w, "hes_apc", Path(sys.argv[2]), key=b"quality-test-key", progress=lambda m: print(m, flush=True))
print("DONE", flush=True)
"""


def big_landing(root: Path) -> Path:
    landing = root / "landing"
    write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [apc(str(i)) for i in range(1, 51)])
    rows = [apc(f"B{i}", STARTAGE=str(i % 100), ADMIDATE="2018-06-0" + str(1 + i % 9), DISDATE="2018-06-20")
            for i in range(20000)]
    rows[7] = apc("B7", ADMIMETH="77")  # one quarantined row, so quarantine counts are compared too
    rows[19999] = apc("1", STARTAGE="55", ADMIDATE="2018-06-05", DISDATE="2018-06-20")  # supersedes row 1 of the first delivery
    write(landing / "hes_apc" / "20180701T0200_RC9_apc.csv", APC_HEADER, rows)
    return landing


def test_ingest_killed_half_way_then_rerun_gives_the_uninterrupted_figures(tmp_path, monkeypatch):
    landing = big_landing(tmp_path)
    env = {**os.environ, "CB_INGEST_STAGE_ABOVE_BYTES": "100000", "CB_INGEST_BLOCK_BYTES": str(64 << 10),
           "PYTHONPATH": str(REPO)}
    killed_url = f"duckdb:///{tmp_path}/killed.duckdb"
    clean_url = f"duckdb:///{tmp_path}/clean.duckdb"
    for url in (killed_url, clean_url):
        w = Warehouse(url)
        load_reference(w, write_reference(tmp_path / "reference"))
        w.dispose()

    proc = subprocess.Popen([sys.executable, "-c", _INGEST_SCRIPT, killed_url, str(landing)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, deadline = [], time.monotonic() + 60
    # kill once the big delivery has staged some batches, long before it is published
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            line = proc.stdout.readline()
            seen.append(line)
            if "20180701T0200_RC9_apc.csv" in line and "rows read" in line and len(seen) > 3:
                proc.kill()
                break
            if not line or "DONE" in line:
                break
    proc.wait(timeout=30)
    assert proc.returncode == -9, f"not killed half way: {seen[-3:]} {proc.stderr.read()[-2000:]}"

    killed = Warehouse(killed_url)
    # the killed run left the first delivery loaded and nothing of the second published
    assert killed.scalar("select count(*) from ingest_deliveries where status = 'loaded'") == 1
    assert killed.scalar("select count(*) from ingest_hes_apc where _delivery like '20180701%'") == 0
    # the rerun has the same settings as the killed run (staged loading)
    for name in ("CB_INGEST_STAGE_ABOVE_BYTES", "CB_INGEST_BLOCK_BYTES"):
        monkeypatch.setenv(name, env[name])
    rerun = ingest_feed(killed, "hes_apc", landing, key=KEY)
    assert [d.status for d in rerun.deliveries] == ["already_loaded", "loaded"]

    clean = Warehouse(clean_url)
    subprocess.run([sys.executable, "-c", _INGEST_SCRIPT, clean_url, str(landing)], env=env, check=True,
                   capture_output=True)
    after_kill, uninterrupted = snapshot(killed), snapshot(clean)
    assert after_kill == uninterrupted
    valid, quarantine, ledger = after_kill
    # by hand: 50 + 20000 rows in; B7 quarantined; EPIKEY 1 of the first delivery superseded
    assert [(d["rows_in"], d["valid"], d["quarantined"]) for d in ledger] == [(50, 50, 0), (20000, 19999, 1)]
    assert len(valid) == 50 + 19999 and len({(r["_delivery"], r["_row_number"]) for r in valid}) == len(valid)
    assert [r["_superseded_by"] for r in valid if r["epikey"] == "1"] == ["20180701T0200_RC9_apc.csv", None]
    assert reconciliation(killed).passed
    # no staging table is left behind to be published twice later
    assert not killed.table_exists("_stage_ingest_hes_apc")
    killed.dispose()
    clean.dispose()


# --------------------------------------------------------------------------- twice, and either order


def test_the_same_delivery_twice_loads_once(duck):
    w, landing = duck
    first = write(landing / "hes_apc" / "20180601T0200_RC9_apc.csv", APC_HEADER, [apc("1"), apc("2"), apc("3", ADMIMETH="x")])
    shutil.copy(first, landing / "hes_apc" / "20180602T0200_RC9_apc_resent.csv")
    report = ingest_feed(w, "hes_apc", landing, key=KEY)
    assert [d.status for d in report.deliveries] == ["loaded", "rejected"]
    assert "identical content to delivery 20180601T0200_RC9_apc.csv" in report.deliveries[1].reason
    again = ingest_feed(w, "hes_apc", landing, key=KEY)
    assert [d.status for d in again.deliveries] == ["already_loaded", "already_loaded"]
    assert w.scalar("select count(*) from ingest_hes_apc") == 2
    assert w.scalar("select count(*) from quarantine_hes_apc") == 1
    assert reconciliation(w).passed
    rules = next(r for r in ingest_check_results(w, "hes_apc") if r.check_name == "rules")
    assert rules.passed  # a file sent twice is harmless: not even a warning


@pytest.mark.parametrize("arrival", [["early", "late"], ["late", "early"]])
def test_superseding_deliveries_in_either_arrival_order(duck, arrival):
    """Lexical order of the file names decides, whatever order they arrive in."""
    w, landing = duck
    files = {
        "early": ("20180601T0200_RC9_apc.csv", [apc("1", STARTAGE="40"), apc("2", STARTAGE="41")]),
        "late": ("20180701T0200_RC9_apc.csv", [apc("1", STARTAGE="50"), apc("3", STARTAGE="52")]),
    }
    for which in arrival:
        name, rows = files[which]
        write(landing / "hes_apc" / name, APC_HEADER, rows)
        ingest_feed(w, "hes_apc", landing, key=KEY)
    current = w.query_df("select epikey, startage, _delivery from ingest_hes_apc where _superseded_by is null "
                         "order by epikey").to_dict("records")
    assert [(r["epikey"], r["startage"]) for r in current] == [("1", 50), ("2", 41), ("3", 52)]
    assert w.scalar("select _superseded_by from ingest_hes_apc where epikey = '1' and startage = 40") == \
        "20180701T0200_RC9_apc.csv"
    assert reconciliation(w).passed
    totals = reconciliation(w).metadata
    assert (totals["total_rows_in"].value, totals["total_valid"].value, totals["total_superseded"].value) == (4, 3, 1)


# --------------------------------------------------------------------------- warehouse refusing connections


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LateProxy:
    """A TCP proxy to the real PostgreSQL that starts listening only after `delay` seconds; until
    then the port is closed and connections are refused."""

    def __init__(self, port: int, target: tuple[str, int], delay: float):
        self.port, self.target, self.delay = port, target, delay
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self.stop.is_set():
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _run(self) -> None:
        if self.stop.wait(self.delay):
            return
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        server.settimeout(0.2)
        with server:
            while not self.stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()


@pytest.mark.postgres
def test_a_warehouse_refusing_connections_for_a_while_is_retried_with_backoff():
    if not POSTGRES_URL:
        pytest.skip("CB_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (CI sets it)")
    import sqlalchemy as sa

    real = sa.engine.make_url(POSTGRES_URL)
    port = _free_port()
    proxy = LateProxy(port, (real.host or "127.0.0.1", real.port or 5432), delay=1.0)
    try:
        w = Warehouse(real.set(port=port).render_as_string(hide_password=False), connect_retries=6,
                      retry_base_seconds=0.2)
        started = time.monotonic()
        assert w.scalar("select 41 + 1") == 42
        # refused at 0 s, 0.2 s, 0.6 s; connected after the proxy came up at 1 s (next try at 1.4 s)
        assert time.monotonic() - started >= 1.0
        w.dispose()
    finally:
        proxy.stop.set()


def test_a_warehouse_that_stays_down_fails_clearly():
    port = _free_port()  # nothing listens there
    w = Warehouse(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test", connect_retries=2, retry_base_seconds=0.05)
    started = time.monotonic()
    with pytest.raises(WarehouseUnavailable) as err:
        w.scalar("select 1")
    # three attempts with 0.05 s then 0.1 s between them
    assert time.monotonic() - started >= 0.15
    assert f"127.0.0.1:{port}" in str(err.value) and "refused connections after 3 attempts" in str(err.value)
