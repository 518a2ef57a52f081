"""Benchmark: the pipeline at several sizes against a DuckDB scan (lower bound) and a pandas peer.

Belongs here: measuring wall time per stage and peak memory of real runs, printing them and writing
docs/benchmarks.md. Does not: assert anything (it is not a test) or contain product logic.

    .venv/bin/python benchmarks/england.py                      # 1 HWB quarter, then 8, 38, 152 HWBs
    .venv/bin/python benchmarks/england.py --hwbs 8 --hwbs 38   # chosen sizes (one FY each)

Each measured command runs in its own process (cold start, its own peak RSS). Synthetic data is
written under --work (default /tmp/cb_bench) and reused when already there.
"""

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEER_MEMORY_CAP_MB = 16_000
FEEDS = ("hes_apc", "hes_ae", "ambulance", "social_care", "dtoc", "population", "finance", "plan")
_MEASURE = (
    "import resource, subprocess, sys, time, json\n"
    "t = time.perf_counter(); r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "w = time.perf_counter() - t\n"
    "print(json.dumps({'rc': r.returncode, 'seconds': w, "
    "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
)


def measure(cmd: list[str], env: dict | None = None, stage_log: list | None = None) -> dict:
    """Run `cmd` in a fresh process; wall seconds and peak RSS (MB) of it and its children.

    With `stage_log`, each stderr line is timestamped as it arrives: the CLI prints one line as
    each asset finishes, so the gaps are the stages' durations."""
    full = [sys.executable, "-c", _MEASURE, *cmd]
    proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1", **(env or {})})
    start = time.perf_counter()
    lines = []
    for line in proc.stderr:
        lines.append((time.perf_counter() - start, line.rstrip()))
    out = proc.stdout.read()
    proc.wait()
    result = json.loads(out.strip().splitlines()[-1])
    if result["rc"]:
        tail = "\n".join(line for _, line in lines[-15:])
        raise SystemExit(f"{' '.join(cmd)} failed (rc {result['rc']}):\n{tail}")
    if stage_log is not None:
        stage_log.extend(lines)
    return result


