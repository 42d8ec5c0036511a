"""Link source record keys into people (deterministic rules) and keep person ids stable.

The deterministic edges are built in sql/refresh/20_identity.sql; a probabilistic linker can add
its own edges to `person_edge` (with a match probability) before `link_people` runs."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa

from .graph import assign_stable_ids_sql, components
from .store import check_unique

PERSON_PREFIX, PERSON_WIDTH = "P", 7


def link_people(con: duckdb.DuckDBPyConnection, period: str, settings=None,
                while_scoring: Callable[[], None] | None = None) -> dict[str, int]:
    """settings: a config.LinkageConfig (None: deterministic only, as before). while_scoring: work
    on `con` that does not depend on the people, run once, while Splink scores (or first)."""
    prob_stats: dict = {}
    if settings is not None:
        from .probabilistic_links import add_probabilistic_edges
        prob_stats = add_probabilistic_edges(con, period, settings, while_scoring)
    else:
        if while_scoring is not None:
            while_scoring()
        con.execute("CREATE OR REPLACE TEMP TABLE person_link (a VARCHAR, b VARCHAR, match_probability DOUBLE, kind VARCHAR)")
    if settings is not None:
        person_components_from_det(con)
    else:
        components(con, "person_edge", "person_cluster")
    # Only source record nodes are people's keys; NINO:/NID: nodes are the links between them.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE key_cluster AS
        SELECT split_part(node, ':', 1) AS source, substr(node, length(split_part(node, ':', 1)) + 2) AS source_key,
               label AS cluster
        FROM person_cluster
        WHERE split_part(node, ':', 1) IN ('attendance', 'asb', 'benefits', 'employment', 'interventions')""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _person_overlap AS
        SELECT k.cluster, x.person_id AS old_id, count(*) AS n FROM key_cluster k
        JOIN person_xwalk x USING (source, source_key) GROUP BY ALL""")
    next_number = con.execute(
        "SELECT coalesce(max(CAST(substr(person_id, 2) AS BIGINT)), 0) + 1 FROM person_xwalk").fetchone()[0]
    result = assign_stable_ids_sql(con, "key_cluster", "_person_overlap", "_cluster_person_id",
                                   prefix=PERSON_PREFIX, width=PERSON_WIDTH, next_number=next_number)
    con.execute("""CREATE OR REPLACE TEMP TABLE cluster_person AS
        SELECT cluster, id AS person_id FROM _cluster_person_id""")
    con.execute("DROP TABLE _person_overlap")
    con.execute("DROP TABLE _cluster_person_id")
    # (the UPDATE's count: a key is in one cluster, a cluster has one person, so each row it
    # changes is counted once; a count by the same join first took as long as the UPDATE)
    changed = con.execute("""
        UPDATE person_xwalk x SET person_id = c.person_id
        FROM key_cluster k JOIN cluster_person c USING (cluster)
        WHERE x.source = k.source AND x.source_key = k.source_key AND x.person_id <> c.person_id""").fetchone()[0]
    added = con.execute("""
        INSERT INTO person_xwalk (source, source_key, person_id, match_probability, first_period)
        SELECT k.source, k.source_key, c.person_id, 1.0, ?
        FROM key_cluster k JOIN cluster_person c USING (cluster)
        WHERE NOT EXISTS (SELECT 1 FROM person_xwalk x WHERE x.source = k.source AND x.source_key = k.source_key)
    """, [period]).fetchone()[0]
    # A key joined by a probabilistic link keeps that link's probability (its weakest, when it has
    # several). A key with none keeps what it had (1.0, or a probability set earlier: a low value
    # stays, so audit sees it, until a later link to it scores again).
    con.execute("""
        UPDATE person_xwalk x SET match_probability = p.prob
        FROM (
            SELECT node, min(match_probability) AS prob FROM (
                SELECT a AS node, match_probability FROM person_link WHERE kind = 'probabilistic'
                UNION ALL SELECT b, match_probability FROM person_link WHERE kind = 'probabilistic')
            GROUP BY node) p
        WHERE p.node = x.source || ':' || x.source_key AND x.match_probability <> p.prob""")
    check_unique(con, "person_xwalk", ("source", "source_key"))  # one person a source record key
    _record_events(con, period, "person", result)
    return {"people": result.clusters, "new_people": len(result.new_ids), "keys_added": added,
            "keys_moved": changed, "merged": len(result.merged), "split": len(result.split), **prob_stats}


def person_components_from_det(con: duckdb.DuckDBPyConnection) -> None:
    """person_cluster(node, label) as `components(person_edge)` gives it, from the deterministic
    components (det_cluster) and the accepted links (person_link) alone: person_edge is the
    deterministic edges plus those links, so a person is a union of deterministic components, and
    its label (its smallest node name) is the smallest of their labels. The union-find then runs
    over the few components the links join, not every record and NINO/NID node again (issue 9,
    round 4b: the same table, tested against `components`)."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _det_link_edge AS
        SELECT x.label AS a, y.label AS b FROM person_link l
        JOIN det_cluster x ON x.node = l.a JOIN det_cluster y ON y.node = l.b
        WHERE x.label <> y.label""")
    components(con, "_det_link_edge", "_det_merge")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE person_cluster AS
        SELECT d.node, coalesce(m.label, d.label) AS label
        FROM det_cluster d LEFT JOIN _det_merge m ON m.node = d.label""")
    con.execute("DROP TABLE IF EXISTS _det_link_edge")
    con.execute("DROP TABLE IF EXISTS _det_merge")


def _record_events(con, period: str, kind: str, result) -> None:
    rows = [(period, kind, "merged", a, b) for a, b in result.merged]
    rows += [(period, kind, "split", a, b) for a, b in result.split]
    if rows:
        frame = pa.table({name: [r[i] for r in rows] for i, name in enumerate(("period", "kind", "event", "a", "b"))})
        con.register("_id_event_frame", frame)
        con.execute("INSERT INTO id_event SELECT * FROM _id_event_frame")
        con.unregister("_id_event_frame")
