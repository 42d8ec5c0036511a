"""The pbr command line: the same pipeline steps the Prefect flows run, no server needed.

Exit codes: 0 ok; 2 bad usage or bad input (the message names the file, row and column);
1 internal error. Messages never hold personal data."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .errors import PbrError

err = Console(stderr=True)
out = Console()


class PbrGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PbrError as e:
            # The message as plain text: a '[check]' in it is not rich markup.
            err.print(Text("error: ", style="bold red") + Text(str(e)), highlight=False, soft_wrap=True)
            sys.exit(e.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - last resort: exit 1 without echoing data
            err.print(f"[bold red]internal error:[/] {type(e).__name__} (run with PBR_DEBUG=1 for the traceback)")
            import os
            if os.environ.get("PBR_DEBUG"):
                raise
            sys.exit(1)


@click.group(cls=PbrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pbr")
@click.option("--wait", "wait_seconds", type=click.FloatRange(0), default=None, metavar="SECONDS",
              help="How long to wait for another pbr process using the store (default: 60 s to write, 5 s to read).")
def main(wait_seconds) -> None:
    """pbr: Troubled Families cohort, outcomes and payment-by-results claims."""
    from . import store
    store.private_files()  # the store, backups and every output: owner-only
    store.wait_override = wait_seconds  # None: the defaults (PBR_WAIT, else 60 s / 5 s)


def _reporter():
    status = err.status("starting")
    status.start()
    t0 = time.monotonic()

    def report(msg: str) -> None:
        status.update(f"{msg} ({time.monotonic() - t0:.1f}s)")
    return report, status


@main.command()
@click.option("--period", required=True, help="The refresh period, YYYY-MM (R is its last day).")
@click.option("--extracts", type=click.Path(path_type=Path), help="Folder of this period's delivery.")
@click.option("--db", type=click.Path(path_type=Path), default=Path("pbr.duckdb"), show_default=True,
              help="The DuckDB store.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="Output folder; files go to OUT/YYYY-MM/.")
@click.option("--rulebook", default=None, help="Bundled rulebook name or path to a rulebook YAML (default phase1-2012).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Local configuration YAML (authority, column mappings, local filters).")
@click.option("--sources", "sources_path", type=click.Path(path_type=Path), default=None,
              help="Sources file (YAML): contract sources read from databases, in place of or alongside --extracts.")
@click.option("--with-identities", is_flag=True,
              help="Add a People sheet (names, dates of birth) to the workbooks: the authority's restricted copy.")
@click.option("--overrides", "overrides_path", type=click.Path(path_type=Path), default=None,
              help="Must-link / cannot-link pairs (CSV, docs/linkage.md); overrides the configuration's linkage.overrides.")
def refresh(period, extracts, db, out, rulebook, config_path, sources_path, with_identities, overrides_path):
    """Run one monthly refresh: load the delivery, find the cohort, write the outputs."""
    from .refresh import refresh as run
    report, status = _reporter()
    try:
        result = run(period, extracts, db, out, rulebook=rulebook, config_path=config_path, report=report,
                     sources_path=sources_path, with_identities=with_identities, overrides_path=overrides_path)
    finally:
        status.stop()
    print_summary(result.summary, result.out_dir)


def print_summary(s: dict, out_dir: Path | None) -> None:
    t = Table(title=f"pbr refresh {s['period']} ({s['rulebook']['name']} {s['rulebook']['version']})")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for f in s["files"]:
        note = " (already loaded)" if f["already_loaded"] else ""
        t.add_row(f"{f['file_name']}{note}", f"{f['rows_loaded']} loaded, {f['rows_quarantined']} quarantined")
        for why in f.get("quarantined_by", []):  # why rows were lost (validation)
            t.add_row(Text(f"  {why['column']}: {why['reason']} [{why['expectation']}]"), f"{why['rows']} rows")
        for why in f.get("warnings", []):
            t.add_row(Text(f"  warning, kept: {why['column']}: {why['reason']} [{why['expectation']}]"),
                      f"{why['rows']} rows")
    t.add_row("people linked", str(s["people"]))
    t.add_row("families at R", str(s["families"]))
    t.add_row("cohort families", str(s["cohort"]))
    for route, n in s["cohort_by_route"].items():
        t.add_row(f"  {route}", str(n))
    t.add_row("new to the cohort", str(len(s["new_in_cohort"])))
    t.add_row("no longer meeting criteria", str(len(s["no_longer_meeting"])))
    t.add_row("  newly this refresh", str(len(s["newly_not_meeting"])))
    t.add_row("attached families", f"{s.get('attached', 0)} ({s.get('newly_attached', 0)} new)")
    for issue, n in s.get("cases_reported", {}).items():
        t.add_row(f"cases reported: {issue.replace('_', ' ')}", str(n))
    if s.get("batch_id"):
        t.add_row("claim batch", s["batch_id"])
        for ctype, v in s["claims"].items():
            t.add_row(f"  {ctype}", f"{v['items']} items, £{v['amount']:,.2f}")
        t.add_row("  total", f"£{s['claims_total']:,.2f}")
    else:
        t.add_row("claim batch", "nothing newly claimable")
    out.print(t)
    if s["new_in_cohort"]:
        out.print("new cohort families: " + ", ".join(s["new_in_cohort"][:20])
                  + (" …" if len(s["new_in_cohort"]) > 20 else ""), highlight=False)
    if s["newly_not_meeting"]:
        out.print("no longer meeting criteria: " + ", ".join(s["newly_not_meeting"][:20])
                  + (" …" if len(s["newly_not_meeting"]) > 20 else ""), highlight=False)
    if out_dir:
        out.print(f"outputs: {out_dir}", highlight=False)


@main.command()
@click.argument("folder", type=click.Path(path_type=Path), required=False)
@click.option("--sources", "sources_path", type=click.Path(path_type=Path), default=None,
              help="Sources file (YAML): also read and check the contract sources it maps to databases.")
@click.option("--period", default=None,
              help="Delivery period YYYY-MM: dates are checked against its last day (default: the folder's "
                   "name when it is one, else today).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Local configuration YAML (column mappings; validation.max_row_drop_share).")
@click.option("--db", type=click.Path(path_type=Path), default=None,
              help="Also compare row counts with the previous deliveries in this store (opened read-only).")
@click.option("--all", "show_all", is_flag=True, help="List every quarantined row (default: the first 50 per file).")
def validate(folder, sources_path, period, config_path, db, show_all):
    """Check a delivery (a FOLDER of files, a --sources file of databases, or both) without loading
    anything: the refresh's messages; exit 2 when a file or source fails."""
    from .config import load_config
    from .ingest.sources import load_sources
    from .refresh import check_period
    from .validation.delivery import validate_delivery
    if folder is None and sources_path is None:
        raise click.UsageError("give a delivery FOLDER, --sources FILE or both")
    if period:
        check_period(period)
    sources = load_sources(sources_path) if sources_path is not None else None
    with err.status("validating"):
        check = validate_delivery(folder, period, load_config(config_path), db, sources=sources)
    print_validation(check, None if show_all else 50)
    if check.errors:
        sys.exit(2)


