"""`pbr validate DIR`: read and validate a delivery exactly as a refresh would, without loading
anything (and, given a store, compare row counts with the previous deliveries read-only)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..config import Config
from ..errors import InputFileError
from .core import period_end_of


@dataclass
class DeliveryCheck:
    folder: Path | None
    period: str | None
    period_end: date
    parsed: list = field(default_factory=list)  # ParsedFile of every readable file
    errors: list[InputFileError] = field(default_factory=list)  # file failures: a refresh would stop
    sources: object | None = None  # the SourcesFile read, if any


def delivery_period(folder: Path | None, period: str | None) -> str | None:
    """The period given, else the folder's name when it is one (incoming/2026-11), else None."""
    if period or folder is None:
        return period
    name = Path(folder).resolve().name
    return name if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", name) else None


def validate_delivery(folder: Path | None, period: str | None, config: Config, db: Path | None = None,
                      sources=None) -> DeliveryCheck:
    """sources: a SourcesFile whose database sources are read and checked too."""
    from ..ingest import parse_file
    from ..ingest.database import parse_source
    from ..refresh import delivery_files

    period = delivery_period(folder, period)
    check = DeliveryCheck(Path(folder) if folder is not None else None, period, period_end_of(period), sources=sources)
    # Unknown or duplicate files, and a source given both ways, raise here.
    for f in delivery_files(Path(folder) if folder is not None else None, sources):
        try:
            check.parsed.append(parse_file(f, config.column_mappings.get(f.source), period))
        except InputFileError as e:
            check.errors.append(e)
    for spec in (sources.sources.values() if sources else []):
        try:
            check.parsed.append(parse_source(spec, config.column_mappings.get(spec.source), period))
        except InputFileError as e:
            check.errors.append(e)
    if db is not None and check.parsed:
        check.errors += _row_drops(Path(db), check.parsed, period, config.validation)
    return check


def _row_drops(db: Path, parsed: list, period: str | None, settings) -> list[InputFileError]:
    from ..store import connect, schema_version
    from .store import row_drop_problems

    con = connect(db, read_only=True)
    try:
        if schema_version(con) == 0:
            return []
        return row_drop_problems(con, parsed, period or "9999-12", settings.max_row_drop_share,
                                 settings.row_drop_min_rows)
    finally:
        con.close()
