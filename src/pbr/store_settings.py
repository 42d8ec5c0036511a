"""DuckDB settings for the store connection of a refresh (config `store` section, StoreConfig)."""

from __future__ import annotations

import duckdb

from .config import Config


def apply(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Cap the connection's memory when configured (DuckDB spills big operators to its temporary
    directory beyond the cap; a cap far too low fails the refresh, which then leaves the store as
    it was). Unset: DuckDB's own default (80 % of RAM)."""
    limit = config.store.memory_limit
    if limit:
        con.execute(f"SET memory_limit = '{limit}'")  # validated by config.MEMORY_LIMIT_RE
