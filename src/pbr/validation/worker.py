"""Great Expectations in a process of its own.

Importing GX takes ~2.5 s of pure Python, and running a suite is pandas and Python too: in the
refresh's own process both held the interpreter lock while the delivery was being read, so a
2-core machine did them one after the other. A worker process (started with `spawn`: a fresh
interpreter, safe beside polars' and DuckDB's threads) imports GX on the other core while the
first file is read, and runs the suites there. The files' typed frames go over as Arrow IPC (only
the columns the expectations read), the outcomes (counts and line numbers) come back; the refresh
process never imports GX or pandas.

One worker per process, shared by every caller (the Prefect flow's read tasks validate from
threads: their suites queue on it, as they queued on GX's lock before). `stop` ends it and reports
its peak memory; a refresh of a large delivery stops it once the files are validated, so its
memory goes back before linking (refresh.release_validation_worker).

PBR_GX_WORKER=0 runs GX in this process instead (as before; tests that instrument GX use it)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from ..errors import PbrError

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def enabled() -> bool:
    return os.environ.get("PBR_GX_WORKER", "1").strip() not in ("0", "false", "no", "off")


# Imported by GX's own import but never used by pbr's suites: scipy.stats (≈0.8 s of the worker's
# ≈2.5 s warm-up) comes in only for GX's distribution expectations (KL divergence and the like).
# The worker defers it: the module is set up to load on first use (the standard library's
# importlib.util.LazyLoader), so a suite that did use it would load it then and run the same.
DEFERRED_IMPORTS = ("scipy.stats",)


def _defer_imports(names: tuple[str, ...] = DEFERRED_IMPORTS) -> None:
    """In the worker only (one thread runs GX there): LazyLoader is not safe for a module two
    threads might first touch at once."""
    import importlib.util
    import sys

    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:  # `from scipy import stats` finds the attribute, not scipy's own lazy __getattr__
            setattr(importlib.import_module(parent), child, module)


_settled = False  # (in the worker) GX's import is done and its objects frozen


def _warm_up() -> str:
    global _settled
    if multiprocessing.parent_process() is None or _settled:  # PBR_GX_WORKER=0's thread, or done
        from . import gx
        return gx.gx_version()
    _defer_imports()
    # GX's import leaves ≈250,000 objects the collector tracks, kept for the worker's life: each
    # full collection walked them all, during the import and again while the suites ran (their
    # results are many small dicts). So nothing is collected while GX imports, and what is there
    # then is frozen (gc.freeze: the collector no longer visits it); collections see only what
    # the suites make. The import's own cyclic garbage stays frozen with it: ≈1 MB, where
    # collecting it first took ≈0.25 s.
    gc.disable()
    try:
        from . import gx
        version = gx.gx_version()
    finally:
        gc.freeze()
        gc.enable()
        _settled = True
    return version


def loaded_modules(prefix: str) -> list[str]:
    """The modules named prefix or under it in this process (tests: a deferred package shows as
    itself alone until it is used)."""
    import sys

    return sorted(n for n in list(sys.modules) if n == prefix or n.startswith(prefix + "."))


def peak_mb() -> float:
    """This process's peak resident memory, MB. Linux's VmHWM, not ru_maxrss: a child started by a
    process that had grown inherits the parent's ru_maxrss (it survives fork and exec), while
    VmHWM is the child's own. (The benchmark reads both the refresh's and the worker's.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _exit_without_teardown() -> None:
    """(In the worker, as it starts.) When it is told to end, leave without tearing the
    interpreter down: freeing GX's and pandas' objects one by one took the worker ≈0.5-1 s of a
    core, which a refresh that stops it after validating (refresh.release_validation_worker) spent
    beside the start of linking. The worker holds nothing to flush or close by then (its results
    went back as each call returned), so its memory is simply given back to the system."""
    import atexit
    import sys
    atexit.register(lambda: (sys.stdout.flush(), sys.stderr.flush(), os._exit(0)))


def start() -> ProcessPoolExecutor | None:
    """Start the worker, and its GX import, unless it runs; the worker (None in in-process mode,
    where GX imports in a background thread, gx.preload)."""
    global _pool
    if not enabled():
        from . import gx
        gx.preload()
        return None
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_exit_without_teardown)
            _pool.submit(_warm_up)  # the import begins now; callers queue behind it
        return _pool


def call(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in the worker (a module-level function; arguments and result pickled), or here in
    in-process mode. An exception fn raises is raised here."""
    if not enabled():
        return fn(*args)
    pool = start()  # (this call's worker: another thread's stop() cannot take it away mid-call)
    try:
        return pool.submit(fn, *args).result()
    except BrokenProcessPool:
        stop()
        raise PbrError("the Great Expectations worker process stopped unexpectedly (out of memory, or killed); "
                       "nothing was written: run the refresh again") from None


def ready() -> None:
    """Wait until GX is imported (in the worker, or here)."""
    if not enabled():
        from . import gx
        gx.gx_version()
        return
    call(_warm_up)


def stop(wait: bool = True) -> float | None:
    """End the worker (a later call starts a new one); its peak memory in MB, None if none ran.
    wait=False: return once it has been told to end, not once it has (the process is reaped by
    its pool's own thread; it leaves without tearing its interpreter down, _exit_without_teardown,
    so it is gone in a few tens of milliseconds rather than ≈1 s)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is None:
        return None
    try:
        peak = pool.submit(peak_mb).result()
    except BrokenProcessPool:
        peak = None
    pool.shutdown(wait=wait)
    return peak
