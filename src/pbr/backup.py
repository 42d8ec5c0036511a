"""`pbr backup PATH` and `pbr restore BACKUP`: a consistent copy of the store, taken as its single
writer (so no refresh or ledger change runs meanwhile), and its restoration."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from .errors import PbrError
from .store import SCHEMA_TABLE, connect, private_files, schema_version


def _copy_database(con: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Copy every table of the connection's database into a new DuckDB file (schema, constraints
    and rows), so the copy holds only live data — no freed blocks of deleted rows."""
    con.execute("ATTACH ? AS pbr_copy", [str(target)])
    try:
        src = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f'COPY FROM DATABASE "{src}" TO pbr_copy')
    finally:
        con.execute("DETACH pbr_copy")


def _tmp_beside(path: Path, tag: str) -> Path:
    tmp = path.with_name(f".{path.name}.{tag}.{os.getpid()}")
    for p in (tmp, Path(f"{tmp}.wal")):
        if p.exists():
            p.unlink()
    return tmp


def backup(db: Path, target: Path, *, overwrite: bool = False) -> dict:
    """Write a consistent copy of the store to target (owner-only). Holds the store's write lock
    while copying: a refresh or ledger change running meanwhile makes this wait, as a second
    writer would."""
    db, target = Path(db), Path(target)
    if not db.exists():
        raise PbrError(f"store not found: {db}")
    if target.is_dir():
        raise PbrError(f"backup path {target} is a folder: give a file name")
    if target.is_symlink():
        raise PbrError(f"backup path {target} is a symbolic link: give a file name")
    if target.exists() and not overwrite:
        raise PbrError(f"backup file {target} exists: give a new file name (or --overwrite)")
    if target.resolve() == db.resolve():
        raise PbrError("the backup path is the store itself")
    private_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(target, "partial")
    con = connect(db)  # as the writer: nothing changes the store while it is copied
    try:
        version = schema_version(con)
        _copy_database(con, tmp)
    except BaseException:
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return {"backup": str(target), "schema_version": version, "tables": len(_tables(target))}


def _tables(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
    finally:
        con.close()


def check_backup(path: Path) -> int:
    """The backup's schema version; a clear error when it is not a pbr store."""
    path = Path(path)
    if not path.is_file() or path.is_symlink():
        raise PbrError(f"backup {path} not found (or not a regular file)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        raise PbrError(f"backup {path} is not a DuckDB database") from None
    try:
        if SCHEMA_TABLE not in {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables").fetchall()}:
            raise PbrError(f"backup {path} is not a pbr store (no {SCHEMA_TABLE} table)")
        return schema_version(con)
    finally:
        con.close()


def restore(backup_path: Path, db: Path, *, replace: bool = False) -> dict:
    """Make db an identical copy of the backup. An existing store is replaced only with replace,
    and only once no other process uses it (its write lock is taken first)."""
    backup_path, db = Path(backup_path), Path(db)
    version = check_backup(backup_path)
    if db.is_symlink():
        raise PbrError(f"store {db} is a symbolic link: give the store file itself")
    if db.exists() and not replace:
        raise PbrError(f"store {db} exists: restoring would replace it; add --replace to do so")
    if db.exists() and backup_path.resolve() == db.resolve():
        raise PbrError("the backup is the store itself")
    private_files()
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(db, "restoring")
    mem = duckdb.connect()
    try:
        mem.execute("ATTACH ? AS pbr_backup (READ_ONLY)", [str(backup_path)])
        mem.execute("USE pbr_backup")
        _copy_database(mem, tmp)
    except BaseException:
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
        raise
    finally:
        mem.close()
    os.chmod(tmp, 0o600)
    if db.exists():
        con = connect(db)  # wait for, and then exclude, any running writer
        try:
            con.execute("CHECKPOINT")
            os.replace(tmp, db)
        finally:
            con.close()
        Path(f"{db}.wal").unlink(missing_ok=True)
    else:
        os.replace(tmp, db)
    return {"store": str(db), "schema_version": version}


