"""The validation memo (pbr.validation.memo): rows a previous delivery held skip the expectations
whose verdict is a function of the row alone, and the file's results, quarantine and loaded rows
are exactly those of validating every row, including when rows move, change or fail checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pbr.ingest import discover
from pbr.ingest.parse import TypedFile, type_file, validate_typed
from pbr.validation import chunks, load_suite
from pbr.validation import memo as vm
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
                              for p in parsed if p.memo_rows is not None})


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


def test_most_checks_are_memoised_and_the_period_bound_ones_are_not():
    suite = load_suite("attendance")
    memoised = [e for e in suite.row_level if vm.memoisable(e)]
    assert len(memoised) >= 10
    period_bound = [e for e in suite.row_level if "$PARAMETER" in repr(e.kwargs)]
    assert period_bound and not any(vm.memoisable(e) for e in period_bound)
    assert not any(vm.memoisable(e) for e in suite.row_level if not chunks.row_wise(e))


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
    assert ran and sum(ran) == 0  # every row known: the memoised checks ran on no row


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
    con = duckdb.connect(str(db))
    vm.clear(con)
    con.close()
    assert vm.load(db).stored == {}


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
