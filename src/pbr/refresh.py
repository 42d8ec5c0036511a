"""One monthly refresh: read a delivery, load it, link people, form families, evaluate the
criteria, keep the cohort, write the contract outputs. All or nothing: every store change happens
in one transaction, and output files move into place only after it commits."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import duckdb
import polars as pl

from . import calendar as cal
from . import store_settings
from .config import Config, load_config
from .errors import InputErrors, InputFileError, PbrError, RefreshOrderError
from .claims import build_batch
from .families import assign_families
from .graph import components
from .ingest import DeliveryFile, ParsedFile, discover
from .ingest.database import parse_source
from .ingest.sources import SourcesFile, load_sources
from .ingest.load import EarlyRows, load_early, load_file, load_parsed, planned_extract_ids
from .ingest.parse import TypedFile, for_period
from .validation import worker as validation_worker
from .validation import memo as validation_memo
from .validation.memo import ValidationMemo
from .validation.store import check_row_counts, record_results, row_drop_problems
from .linkage import link_people
from .outputs import EarlyCohortOutputs, write_outputs
from .rulebook import Rulebook, load_rulebook
from .sqlfiles import read_sql, statements
from .store import check_unique, checkpoint_if_due, connect, migrate, transaction

Reporter = Callable[[str], None]


def identity_steps(con: duckdb.DuckDBPyConnection, persist: bool = True) -> dict:
    """The link step's SQL up to the deterministic graph: the macros, the rows in force and raw
    identities (pbr.in_force), their standardised values (pbr.memo) and the identity
    observations with the deterministic person and address edges (20_identity.sql). persist:
    the refresh, as the store's writer, keeps what it carried forward and derived; a read-only
    or throwaway caller does not. Returns what in_force and memo report."""
    from . import in_force
    from .memo import prepare
    run_sql(con, "refresh/00_macros.sql")
    stats = {"in_force": in_force.derive(con, persist=persist)}
    stats["memo"] = prepare(con, persist=persist)
    run_sql(con, "refresh/20_identity.sql")
    return stats


@dataclass
class RefreshResult:
    period: str
    run_id: str
    out_dir: Path | None
    summary: dict = field(default_factory=dict)


def read_delivery(folder: Path | None, config: Config, period: str | None = None,
                  sources: SourcesFile | None = None, memo: ValidationMemo | None = None) -> list[ParsedFile]:
    """Read and validate every file of a delivery and every source of the sources file (each its
    Great Expectations suite, dates bounded by the period's end; memo: the store's validation memo,
    validation.memo.load); problems are gathered and raised together before anything touches the
    store."""
    files = delivery_files(folder, sources)
    if files or sources:
        validation_worker.start()  # Great Expectations loads (in its worker) while the first file is read
    parsed, errors = [], []
    by_file = read_files(files, config, period, memo)
    for i in range(len(files)):  # back in the delivery's order
        (errors if isinstance(by_file[i], InputFileError) else parsed).append(by_file[i])
    for spec in (sources.sources.values() if sources else []):
        try:
            parsed.append(parse_source(spec, config.column_mappings.get(spec.source), period, memo))
        except InputFileError as e:
            errors.append(e)
    if errors:
        raise InputErrors(errors)
    return parsed


def read_files(files: list[DeliveryFile], config: Config, period: str | None, memo: ValidationMemo | None,
               on_read: Callable[[float], None] | None = None,
               on_done: Callable[[int, ParsedFile | InputFileError], None] | None = None,
               cancelled: Callable[[], bool] | None = None,
               on_typed: Callable[[int, TypedFile, pl.Series | None], None] | None = None
               ) -> dict[int, ParsedFile | InputFileError]:
    """Each file parsed (parse_file), or its error, by its index in `files`. A file is read and
    typed here while the one before it is validated in a helper thread (which mostly waits for the
    GX worker: the two use both cores); at most one file waits to be validated, so no more than
    two files' frames are held. on_read: each file's reading and typing time (the benchmark's
    split of the steps). on_done: called with each file's index and outcome as soon as it is
    known (ArrivingDelivery). cancelled: asked before each file; true stops the reading there.
    on_typed: called with each file's index, typed rows and which of them are sure to pass
    (validation.core.sure_to_pass) once typed, before its validation begins (ArrivingDelivery:
    the store takes those while the file is validated)."""
    from concurrent.futures import ThreadPoolExecutor
    from .ingest.parse import type_file, validate_typed
    from .validation.core import memo_lookup, sure_to_pass

    out: dict[int, ParsedFile | InputFileError] = {}

    def done(i: int, outcome: ParsedFile | InputFileError) -> None:
        out[i] = outcome
        if on_done is not None:
            on_done(i, outcome)

    def validate(i: int, typed, looked_up) -> None:
        try:
            outcome = validate_typed(typed, period, memo, looked_up)
        except InputFileError as e:
            outcome = e
        done(i, outcome)

    with ThreadPoolExecutor(1, thread_name_prefix="pbr-validate") as pool:
        pending = None
        for i in reading_order(files):
            if cancelled is not None and cancelled():
                break
            f = files[i]
            t0 = time.perf_counter()
            looked_up = None
            try:
                typed = type_file(f, config.column_mappings.get(f.source))
            except InputFileError as e:
                done(i, e)
                typed = None
            if on_read:
                on_read(time.perf_counter() - t0)
            if typed is not None and (pending is not None or on_typed is not None):
                # The memo's part of this file's validation, while the file before is in GX (or,
                # for the first file, while GX is imported).
                looked_up = memo_lookup(f.source, typed.typed, period, memo)
            if typed is not None and on_typed is not None:
                on_typed(i, typed, sure_to_pass(f.source, typed.typed, typed.parse_failures, looked_up))
            if pending is not None:
                pending.result()  # the file before: validated (raises what validation raised)
                pending = None
            if typed is not None:
                pending = pool.submit(validate, i, typed, looked_up)
                del typed, looked_up
            f.release_data()  # read: its rows are in the typed file now
        if pending is not None:
            pending.result()
    return out


@dataclass
class TypedArrival:
    """A file of an ArrivingDelivery, typed and not yet validated: its rows, and which of them are
    sure to pass (validation.core.sure_to_pass; None: none known)."""
    typed: TypedFile
    sure: pl.Series | None


class ArrivingDelivery:
    """A delivery folder's files read and validated on a thread of their own (read_files) while
    the refresh loads each into the store as soon as it is validated: the largest file loads while
    the others are still validated, where before every file waited for the last (issue 9). Iterating
    gives (index in `files`, ParsedFile or InputFileError) as each is known, in the order they are
    validated; and before a file's outcome, once it is typed, (index, TypedArrival): the rows sure
    to pass its checks can go into the store while it is validated (round 22). Nothing is lost on
    failure: a file that fails is yielded as its error, and the refresh goes on taking every file
    before it raises them together (so a failing delivery still reports every file's problems),
    then rolls back what it loaded."""

    def __init__(self, files: list[DeliveryFile], config: Config, period: str, memo: ValidationMemo | None,
                 on_read: Callable[[float], None] | None = None):
        import queue
        self.files = files
        self.finished_at: float | None = None  # time.perf_counter() when the last file was validated
        self.worker_peak_mb: float | None = None  # the validation worker's, when it was stopped after
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(config, period, memo, on_read), name="pbr-read",
                                        daemon=True)
        self._thread.start()

    def _read(self, config: Config, period: str, memo: ValidationMemo | None, on_read) -> None:
        try:
            out = read_files(self.files, config, period, memo, on_read=on_read,
                             on_done=lambda i, outcome: self._queue.put((i, outcome)), cancelled=self._cancel.is_set,
                             on_typed=lambda i, typed, sure: self._queue.put((i, TypedArrival(typed, sure))))
            self.finished_at = time.perf_counter()
            if not any(isinstance(o, InputFileError) for o in out.values()) and not self._cancel.is_set():
                # as apply_delivery does for a read delivery
                self.worker_peak_mb = release_validation_worker(list(out.values()))
        except BaseException as e:  # noqa: BLE001 - raised again in the refresh's thread
            self._queue.put((None, e))
        finally:
            self.finished_at = self.finished_at or time.perf_counter()
            self._queue.put(None)

    def __iter__(self):
        while (item := self._queue.get()) is not None:
            i, outcome = item
            if i is None:
                raise outcome
            yield i, outcome

    def cancel(self) -> None:
        """Stop reading after the file in hand, and wait for it (a failed refresh: no thread left
        reading the delivery)."""
        self._cancel.set()
        self._thread.join()


def reading_order(files: list[DeliveryFile]) -> list[int]:
    """Largest file first: Great Expectations (imported by its worker, ~3 s) is first needed when
    the first file is typed, so the longest read overlaps the import."""
    return sorted(range(len(files)), key=lambda i: -files[i].size)


def delivery_files(folder: Path | None, sources: SourcesFile | None) -> list[DeliveryFile]:
    """The folder's contract files; a source both delivered as a file and read from a database is
    refused before any database is contacted (which one would count?)."""
    if folder is None and sources is None:
        raise PbrError("nothing to read: give a delivery folder (--extracts), a sources file (--sources) or both")
    files = discover(Path(folder)) if folder is not None else []
    both = sorted({f.source for f in files} & set(sources.sources if sources else {}))
    if both:
        raise PbrError(
            f"source(s) {', '.join(both)} given twice: as a file in {folder} and in the sources file {sources.path}; "
            "give each source once")
    return files


def delivery_origin(folder: Path | str | None) -> str | None:
    """The files' origin for the registry: their folder (a database extract records its own URL)."""
    return str(folder) if folder is not None else None


def set_rule_variables(con: duckdb.DuckDBPyConnection, period: str, rb: Rulebook, config: Config) -> date:
    r = cal.reference_date(period)
    ident = rb["identification"]
    filters = config.filters(ident["local_discretion"]["filters"])
    values = {
        "period": period,
        "ref_date": r,
        "window_months": int(ident["window_months"]),
        "adult_age_years": int(ident["adult_age_years"]),
        "offence_types": list(ident["crime_asb"]["offence_types"]),
        "asb_intervention_types": list(ident["crime_asb"]["asb_intervention_types"]),
        "edu_fixed_min": int(ident["education"]["fixed_exclusions_min"]),
        "edu_unauth_pct": float(ident["education"]["unauthorised_absence_pct"]),
        "edu_provisions": list(ident["education"]["provisions"]),
        "oow_benefits": list(ident["work"]["out_of_work_benefits"]),
        "filter_areas": bool(filters.get("areas", False)),
        "filter_benefit_cap": bool(filters.get("benefit_cap", False)),
        "rulebook_name": rb.name,
        "rulebook_version": rb.version,
        "edu_terms": int(ident["education"]["terms"]),
        "res_window_months": int(rb.get("results.window_months")),
        "res_edu_terms": int(rb.get("results.education.terms")),
        "res_min_months": int(rb.get("results.min_months_after_attachment")),
        "res_asb_types": list(rb.get("results.asb.event_types")),
        "res_asb_max_pct": float(rb.get("results.asb.max_pct_of_baseline")),
        "res_offence_types": list(rb.get("results.offending.offence_types")),
        "res_off_max_pct": float(rb.get("results.offending.max_pct_of_baseline")),
        "res_ptw_types": list(rb.get("results.progress_to_work.record_types")),
        "res_emp_types": list(rb.get("results.route_b.employment_record_types")),
        "res_long_benefits": list(rb.get("results.route_b.long_benefits")),
        "res_long_days": int(rb.get("results.route_b.long_min_days")),
        "res_short_days": int(rb.get("results.route_b.short_min_days")),
    }
    for name, value in values.items():
        con.execute(f"SET VARIABLE {name} = ?", [value])
    # Term calendar for every academic year delivered, and the last N terms at R.
    years = [r_[0] for r_ in con.execute("SELECT DISTINCT academic_year FROM raw_attendance").fetchall()]
    con.execute("CREATE OR REPLACE TEMP TABLE term_calendar (academic_year VARCHAR, term VARCHAR, term_end DATE)")
    rows = [(y, t, cal.term_end(y, t, rb.term_ends, rb.academic_year_start)) for y in years for t in rb.term_ends]
    if rows:
        con.executemany("INSERT INTO term_calendar VALUES (?, ?, ?)", rows)
    con.execute("CREATE OR REPLACE TEMP TABLE last_terms (academic_year VARCHAR, term VARCHAR, term_end DATE, term_rank INTEGER)")
    terms = cal.last_terms(r, int(ident["education"]["terms"]), rb.term_ends, rb.academic_year_start)
    con.executemany("INSERT INTO last_terms VALUES (?, ?, ?, ?)",
                    [(t.academic_year, t.name, t.end, i + 1) for i, t in enumerate(terms)])
    # Every term end from 1990 to R, for counting terms ended since attachment.
    con.execute("CREATE OR REPLACE TEMP TABLE term_end_calendar (term_end DATE)")
    ends = [cal.term_end(cal.academic_year_label(y), t, rb.term_ends, rb.academic_year_start)
            for y in range(1990, r.year + 1) for t in rb.term_ends]
    con.executemany("INSERT INTO term_end_calendar VALUES (?)", [(e,) for e in ends if e <= r])
    # The education window opens the day after the term before the oldest of those terms ends.
    before = cal.last_terms(r, len(terms) + 1, rb.term_ends, rb.academic_year_start)[-1]
    con.execute("SET VARIABLE edu_window_start = ?", [before.end + timedelta(days=1)])
    return r


def run_sql(con: duckdb.DuckDBPyConnection, relative: str) -> None:
    for stmt in statements(read_sql(relative)):
        con.execute(stmt)


def check_period(period: str) -> None:
    try:
        cal.parse_period(period)
    except ValueError as e:
        raise PbrError(str(e)) from None


def check_order(con: duckdb.DuckDBPyConnection, period: str) -> None:
    latest = con.execute("SELECT max(period) FROM refresh_run WHERE finished_at IS NOT NULL").fetchone()[0]
    if latest is not None and period < latest:
        raise RefreshOrderError(
            f"period {period} is before the latest refresh {latest}: refreshes run in period order "
            f"(the cohort and claims build on each other); re-run {latest} or a later period")


def clear_period(con: duckdb.DuckDBPyConnection, period: str) -> None:
    """Re-running the latest period replaces what its earlier run derived. A batch already audited
    or beyond is kept: only the period's draft batches are rebuilt."""
    drafts = "SELECT batch_id FROM claim_batch WHERE period = ? AND state = 'draft'"
    con.execute(f"DELETE FROM claim_slot WHERE claim_id IN (SELECT claim_id FROM claim_item WHERE batch_id IN ({drafts}))",
                [period])
    con.execute(f"DELETE FROM claim_item WHERE batch_id IN ({drafts})", [period])
    con.execute(f"DELETE FROM claim_event WHERE batch_id IN ({drafts})", [period])
    con.execute("DELETE FROM claim_batch WHERE period = ? AND state = 'draft'", [period])
    for table, col in [("attachment", "period_attached"), ("case_report", "period"), ("family_result", "period"),
                       ("result_evidence", "period"), ("criteria_evidence", "period"), ("family_status", "period"), ("family_snapshot", "period"),
                       ("id_event", "period"), ("cohort", "identified_period"), ("family_registry", "first_period"),
                       ("person_xwalk", "first_period")]:
        con.execute(f"DELETE FROM {table} WHERE {col} = ?", [period])


def refresh(
    period: str,
    extracts: Path | None,
    db: Path,
    out: Path | None,
    rulebook: str | None = None,
    config_path: Path | None = None,
    report: Reporter | None = None,
    sources_path: Path | None = None,
    with_identities: bool = False,
    overrides_path: Path | None = None,
) -> RefreshResult:
    """Read the delivery — files, database sources or both — and apply it to the store in one
    transaction. A delivery of files to an existing store loads each file as soon as it is
    validated (ArrivingDelivery); otherwise the whole delivery is read before the store is opened
    for writing. Either way a delivery that fails leaves the store as it was."""
    say = report or (lambda _msg: None)
    check_period(period)
    if extracts is not None or sources_path is not None:
        # GX loads in its worker (≈3-5 s) from here, while the rulebook, configuration, sources
        # file and validation memo load and the first file is read.
        validation_worker.start()
    rb = load_rulebook(rulebook)
    config = load_config(config_path)
    if overrides_path is not None:  # --overrides: a must/cannot-link file for this refresh
        from dataclasses import replace
        config = replace(config, linkage=replace(config.linkage, overrides=str(overrides_path)))
    sources = load_sources(sources_path) if sources_path is not None else None
    parsed: list[ParsedFile] | ArrivingDelivery = []
    if extracts is not None and sources is None and Path(db).exists():
        # An existing store: its files load as they are validated (ArrivingDelivery). A new store
        # is created only once the whole delivery has been read, so a bad first delivery leaves
        # none behind.
        say(f"reading delivery {extracts}")
        files = delivery_files(Path(extracts), None)
        parsed = ArrivingDelivery(files, config, period, validation_memo.load(db))
    elif extracts is not None or sources is not None:
        say("reading delivery " + " and ".join(
            ([str(extracts)] if extracts is not None else []) + ([f"sources {sources_path}"] if sources else [])))
        parsed = read_delivery(Path(extracts) if extracts is not None else None, config, period, sources,
                               memo=validation_memo.load(db))
    return apply_delivery(period, parsed, db, out, rb, config, origin=delivery_origin(extracts), report=say,
                          with_identities=with_identities, release_inputs=True)


@dataclass
class RefreshRun:
    """What the steps of one refresh share: the open store (inside its transaction) and results."""
    con: duckdb.DuckDBPyConnection
    period: str
    parsed: list[ParsedFile]
    out: Path | None
    rb: Rulebook
    config: Config
    origin: str | None
    run_id: str
    started: datetime
    say: Reporter
    stats: dict = field(default_factory=dict)
    staged: object | None = None
    with_identities: bool = False  # the workbooks' People sheet (names, dates of birth)
    early_outputs: EarlyCohortOutputs | None = None  # the cohort's files, being written (step_outcomes)
    arriving: ArrivingDelivery | None = None  # the delivery, still being validated (step_load loads it)

    def discard_outputs(self) -> None:
        """A failed refresh's staged outputs go (the cohort's thread waited for first)."""
        if self.early_outputs is not None:
            self.early_outputs.discard()
        if self.staged is not None:
            shutil.rmtree(self.staged.staging, ignore_errors=True)


def step_load(run: RefreshRun) -> None:
    con = run.con
    migrate(con)
    check_order(con, run.period)
    if run.arriving is not None:
        run.parsed, run.stats["loads"] = load_arriving(run)
    else:
        check_row_counts(con, run.parsed, run.period, run.config.validation)
        run.say("loading extracts")
        run.stats["loads"] = load_parsed(con, run.parsed, run.period, origin=run.origin)
        validation_memo.save(con, [p.memo_rows for p in run.parsed if p.memo_rows is not None])
    record_results(con, run.run_id, run.period, run.stats["loads"], run.parsed)
    clear_period(con, run.period)
    set_rule_variables(con, run.period, run.rb, run.config)
    con.execute("SET VARIABLE run_id = ?", [run.run_id])


def previous_rows(con: duckdb.DuckDBPyConnection, files: list[DeliveryFile]) -> int:
    """The rows read from the latest stored delivery of each of these files' sources."""
    from .store import has_table
    sources = sorted({f.source for f in files})
    if not sources or not has_table(con, "extract_file"):  # a new store: none yet
        return 0
    return con.execute("""
        SELECT coalesce(sum(rows_read), 0) FROM (
            SELECT arg_max(rows_read, (delivery_period, extract_id)) AS rows_read FROM extract_file
            WHERE replaced_by IS NULL AND list_contains(?, source) GROUP BY source)""", [sources]).fetchall()[0][0]


def load_arriving(run: RefreshRun) -> tuple[list[ParsedFile], list]:
    """Each file of an ArrivingDelivery loaded (with its validation memo rows) as soon as it is
    validated, under the extract id it would have had loaded in the delivery's order. Its rows
    sure to pass go into the store as soon as it is typed (load_early: the insert overlaps the
    file's validation, which mostly runs in the GX worker; at authority scale attendance's insert
    is ≈0.6 s), the rest once it is validated. The same
    checks as for a read delivery, raised the same way once every file is known: files that failed
    to read or validate, else files whose row count fell too far (row_drop_problems); either rolls
    the transaction back. Returns the parsed files and their loads in the delivery's order."""
    con, settings = run.con, run.config.validation
    ids = planned_extract_ids(con, run.arriving.files)
    parsed: dict[int, ParsedFile] = {}
    loads: dict[int, object] = {}
    errors: dict[int, InputFileError] = {}
    problems: dict[int, InputFileError] = {}
    early: dict[int, EarlyRows] = {}
    run.say("loading extracts as they are validated")
    for i, outcome in run.arriving:
        if isinstance(outcome, TypedArrival):
            if not (errors or problems):
                if (rows := load_early(con, outcome.typed, run.period, ids[i], outcome.sure)) is not None:
                    early[i] = rows
            del outcome  # not held while waiting for the next file: its validation frees the frames
            continue
        if isinstance(outcome, InputFileError):
            errors[i] = outcome
            continue
        parsed[i] = outcome
        if errors or problems:  # the refresh fails: nothing more to load
            continue
        found = row_drop_problems(con, [outcome], run.period, settings.max_row_drop_share, settings.row_drop_min_rows)
        if found:
            problems[i] = found[0]
            continue
        loads[i] = load_file(con, outcome, run.period, run.origin, ids[i], early=early.pop(i, None))
        validation_memo.save(con, [outcome.memo_rows] if outcome.memo_rows is not None else [])
        release_frames([outcome])
    for failed in (errors, problems):
        if failed:
            raise InputErrors([failed[i] for i in sorted(failed)])
    order = sorted(parsed)
    return [parsed[i] for i in order], [loads[i] for i in order]


def step_link(run: RefreshRun) -> None:
    run.say("linking records into people")
    preload_modules(outputs=run.out is not None, linker=run.config.linkage.enabled)
    run.stats.update(identity_steps(run.con))

    def address_nodes() -> None:  # (dwellings: no person in them yet, so formed while Splink scores)
        components(run.con, "address_edge", "address_cluster")
        run.con.execute("""CREATE OR REPLACE TEMP TABLE address_node AS
            SELECT node, 'H' || left(md5(label), 12) AS address_id FROM address_cluster""")

    run.stats["link"] = link_people(run.con, run.period, run.config.linkage, while_scoring=address_nodes)
    from .linkage_quality import build_quality
    run.stats["linkage_quality"] = build_quality(run.con, run.period, run.stats["link"], run.config.linkage)


def preload_modules(outputs: bool, linker: bool) -> None:
    """Import scipy's graph routines (≈0.15 s, for the link step's connected components, after
    its SQL), Splink (≈0.15 s, needed once the link step's SQL has run) and the workbook and
    report modules (openpyxl, matplotlib: ≈0.6 s of pure Python at authority scale) in a
    background thread while the link step's SQL runs, which leaves the interpreter lock free; the
    steps that use them then find them imported. An import that fails here fails again, and is
    reported, where it is used."""
    def load() -> None:
        try:
            import scipy.sparse.csgraph  # noqa: F401
            if linker:
                import splink  # noqa: F401
            if outputs:
                import pbr.report.page  # noqa: F401
                import pbr.workbooks.claims_book  # noqa: F401
                import pbr.workbooks.cohort_book  # noqa: F401
        except Exception:  # noqa: BLE001 - raised again on use
            pass
    threading.Thread(target=load, name="pbr-preload", daemon=True).start()


def step_families(run: RefreshRun) -> None:
    run.say("forming households and families")
    run_sql(run.con, "refresh/30_records.sql")
    run_sql(run.con, "refresh/40_households.sql")
    run.stats["families"] = assign_families(run.con, run.period)


def step_cohort(run: RefreshRun) -> None:
    run.say("evaluating criteria")
    run_sql(run.con, "refresh/50_criteria.sql")
    run_sql(run.con, "refresh/60_cohort.sql")
    check_unique(run.con, "family_status", ("period", "family_id"), run.period)


def step_outcomes(run: RefreshRun) -> None:
    run.say("attaching cases and measuring results")
    run_sql(run.con, "refresh/70_attachment.sql")
    if run.out is not None:
        # The cohort and its attachments are final: their files are written beside the rest of
        # the refresh (outputs.EarlyCohortOutputs).
        run.early_outputs = EarlyCohortOutputs(run.con, run.period, Path(run.out), run.config.authority,
                                               run.with_identities)
    run_sql(run.con, "refresh/80_results.sql")
    check_unique(run.con, "family_result", ("period", "family_id"), run.period)


def step_claims(run: RefreshRun) -> None:
    run.say("building the claim batch")
    run.stats["batch_id"] = build_batch(run.con, run.period, run.rb, run.run_id)


def step_outputs(run: RefreshRun) -> None:
    con, rb = run.con, run.rb
    con.execute("INSERT INTO refresh_run VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                [run.run_id, run.period, rb.name, rb.version, rb.sha256, run.config.sha256 or None, run.started])
    summary = build_summary(con, run.period, rb, run.stats["loads"], run.stats["link"], run.stats["families"])
    summary.update(claims_summary(con, run.period, run.stats["batch_id"]))
    if "linkage_quality" in run.stats:
        from .linkage_quality import summary_block
        summary["linkage"] = summary_block(run.stats["linkage_quality"])
    run.stats["summary"] = summary
    con.execute("UPDATE refresh_run SET finished_at = ?, summary = ? WHERE run_id = ?",
                [datetime.now(timezone.utc).replace(tzinfo=None), json.dumps(summary), run.run_id])
    if run.out is not None:
        run.say("writing outputs")
        from .report import prepare_report  # the monthly report (docs/report.md): OUT/YYYY-MM/report.html
        run.staged = write_outputs(con, run.period, Path(run.out), rb, run.run_id,
                                   authority=run.config.authority, with_identities=run.with_identities,
                                   early=run.early_outputs, report=prepare_report(con, run.period, run.config, rb))
        if "linkage_quality" in run.stats:
            quality_file = run.staged.staging / "linkage_quality.json"
            quality_file.write_text(json.dumps(run.stats["linkage_quality"], indent=2) + "\n", encoding="utf-8")
            quality_file.chmod(0o600)


# The store-changing steps of a refresh, in order. They share one transaction; an orchestrator
# may wrap each (Prefect runs each as a task) but must run them in order, in one process.
STEPS: list[tuple[str, Callable[[RefreshRun], None]]] = [
    ("load", step_load), ("link", step_link), ("families", step_families), ("cohort", step_cohort),
    ("outcomes", step_outcomes), ("claims", step_claims), ("outputs", step_outputs),
]

StepRunner = Callable[[str, Callable[[RefreshRun], None], RefreshRun], None]


def apply_delivery(
    period: str,
    parsed: list[ParsedFile] | ArrivingDelivery,
    db: Path,
    out: Path | None,
    rb: Rulebook,
    config: Config,
    origin: str | None = None,
    report: Reporter | None = None,
    step_runner: StepRunner | None = None,
    with_identities: bool = False,
    release_inputs: bool = False,
) -> RefreshResult:
    """The single-writer half of a refresh: load, link, form families, evaluate, attach, measure,
    build the claim batch and stage the outputs, all in one transaction.

    parsed: the read delivery, or an ArrivingDelivery still being read (its files load as they are
    validated; a failure stops its reading). release_inputs: the caller hands the parsed files
    over; once loaded into the store their row frames are emptied (at a million rows they hold
    about 0.5 GB the later steps never read)."""
    arriving = parsed if isinstance(parsed, ArrivingDelivery) else None
    try:
        return _apply(period, parsed, arriving, db, out, rb, config, origin, report, step_runner, with_identities,
                      release_inputs)
    finally:
        if arriving is not None:  # done with, or failed: no thread left reading the delivery
            arriving.cancel()


def _apply(period, parsed, arriving, db, out, rb, config, origin, report, step_runner, with_identities,
           release_inputs) -> RefreshResult:
    say = report or (lambda _msg: None)
    check_period(period)
    if arriving is None:
        parsed = [for_period(p, period) for p in parsed]
        release_validation_worker(parsed)
    run_step = step_runner or (lambda _name, fn, run: fn(run))
    run_step = with_pause_points(run_step)
    con = connect(db)
    try:
        # An arriving delivery's size is known once it is loaded (store_settings again then);
        # until then its sources' latest deliveries stand for it.
        store_settings.apply(con, config, rows=previous_rows(con, arriving.files) if arriving
                             else sum(p.rows_read for p in parsed))
        run: RefreshRun | None = None
        try:
            with transaction(con, checkpoint=False):
                run = RefreshRun(con, period, [] if arriving else parsed, out, rb, config, origin,
                                 f"{period}-{uuid.uuid4().hex[:8]}", datetime.now(timezone.utc).replace(tzinfo=None),
                                 say, with_identities=with_identities, arriving=arriving)
                for name, fn in STEPS:
                    run_step(name, fn, run)
                    if name == "load":
                        if arriving is not None:
                            store_settings.apply(con, config, rows=sum(p.rows_read for p in run.parsed))
                        if release_inputs:
                            release_frames(run.parsed)
        except BaseException:
            if run is not None:  # rolled back: its staged outputs go too
                run.discard_outputs()
            raise
        out_dir = run.staged.commit() if run.staged is not None else None
        # After the move: the outputs follow the commit as closely as they can (a kill between
        # the two leaves the period's folder to the re-run, README "One writer").
        checkpoint_if_due(con)
    finally:
        con.close()
    return RefreshResult(period, run.run_id, out_dir, run.stats["summary"])


# A delivery of this many rows or more stops the validation worker once its files are validated:
# linking it needs the worker's memory (GX and its frames: 0.3 GB idle, more after a big file). A
# smaller delivery's refresh leaves it running for the next one in this process (tests, a service
# that refreshes several stores), which then skips GX's import.
RELEASE_WORKER_ROWS = 100_000


def release_validation_worker(parsed: list[ParsedFile]) -> float | None:
    """Stop the worker after a big delivery; its peak memory in MB (None: left running)."""
    if sum(p.rows_read for p in parsed) >= RELEASE_WORKER_ROWS:
        # Not waited for: the worker's exit (tens of ms: validation.worker._exit_without_teardown)
        # overlaps loading, whose memory is well below linking's peak (authority: ≈1.2 GB with
        # the worker's ≈0.4 GB, linking ≈1.7 GB).
        return validation_worker.stop(wait=False)
    return None


def with_pause_points(run_step: StepRunner) -> StepRunner:
    """Fault-injection points before each step (inert unless PBR_TEST_PAUSE_AT is set)."""
    from .testhooks import pause_at

    def run(name, fn, r):
        pause_at(f"step:{name}")
        run_step(name, fn, r)
    return run


def release_frames(parsed: list[ParsedFile]) -> None:
    """Empty the loaded files' row frames (schemas and counts stay)."""
    for p in parsed:
        p.rows, p.rejects, p.typed_file, p.memo_rows = p.rows.clear(), p.rejects.clear(), None, None
        if hasattr(p.file, "release_data"):  # a delivered file's bytes (a database extract has none)
            p.file.release_data()


def build_summary(con, period, rb, loads, link_stats, fam_stats) -> dict:
    prev = con.execute("SELECT max(period) FROM refresh_run WHERE period < ? AND finished_at IS NOT NULL",
                       [period]).fetchone()[0]
    q = lambda sql, *p: con.execute(sql, list(p)).fetchone()[0]  # noqa: E731
    new_ids = [r[0] for r in con.execute(
        "SELECT family_id FROM cohort WHERE identified_period = ? ORDER BY family_id", [period]).fetchall()]
    not_meeting = [r[0] for r in con.execute("""
        SELECT c.family_id FROM cohort c
        LEFT JOIN family_status s ON s.family_id = c.family_id AND s.period = ?
        WHERE c.identified_period <= ? AND s.route IS NULL ORDER BY 1""", [period, period]).fetchall()]
    prev_not_meeting: set[str] = set()
    if prev:
        prev_not_meeting = {r[0] for r in con.execute("""
            SELECT c.family_id FROM cohort c
            LEFT JOIN family_status s ON s.family_id = c.family_id AND s.period = ?
            WHERE c.identified_period <= ? AND s.route IS NULL""", [prev, prev]).fetchall()}
    return {
        "period": period,
        "previous_period": prev,
        "rulebook": {"name": rb.name, "version": rb.version},
        "files": [l.as_dict() for l in loads],
        "quarantined_rows": sum(l.rows_quarantined for l in loads),
        "people": link_stats["people"],
        "new_people": link_stats["new_people"],
        "families": fam_stats["families"],
        "cohort": q("SELECT count(*) FROM cohort WHERE identified_period <= ?", period),
        "cohort_by_route": dict(con.execute(
            "SELECT route, count(*) FROM cohort WHERE identified_period <= ? GROUP BY 1 ORDER BY 1", [period]).fetchall()),
        "new_in_cohort": new_ids,
        "no_longer_meeting": not_meeting,
        "newly_not_meeting": sorted(set(not_meeting) - prev_not_meeting - set(new_ids)),
        "meeting_again": sorted(prev_not_meeting - set(not_meeting)),
    }


def claims_summary(con, period: str, batch_id: str | None) -> dict:
    items = con.execute("""
        SELECT claim_type, count(*), sum(amount) FROM claim_item WHERE batch_id = ? GROUP BY 1 ORDER BY 1""",
        [batch_id]).fetchall() if batch_id else []
    return {
        "attached": con.execute("SELECT count(*) FROM attachment WHERE period_attached <= ?", [period]).fetchone()[0],
        "newly_attached": con.execute("SELECT count(*) FROM attachment WHERE period_attached = ?", [period]).fetchone()[0],
        "cases_reported": dict(con.execute(
            "SELECT issue, count(*) FROM case_report WHERE period = ? GROUP BY 1 ORDER BY 1", [period]).fetchall()),
        "batch_id": batch_id,
        "claims": {t: {"items": n, "amount": float(a)} for t, n, a in items},
        "claims_total": float(sum(a for _, _, a in items)) if items else 0.0,
    }
