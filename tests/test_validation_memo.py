"""The validation memo (pbr.validation.memo): rows a previous delivery held skip the expectations
whose verdict is a function of the row alone, and the file's results, quarantine and loaded rows
are exactly those of validating every row, including when rows move, change or fail checks."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pbr.ingest import discover
from pbr.ingest.parse import TypedFile, type_file, validate_typed
from pbr.validation import chunks, load_suite
from pbr.validation import memo as vm
from pbr.validation.core import memo_lookup
from test_validation import P, write_cases


@pytest.fixture(scope="module")
def typed_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vmemo") / "delivery"
    write_cases(folder)
    return [type_file(f) for f in discover(folder)]


def same(a, b) -> None:
    assert a.rows.equals(b.rows), a.source
    assert a.rejects.equals(b.rejects), a.source
    strip = lambda p: [dataclasses.replace(o) for o in p.validation.outcomes]  # noqa: E731
    assert strip(a) == strip(b), a.source
    assert a.validation.rows_quarantined == b.validation.rows_quarantined


def memo_of(*parsed) -> vm.ValidationMemo:
    return vm.ValidationMemo({p.memo_rows.source: (p.memo_rows.version, p.memo_rows.rows)
                              for p in parsed if p.memo_rows is not None},
                             {p.memo_rows.source: p.memo_rows.period_end for p in parsed if p.memo_rows is not None})


def moved(t: TypedFile, change: dict[str, object] | None = None) -> TypedFile:
    """The same rows delivered in reverse order from line 5 on (every row on another line), with
    `change` (column -> value) written into the second row."""
    typed = t.typed.reverse().with_columns(pl.int_range(5, 5 + t.typed.height).cast(pl.Int64).alias("__line"))
    if change:
        first = typed.get_column("__line")[1]
        typed = typed.with_columns([pl.when(pl.col("__line") == first).then(pl.lit(v, dtype=typed.schema[c]))
                                    .otherwise(pl.col(c)).alias(c) for c, v in change.items()])
    text = t.text.reverse().with_columns(pl.int_range(5, 5 + t.text.height).cast(pl.Int64).alias("__line"))
    return TypedFile(t.file, text, typed, t.parse_failures.clear())


def test_most_checks_are_memoised_and_the_period_bound_ones_only_when_a_pass_stands_later():
    suite = load_suite("attendance")
    memoised = [e for e in suite.row_level if vm.memoisable(e)]
    assert len(memoised) >= 10
    period_bound = [e for e in suite.row_level if "$PARAMETER" in repr(e.kwargs)]
    assert period_bound and all(vm.memoisable(e) and vm.period_monotone(e) for e in period_bound)
    assert not any(vm.memoisable(e) for e in suite.row_level if not chunks.row_wise(e))
    dob = period_bound[0]
    # "not before the period end" fails for later period ends: never memoised; nor is "mostly"
    below = dataclasses.replace(dob, kwargs={"column": "dob", "min_value": {"$PARAMETER": "period_end"}})
    both = dataclasses.replace(dob, kwargs={**dob.kwargs, "min_value": {"$PARAMETER": "period_end"}})
    mostly = dataclasses.replace(dob, kwargs={**dob.kwargs, "mostly": 0.9})
    assert not any(vm.memoisable(e) or vm.period_monotone(e) for e in (below, both, mostly))
    assert vm.period_monotone(dataclasses.replace(dob, kwargs={**dob.kwargs, "min_value": "1900-01-01"}))


def test_a_warm_memo_gives_every_file_the_results_of_validating_every_row(typed_files, monkeypatch):
    first = [validate_typed(t, P, vm.ValidationMemo()) for t in typed_files]
    plain = [validate_typed(t, P) for t in typed_files]
    for a, b in zip(first, plain):
        same(a, b)
        assert b.memo_rows is None and a.memo_rows is not None
        assert a.memo_rows.rows.height == a.rows_read
    assert any(p.validation.rows_quarantined for p in first)
    assert any((p.memo_rows.rows.get_column("failed") != "").any() for p in first)  # rows failing memoised checks

    memo = memo_of(*first)
    ran: list[int] = []
    real = chunks.run_suite
    monkeypatch.setattr(chunks, "run_suite", lambda suite, typed, *a, **k: (
        ran.append(typed.height) if k.get("only") and k["only"] <= {e.seq for e in suite.row_level if vm.memoisable(e)}
        else None) or real(suite, typed, *a, **k))
    again = [validate_typed(t, P, memo) for t in typed_files]
    for a, b in zip(again, plain):
        same(a, b)
    # Every row known: the memoised checks ran again only on the rows that failed a period-bound one.
    judged_again = sum(p.memo_rows.rows.get_column("failed").str.split(",").list.eval(
        pl.element().is_in([str(e.seq) for e in load_suite(p.source).row_level if vm.period_monotone(e)])).list.any().sum()
        for p in first)
    assert judged_again and sum(ran) == judged_again
    # The memo looked up ahead (as the reading thread does for a file while the one before is in GX).
    ahead = [validate_typed(t, P, memo, memo_lookup(t.file.source, t.typed, P, memo)) for t in typed_files]
    for a, b, c in zip(ahead, plain, again):
        same(a, b)
        assert a.memo_rows.rows.equals(c.memo_rows.rows)


@pytest.mark.parametrize("change", [None, {"sex": "X"}, {"forename": None}])
def test_moved_and_changed_rows_are_judged_at_their_new_lines(typed_files, change):
    memo = memo_of(*[validate_typed(t, P, vm.ValidationMemo()) for t in typed_files])
    for t in typed_files:
        if change and not set(change) <= set(t.typed.columns):
            continue
        m = moved(t, change)
        same(validate_typed(m, P, memo), validate_typed(m, P))


def test_another_version_is_not_used(typed_files):
    t = next(t for t in typed_files if t.file.source == "asb")
    p = validate_typed(t, P, vm.ValidationMemo())
    hashes = vm.row_hashes(t.typed)
    assert vm.ValidationMemo({"asb": ("another", p.memo_rows.rows)}).lookup("asb", p.memo_rows.version, hashes) is None
    known = memo_of(p).lookup("asb", p.memo_rows.version, hashes)
    assert known is not None and known.null_count() == 0


def test_a_stored_row_repeated_still_gives_one_verdict_per_row_in_order(typed_files):
    t = next(t for t in typed_files if t.file.source == "asb")
    p = validate_typed(t, P, vm.ValidationMemo())
    hashes = vm.row_hashes(t.typed)
    stored = p.memo_rows.rows.unique(["h1", "h2"], maintain_order=True)
    expected = memo_of(p).lookup("asb", p.memo_rows.version, hashes)
    # every stored row twice, the copies in reverse order: the lookup must not grow or shift
    doubled = vm.ValidationMemo({"asb": (p.memo_rows.version, pl.concat([stored, stored.reverse()]))})
    got = doubled.lookup("asb", p.memo_rows.version, hashes)
    assert got.len() == hashes.height and got.equals(expected)
    assert (got != "").any()  # some rows failed a memoised check: order is tested, not just ''s


def rows_with_dob(t: TypedFile, dob: date, n: int = 3) -> tuple[TypedFile, set[int]]:
    """The file with the dob of n rows that pass every check set (typed only: the text is not
    validated), and their lines."""
    lines = validate_typed(t, P).rows.get_column("line_no").head(n)
    typed = t.typed.with_columns(pl.when(pl.col("__line").is_in(lines.implode())).then(pl.lit(dob))
                                 .otherwise(pl.col("dob")).alias("dob"))
    return TypedFile(t.file, t.text, typed, t.parse_failures), set(lines)


def test_a_later_month_judges_again_only_rows_that_failed_a_period_bound_check(typed_files, monkeypatch):
    """A dob after January's end fails in January and passes in March: the memo of January must
    not carry the failure into March (the row is judged again); rows that passed stay passed."""
    person = [rows_with_dob(t, date(2026, 2, 14)) for t in typed_files if "dob" in t.typed.columns]
    assert len(person) == 5
    january = [validate_typed(t, P, vm.ValidationMemo()) for t, _ in person]
    memo = memo_of(*january)
    for (t, future), jan in zip(person, january):
        march_plain = validate_typed(t, "2026-03")
        march = validate_typed(t, "2026-03", memo)
        same(march, march_plain)
        assert any(o.column == "dob" and o.expectation == "expect_column_values_to_be_between" and future <= set(o.lines)
                   for o in jan.validation.outcomes)
        assert future.isdisjoint(jan.rows.get_column("line_no"))
        assert len(future) == 3 and future <= set(march.rows.get_column("line_no"))
        assert march.memo_rows.period_end == date(2026, 3, 31)


def test_an_earlier_month_than_the_memos_uses_none_of_it(typed_files):
    """Re-running an earlier period: a pass judged against a later period end says nothing, so
    every row is judged (here, a dob that is future in January but past in March)."""
    person = [rows_with_dob(t, date(2026, 2, 14))[0] for t in typed_files if "dob" in t.typed.columns]
    march = [validate_typed(t, "2026-03", vm.ValidationMemo()) for t in person]
    memo = memo_of(*march)
    for t, m in zip(person, march):
        same(validate_typed(t, P, memo), validate_typed(t, P))
        hashes = vm.row_hashes(t.typed)
        suite = load_suite(t.file.source)
        monotone = frozenset(e.seq for e in suite.row_level if vm.period_monotone(e))
        assert memo.lookup(t.file.source, m.memo_rows.version, hashes, date(2026, 1, 31), monotone) is None
        assert memo.lookup(t.file.source, m.memo_rows.version, hashes, date(2026, 3, 31), monotone).null_count() == 0
        no_end = vm.ValidationMemo(memo.stored)
        assert no_end.lookup(t.file.source, m.memo_rows.version, hashes, date(2026, 3, 31), monotone) is None


def test_saved_in_the_store_read_back_and_purged(typed_files, tmp_path: Path):
    parsed = [validate_typed(t, P, vm.ValidationMemo()) for t in typed_files]
    db = tmp_path / "store.duckdb"
    assert vm.load(db).stored == {}
    con = duckdb.connect(str(db))
    stored = vm.save(con, [p.memo_rows for p in parsed])
    assert stored == sum(p.memo_rows.rows.unique(["h1", "h2"]).height for p in parsed)
    vm.save(con, [parsed[0].memo_rows])  # a source saved again replaces its rows
    assert con.execute(f"SELECT count(*) FROM {vm.TABLE}").fetchall()[0][0] == stored
    con.close()
    back = vm.load(db)
    for p in parsed:
        version, rows = back.stored[p.source]
        assert version == p.memo_rows.version
        assert sorted(rows.iter_rows()) == sorted(p.memo_rows.rows.unique(["h1", "h2"]).iter_rows())
        assert back.ends[p.source] == date(2026, 1, 31)
    con = duckdb.connect(str(db))
    vm.clear(con)
    assert con.execute(f"SELECT count(*) FROM {vm.END_TABLE}").fetchall()[0][0] == 0
    con.close()
    assert vm.load(db).stored == {} and vm.load(db).ends == {}


def test_saving_again_leaves_exactly_the_new_delivery_rows(tmp_path: Path):
    """save writes only the difference; what is stored is the latest delivery's rows, whatever
    was there before: rows gone from the delivery go, new ones come, another version is replaced."""
    def memo_rows(source, version, rows):
        return vm.MemoRows(source, version, pl.DataFrame(rows, schema={"h1": pl.UInt64, "h2": pl.UInt64,
                                                                       "failed": pl.String}, orient="row"))

    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    stored = lambda: sorted(con.execute(f"SELECT * FROM {vm.TABLE}").fetchall())  # noqa: E731
    vm.save(con, [memo_rows("asb", "v1", [(1, 1, ""), (2, 2, "3"), (3, 3, "")]),
                  memo_rows("benefits", "v1", [(1, 1, "")])])
    assert vm.save(con, [memo_rows("asb", "v1", [(2, 2, "3"), (3, 3, ""), (4, 4, "1,2"), (4, 4, "1,2")])]) == 3
    assert stored() == [("asb", "v1", 2, 2, "3"), ("asb", "v1", 3, 3, ""), ("asb", "v1", 4, 4, "1,2"),
                        ("benefits", "v1", 1, 1, "")]
    vm.save(con, [memo_rows("asb", "v2", [(3, 3, "5"), (5, 5, "")])])  # a new suite: the old verdicts go
    assert stored() == [("asb", "v2", 3, 3, "5"), ("asb", "v2", 5, 5, ""), ("benefits", "v1", 1, 1, "")]
    vm.save(con, [memo_rows("benefits", "v1", [])])
    assert stored() == [("asb", "v2", 3, 3, "5"), ("asb", "v2", 5, 5, "")]
    # Judged against a later period end, a row's verdicts changed: the stored row is replaced.
    later = memo_rows("asb", "v2", [(3, 3, ""), (5, 5, "")])
    later.period_end = date(2026, 3, 31)
    vm.save(con, [later])
    assert stored() == [("asb", "v2", 3, 3, ""), ("asb", "v2", 5, 5, "")]
    assert con.execute(f"SELECT * FROM {vm.END_TABLE}").fetchall() == [("asb", "v2", date(2026, 3, 31))]
    con.close()


def test_row_hashes_are_the_same_in_another_process(typed_files, tmp_path: Path):
    """Stored in one refresh, looked up in the next: the hash must not depend on the process."""
    import subprocess
    import sys

    t = typed_files[0]
    t.typed.write_parquet(tmp_path / "t.parquet")
    code = ("import polars as pl, sys; from pbr.validation.memo import row_hashes; "
            "row_hashes(pl.read_parquet(sys.argv[1])).write_parquet(sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.parquet"), str(tmp_path / "h.parquet")], check=True)
    assert pl.read_parquet(tmp_path / "h.parquet").equals(vm.row_hashes(t.typed))
