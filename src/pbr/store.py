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


# How long a second process waits for the store before stopping with StoreBusy (exit 2): a writer
# (refresh, claims audit/submit/paid, purge, backup, restore) waits for the running writer to
# finish; a reader (claims list/show, validate --db) waits less, so a report never queues for long.
WRITER_WAIT_SECONDS = 60.0
READER_WAIT_SECONDS = 5.0
# `pbr --wait SECONDS` (or PBR_WAIT) overrides both for one command.
wait_override: float | None = None

# Rows per row group in what a writer appends to the store. DuckDB writes a transaction's appends
# to a table straight into the store file, compressed ("optimistic writes"), once they fill a row
# group; fewer rows go into the write-ahead log uncompressed, which the COMMIT writes and a
# checkpoint then reads back and compresses. At DuckDB's default of 122,880 rows, a month's
# benefits, interventions and employment files (106k, 72k, 14k rows at authority scale) and most
# per-period history tables went through the log: 52 MB of it, ~0.55 s to commit and ~1.0 s to
# checkpoint. At 32,768 the log is 11 MB, committed in ~0.3 s and checkpointed as the store
# closes (issue 9, round 19). Stored row groups of other sizes are read as before: this only sets
# the size of those written from now on. (DuckDB takes it as an ATTACH option only.)
STORE_ROW_GROUP_SIZE = 32_768
STORE_ALIAS = "pbr_store"

# Owner-only: the store, its WAL, backups and every output file hold special-category personal data.
PRIVATE_UMASK = 0o077


def private_files() -> None:
    """Make every file and folder this process creates from now on readable by its owner only."""
    os.umask(PRIVATE_UMASK | os.umask(PRIVATE_UMASK))


def default_wait(read_only: bool) -> float:
    if wait_override is not None:
        return wait_override
    env = os.environ.get("PBR_WAIT")
    if env:
        try:
            return max(0.0, float(env))
        except ValueError:
            raise PbrError(f"PBR_WAIT must be a number of seconds, not {env!r}") from None
    return READER_WAIT_SECONDS if read_only else WRITER_WAIT_SECONDS


