"""Rebuild a period's workbooks from the store (`pbr workbooks --period YYYY-MM --db PATH --out DIR`).

The store is opened read-only; the workbooks replace OUT/YYYY-MM/claims.xlsx and cohort.xlsx (each
written to a temporary file first and moved into place), leaving the other outputs alone."""

from __future__ import annotations

from pathlib import Path

from ..calendar import parse_period
from ..config import load_config
from ..errors import PbrError
from ..rulebook import load_rulebook
from ..store import connect
from . import write_workbooks


def rebuild_workbooks(period: str, db: Path, out: Path, rulebook: str | None = None,
                      config_path: Path | None = None, with_identities: bool = False) -> list[Path]:
    try:
        parse_period(period)
    except ValueError as e:
        raise PbrError(str(e)) from None
    config = load_config(config_path)
    con = connect(db, read_only=True)
    try:
        done = con.execute("SELECT rulebook_name, rulebook_version FROM refresh_run "
                           "WHERE period = ? AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
                           [period]).fetchone()
        if done is None:
            raise PbrError(f"no finished refresh of period {period} in store {db}: nothing to rebuild")
        used = con.execute("SELECT DISTINCT rulebook_name, rulebook_version FROM claim_batch WHERE period = ?",
                           [period]).fetchall() or [done]
        rb = load_rulebook(rulebook or used[0][0])
        if any((rb.name, rb.version) != (n, v) for n, v in used):
            raise PbrError(
                f"period {period} was built with rulebook {', '.join(f'{n} {v}' for n, v in used)}; "
                f"--rulebook gave {rb.name} {rb.version}: pass the rulebook the period was built with")
        folder = Path(out) / period
        folder.mkdir(parents=True, exist_ok=True)
        return write_workbooks(con, period, folder, rb, config.authority, with_identities)
    finally:
        con.close()
