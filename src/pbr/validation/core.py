"""Validate one typed delivery file: pbr's own parse checks (polars) plus the source's Great
Expectations suite (pandas), turned into quarantine rows (line, column, expectation, reason) and
per-expectation results (counts and line numbers, never values)."""

from __future__ import annotations

import time
from importlib.metadata import version as package_version
from dataclasses import asdict, dataclass, field
from datetime import date

import polars as pl

from .. import calendar as cal
from ..contract import sources
from . import worker
from .chunks import run_suite, run_suite_memo
from .memo import MemoRows, ValidationMemo, memo_version, memoisable, period_monotone, row_hashes
from .suites import PARSE_EXPECTATIONS, PARSE_REASONS, load_suite

LINE = "__line"
FAILURE_SCHEMA = {LINE: pl.Int64, "column_name": pl.String, "reason": pl.String, "expectation": pl.String,
                  "seq": pl.Int64}


@dataclass
class ExpectationOutcome:
    seq: int                 # order in the report: pbr's parse checks first, then the suite's order
    expectation: str         # GX expectation type, or a pbr_* name
    column: str
    severity: str            # critical | warning | info
    level: str               # row | file
    description: str         # plain English, no values
    evaluated_by: str        # great_expectations | pbr
    success: bool
    element_count: int
    unexpected_count: int
    rows_quarantined: int    # rows this check put in the quarantine (each bad cell is charged to one check)
    lines: list[int] = field(default_factory=list)  # the failing rows' line numbers

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class FileValidation:
    source: str
    file_name: str
    sha256: str
    suite: str
    suite_sha256: str
    period: str | None
    period_end: date
    rows_read: int
    rows_quarantined: int
    seconds: float
    gx_version: str
    outcomes: list[ExpectationOutcome]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        """Checks that failed without losing rows (severity warning; info is counted in the results only)."""
        return [o for o in self.outcomes if not o.success and o.severity == "warning"]


def period_end_of(period: str | None) -> date:
    """The bound for 'not after the delivery period' (and dob 'not in the future'): R of the period,
    or today when validating without one."""
    return cal.reference_date(period) if period else date.today()


def to_pandas(typed: pl.DataFrame):
    """The typed frame for GX: indexed by delivered line number; dates as datetime.date objects so
    the suite's ISO date bounds compare with them."""
    import pandas as pd

    pdf = typed.to_pandas().set_index(LINE)
    for name, dtype in typed.schema.items():
        if dtype == pl.Date:
            pdf[name] = pd.Series(typed.get_column(name).to_list(), index=pdf.index, dtype=object)
    return pdf


def _wait_for_gx() -> float:
    """Seconds spent waiting for GX's import in the worker (once per worker): not part of a file's
    validation time."""
    t = time.perf_counter()
    worker.ready()
    return time.perf_counter() - t


def validate_file(source: str, file_name: str, sha256: str, typed: pl.DataFrame, parse_failures: pl.DataFrame,
                  period: str | None) -> tuple[pl.DataFrame, FileValidation]:
    """(quarantine entries: __line, column_name, reason, expectation, seq; the file's results)."""
    failures, fv, _ = validate_file_memo(source, file_name, sha256, typed, parse_failures, period, None)
    return failures, fv


@dataclass
class MemoLookup:
    """What the validation memo knows of a typed file's rows (memo_lookup), before GX is asked."""
    memoised: frozenset[int]
    version: str
    hashes: pl.DataFrame
    known: pl.Series | None


def memo_lookup(source: str, typed: pl.DataFrame, period: str | None, memo: ValidationMemo | None
                ) -> MemoLookup | None:
    """The memo's part of validating a file (row hashes, looked up): None without a memo or row
    checks. Pure polars, so the reading thread does it for a file while the file before it is in
    GX (refresh.read_files), where it would otherwise wait its turn behind that file."""
    suite = load_suite(source)
    if memo is None or not suite.row_level:
        return None
    memoised = frozenset(e.seq for e in suite.row_level if memoisable(e))
    monotone = frozenset(e.seq for e in suite.row_level if e.seq in memoised and period_monotone(e))
    version = memo_version(suite, memoised)
    hashes = row_hashes(typed)
    return MemoLookup(memoised, version, hashes, memo.lookup(source, version, hashes, period_end_of(period), monotone))


def sure_to_pass(source: str, typed: pl.DataFrame, parse_failures: pl.DataFrame, looked_up: MemoLookup | None
                 ) -> pl.Series | None:
    """Per row of a typed file, whether no check can quarantine it, known before GX runs (None: of
    no row): the memo knows the row passed every critical memoised check (a warning keeps the
    row), no other row of the file repeats
    its key (the uniqueness checks), and none of its values failed to parse. None as well when the
    suite has a critical row-level check that is neither memoised nor a uniqueness check (it could
    fail any row). The refresh inserts these rows while the file is validated (ingest.load.load_early):
    a row inserted and then quarantined would have to be deleted, which makes the COMMIT append the
    table's whole delivery again (benchmarks/README.md, round 22)."""
    from .chunks import UNIQUE, columns_read, repeats_only

    if looked_up is None or looked_up.known is None:
        return None
    suite = load_suite(source)
    critical = [str(e.seq) for e in suite.row_level if e.severity == "critical" and e.seq in looked_up.memoised]
    # known (not null) and failed none of the critical checks (a warning's failure keeps the row)
    failed_critical = looked_up.known.str.split(",").list.eval(pl.element().is_in(critical)).list.any()
    sure = (~failed_critical).fill_null(False)
    for e in suite.row_level:
        if e.severity != "critical" or e.seq in looked_up.memoised:
            continue
        if e.type in UNIQUE and repeats_only(e):
            key = columns_read(e)
            sure = sure & ~typed.select(pl.struct(key).is_duplicated()).to_series()
            continue
        return None
    failed = parse_failures.get_column(LINE).unique().implode()
    return (sure & ~typed.get_column(LINE).is_in(failed)).alias("sure")


