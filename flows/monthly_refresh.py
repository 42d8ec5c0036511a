"""Prefect flows for the monthly refresh: the same pipeline functions the `pbr` CLI runs, as tasks.

- `monthly_refresh`: one authority's refresh. Delivery files are read and validated concurrently
  (no store access); the store is then changed by one task, in one transaction (DuckDB allows one
  writer). Artifacts carry counts and ids only, never personal data.
- `multi_authority_refresh`: one child refresh per authority configuration, either in-process or,
  given a deployment name, as separate deployment runs that workers on other machines pick up.

Run `python flows/monthly_refresh.py serve` to serve the deployment without a work pool, or deploy
it with `prefect deploy --all` (prefect.yaml) to a `process` work pool.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, StringConstraints

from pbr import calendar as cal
from pbr.config import load_config
from pbr.errors import InputErrors, InputFileError, PbrError
from pbr.ingest import parse_file
from pbr.ingest.database import DatabaseUnreachable, parse_source
from pbr.ingest.sources import load_sources
from pbr.refresh import apply_delivery, delivery_files, delivery_origin
from pbr.rulebook import load_rulebook
from pbr.store import StoreBusy
from pbr.validation import worker as validation_worker
from pbr.validation import memo as validation_memo

Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


def previous_period(today: date | None = None) -> str:
    d = cal.add_months((today or date.today()).replace(day=1), -1)
    return f"{d.year:04d}-{d.month:02d}"


@task(name="read-delivery-file", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE, persist_result=False,
      retry_condition_fn=lambda task, run, state: isinstance(state.result(raise_on_failure=False), OSError))
def read_file(f, mapping: dict[str, str] | None, period: str, memo=None):
    # Validated for the period here, with the store's validation memo (not again in apply).
    return parse_file(f, mapping, period, memo)


@task(name="read-database-source", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE, persist_result=False,
      retry_condition_fn=lambda task, run, state: isinstance(state.result(raise_on_failure=False), DatabaseUnreachable))
def read_source(spec, mapping: dict[str, str] | None, period: str, memo=None):
    # Validated for the period here (not re-validated in apply): a query may use :period_end.
    return parse_source(spec, mapping, period, memo)


def _as_task(name: str, fn, run) -> None:
    # Each store step is its own task run, observable in Prefect, but all run in this thread
    # inside the one transaction (DuckDB: one writer), so they are never cached or retried alone.
    task(fn, name=f"refresh-{name}", cache_policy=NO_CACHE, persist_result=False)(run)


@task(name="apply-to-store", retries=3, retry_delay_seconds=20, cache_policy=NO_CACHE, persist_result=False,
      retry_condition_fn=lambda task, run, state: isinstance(state.result(raise_on_failure=False), StoreBusy))
def apply_to_store(period: str, parsed: list, db: str, out: str, rulebook: str | None, config_path: str | None,
                   origin: str | None, with_identities: bool = False) -> dict:
    logger = get_run_logger()
    result = apply_delivery(period, parsed, Path(db), Path(out), load_rulebook(rulebook), load_config(config_path),
                            origin=origin, report=logger.info, step_runner=_as_task,
                            with_identities=with_identities)
    return {"run_id": result.run_id, "out_dir": str(result.out_dir) if result.out_dir else None, **result.summary}


def _publish(summary: dict) -> None:
    period = summary["period"]
    key = f"pbr-refresh-{period}".lower()
    files = summary.get("files", [])
    md = [f"# pbr refresh {period}", "",
          f"Rulebook **{summary['rulebook']['name']} {summary['rulebook']['version']}**, run `{summary['run_id']}`.", "",
          "| measure | value |", "|---|---|",
          f"| people linked | {summary['people']} |",
          f"| families at R | {summary['families']} |",
          f"| cohort families | {summary['cohort']} |",
          f"| new to the cohort | {len(summary['new_in_cohort'])} |",
          f"| no longer meeting criteria | {len(summary['no_longer_meeting'])} |",
          f"| attached families | {summary.get('attached', 0)} |",
          f"| rows quarantined | {summary['quarantined_rows']} |",
          f"| claim batch | {summary.get('batch_id') or 'none'} |",
          f"| claimed this batch (£) | {summary.get('claims_total', 0):,.2f} |"]
    create_markdown_artifact("\n".join(md), key=key, description=f"pbr refresh {period}: counts only")
    create_table_artifact([{"file": f["file_name"], "source": f["source"], "rows_read": f["rows_read"],
                            "rows_loaded": f["rows_loaded"], "rows_quarantined": f["rows_quarantined"],
                            "already_loaded": f["already_loaded"]} for f in files],
                          key=f"{key}-files", description="delivery files: rows loaded and quarantined")
    create_table_artifact([{"claim_type": t, "items": v["items"], "amount": v["amount"]}
                           for t, v in summary.get("claims", {}).items()] or [{"claim_type": "none", "items": 0, "amount": 0}],
                          key=f"{key}-claims", description="claim batch by type")


@flow(name="pbr-monthly-refresh", log_prints=False, validate_parameters=True)
def monthly_refresh(
    extracts: str | None = None,
    db: str = "pbr.duckdb",
    out: str = "out",
    period: Period | None = None,
    rulebook: str | None = None,
    config: str | None = None,
    sources: str | None = None,
    with_identities: bool = False,
) -> dict:
    """One authority's monthly refresh (period defaults to the previous month): delivery files from
    `extracts`, database sources from the `sources` file, or both. `with_identities` adds the
    workbooks' People sheet (names, dates of birth) for staff with access; artifacts stay counts only."""
    logger = get_run_logger()
    period = period or previous_period()
    conf = load_config(config)
    sources_file = load_sources(sources) if sources else None
    files = delivery_files(Path(extracts) if extracts else None, sources_file)
    specs = list(sources_file.sources.values()) if sources_file else []
    logger.info("refresh %s: %d delivery files, %d database sources", period, len(files), len(specs))
    if files or specs:
        validation_worker.start()  # Great Expectations loads (in its worker) while the files are read
    memo = validation_memo.load(Path(db))  # read-only, closed again before the tasks run
    futures = [read_file.submit(f, conf.column_mappings.get(f.source), period, memo) for f in files]
    futures += [read_source.submit(s, conf.column_mappings.get(s.source), period, memo) for s in specs]
    parsed, errors = [], []
    for fut in futures:
        try:
            parsed.append(fut.result())
        except InputFileError as e:
            errors.append(e)
    if errors:
        raise InputErrors(errors)
    summary = apply_to_store(period, parsed, db, out, rulebook, config,
                             delivery_origin(extracts), with_identities)
    _publish(summary)
    return summary


