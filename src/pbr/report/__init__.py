"""The monthly report (docs/report.md): OUT/YYYY-MM/report.html, one self-contained page for a
partnership board, built from the store — figures (SQL in sql/outputs/report_*.sql), disclosure
control, matplotlib charts as inline SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

REPORT_FILE = "report.html"


def write_report(con, period: str, folder: Path, config, rb) -> Path:
    """Write folder/report.html for `period` from the open store."""
    return prepare_report(con, period, config, rb)(folder)


def prepare_report(con, period: str, config, rb) -> Callable[[Path], Path]:
    """Read the report's figures from the open store now; the function returned writes
    folder/report.html from them without touching the store (a refresh runs it on a thread while
    it writes its other outputs: outputs.write_outputs)."""
    from .page import page_from_figures, report_figures
    fig = report_figures(con, period, rb)

    def write(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / REPORT_FILE
        path.write_text(page_from_figures(fig, config, rb), encoding="utf-8")
        path.chmod(0o600)
        return path
    return write
