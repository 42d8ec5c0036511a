"""Leftovers of a refresh killed while writing its outputs (see outputs.clean_stale_staging)."""

from __future__ import annotations

from pathlib import Path


def stale_staging_dirs(out: Path, period: str) -> list[Path]:
    """Hidden folders `.YYYY-MM.<anything>` in OUT: a refresh's staging folder or the outputs it set
    aside. Symbolic links are never followed or removed."""
    out = Path(out)
    if not out.is_dir():
        return []
    prefix = f".{period}."
    return sorted(p for p in out.iterdir()
                  if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink())
