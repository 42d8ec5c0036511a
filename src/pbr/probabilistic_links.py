"""Add probabilistic (Splink) and override edges to the deterministic person graph of a refresh.

Tables this leaves for the rest of the refresh (temp, in the store's connection):
- person_edge gains an edge (a, b) for every accepted link between two source record keys;
- person_link(a, b, match_probability, kind): every accepted link, kind 'probabilistic' or
  'override' (must-link), with its probability;
- person_pair(a, b, det_a, det_b, match_probability, match_weight, twin_guard, cannot_link,
  accepted): every scored pair at or above the review floor, accepted or not, for the quality
  report (`pbr linkage review` scores its own, with the compared fields);
- det_cluster(node, label): the deterministic components, before any probabilistic edge."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pyarrow as pa

from .graph import components
from .overrides import load_overrides
from . import store_settings
from .probabilistic import observations, predict, splink_memory_limit


def add_probabilistic_edges(con: duckdb.DuckDBPyConnection, period: str, settings,
                            while_scoring: Callable[[], None] | None = None) -> dict:
    """while_scoring: work on `con` that does not need the people (the refresh's address
    clusters), run once: while Splink scores, on its own connection in a thread of its own (its
    SQL generation is pure Python, its DuckDB's threads are not always both busy: the store's
    connection takes up the slack), or first when the linker is off."""
    con.execute("CREATE OR REPLACE TEMP TABLE person_link (a VARCHAR, b VARCHAR, match_probability DOUBLE, kind VARCHAR)")
    con.execute("SET VARIABLE link_low_confidence = ?", [float(settings.low_confidence)])
    components(con, "person_edge", "det_cluster")
    stats = {"probabilistic_links": 0, "override_links": 0, "twin_pairs_refused": 0, "cannot_link_refused": 0}
    floor = min(float(settings.review_min), float(settings.threshold))
    if settings.enabled:
        obs = observations(con, "det_cluster", ordered=False)  # (what follows is symmetric in l and r)
        # One memory budget, the store's cap, lent to whichever connection is working: while
        # Splink scores, the store keeps what Splink does not take and writes the rest of its
        # temporary tables out to its temp directory.
        budget = store_settings.current_limit(con)
        cap = splink_memory_limit(obs.num_rows, budget)
        with store_settings.lent(con, budget - cap if budget else 0):
            pairs = _scored_while(lambda: predict(obs, floor, memory_limit=cap), while_scoring)
        con.register("_pbr_pairs", _pairs_with_fields(obs, pairs))
        con.execute("""
            CREATE OR REPLACE TEMP TABLE person_pair AS
            SELECT source_l || ':' || source_key_l AS a, source_r || ':' || source_key_r AS b,
                   det_l AS det_a, det_r AS det_b, match_probability, match_weight,
                   -- twins: same surname (or one typo apart) and dob (or its day and month swapped),
                   -- forenames neither equal, nicknames of each other nor one edit apart
                   coalesce(damerau_levenshtein(sn_l, sn_r) <= 1
                    AND (dob_l = dob_r OR (dob_year_l = dob_year_r AND dob_md_l = dob_dm_r))
                    AND fn_l <> fn_r AND NOT list_has_any(fn_alts_l, fn_alts_r)
                    AND damerau_levenshtein(fn_l, fn_r) > 1, false) AS twin_guard
            FROM _pbr_pairs
            WHERE det_l <> det_r""")
        con.unregister("_pbr_pairs")
        del obs, pairs  # the Arrow copies: person_pair holds what the rest needs
    else:
        if while_scoring is not None:
            while_scoring()
        con.execute("""CREATE OR REPLACE TEMP TABLE person_pair (a VARCHAR, b VARCHAR, det_a VARCHAR, det_b VARCHAR,
            match_probability DOUBLE, match_weight DOUBLE, twin_guard BOOLEAN)""")
    overrides = load_overrides(settings.overrides) if settings.overrides else []
    must = [o for o in overrides if o.decision == "must_link"]
    cannot = [o for o in overrides if o.decision == "cannot_link"]
    con.execute("CREATE OR REPLACE TEMP TABLE link_override (decision VARCHAR, a VARCHAR, b VARCHAR)")
    if overrides:
        frame = pa.table({"decision": [o.decision for o in overrides], "a": [o.a for o in overrides],
                          "b": [o.b for o in overrides]})
        con.register("_pbr_overrides", frame)
        con.execute("INSERT INTO link_override SELECT * FROM _pbr_overrides")
        con.unregister("_pbr_overrides")
    # A cannot-link pair refuses every probabilistic link between the two keys' deterministic people.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE cannot_det AS
        SELECT DISTINCT x.label AS da, y.label AS db FROM link_override o
        JOIN det_cluster x ON x.node = o.a JOIN det_cluster y ON y.node = o.b WHERE o.decision = 'cannot_link'""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE person_pair AS
        SELECT p.*, EXISTS (SELECT 1 FROM cannot_det c WHERE (c.da = p.det_a AND c.db = p.det_b)
                                                       OR (c.da = p.det_b AND c.db = p.det_a)) AS cannot_link,
               p.match_probability >= ? AND NOT p.twin_guard AND NOT EXISTS (
                   SELECT 1 FROM cannot_det c WHERE (c.da = p.det_a AND c.db = p.det_b) OR (c.da = p.det_b AND c.db = p.det_a)
               ) AS accepted
        FROM person_pair p""", [float(settings.threshold)])
    con.execute("""
        INSERT INTO person_link
        SELECT least(a, b), greatest(a, b), max(match_probability), 'probabilistic'
        FROM person_pair WHERE accepted GROUP BY 1, 2""")
    # Must-link: an edge of its own between two keys the store knows.
    con.execute("""
        INSERT INTO person_link
        SELECT DISTINCT o.a, o.b, 1.0, 'override' FROM link_override o
        WHERE o.decision = 'must_link' AND o.a IN (SELECT node FROM det_cluster) AND o.b IN (SELECT node FROM det_cluster)""")
    con.execute("INSERT INTO person_edge SELECT a, b FROM person_link")
    q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    stats.update({
        "probabilistic_links": q("SELECT count(*) FROM person_link WHERE kind = 'probabilistic'"),
        "override_links": q("SELECT count(*) FROM person_link WHERE kind = 'override'"),
        "twin_pairs_refused": q(f"SELECT count(*) FROM person_pair WHERE twin_guard AND match_probability >= {float(settings.threshold)}"),
        "cannot_link_refused": q(f"SELECT count(*) FROM person_pair WHERE cannot_link AND match_probability >= {float(settings.threshold)}"),
        "must_link_overrides": len(must), "cannot_link_overrides": len(cannot),
    })
    return stats


