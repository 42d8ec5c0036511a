"""Reading the workbooks back in tests: openpyxl for what was written, LibreOffice headless for
what a spreadsheet program computes from it (stack notes, Excel)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from openpyxl import load_workbook

from system_tools import need_program


def recalculate(book: Path, outdir: Path) -> Path:
    """A copy of `book` with every formula computed by LibreOffice (its own profile and HOME)."""
    soffice = need_program("soffice", "libreoffice")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pbr-lo-") as home:
        env = {**os.environ, "HOME": home}
        subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{home}/profile",
                        "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), str(book)],
                       check=True, env=env, capture_output=True, timeout=180)
    out = outdir / book.name
    assert out.exists(), f"LibreOffice wrote no {out}"
    return out


def sheet_rows(path: Path, sheet: str, header_row: int | None = None) -> list[dict]:
    """The sheet's table as dicts keyed by the header (the first row whose first cell is a
    column name, or `header_row`)."""
    wb = load_workbook(path, read_only=True)
    try:
        rows = [list(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()
    if header_row is None:
        header_row = next(i for i, r in enumerate(rows, 1) if r and r[0] in (
            "batch_id", "claim_id", "family_id", "file", "setting", "term"))
    names = rows[header_row - 1]
    return [dict(zip(names, r)) for r in rows[header_row:] if any(v is not None for v in r)]


def all_cells(path: Path):
    """(sheet, cell) for every non-empty cell of the workbook."""
    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    yield ws.title, c
