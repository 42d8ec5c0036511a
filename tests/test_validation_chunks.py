"""Great Expectations run in slices (pbr.validation.chunks): the same verdicts, counts and failing
lines as one run on the whole file, with no pandas frame larger than a slice (or, for uniqueness,
wider than the columns it reads)."""

from __future__ import annotations

import dataclasses

import pytest

from pbr.ingest import discover
from pbr.ingest.parse import type_file, validate_typed
from pbr.validation import chunks, gx, load_suite
from pbr.validation.core import period_end_of, to_pandas
from test_validation import P, write_cases


@pytest.fixture(scope="module")
def typed_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chunks") / "delivery"
    write_cases(folder)
    return [type_file(f) for f in discover(folder)]


def as_tuples(outcomes):
    return {o.seq: dataclasses.astuple(o) for o in outcomes}


@pytest.mark.parametrize("chunk_rows", [64])
def test_slices_give_the_whole_files_outcomes(typed_files, chunk_rows):
    end = period_end_of(P)
    checked = 0
    for t in typed_files:
        suite = load_suite(t.file.source)
        if not suite.row_level:
            continue
        whole = as_tuples(gx.run(suite, to_pandas(t.typed), end))
        sliced = as_tuples(chunks.run_suite(suite, t.typed, end, chunk_rows=chunk_rows).values())
        assert sliced == whole, t.file.source
        assert any(not o[1] for o in whole.values())  # the cases file fails checks in every suite
        checked += 1
    assert checked >= 5


def test_no_frame_is_bigger_than_a_slice_or_wider_than_uniqueness_needs(typed_files, monkeypatch):
    monkeypatch.setenv("PBR_GX_WORKER", "0")  # GX in this process, where the spy is
    seen = []
    real = gx.run

    def spy(suite, frame, period_end, only=None, *rest):
        seen.append((suite.source, frozenset(only or ()), len(frame), list(frame.columns)))
        return real(suite, frame, period_end, only, *rest)

    monkeypatch.setattr(gx, "run", spy)
    end = period_end_of(P)
    for t in typed_files:
        suite = load_suite(t.file.source)
        if suite.row_level:
            chunks.run_suite(suite, t.typed, end, chunk_rows=25)
    by_seq = {(s.source, e.seq): e for s in map(load_suite, {t.file.source for t in typed_files}) for e in s.row_level}
    uniqueness = 0
    for source, only, rows, columns in seen:
        exps = [by_seq[(source, q)] for q in only]
        if all(chunks.row_wise(e) for e in exps):
            assert rows <= 25
        else:
            uniqueness += 1
            assert set(columns) == {c for e in exps for c in chunks.columns_read(e)}, source
    assert uniqueness >= 5


def test_quarantine_and_results_unchanged_by_slicing(typed_files, monkeypatch):
    whole = [validate_typed(t, P) for t in typed_files]
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 16)
    sliced = [validate_typed(t, P) for t in typed_files]
    for a, b in zip(whole, sliced):
        assert a.rejects.equals(b.rejects) and a.rows.equals(b.rows), a.source
        strip = lambda v: [dataclasses.replace(o) for o in v.validation.outcomes]  # noqa: E731
        assert strip(a) == strip(b), a.source
        assert a.validation.rows_quarantined == b.validation.rows_quarantined > 0


def _with_repeats(typed, keys, nulls: bool):
    """The typed file with its first rows' keys copied onto later rows: exact repeats, and (nulls)
    repeats with one or every key column missing."""
    import polars as pl

    df = typed.with_row_index("__i")
    n = df.height
    assert n >= 7
    fixes = {n - 1: 0, n - 2: 0, n - 3: 1}  # target row -> row whose key it takes
    out = df.with_columns([
        pl.when(pl.col("__i").is_in(list(fixes))).then(
            pl.col(k).gather(pl.col("__i").replace_strict(fixes, default=0))).otherwise(pl.col(k)).alias(k)
        for k in keys])
    if nulls:
        out = out.with_columns(
            [pl.when(pl.col("__i").is_in([2, 3, 4, 5])).then(None).otherwise(pl.col(k)).alias(k) for k in keys[:1]]
            + [pl.when(pl.col("__i").is_in([4, 5])).then(None).otherwise(pl.col(k)).alias(k) for k in keys[1:]])
    return out.drop("__i")


@pytest.mark.parametrize("nulls", [False, True])
def test_uniqueness_judged_on_repeated_keys_gives_the_whole_files_outcome(typed_files, nulls):
    """GX sees only the rows whose key repeats (chunks.repeats_only): same verdict, counts and lines as
    GX on the whole file, with keys repeated exactly, with nulls in them, and not repeated at all."""
    end = period_end_of(P)
    checked = 0
    for t in typed_files:
        suite = load_suite(t.file.source)
        for e in [e for e in suite.row_level if chunks.repeats_only(e)]:
            keys = chunks.columns_read(e)
            repeated = _with_repeats(t.typed, keys, nulls)
            no_repeats = t.typed.unique(keys, keep="first", maintain_order=True)
            for frame in (repeated, no_repeats):
                whole = as_tuples(gx.run(suite, to_pandas(frame), end, frozenset({e.seq})))
                judged = as_tuples(chunks.run_suite(suite, frame, end, only=frozenset({e.seq})).values())
                assert judged == whole, (t.file.source, e.seq)
            assert not whole[e.seq][1] or frame is no_repeats
            checked += 1
    assert checked >= 5