# What person_pair needs of each side of a pair: its key, deterministic person and the fields the
# twin guard reads.
PAIR_FIELDS = ["source", "source_key", "det", "fn", "sn", "dob", "dob_year", "dob_md", "dob_dm", "fn_alts"]


def _pairs_with_fields(obs: pa.Table, pairs: pa.Table) -> pa.Table:
    """The scored pairs with PAIR_FIELDS of each side (`x_l`, `x_r`), taken from the observations
    by position: `observations` numbers them 1, 2, ... in row order. (Joining the observations
    twice in DuckDB hashed all 383,378 of them twice for the authority's ≈73,000 pairs.)"""
    import numpy as np
    import pyarrow.compute as pc

    if not np.array_equal(obs.column("unique_id").to_numpy(), np.arange(1, obs.num_rows + 1)):
        raise ValueError("observations must be numbered 1..n in row order")
    cols: dict[str, pa.Array] = {}
    for side in ("l", "r"):
        at = pc.subtract(pairs.column(f"unique_id_{side}"), 1)
        cols.update({f"{c}_{side}": obs.column(c).take(at) for c in PAIR_FIELDS})
    cols["match_probability"] = pairs.column("match_probability")
    cols["match_weight"] = pairs.column("match_weight")
    return pa.table(cols)


def _scored_while(score: Callable[[], pa.Table], work: Callable[[], None] | None) -> pa.Table:
    """score() in a thread while work() runs here; both are waited for, and the first failure
    (the work's, else the scoring's) raised."""
    if work is None:
        return score()
    with ThreadPoolExecutor(1, thread_name_prefix="pbr-splink") as pool:
        scoring = pool.submit(score)
        try:
            work()
        finally:
            done = scoring.exception() is None  # waits for it either way
        if done:
            return scoring.result()
        raise scoring.exception()
