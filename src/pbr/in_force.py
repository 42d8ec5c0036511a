"""The rows in force and the raw identities of a refresh, without reading every delivery kept.

Each monthly delivery repeats most of what came before, and the store keeps every delivery (until
`pbr purge`), so finding the rows in force (per natural key the latest delivered row) and the
distinct raw identities from every raw row made a refresh slower with every month kept: at
authority scale the incremental refresh took 18.5 s with 2 months kept and 22.3 s with 8
(benchmarks/README.md, round 23). Here a refresh carries both forward from the one before:

- held_<source>: the rows in force that are not from the source's latest live extract (keys the
  latest delivery did not repeat: a few per cent of them). The rows in force are then those held
  rows with every row of the latest extract folded before and of the new ones, the latest row per
  key taken among them as among every live row (sql/refresh/11_in_force.sql);
- identity_seen: the distinct raw identities of the extracts folded before; a refresh reads only
  the new extracts' identities (sql/refresh/15_identity_raw.sql);
- in_force_state: per source, the live extracts (in delivery order) those two tables stand for.

A refresh folds a source's new extracts in when its live extracts begin with the ones recorded;
any other change (a corrected file replacing one, a purge, a first refresh after an upgrade)
derives that source's tables again from every live extract. The two ways give the same tables
(tests/test_in_force.py). The tables change inside the refresh's transaction, so a failed refresh
leaves them as they were; they hold personal data, and `pbr purge` empties them. Nothing here
logs or raises personal data."""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

import duckdb

from .sqlfiles import read_sql, statements
from .store import has_table

# Per source: its natural key (data-contract.md; the benefits and employment person_key is the
# NINO, or without one the name and date of birth).
NATURAL_KEYS = {
    "attendance": "upn, academic_year, term, school_urn",
    "asb": "event_id, person_ref",
    "benefits": "person_key, benefit, start_date",
    "employment": "person_key, record_type, start_date",
    "interventions": "case_ref, person_ref",
}
# Attendance rows carry their term's end date (term_calendar); a term the calendar does not know
# has no current rows. Its rows in force are held whatever their term, as the rulebook's terms may
# change between refreshes.
TERM_JOIN = ("\nLEFT JOIN term_calendar c USING (academic_year, term)", ", c.term_end")
SOURCES = list(NATURAL_KEYS)
STATE = "in_force_state"
# identity_seen's columns and types (sql/schema/0006_rows_in_force.sql), as a query.
IDENTITY_COLUMNS = ("SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS source_key, NULL::VARCHAR AS nino, "
                    "NULL::VARCHAR AS forename, NULL::VARCHAR AS surname, NULL::DATE AS dob, NULL::VARCHAR AS postcode, "
                    "NULL::VARCHAR AS address, NULL::VARCHAR AS uprn, NULL::VARCHAR AS sex")
IDENTITIES = "identity_seen"


@dataclass
class SourcePlan:
    """What one source's refresh reads: `live`, its live extracts in delivery order; `folded`,
    whether the held rows and identities stand for a beginning of them (else derived again)."""
    source: str
    live: list[int]
    recorded: list[int] | None

    @property
    def folded(self) -> bool:
        return bool(self.recorded) and self.live[:len(self.recorded)] == self.recorded

    @property
    def read(self) -> list[int]:
        """The extracts whose raw rows are read for the rows in force."""
        return self.live[len(self.recorded) - 1:] if self.folded else self.live

    @property
    def new(self) -> list[int]:
        """The extracts whose raw identities are read."""
        return self.live[len(self.recorded):] if self.folded else self.live


def plan(con: duckdb.DuckDBPyConnection) -> list[SourcePlan]:
    """Each source's plan, from live_extract and live_order (sql/refresh/10_current_rows.sql)."""
    live = dict(con.execute("""
        SELECT source, list(extract_id ORDER BY row_base) FROM live_extract JOIN live_order USING (extract_id)
        GROUP BY source""").fetchall())
    recorded = dict(con.execute(f"SELECT source, extracts FROM {STATE}").fetchall())
    return [SourcePlan(s, list(live.get(s) or []), recorded.get(s)) for s in SOURCES]


