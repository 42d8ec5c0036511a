"""Benchmark: backup, restore and purge of a store built from a generated authority; prints wall
times and file sizes (nothing asserted).

    python benchmarks/bench_retention.py --families 2000 --months 6 [--workdir DIR]"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--months", type=int, default=6)
    ap.add_argument("--start", default="2025-01")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    from pbr import calendar as cal
    from pbr.backup import backup, restore
    from pbr.generate import generate
    from pbr.purge import purge
    from pbr.refresh import refresh

    work = args.workdir or Path(tempfile.mkdtemp(prefix="pbr-bench-ret-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    periods = [args.start]
    while len(periods) < args.months:
        periods.append(cal.next_period(periods[-1]))
    generate(families=args.families, seed=5, start=periods[0], end=periods[-1], out=work / "gen")
    db = work / "pbr.duckdb"
    t0 = time.perf_counter()
    for p in periods:
        refresh(p, work / "gen" / "deliveries" / p, db, work / "out")
    print(f"{args.families} families x {args.months} months refreshed in {time.perf_counter() - t0:.1f}s; "
          f"store {db.stat().st_size / 1e6:.1f} MB")

    def timed(label, fn):
        t = time.perf_counter()
        r = fn()
        print(f"{label:28} {time.perf_counter() - t:6.2f}s  {r}")

    timed("backup", lambda: backup(db, work / "bk.duckdb"))
    print(f"{'':28} backup {(work / 'bk.duckdb').stat().st_size / 1e6:.1f} MB")
    timed("restore (new file)", lambda: restore(work / "bk.duckdb", work / "restored.duckdb"))
    timed("restore --replace", lambda: restore(work / "bk.duckdb", work / "restored.duckdb", replace=True))
    from datetime import date
    before = date.fromisoformat(f"{periods[len(periods) // 2]}-01")
    timed(f"purge --dry-run {before}", lambda: purge(db, before, dry_run=True))
    timed(f"purge {before}", lambda: purge(db, before))
    print(f"{'':28} store after purge {db.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