class Authority(BaseModel):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$")]
    extracts: str | None = None
    sources: str | None = None
    db: str
    out: str
    config: str | None = None
    rulebook: str | None = None


@flow(name="pbr-multi-authority-refresh", validate_parameters=True)
def multi_authority_refresh(authorities: list[Authority], period: Period | None = None,
                            deployment: str | None = None) -> dict[str, str]:
    """Run one child refresh per authority. With `deployment` ("flow-name/deployment-name") each
    child is a separate deployment run, so workers on other machines share the work."""
    from prefect.deployments import run_deployment
    period = period or previous_period()
    states: dict[str, str] = {}
    for a in authorities:
        params = {"extracts": a.extracts, "db": a.db, "out": a.out, "period": period,
                  "rulebook": a.rulebook, "config": a.config, "sources": a.sources}
        if deployment:
            run = run_deployment(deployment, parameters=params, flow_run_name=f"{a.name}-{period}", timeout=0)
            states[a.name] = str(run.id)
        else:
            try:
                monthly_refresh.with_options(flow_run_name=f"{a.name}-{period}")(**params)
                states[a.name] = "completed"
            except PbrError as e:
                states[a.name] = f"failed: {e}"
    return states


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        from prefect.schedules import Cron
        # 06:00 on the 2nd of each month, UK time: the previous month's delivery has landed.
        monthly_refresh.serve(name="monthly", schedules=[Cron("0 6 2 * *", timezone="Europe/London")],
                              parameters={"extracts": sys.argv[2] if len(sys.argv) > 2 else "incoming/latest"})
    else:
        print(__doc__)
