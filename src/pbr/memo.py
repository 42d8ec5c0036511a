"""Memo tables for the refresh's pure per-value derivations (issue 9, round 4b).

Deliveries are full snapshots of a rolling window: nearly every name, postcode and address of a new
month was delivered, and standardised, the month before. Each derivation here is a pure function of
one raw value (the SQL macros of sql/refresh/00_macros.sql), so a refresh derives only the values
it has not seen and looks the rest up in the store's `derive_memo` table:

    derive_memo(kind, version, input, output)

- kind: std_name, std_postcode, std_address (raw values) and address_key (a std_address value);
- version: a hash of the macros' SQL text, this module's MEMO_VERSION and the DuckDB version, so
  a change to any of them makes every stored row stale (deleted at the next refresh).

`prepare` leaves, for the rest of the refresh, the temp tables memo_std_name, memo_std_postcode,
memo_std_address and memo_address_key (input, output): one row per distinct input of the live raw
identities (`identity_raw`, sql/refresh/15_identity_raw.sql), NULL included. The values are the
macros' own results (a stored value was computed by the same macro text on the same DuckDB), so a
refresh gives the same rows with the memo warm, empty or absent.

The memo holds personal data (names, addresses, postcodes): it lives only in the store, is written
by the refresh inside its transaction (a failed refresh leaves none of its rows), and `pbr purge`
empties it (the next refresh derives again what it needs).
"""

from __future__ import annotations

import hashlib

import duckdb

from .sqlfiles import read_sql
from .store import has_table

MEMO_VERSION = 1
TABLE = "derive_memo"

# kind -> (the macro call on `input`, the distinct inputs it needs). Order matters: address_key's
# inputs are std_address's outputs.
KINDS: list[tuple[str, str, str]] = [
    ("std_name", "std_name(input)",
     "SELECT forename AS input FROM identity_raw UNION SELECT surname FROM identity_raw"),
    ("std_postcode", "std_postcode(input)", "SELECT DISTINCT postcode AS input FROM identity_raw"),
    ("std_address", "std_address(input)", "SELECT DISTINCT address AS input FROM identity_raw"),
    ("address_key", "address_key(input)", "SELECT DISTINCT output AS input FROM memo_std_address"),
]

DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    kind VARCHAR NOT NULL, version VARCHAR NOT NULL, input VARCHAR NOT NULL, output VARCHAR)"""


def version() -> str:
    text = f"{MEMO_VERSION}\n{duckdb.__version__}\n{read_sql('refresh/00_macros.sql')}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def prepare(con: duckdb.DuckDBPyConnection, persist: bool = True) -> dict[str, dict[str, int]]:
    """Build the memo_* temp tables (needs identity_raw and the macros). persist: the refresh, as
    the store's writer, keeps the values it derived; a read-only caller (the review tool) only
    reads what is stored. Returns {kind: {"inputs": n, "derived": n}}."""
    v = version()
    stored = has_table(con, TABLE)
    if persist:
        con.execute(DDL)
        con.execute(f"DELETE FROM {TABLE} WHERE version <> ?", [v])  # made by other code: stale
        stored = True
    stats: dict[str, dict[str, int]] = {}
    for kind, expr, inputs in KINDS:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _memo_in AS SELECT input FROM ({inputs}) WHERE input IS NOT NULL")
        if stored:
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _memo_known AS
                SELECT m.input, m.output FROM {TABLE} m SEMI JOIN _memo_in i ON i.input = m.input
                WHERE m.kind = ? AND m.version = ?""", [kind, v])
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE _memo_known (input VARCHAR, output VARCHAR)")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _memo_new AS
            SELECT input, {expr} AS output FROM (SELECT input FROM _memo_in ANTI JOIN _memo_known USING (input))""")
        if persist:
            con.execute(f"INSERT INTO {TABLE} SELECT ?, ?, input, output FROM _memo_new", [kind, v])
        null_output = expr.replace("input", "CAST(NULL AS VARCHAR)")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE memo_{kind} AS
            SELECT input, output FROM _memo_known UNION ALL SELECT input, output FROM _memo_new
            UNION ALL SELECT NULL, {null_output}""")
        stats[kind] = {"inputs": con.execute("SELECT count(*) FROM _memo_in").fetchall()[0][0],
                       "derived": con.execute("SELECT count(*) FROM _memo_new").fetchall()[0][0]}
    for t in ("_memo_in", "_memo_known", "_memo_new"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return stats


def clear(con: duckdb.DuckDBPyConnection) -> int:
    """Empty the memo (purge: it holds names and addresses); returns the rows deleted."""
    if not has_table(con, TABLE):
        return 0
    return con.execute(f"DELETE FROM {TABLE}").fetchall()[0][0]
