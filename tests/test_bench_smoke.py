"""The scale benchmark runs end to end at a tiny scale and reports every step (no timing asserts:
speed figures come from running it at authority or region scale, see benchmarks/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ["read", "validate", "load", "link", "households", "cohort", "outcomes", "claims", "outputs"]


def test_bench_scale_smoke_prints_every_step(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_scale.py"), "--scale", "smoke", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for section in ("full refresh", "incremental refresh", "I/O floor"):
        assert section in out
    # Each refresh's table has a row per step, then the total.
    tables = [t for t in out.split("\n\n") if "step" in t and "wall s" in t]
    assert len(tables) == 2
    for table in tables:
        names = [line.split()[0] for line in table.splitlines()[2:] if line.startswith("  ") and not line.startswith(("  I/O", "  CPU"))]
        assert names == STEPS + ["total"]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["scale"] == "smoke"
    assert list(summary["steps"]) == STEPS
    assert summary["rows"] > 0 and summary["people"] > 0
    # The machine's cost of fresh memory, and each refresh's CPU and page faults, printed and kept.
    assert summary["machine"]["fresh_page_us"] > 0 and "us a page (first touch of 256 MiB)" in out
    for kind in ("full_cpu", "incremental_cpu"):
        cpu = summary[kind]
        assert cpu["user_s"] > 0 and cpu["sys_s"] >= 0 and cpu["minor_faults"] > 1000, cpu
    cpu_lines = [line for line in out.splitlines() if line.startswith("  CPU ")]
    assert len(cpu_lines) == 2 and all("page faults" in line and "cores busy" in line for line in cpu_lines)
    assert f"{summary['full_cpu']['minor_faults']:,} page faults" in out
    # The delivery and the stores stay under the work folder (gitignored .bench/ by default).
    assert (tmp_path / "smoke-150f-3m-s7" / "history.duckdb").exists()


def test_bench_scale_repeats_each_refresh_from_the_same_store_and_shows_the_median(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_scale.py"), "--scale", "smoke", "--workdir", str(tmp_path),
         "--repeat", "3"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    summary = json.loads(out.strip().splitlines()[-1])
    for kind, period in (("full", "2015-03"), ("incremental", "2015-04")):
        runs = summary[f"{kind}_runs_s"]
        assert len(runs) == 3
        assert summary[f"{kind}_s"] == sorted(runs)[1]  # the median run's figures are the ones shown
        line = next(x for x in out.splitlines() if x.startswith(f"{period}: 3 runs"))
        assert f"median {sorted(runs)[1]:.2f}" in line
        # each run with the Python loop timed just before it (a shared host's slow spells show)
        loops = summary[f"{kind}_runs_loop_s"]
        assert len(loops) == 3 and all(0 < x < 60 for x in loops)
        assert line.endswith("Python loop before each: " + ", ".join(f"{x:.3f}" for x in loops) + " s")
    assert "full refresh (the median run)" in out and "incremental refresh (one new month on the warm store) (the median run)" in out
    assert not (tmp_path / "smoke-150f-3m-s7" / "warm.duckdb").exists()
