"""Benchmark: one large hes_apc delivery through the ingest engine, printing rows/s and peak memory.

Belongs here: a measurement that prints figures (not a unit test). Run:
    .venv/bin/python benchmarks/ingest_stream.py --rows 1000000 [--rows 3000000 ...]
Each size runs in a fresh subprocess so peak RSS is that size's alone; bounded memory shows as a
peak that stays flat while rows grow.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HEADER = ["EPIKEY", "PROCODE3", "NHSNUMBER", "PSEUDO_HESID", "ADMIDATE", "DISDATE", "EPIORDER", "ADMIMETH",
          "ADMISORC", "DISMETH", "STARTAGE", "LSOA11", "TRETSPEF", "DIAG_4_01", "DIAG_4_02"]


def write_delivery(path: Path, n: int, chunk: int = 500_000) -> None:
    rng = np.random.default_rng(1)
    with path.open("w") as f:
        f.write(",".join(HEADER) + "\n")
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            days = rng.integers(0, 365, m)
            adm = pd.to_datetime("2018-04-01") + pd.to_timedelta(days, "D")
            frame = pd.DataFrame({
                "EPIKEY": np.arange(start, start + m).astype(str),
                "PROCODE3": "RC9",
                "NHSNUMBER": "",
                "PSEUDO_HESID": pd.Series(rng.integers(0, n // 3 + 1, m)).astype(str).radd("P"),
                "ADMIDATE": adm.strftime("%Y-%m-%d"),
                "DISDATE": (adm + pd.to_timedelta(rng.integers(0, 10, m), "D")).strftime("%Y-%m-%d"),
                "EPIORDER": "1", "ADMIMETH": "21", "ADMISORC": "19", "DISMETH": "1",
                "STARTAGE": rng.integers(0, 100, m).astype(str),
                "LSOA11": "E01000001", "TRETSPEF": "300", "DIAG_4_01": "S720", "DIAG_4_02": "W19X",
            })
            frame.to_csv(f, header=False, index=False)


def run_one(n: int) -> dict:
    from cb_pipeline.lib.ingest import ingest_feed
    from cb_pipeline.lib.warehouse import Warehouse
    from cb_pipeline.reference import load_reference

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "landing" / "hes_apc").mkdir(parents=True)
        (tmp / "ref").mkdir()
        (tmp / "ref" / "lsoa_localities.csv").write_text(
            "lsoa11_code,lsoa11_name,msoa11_code,msoa11_name,la_code,la_name,locality_code,locality_name\n"
            "E01000001,A,E02000001,A,E06000099,T,L1,L\n")
        delivery = tmp / "landing" / "hes_apc" / "20190501T0200_RC9_apc.csv"
        write_delivery(delivery, n)
        w = Warehouse(f"duckdb:///{tmp}/w.duckdb")
        load_reference(w, tmp / "ref")
        t = time.perf_counter()
        rep = ingest_feed(w, "hes_apc", tmp / "landing", key=None, progress=lambda m: None)
        seconds = time.perf_counter() - t
        d = rep.deliveries[0]
        return {"rows": n, "file_mb": round(delivery.stat().st_size / 1e6, 1), "seconds": round(seconds, 1),
                "rows_per_s": int(n / seconds), "valid": d.valid,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child)))
        return
    for n in args.rows or [200_000, 1_000_000]:
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True,
                             env={**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1"})
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            raise SystemExit(out.returncode)
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