def _ids(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def _run(con: duckdb.DuckDBPyConnection, relative: str, **names: str) -> None:
    for stmt in statements(Template(read_sql(relative)).substitute(names)):
        con.execute(stmt)


def derive(con: duckdb.DuckDBPyConnection, persist: bool = True) -> dict[str, dict]:
    """The refresh's live extracts (live_extract, live_order), rows in force (cur_<source>,
    cur_areas) and raw identities (identity_raw) as temp tables, for the period in the `period`
    variable (needs term_calendar: refresh.set_rule_variables). persist: the refresh, as the
    store's writer, records what it folded; a read-only caller (the review tool) only reads the
    stored tables. Returns per source whether it was folded and the extracts it read."""
    for stmt in statements(read_sql("refresh/10_current_rows.sql")):
        con.execute(stmt)
    if not persist and not has_table(con, STATE):
        # A store not yet refreshed by this version, read only (schema 5): nothing was carried, so
        # every source is derived from its live extracts; empty stand-ins for the tables read.
        con.execute(f"CREATE OR REPLACE TEMP TABLE {STATE} (source VARCHAR, extracts INTEGER[])")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {IDENTITIES} AS SELECT * FROM ({IDENTITY_COLUMNS}) LIMIT 0")
    plans = plan(con)
    for p in plans:
        held = f"SELECT * FROM held_{p.source} UNION ALL " if p.folded else ""
        join, extra = TERM_JOIN if p.source == "attendance" else ("", "")
        _run(con, "refresh/11_in_force.sql", key=NATURAL_KEYS[p.source], table="_in_force", join=join, extra=extra,
             working=f"{held}SELECT * FROM raw_{p.source} WHERE extract_id IN ({_ids(p.read)})")
        if persist:
            if not p.folded:
                con.execute(f"DELETE FROM held_{p.source}")
            _run(con, "refresh/12_held.sql", source=p.source, in_force="_in_force", read=_ids(p.read),
                 latest=_ids(p.live[-1:]), columns="* EXCLUDE (term_end)" if extra else "*")
        con.execute(f"DROP TABLE IF EXISTS cur_{p.source}")
        con.execute(f"ALTER TABLE _in_force RENAME TO cur_{p.source}")  # (not copied)
        if extra:
            con.execute(f"DELETE FROM cur_{p.source} WHERE term_end IS NULL")
    folded = [p.source for p in plans if p.folded]
    names = ", ".join(f"'{s}'" for s in folded)  # (SOURCES' names: no quoting needed)
    seen = f"SELECT * FROM {IDENTITIES} WHERE source IN ({names or 'NULL'})"
    _run(con, "refresh/15_identity_raw.sql", folded=names or "NULL",
         identities=f"SELECT * FROM {IDENTITIES}" if persist else f"{seen} UNION ALL SELECT * FROM _identity_new",
         **{p.source: _ids(p.new) for p in plans})
    if persist:
        con.execute(f"DELETE FROM {IDENTITIES}" + (f" WHERE source NOT IN ({names})" if folded else ""))
        con.execute(f"INSERT INTO {IDENTITIES} SELECT * FROM _identity_new")
        con.execute(f"DELETE FROM {STATE}")
        recorded = [[p.source, p.live] for p in plans if p.live]
        if recorded:  # (a first refresh with no delivery has none)
            con.executemany(f"INSERT INTO {STATE} VALUES (?, ?)", recorded)
    return {p.source: {"folded": p.folded, "extracts_read": len(p.read)} for p in plans}


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Empty the carried tables (`pbr purge`: they hold personal data; the next refresh derives
    them again from what is left)."""
    for s in SOURCES:
        con.execute(f"DELETE FROM held_{s}")
    con.execute(f"DELETE FROM {IDENTITIES}")
    con.execute(f"DELETE FROM {STATE}")
