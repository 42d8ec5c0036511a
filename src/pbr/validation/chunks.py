"""A file's Great Expectations run in pieces, so that no file is ever one pandas frame.

GX validates pandas frames, and a pandas copy of a typed file costs several times the polars frame
(every text cell a Python object): a region's ten-million-row attendance file would need ≈6 GB. An
expectation that judges each row on its own values (ROW_WISE) gives, on consecutive slices of the
file, exactly the verdicts it gives on the whole file, so it runs CHUNK_ROWS rows at a time and the
slices' counts and failing lines are added up. Any other row-level expectation (uniqueness: it
compares rows with each other) runs once on the whole file, on a frame of only the columns it
reads.

A uniqueness expectation (UNIQUE, no `mostly`) can fail only rows whose value (or compound key)
another row repeats: GX judges only those rows (polars' is_duplicated, which counts nulls as
equal, finds a superset of the rows pandas finds duplicated), and the outcome counts every row of
the file as evaluated. A file with no repeated key sends GX nothing for it: every row passes, as
GX would say. (Issue 9: at authority scale, the five suites' uniqueness checks were ≈2 s of
pandas copies and GX work on a warm month, for a few hundred repeated keys.)"""

from __future__ import annotations

from datetime import date

import polars as pl

from . import gx, worker
from .gx import GxOutcome
from .suites import Suite, SuiteExpectation

# Rows per slice sent to the GX worker. Its pandas copy of a slice is the worker's peak: on the
# full authority refresh 500,000 rows peaked at 0.74 GB, 200,000 at 0.62 GB, in the same time.
CHUNK_ROWS = 200_000
# Expectations whose verdict on a row depends on that row's values only (and no `mostly`, which
# is a share of the whole file).
ROW_WISE = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
    "expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set", "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex", "expect_column_value_lengths_to_be_between",
    "expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal",
})
_COLUMN_KWARGS = ("column", "column_A", "column_B")
UNIQUE = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})


def row_wise(e: SuiteExpectation) -> bool:
    return e.type in ROW_WISE and e.kwargs.get("mostly") in (None, 1, 1.0)


def repeats_only(e: SuiteExpectation) -> bool:
    """A uniqueness expectation that can be judged on the rows whose key another row repeats."""
    return (e.type in UNIQUE and e.kwargs.get("mostly") in (None, 1, 1.0) and columns_read(e) is not None
            and e.kwargs.get("ignore_row_if") in (None, "all_values_are_missing", "any_value_is_missing"))


def columns_read(e: SuiteExpectation) -> list[str] | None:
    """The columns an expectation reads, from its kwargs; None when they cannot be told (a row
    condition names its columns in an expression)."""
    if e.kwargs.get("row_condition"):
        return None
    cols = [str(e.kwargs[k]) for k in _COLUMN_KWARGS if e.kwargs.get(k)]
    cols += [str(c) for c in e.kwargs.get("column_list") or []]
    return cols or None


def run_suite(suite: Suite, typed: pl.DataFrame, period_end: date,
              chunk_rows: int | None = None, only: frozenset[int] | None = None,
              info_lines: bool = False) -> dict[int, GxOutcome]:
    """The suite's row-level expectations (only: those seqs) on the typed file: {seq: outcome}, as
    gx.run on the whole file would give them. info_lines: the failing lines of severity-info
    expectations too (otherwise counted only). GX runs in the validation worker (worker.py): each
    frame goes over with only the columns its expectations read, a slice at a time."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    rows = [e for e in suite.row_level if only is None or e.seq in only]
    sliced = [e for e in rows if row_wise(e)]
    repeats = [e for e in rows if repeats_only(e)]
    whole = [e for e in rows if not row_wise(e) and not repeats_only(e)]
    out: dict[int, GxOutcome] = {}
    for e in repeats:
        out[e.seq] = _run_on_repeats(suite, typed, e, period_end, info_lines)
    if whole:
        frame = typed.select(_columns(typed, whole))
        out.update((o.seq, o) for o in worker.call(run_frame, suite, frame, period_end,
                                                   frozenset(e.seq for e in whole), info_lines))
        del frame
    if sliced:
        cols, seqs = _columns(typed, sliced), frozenset(e.seq for e in sliced)
        parts: dict[int, list[GxOutcome]] = {}
        for offset in range(0, max(typed.height, 1), chunk_rows):  # an empty file: one empty slice
            frame = typed.slice(offset, chunk_rows).select(cols)
            for o in worker.call(run_frame, suite, frame, period_end, seqs, info_lines):
                parts.setdefault(o.seq, []).append(o)
            del frame
        for seq, os_ in parts.items():
            out[seq] = GxOutcome(seq, all(o.success for o in os_), sum(o.element_count for o in os_),
                                 sum(o.unexpected_count for o in os_), sorted(x for o in os_ for x in o.lines))
    return out


def _run_on_repeats(suite: Suite, typed: pl.DataFrame, e: SuiteExpectation, period_end: date,
                    info_lines: bool) -> GxOutcome:
    """A uniqueness expectation's outcome on the whole file, from GX on the rows whose key repeats."""
    keys = columns_read(e)
    frame = typed.select(_columns(typed, [e])).filter(pl.struct(keys).is_duplicated())
    if frame.height == 0:
        return GxOutcome(e.seq, True, typed.height, 0, [])
    (o,) = worker.call(run_frame, suite, frame, period_end, frozenset({e.seq}), info_lines)
    return GxOutcome(e.seq, o.success, typed.height, o.unexpected_count, o.lines)