def stages(lines: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds per pipeline stage from the timestamped progress lines (ingest, SQL models, returns)."""
    totals = {"ingest": 0.0, "sql_models": 0.0, "returns": 0.0, "other": 0.0}
    for name, seconds in steps(lines):
        kind = ("ingest" if name.startswith(("ingest_", "reference_")) else
                "returns" if name.startswith(("bcf_return", "published_dashboard")) else
                "sql_models" if name.startswith(("stg_", "int_", "fct_", "rpt_")) else "other")
        totals[kind] += seconds
    return {k: round(v, 1) for k, v in totals.items()}


def steps(lines: list[tuple[float, str]]) -> list[tuple[str, float]]:
    """(step name, seconds) per progress line: the gap since the previous line."""
    out, previous = [], 0.0
    for at, line in lines:
        out.append((line.strip().split(":")[0], at - previous))
        previous = at
    return out


def slowest_steps(lines: list[tuple[float, str]], n: int = 6) -> list[list]:
    totals: dict[str, float] = {}
    for name, seconds in steps(lines):
        if name.startswith(("ingest_", "stg_", "int_", "fct_", "rpt_", "bcf_return", "published_dashboard")):
            totals[name] = totals.get(name, 0.0) + seconds
    return [[k, round(v, 1)] for k, v in sorted(totals.items(), key=lambda kv: -kv[1])[:n]]


def synth(root: Path, hwbs: int, scale: float, start: str, end: str) -> tuple[dict, float]:
    manifest = root / "synth_manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text()), 0.0
    t = time.perf_counter()
    subprocess.run([str(BIN / "cb-pipeline"), "synth", "--out", str(root), "--hwbs", str(hwbs), "--scale", str(scale),
                    "--start", start, "--end", end], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(manifest.read_text()), time.perf_counter() - t


def duckdb_scan(landing: Path) -> dict:
    """The lower bound: DuckDB reads every feed file once (all columns as text) and counts rows."""
    code = (
        "import duckdb, sys, glob\n"
        "con = duckdb.connect(); n = 0\n"
        f"for feed in {list(FEEDS)!r}:\n"
        "    files = sorted(glob.glob(f'{sys.argv[1]}/{feed}/*.csv'))\n"
        "    if files: n += con.execute('select count(*) from read_csv($f, all_varchar=true, union_by_name=true, "
        "ignore_errors=true, header=true)', {'f': files}).fetchone()[0]\n"
        "print(n, file=sys.stderr)\n"
    )
    return measure([sys.executable, "-c", code, str(landing)])


def run_size(work: Path, label: str, hwbs: int, scale: float, start: str, end: str, quarter: str) -> dict:
    root = work / "".join(ch if ch.isalnum() else "_" for ch in label)
    manifest, synth_seconds = synth(root, hwbs, scale, start, end)
    landing, reference = root / "landing", root / "reference"
    rows: dict[str, int] = {}
    for name, n in manifest.get("files", {}).items():
        parts = name.split("/")
        if len(parts) >= 3 and parts[0] == "landing":
            rows[parts[1]] = rows.get(parts[1], 0) + int(n)
    print(f"[{label}] synthetic data: {rows} (written in {synth_seconds:.0f}s)", flush=True)
    warehouse = root / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    for old in root.glob("warehouse.duckdb*"):
        old.unlink()
    lines: list = []
    env = {"CB_PSEUDONYMISATION_KEY": "benchmark-key", "CB_WAREHOUSE_URL": f"duckdb:///{warehouse}"}
    pipeline = measure([str(BIN / "cb-pipeline"), "run", "--quarter", quarter, "--landing", str(landing),
                        "--reference", str(reference), "--returns", str(root / "returns"),
                        "--warehouse", f"duckdb:///{warehouse}"], env=env, stage_log=lines)
    result = {"label": label, "hwbs": hwbs, "scale": scale, "rows": rows, "synth_seconds": round(synth_seconds, 1),
              "pipeline_seconds": round(pipeline["seconds"], 1), "pipeline_peak_mb": round(pipeline["peak_mb"]),
              "stages": stages(lines), "slowest_steps": slowest_steps(lines)}
    print(f"[{label}] pipeline {result['pipeline_seconds']}s, peak {result['pipeline_peak_mb']} MB, "
          f"stages {result['stages']}", flush=True)
    scan = duckdb_scan(landing)
    # The peer holds every file in memory; cap its address space so an England-sized run fails with
    # MemoryError (recorded) instead of pushing the machine into swap.
    cap = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({PEER_MEMORY_CAP_MB} << 20,) * 2)"
    try:
        peer = measure([sys.executable, "-c", f"{cap}; import runpy, sys; sys.argv = sys.argv[1:]; "
                        "runpy.run_path(sys.argv[0], run_name='__main__')",
                        str(REPO / "benchmarks" / "pandas_peer.py"), str(landing), str(reference)])
    except SystemExit as exc:
        print(f"[{label}] pandas peer failed within {PEER_MEMORY_CAP_MB:,} MB: {str(exc).splitlines()[-1]}", flush=True)
        peer = {"seconds": float("nan"), "peak_mb": float("nan")}
    result.update({"duckdb_scan_seconds": round(scan["seconds"], 1), "pandas_peer_seconds": round(peer["seconds"], 1),
                   "pandas_peer_peak_mb": peer["peak_mb"] if peer["peak_mb"] != peer["peak_mb"] else round(peer["peak_mb"])})
    result["ratio_pipeline_to_scan"] = round(pipeline["seconds"] / scan["seconds"], 1)
    result["ratio_peer_to_pipeline"] = round(peer["seconds"] / pipeline["seconds"], 2)
    print(f"[{label}] duckdb scan {result['duckdb_scan_seconds']}s, pandas peer {result['pandas_peer_seconds']}s "
          f"(peak {result['pandas_peer_peak_mb']} MB); pipeline/scan {result['ratio_pipeline_to_scan']}x, "
          f"peer/pipeline {result['ratio_peer_to_pipeline']}x", flush=True)
    return result


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0) if Path("/proc/meminfo").exists() else 0
    import duckdb
    import pandas
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pandas": pandas.__version__, "os": platform.platform()}


def write_markdown(path: Path, results: list[dict], info: dict) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {dt.date.today().isoformat()} by `benchmarks/england.py` (one run; every command a fresh process).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_mb']:,} MB RAM; Python {info['python']}, "
        f"DuckDB {info['duckdb']}, pandas {info['pandas']}; {info['os']}.",
        "",
        "| size | rows (hes_apc / hes_ae / ambulance / social_care) | pipeline s | ingest s | SQL s | returns s | "
        "peak MB | DuckDB scan s | pipeline / scan | pandas peer s | peer / pipeline |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rows = r["rows"]
        counts = " / ".join(f"{rows.get(f, 0):,}" for f in ("hes_apc", "hes_ae", "ambulance", "social_care"))
        s = r["stages"]
        peer_ran = r["pandas_peer_seconds"] == r["pandas_peer_seconds"]  # NaN when it failed
        peer = (f"{r['pandas_peer_seconds']} | {r['ratio_peer_to_pipeline']}x" if peer_ran else
                f"failed: out of memory within a {PEER_MEMORY_CAP_MB // 1000} GB cap | –")
        lines.append(f"| {r['label']} | {counts} | {r['pipeline_seconds']} | {s['ingest']} | {s['sql_models']} | "
                     f"{s['returns']} | {r['pipeline_peak_mb']:,} | {r['duckdb_scan_seconds']} | "
                     f"{r['ratio_pipeline_to_scan']}x | {peer} |")
    lines += [
        "",
        "Pipeline = `cb-pipeline run` for the last quarter of the data, cold: Dagster start-up, ingest of every",
        "feed with every rule of feeds.md, every SQL model with its tests, and the returns. Stages are read from",
        "the CLI's progress lines as they arrive. DuckDB scan = one `read_csv` over every feed file, all text,",
        "counting rows (the lower bound). Pandas peer = `benchmarks/pandas_peer.py`: `nea`, `falls65` and",
        "`dash_readm30` as an analyst would write them, on the same files (it does far less: no validation,",
        "no other metrics, no return).",
        "",
        "Targets (issue 7): England FY within 3x the DuckDB scan; 10x faster than the pandas peer; peak",
        "memory under 4 GB and flat as data grows; one HWB one quarter from a cold CLI under 20 s.",
        "",
        "## Against the targets (computed by the benchmark from the table above)",
        "",
        "| target | measured | met? |",
        "| --- | --- | --- |",
        *target_rows(results),
        "",
        "Slowest steps per size (seconds, from the progress lines):",
        "",
        *[f"- {r['label']}: " + ", ".join(f"`{name}` {sec}" for name, sec in r.get("slowest_steps", [])) for r in results],
        "",
    ]
    path.write_text("\n".join(lines) + "\n")


def target_rows(results: list[dict]) -> list[str]:
    rows = []
    quarter = [r for r in results if r["label"].startswith("1 HWB")]
    if quarter:
        q = quarter[0]["pipeline_seconds"]
        rows.append(f"| one HWB one quarter, cold CLI, under 20 s | {q} s | {'yes' if q < 20 else '**no**'} |")
    peaks = [r["pipeline_peak_mb"] for r in results]
    flat = ", ".join(f"{r['pipeline_peak_mb']:,} MB ({r['label']})" for r in results)
    rows.append(f"| peak memory under 4 GB, flat as data grows | {flat} | {'yes' if max(peaks) < 4096 else '**no**'} |")
    largest = max(results, key=lambda r: sum(r["rows"].values()))
    ratio = largest["ratio_pipeline_to_scan"]
    rows.append(f"| largest size within 3x the DuckDB scan | {ratio}x ({largest['pipeline_seconds']} s against "
                f"{largest['duckdb_scan_seconds']} s, {largest['label']}) | {'yes' if ratio <= 3 else '**no**'} |")
    peer = [r for r in results if r["pandas_peer_seconds"] == r["pandas_peer_seconds"]]  # NaN: the peer failed
    text = "; ".join(f"{r['label']}: peer/pipeline {r['ratio_peer_to_pipeline']}x" for r in peer) or "the peer never ran"
    failed = [r["label"] for r in results if r not in peer]
    if failed:
        text += f"; peer out of memory at {', '.join(failed)}"
    met = all(r["ratio_peer_to_pipeline"] >= 10 for r in peer)
    rows.append(f"| 10x faster than the pandas peer | {text} | {'yes' if met and peer else '**no** (where both run)'} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hwbs", type=int, action="append", help="HWB counts to run (one FY each)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cb_bench"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--skip-quarter", action="store_true", help="skip the one HWB one quarter run")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite --out from <work>/results.json of the last run (nothing is measured)")
    args = parser.parse_args()
    if args.render_only:
        saved = json.loads((args.work / "results.json").read_text())
        write_markdown(args.out, saved["results"], saved["machine"])
        print(f"wrote {args.out} from {args.work / 'results.json'}")
        return
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    if not args.skip_quarter:
        results.append(run_size(args.work, "1 HWB, 1 quarter", 1, 1.0, "2018-04", "2018-06", "2018-19-Q1"))
    for n in args.hwbs or [8, 38, 152]:
        results.append(run_size(args.work, f"{n} HWBs, 1 FY", n, args.scale, "2018-04", "2019-03", "2018-19-Q4"))
    info = machine()
    write_markdown(args.out, results, info)
    (args.work / "results.json").write_text(json.dumps({"machine": info, "results": results}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
