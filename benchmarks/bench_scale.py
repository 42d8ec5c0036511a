"""Benchmark the monthly refresh at authority or regional scale.

    python benchmarks/bench_scale.py --scale authority|region|smoke [--families N] [--history N]

1. Generates messy deliveries with the project's generator (truth=False: no reference model),
   cached under .bench/<scale>-<families>f-<months>m-s<seed>/ (gitignored; reused when present).
2. Loads the `history` months before the latest into a store (cached too: --rebuild-store).
3. Times, in a fresh child process, a full refresh of the latest period on that store, per step:
   read (find, read and type the files), validate (the Great Expectations suites: the time they
   add beyond the reading they overlap), load, link, households, cohort, outcomes, claims,
   outputs (CSV outputs and workbooks): wall time, peak memory (the child's VmHWM so far, or the
   child's and its GX worker's resident memory summed, sampled every 50 ms, where that is more),
   rows per second (rows read / step time); and the refresh process's CPU time (user, kernel)
   and minor page faults.
4. Times a bare DuckDB scan of the same files (read_csv, all text, count and one aggregate per
   file): the I/O floor the refresh is compared with.
5. Times an incremental refresh: one new month on the warm store the full refresh left.

--repeat N times each refresh N times, each from a copy of the same store (the history store; for
the incremental refresh, the store one full refresh left), and prints every run's total and the
steps of the median run: on a machine whose speed drifts (a shared VM's varies by up to 30 % within
an hour) the median of three says more than one run. Each run is printed with the Python loop
timed just before it (the JSON's `full_runs_loop_s`, `incremental_runs_loop_s`), so that a run slowed
by its host shows as such.

Prints figures only; nothing here asserts a timing. The first line after the heading names the
machine (CPU, memory, load average, a pure-Python calibration loop, the cost of touching fresh
memory: on a VM whose host takes freed memory back it varies 50-fold) so that runs on different
machines can be compared; the last line is a JSON summary."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# families: the generator's families (the households it simulates grow from them); a region is
# `authorities` authorities of families / authorities each (pbr.generate.region), the first of
# them the authority scale's own data.
SCALES = {
    "smoke": {"families": 150, "history": 1, "authorities": 1},
    "authority": {"families": 80_000, "history": 2, "authorities": 1},
    "region": {"families": 800_000, "history": 1, "authorities": 10},
}
STEP_LABELS = {"families": "households"}  # the refresh's step names -> the words
LATEST = "2015-03"


def periods_ending(end: str, n: int) -> list[str]:
    out = [end]
    while len(out) < n:
        out.insert(0, _prev(out[0]))
    return out


def _prev(period: str) -> str:
    y, m = map(int, period.split("-"))
    return f"{y - 1}-12" if m == 1 else f"{y}-{m - 1:02d}"


def _next(period: str) -> str:
    y, m = map(int, period.split("-"))
    return f"{y + 1}-01" if m == 12 else f"{y}-{m + 1:02d}"


def peak_mb() -> float:
    """This process's peak resident memory, MB (VmHWM: a child's own, where ru_maxrss would report
    the parent's 2,273 MB for every step of a run whose parent had built 8 months of history)."""
    from pbr.validation.worker import peak_mb as own
    return own()


class TreeMemory:
    """The resident memory of this process and of its worker process (GX's),
    together: their sum sampled every 50 ms in a thread, its peak (MB) since the last `take`. The
    worker runs beside the refresh, so its memory counts with the refresh's at the same moment."""

    def __init__(self, interval: float = 0.05):
        import threading
        self.peak = self.overall = 0.0
        self._interval, self._stop = interval, threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)
        self._thread.start()

    @staticmethod
    def _rss_mb(pid: int | str) -> float:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def _run(self) -> None:
        import multiprocessing
        while not self._stop.wait(self._interval):
            # (active_children: the multiprocessing children, i.e. the worker processes)
            try:
                children = [p.pid for p in multiprocessing.active_children()]
            except RuntimeError:  # (a worker starting meanwhile: its set changed size) next time
                continue
            total = self._rss_mb("self") + sum(self._rss_mb(pid) for pid in children)
            self.peak = max(self.peak, total)
            self.overall = max(self.overall, total)

    def take(self) -> float:
        peak, self.peak = self.peak, 0.0
        return peak

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.overall


