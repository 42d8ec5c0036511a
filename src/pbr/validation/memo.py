"""The validation memo: rows whose Great Expectations verdict is already known (issue 9).

Deliveries are full snapshots of a rolling window: about 95 % of a month's rows were delivered,
byte for byte, the month before. Most of a suite's row-level expectations judge a row on its own
values alone (chunks.ROW_WISE, no `mostly`) and take no suite parameter: their verdict on a row is
a pure function of the row's typed values. The store keeps, per source, a 128-bit hash of each
typed row of the latest delivery and the memoised expectations that row failed ('' for none):

    validation_memo(source, version, h1, h2, failed)
    validation_memo_end(source, version, period_end)

- version: a hash of the suite file, the memoised expectations, this module's MEMO_VERSION and
  the Great Expectations and polars versions (polars' row hash is stable within a version only),
  so a change to any of them makes the stored rows stale: ignored, and replaced when their
  source is next delivered.
- period_end: the bound the stored verdicts were judged against. Besides the checks free of
  parameters, the memo holds the row-wise checks bounded above by the delivery period (dob and
  event dates "not after the period": `period_monotone`). A value not after one period's end is
  not after any later period's, so a row that passed them passes them again in a later month;
  a row that failed one is judged again (its date may now be in the past). A refresh of an
  earlier period than the memo's uses none of the memo (every row judged).

A refresh reads the memo (read-only, before it reads the delivery), runs the memoised expectations
on the rows it does not know, and every other row-level expectation (uniqueness, `mostly`) on
every row, as before. A known row counts as evaluated, with the verdicts stored for it, at its
line in this delivery: the file's results, quarantine and report are the same with the memo warm, empty or absent (tests/test_validation_memo.py,
tests/test_refresh_incremental.py). The refresh then replaces each delivered source's rows with
this delivery's, inside its transaction.

Hashes only: no value is stored. They are still derived from personal data, so `pbr purge`
empties the table (the next refresh validates every row again)."""

from __future__ import annotations

import hashlib
from datetime import date
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path

import duckdb
import polars as pl

from ..store import has_table
from .suites import Suite, SuiteExpectation

