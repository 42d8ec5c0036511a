"""DuckDB settings for the store connection of a refresh (config `store` section, StoreConfig)."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .config import Config

# The default cap when the configuration sets none (store.memory_limit unset or "auto"): DuckDB's
# own default, 80 % of RAM, would let the store's temporary tables grow to most of the machine at
# region scale. The cap follows the delivery's size (PER_ROW bytes for each row read: a million
# rows, about 1 GB, held the refresh's temporary tables within it at authority scale with little
# spilling), never below FLOOR (a small refresh needs far less, so the cap cannot fail it) nor above
# RAM_SHARE of the machine's memory (unless that is below FLOOR). Beyond the cap DuckDB spills to
# its temporary directory next to the store (<store>.tmp). The refresh lends up to half of the cap to
# Splink's connection while it scores (probabilistic_links), so this is the refresh's whole DuckDB
# budget: a quarter of RAM (not a third, as before) kept the region refresh (10M rows) under 12 GB
# on a 24 GB machine, Python's own frames included.
FLOOR = 1 << 30
PER_ROW = 1024
RAM_SHARE = 1 / 4


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the physical memory, or the cgroup's limit if lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    try:
        cg = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cg.isdigit():
            total = min(total, int(cg))
    except OSError:
        pass
    return total


def default_memory_limit(rows: int, ram: int | None) -> int:
    """The store connection's cap in bytes for a refresh reading `rows` rows on a machine with
    `ram` bytes (None: unknown, no upper bound but the rows)."""
    want = max(FLOOR, PER_ROW * max(rows, 0))
    if ram is None:
        return want
    return min(want, max(FLOOR, int(ram * RAM_SHARE)))


def apply(con: duckdb.DuckDBPyConnection, config: Config, rows: int = 0) -> None:
    """Cap the connection's memory: the configured store.memory_limit, else the default for a
    delivery of `rows` rows (default_memory_limit). DuckDB spills big operators and temporary
    tables to its temporary directory beyond the cap; a cap far too low fails the refresh, which
    then leaves the store as it was."""
    limit = config.store.memory_limit
    if limit and limit.lower() != "auto":
        con.execute(f"SET memory_limit = '{limit}'")  # validated by config.MEMORY_LIMIT_RE
    else:
        mib = default_memory_limit(rows, machine_memory()) >> 20
        con.execute(f"SET memory_limit = '{mib}MiB'")


_UNITS = {"BYTES": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
          "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}


def current_limit(con: duckdb.DuckDBPyConnection) -> int | None:
    """The connection's memory cap in bytes (None if DuckDB reports one this cannot read)."""
    return setting_bytes(con, "memory_limit")


def setting_bytes(con: duckdb.DuckDBPyConnection, name: str) -> int | None:
    """A size setting of DuckDB's ('16.0 MiB') in bytes (None if it reports one this cannot read)."""
    text = con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0]
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]+)\s*", str(text))
    if not m or m.group(2).upper() not in _UNITS:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


@contextmanager
def lent(con: duckdb.DuckDBPyConnection, keep: int):
    """Lower the connection's cap to `keep` bytes for the block, then restore it: DuckDB writes the
    blocks of its temporary tables beyond `keep` out to its temporary directory, so another
    connection of this process can use the memory while this one is idle. Yields True if the cap
    was lowered; if DuckDB cannot evict enough (or its cap is unreadable or already lower) the
    connection keeps its cap and this yields False."""
    old = current_limit(con)
    if old is None or keep >= old:
        yield False
        return
    try:
        con.execute(f"SET memory_limit = '{max(keep, 1 << 20) >> 20}MiB'")
    except duckdb.Error:
        yield False
        return
    try:
        yield True
    finally:
        con.execute(f"SET memory_limit = '{old >> 20}MiB'")
