"""Families at R with stable ids: each household with a child takes the id of the earlier family
whose last known members it shares most (see graph.assign_stable_ids)."""

from __future__ import annotations

import duckdb

from .graph import assign_stable_ids_sql
from .linkage import _record_events
from .store import check_unique

FAMILY_PREFIX, FAMILY_WIDTH = "F", 6


def assign_families(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, int]:
    # A cluster is named by its smallest member person id, so new ids follow person-id order.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE family_cluster AS
        SELECT address_id, min(person_id) OVER (PARTITION BY address_id) AS cluster, person_id, is_child, dob
        FROM family_at_r""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _family_overlap AS
        WITH last_known AS (  -- each family's latest snapshot (a hash aggregate: a window sorted every month's)
            SELECT s.family_id, s.person_id FROM family_snapshot s
            SEMI JOIN (SELECT family_id, max(period) AS period FROM family_snapshot WHERE period < ? GROUP BY family_id) l
                ON l.family_id = s.family_id AND l.period = s.period
        )
        SELECT c.cluster, k.family_id AS old_id, count(*) AS n FROM family_cluster c
        JOIN last_known k USING (person_id) GROUP BY ALL""", [period])
    next_number = con.execute(
        "SELECT coalesce(max(CAST(substr(family_id, 2) AS BIGINT)), 0) + 1 FROM family_registry").fetchone()[0]
    result = assign_stable_ids_sql(con, "family_cluster", "_family_overlap", "_cluster_family_id",
                                   prefix=FAMILY_PREFIX, width=FAMILY_WIDTH, next_number=next_number)
    con.execute("CREATE OR REPLACE TEMP TABLE cluster_family AS SELECT cluster, id AS family_id FROM _cluster_family_id")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE family_member AS
        SELECT f.family_id, c.person_id, c.address_id, c.is_child, c.dob
        FROM family_cluster c JOIN cluster_family f USING (cluster)""")
    con.execute("INSERT INTO family_registry SELECT id, ? FROM _cluster_family_id WHERE new ORDER BY length(id), id", [period])
    con.execute("DROP TABLE _family_overlap")
    con.execute("DROP TABLE _cluster_family_id")
    con.execute("""
        INSERT INTO family_snapshot (period, family_id, person_id, is_child)
        SELECT ?, family_id, person_id, is_child FROM family_member""", [period])
    check_unique(con, "family_snapshot", ("period", "person_id"), period)  # one family a person
    _record_events(con, period, "family", result)
    return {"families": result.clusters, "new_families": len(result.new_ids)}