def cpu_since(start: resource.struct_rusage) -> dict:
    """The refresh process's CPU time (user, kernel) and minor page faults since `start` (the GX
    worker's are its own, not counted). The kernel's share is mostly page faults: on a VM whose
    host takes freed memory back, each costs far more in a slow spell (benchmarks/README.md,
    round 21)."""
    now = resource.getrusage(resource.RUSAGE_SELF)
    return {"user_s": round(now.ru_utime - start.ru_utime, 2), "sys_s": round(now.ru_stime - start.ru_stime, 2),
            "minor_faults": now.ru_minflt - start.ru_minflt}


def fresh_page_us(mib: int = 256) -> float:
    """Microseconds to touch one 4 KiB page of memory just mapped (the first touch of `mib` MiB,
    not the best of several: what varies is whether the host still backs the pages the machine
    has free; 0.4 us when it does, 22 us when it had taken them back, round 21)."""
    import mmap

    with mmap.mmap(-1, mib << 20) as m:
        t0 = time.perf_counter()
        for offset in range(0, mib << 20, 4096):
            m[offset] = 1
        return round((time.perf_counter() - t0) / (mib << 8) * 1e6, 2)


def child_refresh(period: str, folder: Path, db: Path, out: Path) -> dict:
    from pbr.config import load_config
    from pbr.ingest import discover
    from pbr.refresh import ArrivingDelivery, apply_delivery, delivery_origin
    from pbr.rulebook import load_rulebook
    from pbr.validation import worker as validation_worker
    from pbr.validation import memo as validation_memo

    steps: list[dict] = []

    def record(name: str, t0: float) -> None:
        own = peak_mb()
        steps.append({"step": STEP_LABELS.get(name, name), "wall_s": time.perf_counter() - t0,
                      "peak_mb": max(own, tree.take()), "own_peak_mb": own})

    tree = TreeMemory()
    t_all = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    validation_worker.start()  # as pbr.refresh.refresh does: GX loads from the start
    rb, config = load_rulebook(None), load_config(os.environ.get("PBR_BENCH_CONFIG"))  # a --config, e.g. store.memory_limit
    # As `pbr refresh` does on an existing store (pbr.refresh.ArrivingDelivery): each file read
    # and typed while the one before is validated, on a thread of their own, and each loaded into
    # the store as soon as it is validated. read: the reading and typing; validate: the rest of
    # the time until every file is validated (the validation reading did not hide); load: the
    # rest of the load step after that (what loading did not hide).
    t0 = time.perf_counter()
    files = discover(folder)
    memo = validation_memo.load(db)
    t_found, reads = time.perf_counter(), []
    arriving = ArrivingDelivery(files, config, period, memo, on_read=reads.append)
    del files, memo  # as in pbr refresh: the stored memo is not kept past the reading

    def runner(name, fn, run) -> None:
        t = time.perf_counter()
        fn(run)
        if name != "load":
            record(name, t)
            return
        # The load step began with the reading. GX ran in the validation worker: its memory
        # counts with this process's (sampled together: TreeMemory); the worker stops once the
        # files are validated (refresh.RELEASE_WORKER_ROWS). The bound: its peak added to this
        # process's, as if both had peaked at once.
        own, together = peak_mb(), tree.take()
        worker_peak = arriving.worker_peak_mb or 0.0
        read_s = t_found - t0 + sum(reads)
        validate_s = arriving.finished_at - t0 - read_s
        for step, wall in (("read", read_s), ("validate", validate_s),
                           ("load", time.perf_counter() - arriving.finished_at)):
            steps.append({"step": step, "wall_s": wall, "peak_mb": max(own, together), "own_peak_mb": own,
                          "bound_mb": own + worker_peak})

    # As `pbr refresh` does: the frames are emptied once loaded.
    result = apply_delivery(period, arriving, db, out, rb, config, origin=delivery_origin(folder), step_runner=runner,
                            release_inputs=True)
    total = time.perf_counter() - t_all
    cpu = cpu_since(usage)
    rows = sum(f["rows_read"] for f in result.summary["files"])
    worker_peak = arriving.worker_peak_mb or 0.0
    return {"period": period, "rows": rows, "people": result.summary["people"],
            "families": result.summary["families"], "cohort": result.summary["cohort"],
            "total_s": total, "peak_mb": max([peak_mb(), tree.stop()] + [s["peak_mb"] for s in steps]),
            "peak_bound_mb": max(s.get("bound_mb", s["peak_mb"]) for s in steps),
            "validation_worker_peak_mb": worker_peak, "cpu": cpu, "steps": steps}


