"""The monthly report (docs/report.md): OUT/YYYY-MM/report.html, one self-contained page for a
partnership board, built from the store — figures (SQL in sql/outputs/report_*.sql), disclosure
control, matplotlib charts as inline SVG."""

from __future__ import annotations

from pathlib import Path

REPORT_FILE = "report.html"


def write_report(con, period: str, folder: Path, config, rb) -> Path:
    """Write folder/report.html for `period` from the open store."""
    from .page import render_report
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REPORT_FILE
    path.write_text(render_report(con, period, config, rb), encoding="utf-8")
    path.chmod(0o600)
    return path
