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

from .errors import PbrError

err = Console(stderr=True)
out = Console()


class PbrGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PbrError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False, markup=True, soft_wrap=True)
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
def main() -> None:
    """pbr: Troubled Families cohort, outcomes and payment-by-results claims."""


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
def refresh(period, extracts, db, out, rulebook, config_path):
    """Run one monthly refresh: load the delivery, find the cohort, write the outputs."""
    from .refresh import refresh as run
    report, status = _reporter()
    try:
        result = run(period, extracts, db, out, rulebook=rulebook, config_path=config_path, report=report)
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
    t.add_row("people linked", str(s["people"]))
    t.add_row("families at R", str(s["families"]))
    t.add_row("cohort families", str(s["cohort"]))
    for route, n in s["cohort_by_route"].items():
        t.add_row(f"  {route}", str(n))
    t.add_row("new to the cohort", str(len(s["new_in_cohort"])))
    t.add_row("no longer meeting criteria", str(len(s["no_longer_meeting"])))
    t.add_row("  newly this refresh", str(len(s["newly_not_meeting"])))
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
@click.option("--families", type=click.IntRange(1), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--from", "start", required=True, help="First delivery period, YYYY-MM.")
@click.option("--to", "end", required=True, help="Last delivery period, YYYY-MM.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder for deliveries/YYYY-MM/ and truth/.")
@click.option("--messy", is_flag=True, help="Add the identity noise real sources have.")
def generate(families, seed, start, end, out, messy):
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
        summary = gen(families=families, seed=seed, start=start, end=end, out=out, messy=messy)
    out.print(f"wrote {len(cal.periods_between(start, end))} monthly deliveries to {out / 'deliveries'} "
              f"and the ground truth to {out / 'truth'}", highlight=False)
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


if __name__ == "__main__":  # pragma: no cover
    main()