def child_floor(folder: Path) -> dict:
    """The I/O floor: DuckDB reads every CSV of the delivery as text and aggregates it."""
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    rows = 0
    for f in sorted(folder.glob("*.csv")):
        n, _ = con.execute(
            "SELECT count(*), count(DISTINCT COLUMNS(*)) FROM read_csv(?, all_varchar = true, header = true)",
            [str(f)]).fetchone()[:2]
        rows += n
    return {"rows": rows, "wall_s": time.perf_counter() - t0, "peak_mb": peak_mb()}


def run_child(*args: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"child {args[0]} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Parent mode.

def generate_cached(work: Path, families: int, seed: int, periods: list[str], authorities: int = 1,
                    workers: int = 1) -> tuple[Path, float | None]:
    gen = work / "gen"
    marker = gen / "truth" / "manifest.json"
    if marker.exists():
        return gen, None
    t0 = time.perf_counter()
    if authorities > 1:
        from pbr.generate.region import generate_region

        generate_region(authorities=authorities, families=families // authorities, seed=seed, start=periods[0],
                        end=periods[-1], out=gen, messy=True, workers=workers)
    else:
        from pbr.generate import generate

        generate(families=families, seed=seed, start=periods[0], end=periods[-1], out=gen, messy=True, truth=False)
    return gen, time.perf_counter() - t0


def machine() -> dict:
    """What the figures ran on, to compare runs across machines: the CPU, its count, the memory,
    the load average, and a pure-Python calibration (a 10M-iteration empty loop, best of three:
    the refresh's Python parts scale with it; the I/O floor calibrates DuckDB's part)."""
    from pbr.store_settings import machine_memory

    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ram = machine_memory()
    return {"cpu": cpu, "cpus": os.cpu_count(), "ram_gb": round(ram / 2**30, 1) if ram else None,
            "load": round(os.getloadavg()[0], 2), "python_loop_s": python_loop_s(), "fresh_page_us": fresh_page_us()}


def python_loop_s() -> float:
    """A 10M-iteration empty loop, best of three, in seconds. Measured again just before each
    timed refresh: on a shared host the same loop has taken from 0.12 to 0.24 s within a minute,
    and a run's time follows it, so each run is printed with the loop timed before it."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _i in range(10_000_000):
            pass
        best = min(best, time.perf_counter() - t0)
    return round(best, 3)


def print_refresh(label: str, r: dict, floor: dict | None = None) -> None:
    print(f"\n{label}: period {r['period']}, {r['rows']:,} rows read, {r['people']:,} people, "
          f"{r['families']:,} families, cohort {r['cohort']:,}")
    print(f"  {'step':12} {'wall s':>8} {'share':>6} {'peak MB':>8} {'rows/s':>12}")
    for s in r["steps"]:
        rate = r["rows"] / s["wall_s"] if s["wall_s"] > 0 else float("inf")
        print(f"  {s['step']:12} {s['wall_s']:>8.2f} {100 * s['wall_s'] / r['total_s']:>5.0f}% "
              f"{s['peak_mb']:>8.0f} {rate:>12,.0f}")
    print(f"  {'total':12} {r['total_s']:>8.2f} {100:>5}% {r['peak_mb']:>8.0f} {r['rows'] / r['total_s']:>12,.0f}")
    cpu = r.get("cpu")
    if cpu:
        print(f"  CPU {cpu['user_s']:.1f} s user, {cpu['sys_s']:.1f} s kernel "
              f"({(cpu['user_s'] + cpu['sys_s']) / r['total_s']:.2f} cores busy); {cpu['minor_faults']:,} page faults")
    if floor:
        print(f"  I/O floor (bare DuckDB scan of the same files): {floor['wall_s']:.2f} s; "
              f"refresh / floor = {r['total_s'] / floor['wall_s']:.1f}x")
    if r.get("validation_worker_peak_mb"):
        print(f"peak MB: the refresh process's VmHWM, or its and the GX worker's resident memory together "
              f"(sampled every 50 ms) where that is more; the GX worker's own peak {r['validation_worker_peak_mb']:,.0f} MB; "
              f"bound (that peak added to the refresh's, as if both peaked at once): {r.get('peak_bound_mb', 0):,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="smoke")
    ap.add_argument("--families", type=int, help="override the scale's family count")
    ap.add_argument("--history", type=int, help="months loaded into the store before the timed refresh")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2,
                    help="processes generating a region's authorities (each needs about 2 GB at 80,000 families)")
    ap.add_argument("--workdir", type=Path, help="default: .bench/ in the repository")
    ap.add_argument("--rebuild-store", action="store_true", help="reload the history months into a new store")
    ap.add_argument("--generate-only", action="store_true", help="generate (or find) the deliveries and stop")
    ap.add_argument("--skip-incremental", action="store_true", help="time the full refresh only")
    ap.add_argument("--repeat", type=int, default=1, help="time each refresh this many times (median run shown)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        kind, *rest = args.child
        if kind == "refresh":
            period, folder, db, out = rest
            print(json.dumps(child_refresh(period, Path(folder), Path(db), Path(out))))
        else:
            print(json.dumps(child_floor(Path(rest[0]))))
        return

    scale = SCALES[args.scale]
    families = args.families or scale["families"]
    history = scale["history"] if args.history is None else args.history
    # history months, the latest (timed full refresh) and one more (incremental refresh).
    periods = periods_ending(LATEST, history + 1) + [_next(LATEST)]
    base = args.workdir or ROOT / ".bench"
    work = base / f"{args.scale}-{families}f-{len(periods)}m-s{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    print(f"pbr scale benchmark: scale {args.scale}, {families:,} families, periods {periods[0]}..{periods[-1]} "
          f"(history {history}, full {periods[-2]}, incremental {periods[-1]}); {os.cpu_count()} CPUs; work {work}")

    box = machine()
    print(f"machine: {box['cpu']}, {box['cpus']} CPUs, {box['ram_gb']} GB; load average {box['load']}; "
          f"Python calibration (10M-iteration loop) {box['python_loop_s']:.3f} s; "
          f"fresh memory {box['fresh_page_us']:.2f} us a page (first touch of 256 MiB)")
    gen, gen_s = generate_cached(work, families, args.seed, periods, scale["authorities"], args.workers)
    deliveries = gen / "deliveries"
    manifest = json.loads((gen / "truth" / "manifest.json").read_text())["summary"]
    print(f"generate: {manifest['people']:,} people; "
          + (f"{gen_s:.1f} s" if gen_s is not None else "cached"))
    if args.generate_only:
        return

    history_db = work / "history.duckdb"
    if args.rebuild_store or not history_db.exists():
        history_db.unlink(missing_ok=True)
        tmp = work / "history.tmp.duckdb"
        tmp.unlink(missing_ok=True)
        t0 = time.perf_counter()
        for p in periods[:-2]:
            r = run_child("refresh", p, str(deliveries / p), str(tmp), str(work / "out-history"))
            print(f"history {p}: {r['rows']:,} rows, {r['total_s']:.1f} s, peak {r['peak_mb']:.0f} MB")
        tmp.rename(history_db)
        print(f"history store built in {time.perf_counter() - t0:.1f} s")
    db = work / "bench.duckdb"
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    repeat = max(1, args.repeat)

    def timed(period: str, start: Path) -> tuple[dict, list[float], list[float]]:
        """The median of `repeat` refreshes of the period, each on a fresh copy of `start`; every
        run's time, and the Python loop timed just before it (python_loop_s)."""
        runs, loops = [], []
        for _ in range(repeat):
            shutil.copyfile(start, db)
            Path(f"{db}.wal").unlink(missing_ok=True)
            loops.append(python_loop_s())
            runs.append(run_child("refresh", period, str(deliveries / period), str(db), str(out)))
        totals = [r["total_s"] for r in runs]
        if repeat > 1:
            print(f"\n{period}: {repeat} runs, " + ", ".join(f"{t:.2f}" for t in totals)
                  + f" s (min {min(totals):.2f}, median {sorted(totals)[(repeat - 1) // 2]:.2f}, max {max(totals):.2f});"
                  + " Python loop before each: " + ", ".join(f"{x:.3f}" for x in loops) + " s")
        return sorted(runs, key=lambda r: r["total_s"])[(repeat - 1) // 2], totals, loops

    full_period, inc_period = periods[-2], periods[-1]
    floor = run_child("floor", str(deliveries / full_period))
    full, full_runs, full_loops = timed(full_period, history_db)
    print_refresh("full refresh" + (" (the median run)" if repeat > 1 else ""), full, floor)
    inc, inc_runs, inc_loops = None, [], []
    if not args.skip_incremental:
        warm = work / "warm.duckdb"  # the store a full refresh left: each incremental run starts from it
        shutil.copyfile(db, warm)
        inc_floor = run_child("floor", str(deliveries / inc_period))
        inc, inc_runs, inc_loops = timed(inc_period, warm)
        print_refresh("incremental refresh (one new month on the warm store)" + (" (the median run)" if repeat > 1 else ""),
                      inc, inc_floor)
        warm.unlink(missing_ok=True)
    box["load_after"] = round(os.getloadavg()[0], 2)
    print(f"\nstore {db.stat().st_size / 1e6:,.0f} MB; I/O floor {floor['rows']:,} rows in {floor['wall_s']:.2f} s; "
          f"load average at the end {box['load_after']}")
    print(json.dumps({"scale": args.scale, "machine": box, "families": families, "people": manifest["people"],
                      "rows": full["rows"], "full_s": round(full["total_s"], 2), "full_peak_mb": round(full["peak_mb"]),
                      "incremental_s": round(inc["total_s"], 2) if inc else None,
                      "incremental_peak_mb": round(inc["peak_mb"]) if inc else None,
                      "full_runs_s": [round(t, 2) for t in full_runs], "incremental_runs_s": [round(t, 2) for t in inc_runs],
                      "full_runs_loop_s": full_loops, "incremental_runs_loop_s": inc_loops,
                      "floor_s": round(floor["wall_s"], 2), "ratio_to_floor": round(full["total_s"] / floor["wall_s"], 1),
                      "full_cpu": full["cpu"], "incremental_cpu": inc["cpu"] if inc else None,
                      "steps": {s["step"]: round(s["wall_s"], 2) for s in full["steps"]}}))


if __name__ == "__main__":
    main()
