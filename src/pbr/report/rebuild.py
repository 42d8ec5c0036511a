"""`pbr report --period YYYY-MM`: rebuild OUT/YYYY-MM/report.html from the store (read-only),
without re-running the refresh."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .. import calendar as cal
from ..config import load_config
from ..errors import PbrError
from ..rulebook import load_rulebook
from ..store import connect
from . import REPORT_FILE
from .page import render_report


def rebuild_report(period: str, db: Path, out: Path, config_path: Path | None = None,
                   rulebook: str | None = None) -> Path:
    try:
        cal.parse_period(period)
    except ValueError as e:
        raise PbrError(str(e)) from None
    config = load_config(config_path)
    con = connect(db, read_only=True)
    try:
        row = con.execute("""SELECT rulebook_name FROM refresh_run WHERE period = ? AND finished_at IS NOT NULL
                             ORDER BY finished_at DESC LIMIT 1""", [period]).fetchone()
        if row is None:
            raise PbrError(f"no finished refresh of period {period} in the store {db}: run `pbr refresh` first")
        if rulebook is None:
            try:
                rb = load_rulebook(row[0])
            except PbrError:
                rb = load_rulebook(None)
        else:
            rb = load_rulebook(rulebook)
        text = render_report(con, period, config, rb)
    finally:
        con.close()
    folder = Path(out) / period
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".html", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    target = folder / REPORT_FILE
    os.replace(tmp, target)
    return target
