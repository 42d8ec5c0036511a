"""Benchmark: the monthly report's render time (figures from the store, disclosure control,
matplotlib charts, the page) over a generated authority.

    python benchmarks/bench_report.py --families 2000 20000 --months 8 [--repeat 3] [--workdir DIR]

For each size: generate, run the monthly refreshes in order (each writes its report.html), then
time render_report for the last period on the read-only store (in-process, after one warm-up, so
imports are left out) and `pbr report` as a fresh process (imports included). Prints figures
only; nothing here asserts a timing."""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--months", type=int, default=8)
    ap.add_argument("--start", default="2025-06")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    import duckdb

    from pbr import calendar as cal
    from pbr.config import Config
    from pbr.generate import generate
    from pbr.refresh import refresh
    from pbr.report.page import render_report
    from pbr.rulebook import load_rulebook

    periods = [args.start]
    while len(periods) < args.months:
        periods.append(cal.next_period(periods[-1]))
    rb = load_rulebook()
    print(f"{'families':>8} {'months':>6} {'refresh s (mean)':>16} {'cohort':>7} {'render s (median)':>17} "
          f"{'min':>6} {'max':>6} {'pbr report s':>12} {'page KB':>8}")
    for n in args.families:
        work = (args.workdir or Path(tempfile.mkdtemp(prefix="pbr-bench-report-"))) / f"f{n}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        generate(families=n, seed=args.seed, start=periods[0], end=periods[-1], out=work / "gen")
        walls = []
        for p in periods:
            t0 = time.perf_counter()
            r = refresh(p, work / "gen" / "deliveries" / p, work / "pbr.duckdb", work / "out")
            walls.append(time.perf_counter() - t0)
        con = duckdb.connect(str(work / "pbr.duckdb"), read_only=True)
        try:
            render_report(con, periods[-1], Config(), rb)   # warm-up: imports, font cache
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                html = render_report(con, periods[-1], Config(), rb)
                times.append(time.perf_counter() - t0)
        finally:
            con.close()
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pbr.cli", "report", "--period", periods[-1], "--db",
                        str(work / "pbr.duckdb"), "--out", str(work / "out2")], check=True, capture_output=True)
        cli = time.perf_counter() - t0
        print(f"{n:>8} {len(periods):>6} {statistics.mean(walls):>16.1f} {r.summary['cohort']:>7} "
              f"{statistics.median(times):>17.2f} {min(times):>6.2f} {max(times):>6.2f} {cli:>12.1f} "
              f"{len(html.encode()) / 1024:>8.0f}", flush=True)
        if args.workdir is None:
            shutil.rmtree(work.parent, ignore_errors=True)
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