MEMO_VERSION = 2  # 2: period-bound checks memoised, with the period end judged at
TABLE = "validation_memo"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    source VARCHAR NOT NULL, version VARCHAR NOT NULL, h1 UBIGINT NOT NULL, h2 UBIGINT NOT NULL,
    failed VARCHAR NOT NULL)"""
END_TABLE = "validation_memo_end"
END_DDL = f"""CREATE TABLE IF NOT EXISTS {END_TABLE} (
    source VARCHAR NOT NULL, version VARCHAR NOT NULL, period_end DATE NOT NULL)"""
LINE = "__line"
# Two 64-bit row hashes (polars' hash_rows with two seeds): a 128-bit key, so that a changed row
# passing for a known one is out of reach in practice.
_SEEDS = (0x5EED_0001, 0x0DD5_0002)


def memoisable(e: SuiteExpectation) -> bool:
    """A row-level expectation whose verdict on a row is that row's values alone: row-wise and
    with no suite parameter ($PARAMETER, e.g. period_end) in its arguments; or one whose pass
    stands for every later period end (period_monotone)."""
    from .chunks import row_wise
    return row_wise(e) and ("$PARAMETER" not in repr(e.kwargs) or period_monotone(e))


def period_monotone(e: SuiteExpectation) -> bool:
    """A row-wise between-check whose only parameter is its upper bound, period_end: a value that
    passed for one period end passes for any later one (the lower bound, if any, is fixed)."""
    from .chunks import row_wise
    kw = e.kwargs
    rest = {k: v for k, v in kw.items() if k != "max_value"}
    return (row_wise(e) and e.type == "expect_column_values_to_be_between"
            and kw.get("max_value") == {"$PARAMETER": "period_end"} and "$PARAMETER" not in repr(rest))


def memo_version(suite: Suite, seqs: frozenset[int]) -> str:
    text = "\n".join([str(MEMO_VERSION), suite.sha256, ",".join(map(str, sorted(seqs))),
                      package_version("great_expectations"), pl.__version__])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def row_hashes(typed: pl.DataFrame) -> pl.DataFrame:
    """h1, h2 of each typed row (every column but the line number), in row order."""
    values = typed.drop(LINE)
    return pl.DataFrame({"h1": values.hash_rows(_SEEDS[0]), "h2": values.hash_rows(_SEEDS[1])})


def encode(seqs) -> str:
    return ",".join(str(s) for s in sorted(seqs))


def decode(failed: str) -> list[int]:
    return [int(s) for s in failed.split(",")] if failed else []


@dataclass
class MemoRows:
    """A file's rows for the memo: h1, h2 and failed (the memoised expectations the row failed,
    judged against period_end)."""
    source: str
    version: str
    rows: pl.DataFrame
    period_end: date | None = None


@dataclass
class ValidationMemo:
    """The stored memo, read once before a delivery is validated: {source: (version, rows)}, and
    {source: the period end its verdicts were judged against}."""
    stored: dict[str, tuple[str, pl.DataFrame]] = field(default_factory=dict)
    ends: dict[str, date] = field(default_factory=dict)

    def lookup(self, source: str, version: str, hashes: pl.DataFrame, period_end: date | None = None,
               monotone: frozenset[int] = frozenset()) -> pl.Series | None:
        """Per row, the memoised expectations it failed when last validated ('' none; null: not
        known); None when nothing usable is stored for this source and version.

        monotone: the memoised period_monotone checks, judged against the stored period end: usable
        for a period_end not before it, and then a row that failed one of them is not known (it is
        judged again)."""
        got = self.stored.get(source)
        if got is None or got[0] != version or got[1].height == 0:
            return None
        if monotone:
            end = self.ends.get(source)
            if end is None or period_end is None or period_end < end:
                return None
        joined = hashes.join(got[1], on=["h1", "h2"], how="left", maintain_order="left")
        if joined.height != hashes.height:
            # A stored row repeated (save() never stores one twice; a memo written otherwise might):
            # each row once, so the verdicts stay in the file's row order. Deduplicating only then
            # spares an authority's attendance lookup ≈0.2 s.
            joined = hashes.join(got[1].unique(["h1", "h2"]), on=["h1", "h2"], how="left", maintain_order="left")
        failed = joined.get_column("failed")
        if monotone:
            again = failed.str.split(",").list.eval(pl.element().is_in([str(s) for s in monotone])).list.any()
            failed = pl.select(pl.when(again).then(None).otherwise(failed).alias("failed")).to_series()
        return failed


def load(db: Path | None) -> ValidationMemo:
    """The store's memo (empty when there is no store or no memo yet). Opens the store read-only and
    closes it again: the refresh opens it for writing only after the delivery is read."""
    if db is None or not Path(db).exists():
        return ValidationMemo()
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:  # locked by another writer, or unreadable: the refresh's own open says why
        return ValidationMemo()
    try:
        if not has_table(con, TABLE):
            return ValidationMemo()
        frame = con.sql(f"SELECT source, version, h1, h2, failed FROM {TABLE}").pl()
        ends = (dict(con.execute(f"SELECT source, period_end FROM {END_TABLE}").fetchall())
                if has_table(con, END_TABLE) else {})
    finally:
        con.close()
    stored = {source: (g.get_column("version")[0], g.select("h1", "h2", "failed"))
              for (source,), g in frame.partition_by("source", as_dict=True).items()}
    return ValidationMemo(stored, {s: e for s, e in ends.items() if s in stored})


def save(con: duckdb.DuckDBPyConnection, rows: list[MemoRows]) -> int:
    """Replace each source's rows with this delivery's (the refresh's transaction); other versions
    go. Returns the rows stored (this delivery's distinct rows).

    Only the difference is written: the stored rows of another version, not in this delivery or
    with other verdicts (a period-bound check judged against another period end) go, and this
    delivery's rows not yet stored come in. (A month
    repeats ~95 % of the month before. At authority scale an incremental refresh's write-ahead log
    went from 56.4 to 51.7 MB and the store from 400 to 376 MB; the rest of the log is the
    delivery's own rows.)"""
    con.execute(DDL)
    con.execute(END_DDL)
    stored = 0
    for r in rows:
        frame = r.rows.unique(["h1", "h2"])
        con.register("_validation_memo_rows", frame)
        try:
            # One join finds both halves of the difference: a stored row of the source matched by
            # no delivered row of this version (same hashes and verdicts) goes, a delivered row
            # matched by no stored row comes in. (A DELETE and an INSERT each with its own
            # anti-join took 0.25 s for attendance at authority alone, 0.8 s beside the suites;
            # this 0.15 s alone, round 22.)
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _validation_memo_diff AS
                SELECT m.rowid AS stored, n.h1, n.h2, n.failed
                FROM (SELECT rowid, h1, h2, failed FROM {TABLE} WHERE source = ? AND version = ?) m
                FULL OUTER JOIN _validation_memo_rows n ON m.h1 = n.h1 AND m.h2 = n.h2 AND m.failed = n.failed
                WHERE m.rowid IS NULL OR n.h1 IS NULL""", [r.source, r.version])
            con.execute(f"""DELETE FROM {TABLE} WHERE source = ? AND (version <> ? OR rowid IN (
                SELECT stored FROM _validation_memo_diff WHERE stored IS NOT NULL))""", [r.source, r.version])
            con.execute(f"""INSERT INTO {TABLE} SELECT ?, ?, h1, h2, failed FROM _validation_memo_diff
                WHERE stored IS NULL""", [r.source, r.version])
            con.execute("DROP TABLE _validation_memo_diff")
        finally:
            con.unregister("_validation_memo_rows")
        con.execute(f"DELETE FROM {END_TABLE} WHERE source = ?", [r.source])
        if r.period_end is not None:
            con.execute(f"INSERT INTO {END_TABLE} VALUES (?, ?, ?)", [r.source, r.version, r.period_end])
        stored += frame.height
    return stored


def clear(con: duckdb.DuckDBPyConnection) -> None:
    for table in (TABLE, END_TABLE):
        if has_table(con, table):
            con.execute(f"DELETE FROM {table}")