def connect(path: str | Path, *, read_only: bool = False, wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the store. DuckDB lets one process write a file, and readers cannot open it while a
    writer has it: a second process retries for up to wait_seconds (writer 60 s, reader 5 s by
    default) for the first to finish, then stops with a clear message (StoreBusy)."""
    path = Path(path)
    if wait_seconds is None:
        wait_seconds = default_wait(read_only)
    if read_only and not path.exists():
        raise PbrError(f"store not found: {path}")
    if path.is_symlink():
        raise PbrError(f"store {path} is a symbolic link: give the store file itself")
    private_files()
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True) if read_only else _open_writer(path)
            break
        except duckdb.IOException as e:
            if "lock" not in str(e).lower() or time.monotonic() >= deadline:
                if "lock" in str(e).lower():
                    raise StoreBusy(
                        f"store {path} is in use by another pbr process (one writer at a time); "
                        f"waited {wait_seconds:.0f}s (pbr --wait SECONDS to wait longer)") from None
                raise PbrError(f"cannot open store {path}: {_first_line(e)}") from None
            time.sleep(0.25)
        except duckdb.ResourceInUseException:
            # This process's own writer has the store attached (_open_writer): waiting for it
            # here would wait for ever.
            raise StoreBusy(f"store {path} is already open for writing in this process (one writer at a time)") from None
        except duckdb.Error as e:
            raise PbrError(f"cannot open store {path}: {_first_line(e)}") from None
    if not read_only and new:
        # Special-category personal data: owner-only.
        os.chmod(path, 0o600)
    return con


def _open_writer(path: Path) -> duckdb.DuckDBPyConnection:
    """The store attached for writing with STORE_ROW_GROUP_SIZE, as the connection's default
    database, its spill folder beside it (where `duckdb.connect(path)` puts it). A store this
    process already has open (a caller's own connection) is opened as that connection has it."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH ? AS {STORE_ALIAS} (ROW_GROUP_SIZE {STORE_ROW_GROUP_SIZE})", [str(path)])
        con.execute(f"USE {STORE_ALIAS}")
        con.execute("SET temp_directory = ?", [f"{path}.tmp"])
    except duckdb.Error as e:
        con.close()
        if not isinstance(e, duckdb.ResourceInUseException):
            raise
    else:
        return con
    # Open in this process already: a caller's own `duckdb.connect(path)` is shared as it was;
    # another writer's attached store cannot be (ResourceInUseException again: connect's StoreBusy).
    return duckdb.connect(str(path))


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store holds a (non-temporary) table of that name."""
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
                       [name]).fetchall()[0][0] > 0


def check_unique(con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], period: str | None = None) -> None:
    """Refuse a second row for one key of `table` (among the rows of `period`, when given): raises
    PbrError, and the refresh's transaction leaves the store as it was. What the table's primary
    key refused before schema version 5, checked on the rows a refresh writes (a group-by over
    them: ~20 ms at authority scale where the index cost ~0.15 s of every commit). The message
    gives counts, never key values."""
    cols = ", ".join(key)
    where = "WHERE period = ?" if period is not None else ""
    repeated = con.execute(
        f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {table} {where} GROUP BY {cols} HAVING n > 1)",
        [period] if period is not None else []).fetchall()[0]  # (fetchall: duckdb 2 keeps an unfetched result open)
    if repeated[0]:
        scope = f" for period {period}" if period is not None else ""
        raise PbrError(f"internal error: {table} would hold {repeated[1]} rows{scope} for {repeated[0]} key(s) of "
                       f"({cols}), one row each expected; nothing was written (please report it)")


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
def transaction(con: duckdb.DuckDBPyConnection, checkpoint: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT (ROLLBACK on any exception). checkpoint=False: the caller runs
    `checkpoint_if_due` itself once it has done what must follow the commit at once (a refresh
    moves its outputs into place first)."""
    from .testhooks import pause_at
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        pause_at("pre-commit")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        commit(con)
        if checkpoint:
            checkpoint_if_due(con)


# Above this, a commit would checkpoint inside the COMMIT (DuckDB's own default, should a store
# report a threshold this cannot read).
CHECKPOINT_THRESHOLD = 16 << 20
_NO_AUTO_CHECKPOINT = 1 << 50  # bytes: no commit reaches it


def commit(con: duckdb.DuckDBPyConnection) -> None:
    """COMMIT, writing the store's log only: the checkpoint DuckDB would have run inside it is
    `checkpoint_if_due`'s, a statement of its own just after.

    Past `checkpoint_threshold` of log DuckDB checkpoints as it commits; the same checkpoint run
    just after the COMMIT took 0.7 s where inside it took 1.6 s (the authority refresh's 52 MB
    log, issue 9 round 15). The COMMIT is still the one atomic step: once it returns the changes
    are in the store's log, which DuckDB replays if the process stops before the checkpoint."""
    from .store_settings import setting_bytes
    threshold = setting_bytes(con, "checkpoint_threshold") or CHECKPOINT_THRESHOLD
    con.execute(f"SET checkpoint_threshold = '{_NO_AUTO_CHECKPOINT}B'")
    try:
        con.execute("COMMIT")
    finally:
        con.execute(f"SET checkpoint_threshold = '{threshold}B'")


def checkpoint_if_due(con: duckdb.DuckDBPyConnection) -> bool:
    """CHECKPOINT if the store's log has reached `checkpoint_threshold` (as DuckDB would have at the
    commit); whether it did. A checkpoint that fails leaves the committed changes in the log
    (DuckDB checkpoints again at the next commit past the threshold, or on closing), so it is a
    warning, not a failed transaction."""
    from .store_settings import setting_bytes
    threshold = setting_bytes(con, "checkpoint_threshold") or CHECKPOINT_THRESHOLD
    wal = _wal_path(con)
    if wal is None or not wal.exists() or wal.stat().st_size < threshold:
        return False
    try:
        con.execute("CHECKPOINT")
    except duckdb.Error as e:
        import logging
        logging.getLogger("pbr").warning("store checkpoint after commit deferred (%s): the commit is kept in the "
                                         "store's log", type(e).__name__)
        return False
    return True


def _wal_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The write-ahead log of the connection's database file (None in memory)."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return Path(row[0] + ".wal") if row and row[0] else None
