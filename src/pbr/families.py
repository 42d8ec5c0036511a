"""Families at R with stable ids: each household with a child takes the id of the earlier family
whose last known members it shares most (see graph.assign_stable_ids)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from .graph import assign_stable_ids
from .linkage import _record_events

FAMILY_PREFIX, FAMILY_WIDTH = "F", 6


def assign_families(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, int]:
    # A cluster is named by its smallest member person id, so new ids follow person-id order.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE family_cluster AS
        SELECT address_id, min(person_id) OVER (PARTITION BY address_id) AS cluster, person_id, is_child, dob
        FROM family_at_r""")
    clusters = [r[0] for r in con.execute("SELECT DISTINCT cluster FROM family_cluster").fetchall()]
    overlaps = con.execute("""
        WITH last_known AS (
            SELECT family_id, person_id FROM family_snapshot
            WHERE period < ?
            QUALIFY dense_rank() OVER (PARTITION BY family_id ORDER BY period DESC) = 1
        )
        SELECT c.cluster, k.family_id, count(*) FROM family_cluster c
        JOIN last_known k USING (person_id) GROUP BY ALL""", [period]).fetchall()
    next_number = con.execute(
        "SELECT coalesce(max(CAST(substr(family_id, 2) AS BIGINT)), 0) + 1 FROM family_registry").fetchone()[0]
    result = assign_stable_ids(clusters, overlaps, prefix=FAMILY_PREFIX, width=FAMILY_WIDTH, next_number=next_number)
    # One bulk insert from an Arrow table (executemany is a statement per row: slow at 100k families).
    ids = pa.table({"cluster": pa.array(list(result.ids), pa.string()),  # noqa: F841 (read by DuckDB by name)
                    "family_id": pa.array(list(result.ids.values()), pa.string())})
    con.execute("CREATE OR REPLACE TEMP TABLE cluster_family AS SELECT cluster, family_id FROM ids")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE family_member AS
        SELECT f.family_id, c.person_id, c.address_id, c.is_child, c.dob
        FROM family_cluster c JOIN cluster_family f USING (cluster)""")
    if result.new_ids:
        new = pa.table({"family_id": pa.array(result.new_ids, pa.string())})  # noqa: F841
        con.execute("INSERT INTO family_registry SELECT family_id, ? FROM new", [period])
    con.execute("""
        INSERT INTO family_snapshot (period, family_id, person_id, is_child)
        SELECT ?, family_id, person_id, is_child FROM family_member""", [period])
    _record_events(con, period, "family", result)
    return {"families": len(clusters), "new_families": len(result.new_ids)}
