"""Dump every table of a pbr store, to compare stores in the reliability tests."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

RUN_ID = re.compile(r"\b\d{4}-\d{2}-[0-9a-f]{8}\b")


def dump(db: Path | str, *, normalise: bool = False) -> dict[str, list]:
    """{table: sorted rows} for every table of the store (and its column names and types under
    `table#columns`). With normalise, timestamps and refresh run ids (`2026-11-1a2b3c4d`) — what
    legitimately differs between two runs of the same refresh — are blanked."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        out: dict[str, list] = {}
        for t in tables:
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                "AND table_schema = 'main' ORDER BY ordinal_position", [t]).fetchall()
            out[f"{t}#columns"] = cols
            out[f"{t}#constraints"] = sorted(con.execute(
                "SELECT constraint_type, constraint_text FROM duckdb_constraints() WHERE table_name = ? "
                "AND schema_name = 'main'", [t]).fetchall())
            rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
            if normalise:
                rows = [tuple(_norm(v, ty) for v, (_, ty) in zip(r, cols)) for r in rows]
            out[t] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def _norm(v, type_name: str):
    if type_name.startswith("TIMESTAMP"):
        return "<ts>" if v is not None else None
    if isinstance(v, str):
        v = RUN_ID.sub("<run>", v)
        # Timestamps inside JSON text (summaries, events).
        v = re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?", "<ts>", v)
    return v


def diff(a: dict, b: dict) -> list[str]:
    """Tables whose rows differ between two dumps (empty when identical)."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