def validate_file_memo(source: str, file_name: str, sha256: str, typed: pl.DataFrame, parse_failures: pl.DataFrame,
                       period: str | None, memo: ValidationMemo | None, looked_up: MemoLookup | None = None
                       ) -> tuple[pl.DataFrame, FileValidation, MemoRows | None]:
    """validate_file, with the validation memo (None: none read): rows it knows skip the memoised
    expectations (same results); also returns this file's rows for the memo (None without one).
    looked_up: memo_lookup's answer for this file and memo, when it was asked already.

    parse_failures: __line, column_name, reason, expectation (pbr_parse_*) found while typing.
    A bad cell is reported once, charged to the first check that failed it (parse checks, then the
    suite's order); a row with any critical failure goes to the quarantine whole."""
    suite = load_suite(source)
    t0 = time.perf_counter()
    end = period_end_of(period)
    src = sources()[source]
    rows = typed.height

    # pbr's parse checks, one per typed column, ahead of the suite.
    parse_cols = [c for c in src.columns if c.type in PARSE_EXPECTATIONS]
    outcomes: list[ExpectationOutcome] = []
    parse_seq = {}
    for i, c in enumerate(parse_cols):
        lines = sorted(parse_failures.filter(pl.col("column_name") == c.name).get_column(LINE).to_list())
        parse_seq[c.name] = i
        outcomes.append(ExpectationOutcome(
            i, PARSE_EXPECTATIONS[c.type], c.name, "critical", "row", PARSE_REASONS[c.type], "pbr",
            not lines, rows, len(lines), 0, lines))
    base = len(parse_cols)

    memo_rows = None
    if memo is not None and suite.row_level:
        m = looked_up or memo_lookup(source, typed, period, memo)
        t0 += _wait_for_gx()  # (the memo's part runs while GX may still be importing)
        results, failed = run_suite_memo(suite, typed, end, m.memoised, m.known)
        memo_rows = MemoRows(source, m.version, m.hashes.with_columns(failed), end)
    else:
        t0 += _wait_for_gx() if suite.row_level else 0.0
        results = run_suite(suite, typed, end) if suite.row_level else {}
    candidates = [parse_failures.select(
        pl.col(LINE).cast(pl.Int64), "column_name", "reason", "expectation",
        # (cast: with no typed columns, e.g. areas, an empty mapping keeps the String type)
        pl.col("column_name").replace_strict(parse_seq, default=None, return_dtype=pl.Int64).cast(pl.Int64).alias("seq"))]
    unique_checks = []
    for e in suite.expectations:
        seq = base + e.seq
        if e.level == "file":
            # Checked on the header row before typing: a file that got here passed.
            outcomes.append(ExpectationOutcome(seq, e.type, e.column, e.severity, "file", e.description, "pbr",
                                               True, rows, 0, 0, []))
            continue
        r = results[e.seq]
        outcomes.append(ExpectationOutcome(seq, e.type, e.column, e.severity, "row", e.description,
                                           "great_expectations", r.success, r.element_count, r.unexpected_count,
                                           0, r.lines))
        if e.severity != "critical" or not r.lines:
            continue
        if e.keep_first:
            unique_checks.append((seq, e, r.lines))
            continue
        candidates.append(pl.DataFrame({LINE: r.lines, "column_name": [e.column] * len(r.lines),
                                        "reason": [e.description] * len(r.lines),
                                        "expectation": [e.type] * len(r.lines), "seq": [seq] * len(r.lines)},
                                       schema=FAILURE_SCHEMA))
    failures = (pl.concat(candidates).sort(LINE, "column_name", "seq")
                .unique([LINE, "column_name"], keep="first", maintain_order=True))

    # Natural keys: of rows sharing a key the first delivered stands; rows already failing another
    # check do not count (they do not load), so a key repeated only by a bad row is no duplicate.
    for seq, e, lines in unique_checks:
        bad = failures.get_column(LINE).unique().implode()
        keys = e.key_columns
        dup = (typed.filter(pl.col(LINE).is_in(pl.Series(lines).implode()) & ~pl.col(LINE).is_in(bad))
               .with_columns(pl.col(LINE).min().over(keys).alias("__first"))
               .filter(pl.col(LINE) != pl.col("__first")))
        if dup.height:
            failures = pl.concat([failures, dup.select(
                pl.col(LINE), pl.lit(e.column).alias("column_name"),
                pl.format(e.description + ": first delivered at line {}", pl.col("__first")).alias("reason"),
                pl.lit(e.type).alias("expectation"), pl.lit(seq, pl.Int64).alias("seq"))])
    failures = failures.sort(LINE, "column_name")

    charged = dict(failures.group_by("seq").agg(pl.col(LINE).n_unique()).iter_rows())
    for o in outcomes:
        o.rows_quarantined = int(charged.get(o.seq, 0))
    fv = FileValidation(source, file_name, sha256, suite.name, suite.sha256, period, end, rows,
                        failures.get_column(LINE).n_unique(), 0.0, package_version("great_expectations") if suite.row_level else "",
                        outcomes)
    fv.seconds = time.perf_counter() - t0
    return failures, fv, memo_rows
