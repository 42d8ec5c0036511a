"""The DuckDB store: one writer per run, schema migrations, all-or-nothing transactions."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from .errors import PbrError
from .sqlfiles import migrations, statements

SCHEMA_TABLE = "schema_migrations"


class StoreBusy(PbrError):
    pass


def connect(path: str | Path, *, read_only: bool = False, wait_seconds: float = 10.0) -> duckdb.DuckDBPyConnection:
    """Open the store. DuckDB lets one process write a file; a second writer waits up to
    wait_seconds for the first to finish, then stops with a clear message."""
    path = Path(path)
    if read_only and not path.exists():
        raise PbrError(f"store not found: {path}")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as e:
            if "lock" not in str(e).lower() or time.monotonic() >= deadline:
                if "lock" in str(e).lower():
                    raise StoreBusy(
                        f"store {path} is in use by another pbr process (one writer at a time); "
                        f"waited {wait_seconds:.0f}s") from None
                raise PbrError(f"cannot open store {path}: {e}") from None
            time.sleep(0.25)
    if not read_only and new:
        # Special-category personal data: owner-only.
        os.chmod(path, 0o600)
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [SCHEMA_TABLE]).fetchone()[0]
    if not exists:
        return 0
    return con.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA_TABLE}").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every schema file newer than the store's version (inside the caller's transaction)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    current = schema_version(con)
    for version, name, sql in migrations():
        if version <= current:
            continue
        for stmt in statements(sql):
            con.execute(stmt)
        con.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES (?, ?, now())", [version, name])
        current = version
    return current


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")
