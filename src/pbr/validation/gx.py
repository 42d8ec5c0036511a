"""Running a suite with Great Expectations on a pandas frame. GX is imported here only, lazily
(importing it takes seconds), with analytics and progress bars off. Only counts and row numbers
come back: GX's unexpected values (partial_unexpected_list, unexpected_list, the values inside
unexpected_index_list) are dropped here and never stored or shown."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date

from ..errors import PbrError
from .suites import Suite

INDEX = "__line"
_lock = threading.Lock()
_state: dict = {}


@dataclass
class GxOutcome:
    seq: int
    success: bool
    element_count: int
    unexpected_count: int
    lines: list[int]


def _batch_definition():
    if "bd" not in _state:
        # No network, and personal data: never send usage statistics.
        os.environ["GX_ANALYTICS_ENABLED"] = "false"
        import great_expectations as gx
        from great_expectations.data_context.types.base import (DataContextConfig, InMemoryStoreBackendDefaults,
                                                                 ProgressBarsConfig)
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every pandas batch below this size by hashing all its cells (a batch
        # marker pbr never reads): a quarter of the suites' time at authority scale. Frames at
        # or above it get no fingerprint, so GX runs as it does for those.
        pandas_execution_engine.HASH_THRESHOLD = 0

        # In memory only: no project folder, no Data Docs site (pbr renders its own report).
        ctx = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False)))
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        ds = ctx.data_sources.add_pandas("pbr")
        _state["bd"] = ds.add_dataframe_asset("delivery").add_batch_definition_whole_dataframe("whole_file")
        _state["version"] = gx.__version__
        _state["suites"] = {}
    return _state["bd"]


def preload() -> None:
    """Import and set up GX in a background thread (a refresh starts it before reading the
    delivery: the import takes ~3 s, which then overlaps the reading). Whoever needs GX next waits
    for it on the lock; an import that fails there fails again, and is reported, on that use."""
    if "bd" in _state:
        return

    def load() -> None:
        try:
            gx_version()
        except Exception:  # noqa: BLE001 - raised again where GX is used
            pass

    threading.Thread(target=load, name="pbr-gx-import", daemon=True).start()


def gx_version() -> str:
    """Imports and sets up GX on first use (threads may validate files concurrently)."""
    with _lock:
        _batch_definition()
    return _state["version"]


def _gx_suite(suite: Suite, only: frozenset[int] | None = None, keep: bool = False):
    """The suite's row-level expectations as a GX ExpectationSuite (only: those seqs), each tagged
    with its position (GX returns results in its own order)."""
    from great_expectations.core import ExpectationSuite

    key = (suite.sha256, only)
    cached = _state["suites"].get(key)
    if cached is None:
        exps = []
        for e, raw in zip(suite.expectations, suite.raw["expectations"]):
            if e.level != "row" or (only is not None and e.seq not in only):
                continue
            exps.append({**raw, "meta": {**(raw.get("meta") or {}), "pbr_seq": e.seq}})
        cached = ExpectationSuite(name=suite.name, expectations=exps)
        if only is None or keep:
            _state["suites"][key] = cached
    return cached


def _lines(items) -> set[int]:
    """The delivered line numbers in GX's unexpected_index_list: with exclude_unexpected_values, one
    {"__line": [n, ...]} (GX then skips looking up each failing row's values: at 60k failing rows
    that lookup was most of a file's validation time); otherwise one {"__line": n, ...} or n a row."""
    out: set[int] = set()
    for item in items:
        value = item[INDEX] if isinstance(item, dict) else item
        if isinstance(value, (list, tuple)):
            out.update(int(v) for v in value)
        else:
            out.add(int(value))
    return out


def _validate(bd, gsuite, frame, period_end: date, fmt: str):
    batch = bd.get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(gsuite, result_format={"result_format": fmt, "exclude_unexpected_values": True},
                          expectation_parameters={"period_end": period_end}).results


def _check(suite: Suite, r) -> int:
    seq = int(r.expectation_config.meta["pbr_seq"])
    info = r.exception_info or {}
    raised = info.get("raised_exception") if "raised_exception" in info else any(
        isinstance(v, dict) and v.get("raised_exception") for v in info.values())
    if raised:
        e = next(x for x in suite.expectations if x.seq == seq)
        # The exception text may quote a value: name the expectation only.
        raise PbrError(f"expectation suite {suite.path}: expectation {seq + 1} ({e.type} on '{e.column}') "
                       "could not be evaluated (is the suite out of step with the contract?)")
    return seq


def run(suite: Suite, frame, period_end: date, only: frozenset[int] | None = None,
        info_lines: bool = False) -> list[GxOutcome]:
    """Validate the pandas frame (index: the delivered line numbers, named __line) against the
    suite's row-level expectations (only: those seqs), with suite parameter period_end.

    Passes keep the common case cheap: every expectation with result format BOOLEAN_ONLY, then only
    the failed ones with COMPLETE (for unexpected_index_list, i.e. the failing rows' lines), or
    SUMMARY for severity info (counted only, unless info_lines)."""
    out = {}
    with _lock:
        bd = _batch_definition()
        failed = []
        for r in _validate(bd, _gx_suite(suite, only, keep=True), frame, period_end, "BOOLEAN_ONLY"):
            seq = _check(suite, r)
            if r.success:
                out[seq] = GxOutcome(seq, True, len(frame), 0, [])
            else:
                failed.append(seq)
        severity = {e.seq: e.severity for e in suite.expectations}
        lined = frozenset(s for s in failed if info_lines or severity[s] != "info")
        counted = frozenset(failed) - lined  # info: counts only, no line list to build
        for only, fmt in ((lined, "COMPLETE"), (counted, "SUMMARY")):
            if not only:
                continue
            for r in _validate(bd, _gx_suite(suite, only), frame, period_end, fmt):
                seq = _check(suite, r)
                res = r.result or {}
                lines = sorted(_lines(res.get("unexpected_index_list") or [])) if fmt == "COMPLETE" else []
                out[seq] = GxOutcome(seq, bool(r.success), int(res.get("element_count") or len(frame)),
                                     int(res.get("unexpected_count") or 0), lines)
    return [out[k] for k in sorted(out)]