def print_validation(check, limit: int | None) -> None:
    """Per file: rows read, rows that would load or be quarantined (line, column, reason, check) and
    warnings; then one message per file failure. Line numbers and counts only, never values."""
    say = lambda msg: out.print(msg, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    bound = f"period {check.period}" if check.period else "no period given"
    what = " and ".join(([str(check.folder)] if check.folder is not None else [])
                        + ([f"sources {check.sources.path}"] if check.sources is not None else []))
    say(f"pbr validate {what} ({bound}: dates checked against {check.period_end})")
    for p in check.parsed:
        n_bad = p.rejects.get_column("line_no").n_unique() if p.rejects.height else 0
        state = f"{p.rows_read - n_bad} would load, {n_bad} quarantined" if n_bad else "all would load"
        say(f"{p.file.name} ({p.source}): {p.rows_read} rows, {state}")
        rows = p.rejects.select("line_no", "column_name", "reason", "expectation").rows()
        where = "row" if p.file.format == "database" else "line"  # a database row: its number in the result
        for line, column, reason, expectation in rows[:limit]:
            say(f"  {where} {line}, column '{column}': {reason} [{expectation}]")
        if limit is not None and len(rows) > limit:
            say(f"  … {len(rows) - limit} more (--all lists every one)")
        for o in p.validation.warnings if p.validation else []:
            lines = ", ".join(str(n) for n in o.lines[:20]) + (" …" if len(o.lines) > 20 else "")
            say(f"  warning, rows kept: column '{o.column}': {o.description} [{o.expectation}]: "
                f"{o.unexpected_count} rows (lines {lines})")
    for e in check.errors:
        err.print(Text("error: ", style="bold red") + Text(str(e)), highlight=False, soft_wrap=True)
    if check.errors:
        err.print(f"{len(check.errors)} file problem(s): a refresh would stop before writing anything",
                  highlight=False)


@main.command()
@click.option("--families", type=click.IntRange(1), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--from", "start", required=True, help="First delivery period, YYYY-MM.")
@click.option("--to", "end", required=True, help="Last delivery period, YYYY-MM.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for deliveries/YYYY-MM/ and truth/.")
@click.option("--messy", is_flag=True, help="Add the identity noise real sources have.")
def generate(families, seed, start, end, out_dir, messy):
    """Generate a synthetic local authority as monthly deliveries, with its ground truth."""
    from . import calendar as cal
    from .generate import generate as gen
    for p in (start, end):
        try:
            cal.parse_period(p)
        except ValueError as e:
            raise click.BadParameter(str(e))
    if end < start:
        raise click.BadParameter("--to is before --from")
    with err.status("generating"):
        summary = gen(families=families, seed=seed, start=start, end=end, out=out_dir, messy=messy)
    out.print(f"wrote {len(cal.periods_between(start, end))} monthly deliveries to {out_dir / 'deliveries'} "
              f"and the ground truth to {out_dir / 'truth'}", highlight=False)
    if isinstance(summary, dict):
        for k, v in summary.items():
            if not isinstance(v, (dict, list)):
                out.print(f"  {k}: {v}", highlight=False)


def sample_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "data" / "sample"
    if checkout.is_dir():
        return checkout
    from importlib import resources
    return Path(str(resources.files("pbr") / "_sample"))


@main.command()
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="Scratch folder for the store and outputs (default: a new temporary folder).")
def demo(workdir):
    """Run the bundled sample's monthly refreshes in order and print the summary."""
    from .refresh import refresh as run
    deliveries = sample_dir() / "deliveries"
    periods = sorted(p.name for p in deliveries.iterdir() if p.is_dir())
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="pbr-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "pbr.duckdb"
    if db.exists():
        db.unlink()
    shutil.rmtree(work / "out", ignore_errors=True)
    result = None
    for period in periods:
        report, status = _reporter()
        try:
            result = run(period, deliveries / period, db, work / "out", report=report)
        finally:
            status.stop()
        s = result.summary
        out.print(f"{period}: {s['cohort']} cohort families ({len(s['new_in_cohort'])} new, "
                  f"{len(s['no_longer_meeting'])} no longer meeting criteria), {s['quarantined_rows']} rows quarantined",
                  highlight=False)
    if result:
        print_summary(result.summary, result.out_dir)
    out.print(f"store: {db}", highlight=False)


@main.group()
def claims():
    """The claim ledger: list batches, show one, record audit decisions, submit, mark paid."""


_db_option = click.option("--db", type=click.Path(path_type=Path), default=Path("pbr.duckdb"), show_default=True,
                          help="The DuckDB store.")


def _actor(by: str | None) -> str:
    import getpass
    import os
    return by or os.environ.get("PBR_USER") or getpass.getuser()


def _in_ledger_transaction(db: Path, change):
    """Run one ledger change as the store's single writer, all or nothing."""
    from .store import connect, transaction
    con = connect(db)
    try:
        with transaction(con):
            return change(con)
    finally:
        con.close()


@claims.command("list")
@_db_option
def claims_list(db):
    """List claim batches with their state, items and amounts."""
    from .ledger import list_batches
    from .store import connect
    con = connect(db, read_only=True)
    try:
        rows = list_batches(con)
    finally:
        con.close()
    t = Table(title="claim batches")
    for c in ("batch", "period", "state", "items", "amount (£)", "undecided", "rejected"):
        t.add_column(c, justify="right" if c not in ("batch", "period", "state") else "left")
    for b, p, st, n, amt, und, rej in rows:
        t.add_row(b, p, st, str(n), f"{amt:,.2f}", str(und), str(rej))
    out.print(t)


@claims.command("show")
@click.argument("batch")
@_db_option
def claims_show(batch, db):
    """Show the items of a claim batch."""
    from .ledger import batch_items
    from .store import connect
    con = connect(db, read_only=True)
    try:
        rows = batch_items(con, batch)
        state = con.execute("SELECT state, period, sample_seed FROM claim_batch WHERE batch_id = ?", [batch]).fetchone()
    finally:
        con.close()
    t = Table(title=f"batch {batch} ({state[0]}, period {state[1]}, audit sample seed {state[2]})")
    for c in ("claim", "case", "family", "type", "amount (£)", "sample", "anomalies", "decision", "note"):
        t.add_column(c)
    for cid, case, fam, typ, amt, sample, flags, dec, note in rows:
        t.add_row(cid, case, fam, typ, f"{amt:,.2f}", "yes" if sample else "", flags, dec, note)
    out.print(t)


@claims.command("audit")
@click.argument("batch")
@click.option("--approve", multiple=True, help="Claim id to approve (repeat, or give several separated by commas).")
@click.option("--reject", multiple=True, help="Claim id to reject (repeat, or comma-separated); needs --note.")
@click.option("--note", default=None, help="The auditor's note, recorded with each decision.")
@click.option("--by", default=None, help="Who is deciding (default: $PBR_USER or the login name).")
@_db_option
def claims_audit(batch, approve, reject, note, by, db):
    """Record internal audit's decisions; the batch is audited once every item is decided."""
    from .ledger import audit
    split = lambda vals: [v.strip() for val in vals for v in val.split(",") if v.strip()]  # noqa: E731
    r = _in_ledger_transaction(db, lambda con: audit(con, batch, split(approve), split(reject), note, _actor(by)))
    out.print(f"batch {batch}: approved {r['approved']}, rejected {r['rejected']}; "
              f"{r['undecided']} undecided; state {r['state']}", highlight=False)


@claims.command("submit")
@click.argument("batch")
@click.option("--by", default=None, help="Who is submitting.")
@_db_option
def claims_submit(batch, by, db):
    """Submit an audited batch."""
    from .ledger import submit
    _in_ledger_transaction(db, lambda con: submit(con, batch, _actor(by)))
    out.print(f"batch {batch}: submitted", highlight=False)


@claims.command("paid")
@click.argument("batch")
@click.option("--by", default=None, help="Who is recording the payment.")
@_db_option
def claims_paid(batch, by, db):
    """Mark a submitted batch paid."""
    from .ledger import mark_paid
    _in_ledger_transaction(db, lambda con: mark_paid(con, batch, _actor(by)))
    out.print(f"batch {batch}: paid", highlight=False)


@main.command()
@click.option("--period", required=True, help="The refreshed period, YYYY-MM.")
@click.option("--db", type=click.Path(path_type=Path), default=Path("pbr.duckdb"), show_default=True,
              help="The DuckDB store (opened read-only).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="Output folder; the workbooks go to OUT/YYYY-MM/.")
@click.option("--rulebook", default=None, help="The rulebook the period was built with (default: the one it names).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Local configuration YAML (the authority's name).")
@click.option("--with-identities", is_flag=True,
              help="Add a People sheet (names, dates of birth): the authority's restricted copy.")
def workbooks(period, db, out, rulebook, config_path, with_identities):
    """Rebuild a period's claims.xlsx and cohort.xlsx from the store."""
    from .workbooks.rebuild import rebuild_workbooks
    for path in rebuild_workbooks(period, db, out, rulebook=rulebook, config_path=config_path,
                                  with_identities=with_identities):
        click.echo(f"wrote {path}")


@main.command("report")
@click.option("--period", required=True, help="The period to report, YYYY-MM (a refreshed period).")
@click.option("--db", type=click.Path(path_type=Path), default=Path("pbr.duckdb"), show_default=True,
              help="The DuckDB store (opened read-only).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="Output folder; the report goes to OUT/YYYY-MM/report.html.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Local configuration YAML (report: disclosure_threshold, allocation, unit_costs).")
@click.option("--rulebook", default=None,
              help="Rulebook name or path (default: the one the period's refresh recorded, if bundled).")
def report(period, db, out_dir, config_path, rulebook):
    """Rebuild the monthly report (report.html) from the store, without a refresh."""
    from .report.rebuild import rebuild_report
    path = rebuild_report(period, db, out_dir, config_path, rulebook)
    out.print(f"report written: {path}")


@main.group()
def linkage():
    """Probabilistic person linkage: retrain the model, export pairs for clerical review."""


@linkage.command("train")
@click.option("--extracts", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="A delivery folder to train on (its identities only; nothing is stored).")
@click.option("--period", required=True, help="The delivery's period, YYYY-MM.")
@click.option("--model", "model_out", type=click.Path(path_type=Path), default=None,
              help="Where to write the model JSON (default: the pinned linkage_models/people-3.json).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None)
@click.option("--em/--no-em", default=False, show_default=True,
              help="Also run expectation maximisation over the pairs the deterministic rules left apart.")
def linkage_train(extracts, period, model_out, config_path, em):
    """Retrain the linkage model from a delivery (unsupervised); review and commit the JSON."""
    from .linkage_tools import train_from_delivery
    from .refresh import check_period
    check_period(period)
    result = train_from_delivery(extracts, period, model_out, config_path, em=em)
    out.print(f"trained on {result['records']} identity records; model written to {result['model']}")


@linkage.command("review")
@click.option("--db", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=Path("pbr.duckdb"),
              show_default=True)
@click.option("--out", "out_file", required=True, type=click.Path(path_type=Path),
              help="CSV to write (it holds identities: keep it where only linkage staff can read it).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None)
@click.option("--min", "low", type=float, default=None, help="Lowest match probability (default linkage.review_min).")
@click.option("--max", "high", type=float, default=None, help="Below this probability (default linkage.low_confidence).")
def linkage_review(db, out_file, config_path, low, high):
    """Export borderline pairs (ids and the compared fields) for clerical review."""
    from .linkage_tools import review_pairs
    n = review_pairs(db, out_file, low=low, high=high, config_path=config_path)
    out.print(f"{n} pairs written to {out_file}")


from .retention_cli import register as _register_retention  # noqa: E402  (purge, backup, restore)

_register_retention(main)


if __name__ == "__main__":  # pragma: no cover
    main()