def _columns(typed: pl.DataFrame, exps: list[SuiteExpectation]) -> list[str]:
    """The line number and the columns the expectations read, in the file's order (all of them
    when one cannot be told)."""
    from .core import LINE

    wanted = [columns_read(e) for e in exps]
    if any(c is None for c in wanted):
        return list(typed.columns)
    keep = {LINE} | {c for cs in wanted for c in cs}
    return [c for c in typed.columns if c in keep]


def run_frame(suite: Suite, frame: pl.DataFrame, period_end: date, only: frozenset[int],
              info_lines: bool) -> list[GxOutcome]:
    """gx.run on the frame as pandas (the worker's side)."""
    from .core import to_pandas

    return gx.run(suite, to_pandas(frame), period_end, only, info_lines)


def run_suite_memo(suite: Suite, typed: pl.DataFrame, period_end: date, memoised: frozenset[int],
                   failed: pl.Series | None, chunk_rows: int | None = None) -> tuple[dict[int, GxOutcome], pl.Series]:
    """run_suite, with the memoised expectations (validation.memo) run only on the rows the memo
    does not know (`failed` null; None: none known). A known row counts as evaluated, failing the
    expectations `failed` lists for it, at its line in this file. Returns the outcomes (as
    run_suite's on the whole file) and, per row, the memoised expectations it failed (memo.encode)."""
    from .core import LINE
    from .memo import decode, encode

    severity = {e.seq: e.severity for e in suite.expectations}
    seqs = frozenset(e.seq for e in suite.row_level)
    memoised = memoised & seqs
    out = run_suite(suite, typed, period_end, chunk_rows, only=seqs - memoised) if seqs - memoised else {}
    lines = typed.get_column(LINE)
    if not memoised:
        return out, pl.Series("failed", [""] * typed.height, pl.String)
    unknown = pl.Series([True] * typed.height) if failed is None else failed.is_null()
    fresh = typed.filter(unknown)
    n_known = typed.height - fresh.height
    # The known rows' stored failures, at this file's line numbers.
    known_fail: dict[int, list[int]] = {}
    if failed is not None and n_known:
        for line, f in zip(lines.filter(~unknown & (failed != "")).to_list(),
                           failed.filter(~unknown & (failed != "")).to_list()):
            for seq in decode(f):
                known_fail.setdefault(seq, []).append(line)
    by_line: dict[int, list[int]] = {}
    for seq, o in run_suite(suite, fresh, period_end, chunk_rows, only=memoised, info_lines=True).items():
        for line in o.lines:
            by_line.setdefault(line, []).append(seq)
        old = known_fail.get(seq, [])
        all_lines = sorted(o.lines + old) if old else o.lines
        out[seq] = GxOutcome(seq, o.success and not old, o.element_count + n_known, o.unexpected_count + len(old),
                             [] if severity[seq] == "info" else all_lines)
    fresh_failed = pl.Series("failed", [encode(by_line.get(line, ())) for line in fresh.get_column(LINE).to_list()],
                             pl.String)
    if failed is None:
        return out, fresh_failed
    merged = failed.clone()
    merged = merged.scatter(unknown.arg_true(), fresh_failed) if fresh.height else merged
    return out, merged.rename("failed")
