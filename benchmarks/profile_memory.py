"""Where a refresh's peak memory is reached: the benchmark's timed refresh (bench_scale's child,
i.e. what `pbr refresh` does) with its resident set size sampled every few milliseconds by a
thread, around each piece (read, type, validate, GX, load, each SQL file, components, Splink...).

    python benchmarks/profile_memory.py PERIOD DELIVERY_FOLDER STORE.duckdb OUT_DIR

Run it on a COPY of a store (it refreshes it). tracemalloc does not see polars' or DuckDB's memory;
RSS does. Prints one line per piece: RSS before, the highest RSS sampled during it, RSS after
(MB), its wall time and nesting depth. Figures only."""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PAGE = os.sysconf("SC_PAGE_SIZE")
_stack: list[dict] = []
_lines: list[dict] = []
_lock = threading.Lock()


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def _sampler(stop: threading.Event) -> None:
    while not stop.is_set():
        r = rss_mb()
        with _lock:
            for frame in _stack:
                frame["max"] = max(frame["max"], r)
        time.sleep(0.005)


def _wrap(label: str, fn):
    @functools.wraps(fn)
    def inner(*a, **kw):
        r = rss_mb()
        frame = {"label": label, "before": r, "max": r, "depth": len(_stack)}
        with _lock:
            _stack.append(frame)
        t0 = frame["start"] = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            after = rss_mb()
            frame["duckdb"] = _duckdb_mb(a[0]) if a else None
            with _lock:
                _stack.remove(frame)
                frame.update(after=after, max=max(frame["max"], after), wall_s=time.perf_counter() - t0)
                for outer in _stack:
                    outer["max"] = max(outer["max"], frame["max"])
            _lines.append(frame)
            if label.startswith("sql:"):
                frame["label"] = f"sql:{a[1]}"
    return inner


def _duckdb_mb(con) -> float | None:
    """What the store connection's buffer manager holds (DuckDB's own count), when `con` is one."""
    import duckdb
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return None
    try:
        return con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0] / 2**20
    except duckdb.Error:
        return None


# (module where the name is looked up, name, label)
PATCHES = [
    ("pbr.ingest.discover", "read_text_frame", "read_text_frame"),
    ("pbr.ingest.parse", "type_text", "type_text"),
    ("pbr.ingest.parse", "validate_typed", "validate_typed"),
    ("pbr.validation.core", "to_pandas", "gx:to_pandas"),
    ("pbr.validation.gx", "run", "gx:run"),
    ("pbr.refresh", "load_parsed", "load_parsed"),
    ("pbr.refresh", "release_frames", "release_frames"),
    ("pbr.refresh", "run_sql", "sql:"),
    ("pbr.refresh", "components", "components(address)"),
    ("pbr.refresh", "link_people", "link_people"),
    ("pbr.linkage", "components", "components(person)"),
    ("pbr.probabilistic_links", "components", "components(det)"),
    ("pbr.probabilistic_links", "observations", "splink:observations"),
    ("pbr.probabilistic_links", "predict", "splink:predict"),
    ("pbr.linkage_quality", "build_quality", "build_quality"),
    ("pbr.refresh", "assign_families", "assign_families"),
    ("pbr.refresh", "build_batch", "build_batch"),
    ("pbr.refresh", "write_outputs", "write_outputs"),
    ("pbr.report", "write_report", "write_report"),
]


def main() -> None:
    period, folder, db, out = sys.argv[1:5]
    for module, name, label in PATCHES:
        m = importlib.import_module(module)
        setattr(m, name, _wrap(label, getattr(m, name)))
    import bench_scale

    stop = threading.Event()
    threading.Thread(target=_sampler, args=(stop,), daemon=True).start()
    r = bench_scale.child_refresh(period, Path(folder), Path(db), Path(out))
    stop.set()
    print(f"{'piece':42} {'before':>7} {'max':>7} {'after':>7} {'wall s':>7} {'duckdb':>7}")
    for f in sorted(_lines, key=lambda f: f["start"]):
        print(f"{'  ' * f['depth'] + f['label']:42} {f['before']:>7.0f} {f['max']:>7.0f} {f['after']:>7.0f} {f['wall_s']:>7.2f} "
              + (f"{f['duckdb']:>7.0f}" if f.get("duckdb") is not None else ""))
    print(json.dumps({"peak_mb": r["peak_mb"], "steps": {s["step"]: [round(s["wall_s"], 2), round(s["peak_mb"])]
                                                          for s in r["steps"]}}))


if __name__ == "__main__":
    main()
