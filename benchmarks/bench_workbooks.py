"""Benchmark: the workbooks' write time and size. Generates a synthetic authority, runs its monthly
refreshes in order without outputs (the store only), then rebuilds each period's claims.xlsx and
cohort.xlsx from the store, printing the claim items and cohort families each holds, the write time
and the file sizes.

    python benchmarks/bench_workbooks.py --families 2000 --months 14 [--workdir DIR] [--keep]

Prints figures only; nothing here asserts a timing."""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--months", type=int, default=14)
    ap.add_argument("--start", default="2025-01")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work folder (store and workbooks)")
    args = ap.parse_args()

    from pbr import calendar as cal
    from pbr.generate import generate
    from pbr.refresh import refresh
    from pbr.store import connect
    from pbr.workbooks.rebuild import rebuild_workbooks

    work = args.workdir or Path(tempfile.mkdtemp(prefix="pbr-bench-wb-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    periods = [args.start]
    while len(periods) < args.months:
        periods.append(cal.next_period(periods[-1]))
    t0 = time.perf_counter()
    generate(families=args.families, seed=args.seed, start=periods[0], end=periods[-1], out=work / "gen")
    print(f"generated {args.families} families x {args.months} months in {time.perf_counter() - t0:.1f}s")
    db = work / "store.duckdb"
    t0 = time.perf_counter()
    for p in periods:
        refresh(p, work / "gen" / "deliveries" / p, db, None)
    print(f"refreshed {len(periods)} periods (store only) in {time.perf_counter() - t0:.1f}s")

    con = connect(db, read_only=True)
    counts = {p: (con.execute("SELECT count(*) FROM claim_item JOIN claim_batch USING (batch_id) WHERE period = ?",
                              [p]).fetchone()[0],
                  con.execute("SELECT count(*) FROM cohort WHERE identified_period <= ?", [p]).fetchone()[0])
              for p in periods}
    con.close()
    print(f"{'period':8} {'items':>6} {'cohort':>7} {'write s':>8} {'claims.xlsx KB':>15} {'cohort.xlsx KB':>15}")
    total = 0.0
    for p in periods:
        t0 = time.perf_counter()
        rebuild_workbooks(p, db, work / "out")
        wall = time.perf_counter() - t0
        total += wall
        folder = work / "out" / p
        print(f"{p:8} {counts[p][0]:>6} {counts[p][1]:>7} {wall:>8.2f} "
              f"{(folder / 'claims.xlsx').stat().st_size / 1024:>15.0f} {(folder / 'cohort.xlsx').stat().st_size / 1024:>15.0f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"workbooks for {len(periods)} periods written in {total:.1f}s; process peak memory {peak:.0f} MB "
          "(includes the refreshes)")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
