"""Benchmark: generate a synthetic authority, run its monthly refreshes in order, and print each
refresh's wall time and peak memory (each refresh runs in its own process, so the peak is its own).

    python benchmarks/bench_refresh.py --families 2000 --months 12 [--messy] [--workdir DIR]

Prints figures only; nothing here asserts a timing."""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from pbr.refresh import refresh
period, extracts, db, out = sys.argv[1:5]
t0 = time.perf_counter()
r = refresh(period, Path(extracts), Path(db), Path(out))
wall = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = sum(f["rows_read"] for f in r.summary["files"])
print(json.dumps({"period": period, "wall_s": wall, "peak_mb": peak_kb / 1024, "rows": rows,
                  "cohort": r.summary["cohort"], "families": r.summary["families"], "people": r.summary["people"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--start", default="2025-01")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--messy", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    from pbr import calendar as cal
    from pbr.generate import generate

    work = args.workdir or Path(tempfile.mkdtemp(prefix="pbr-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    periods = [args.start]
    while len(periods) < args.months:
        periods.append(cal.next_period(periods[-1]))
    t0 = time.perf_counter()
    generate(families=args.families, seed=args.seed, start=periods[0], end=periods[-1], out=work / "gen", messy=args.messy)
    print(f"generated {args.families} families x {args.months} months in {time.perf_counter() - t0:.1f}s")
    print(f"{'period':8} {'rows read':>10} {'people':>8} {'families':>8} {'cohort':>7} {'wall s':>7} {'peak MB':>8}")
    results = []
    for p in periods:
        proc = subprocess.run([sys.executable, "-c", CHILD, p, str(work / "gen" / "deliveries" / p),
                               str(work / "pbr.duckdb"), str(work / "out")], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            sys.exit(1)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{r['period']:8} {r['rows']:>10} {r['people']:>8} {r['families']:>8} {r['cohort']:>7} "
              f"{r['wall_s']:>7.2f} {r['peak_mb']:>8.0f}")
    walls = [r["wall_s"] for r in results]
    print(f"refreshes: mean {sum(walls) / len(walls):.2f}s, max {max(walls):.2f}s, "
          f"peak memory max {max(r['peak_mb'] for r in results):.0f} MB; store {(work / 'pbr.duckdb').stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
