"""Great Expectations in its worker process (pbr.validation.worker): the same quarantine and
results as in the refresh's own process, which then never imports GX; a worker that dies fails the
validation with a clear error and the next one starts afresh."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys

import pytest

from pbr.errors import PbrError
from pbr.ingest.parse import validate_typed
from pbr.validation import worker
from test_validation import P, write_cases
from test_validation_chunks import typed_files  # noqa: F401 - the same typed test-case files


def outcome(parsed):
    return (parsed.rows, parsed.rejects, [dataclasses.replace(o) for o in parsed.validation.outcomes],
            parsed.validation.rows_quarantined, parsed.validation.gx_version)


def test_worker_and_in_process_give_the_same_validation(typed_files, monkeypatch):
    monkeypatch.setenv("PBR_GX_WORKER", "1")
    in_worker = [outcome(validate_typed(t, P)) for t in typed_files]
    monkeypatch.setenv("PBR_GX_WORKER", "0")
    here = [outcome(validate_typed(t, P)) for t in typed_files]
    assert len(in_worker) >= 5
    quarantined = 0
    for (rows_a, rej_a, out_a, q_a, v_a), (rows_b, rej_b, out_b, q_b, v_b) in zip(in_worker, here):
        assert rows_a.equals(rows_b) and rej_a.equals(rej_b)
        assert out_a == out_b and q_a == q_b and v_a == v_b
        quarantined += q_a
    assert quarantined > 0  # the cases files fail checks: the comparison is not of empty results


def test_the_worker_validates_without_loading_what_it_defers(typed_files, monkeypatch):
    # scipy.stats comes in with GX's import but pbr's suites never use it: the worker defers it
    # (≈0.8 s of its warm-up), and validating every case file leaves it unloaded.
    monkeypatch.setenv("PBR_GX_WORKER", "1")
    worker.stop()
    parsed = [validate_typed(t, P) for t in typed_files]
    assert sum(p.validation.rows_quarantined for p in parsed) > 0
    assert worker.call(worker.loaded_modules, "great_expectations")  # GX itself is loaded
    assert worker.call(worker.loaded_modules, "scipy.stats") == ["scipy.stats"]  # its placeholder only


def test_a_deferred_module_loads_whole_on_first_use():
    code = """
import sys
from pbr.validation import worker
worker._defer_imports()
import great_expectations
assert worker.loaded_modules("scipy.stats") == ["scipy.stats"], worker.loaded_modules("scipy.stats")
from scipy import stats
assert stats.norm.cdf(0.0) == 0.5
assert "scipy.stats._stats_py" in sys.modules
import scipy.stats
assert scipy.stats.ttest_ind([1, 2, 3], [4, 5, 6]).pvalue < 0.05
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_refresh_process_never_imports_great_expectations(tmp_path):
    folder = tmp_path / "delivery"
    write_cases(folder)
    code = f"""
import sys
from pbr.ingest import discover
from pbr.ingest.parse import parse_file
parsed = [parse_file(f, None, {P!r}) for f in discover({str(folder)!r})]
assert sum(p.validation.rows_quarantined for p in parsed) > 0
print("gx imported:", "great_expectations" in sys.modules, "pandas imported:", "pandas" in sys.modules)
"""
    env = {**os.environ, "PBR_GX_WORKER": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "gx imported: False" in out.stdout


def test_a_worker_that_dies_fails_clearly_and_the_next_starts_afresh(typed_files, monkeypatch):
    monkeypatch.setenv("PBR_GX_WORKER", "1")
    worker.ready()
    pid = worker.call(os.getpid)
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    t = next(t for t in typed_files if t.file.source == "attendance")
    with pytest.raises(PbrError, match="worker process stopped unexpectedly") as e:
        validate_typed(t, P)
    again = validate_typed(t, P)  # a new worker
    assert worker.call(os.getpid) not in (pid, os.getpid())
    assert again.validation.rows_quarantined > 0


def test_stop_reports_the_workers_peak_and_a_later_call_restarts_it(monkeypatch):
    monkeypatch.setenv("PBR_GX_WORKER", "1")
    worker.ready()
    first = worker.call(os.getpid)
    peak = worker.stop()
    assert peak is not None and peak > 50  # GX and pandas imported: tens of MB at least
    with pytest.raises(ProcessLookupError):  # ended and reaped: its memory is back when stop returns
        os.kill(first, 0)
    assert worker.stop() is None  # none running
    assert worker.call(os.getpid) != first


def test_stop_without_waiting_returns_at_once_and_the_worker_still_ends(tmp_path):
    """stop(wait=False), as a refresh of a large delivery stops it: the worker's teardown runs
    beside the refresh, the process ends and is reaped all the same, and the refresh's exit
    reports nothing left behind."""
    import subprocess
    import sys
    script = tmp_path / "stop.py"
    script.write_text("import os, sys, time\n"
                      "os.environ['PBR_GX_WORKER'] = '1'\n"
                      "from pbr.validation import worker\n"
                      "if __name__ == '__main__':\n"
                      "    worker.ready(); pid = worker.call(os.getpid)\n"
                      "    t = time.perf_counter(); assert worker.stop(wait=False) > 50\n"
                      "    print(round(time.perf_counter() - t, 3))\n"
                      "    for _ in range(200):\n"
                      "        try:\n"
                      "            os.kill(pid, 0); time.sleep(0.05)\n"
                      "        except ProcessLookupError:\n"
                      "            print('ended'); break\n"
                      "    sys.exit(3)\n", encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 3, out.stderr
    took, ended = out.stdout.split()
    assert ended == "ended"
    assert float(took) < 0.3  # told to end, not waited for (its teardown takes ~0.5 s)
    assert "leaked" not in out.stderr and "Warning" not in out.stderr, out.stderr


def test_a_stopped_worker_leaves_without_tearing_its_interpreter_down(tmp_path, monkeypatch):
    """Its objects are not freed one by one at exit (the teardown took ≈1 s of a core beside the
    refresh's linking); the system takes its memory back whole."""
    import multiprocessing

    import worker_probe

    # The probe itself: in a plain spawned process its mark is written at the interpreter's teardown.
    plain = tmp_path / "plain"
    proc = multiprocessing.get_context("spawn").Process(target=worker_probe.keep_until_exit, args=(str(plain),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0 and plain.read_text() == "torn down"

    monkeypatch.setenv("PBR_GX_WORKER", "1")
    worker.stop()
    mark = tmp_path / "mark"
    pid = worker.call(worker_probe.keep_until_exit, str(mark))
    assert pid != os.getpid()
    worker.stop(wait=True)
    assert not mark.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone


def test_the_worker_freezes_what_gx_imported_and_still_collects_what_the_suites_make(typed_files, monkeypatch):
    # GX's import is frozen out of the collector's walks (its ≈250,000 objects, walked by every
    # full collection while the suites ran); the collector itself stays on for what comes after.
    import worker_probe

    monkeypatch.setenv("PBR_GX_WORKER", "1")
    worker.stop()
    parsed = [validate_typed(t, P) for t in typed_files]
    assert sum(p.validation.rows_quarantined for p in parsed) > 0
    state = worker.call(worker_probe.collector_state)
    assert state["enabled"] and state["cycle_collected"]
    assert state["frozen"] > 100_000
    worker.ready()  # (the warm-up again, as each file's validation calls it: nothing more is frozen)
    assert worker.call(worker_probe.collector_state)["frozen"] == state["frozen"]
