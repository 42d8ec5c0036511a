"""The linkage quality report of a refresh (OUT/YYYY-MM/linkage_quality.json) and its short block
in summary.json: counts and probabilities only, never an identity."""

from __future__ import annotations

import duckdb


def build_quality(con: duckdb.DuckDBPyConnection, period: str, link_stats: dict, settings) -> dict:
    """Read from the refresh's temp tables (key_cluster, cluster_person, person_link, person_pair)
    right after link_people."""
    q = lambda sql, *p: con.execute(sql, list(p)).fetchall()  # noqa: E731
    tables = {r[0] for r in q("SELECT table_name FROM duckdb_tables() WHERE temporary")}
    per_source = dict(q("SELECT source, count(DISTINCT source_key) FROM key_cluster GROUP BY 1 ORDER BY 1"))
    sizes = q("SELECT n, count(*) FROM (SELECT cluster, count(*) AS n FROM key_cluster GROUP BY 1) GROUP BY 1")
    matched = sum(n * c for n, c in sizes if n > 1)
    unmatched = sum(n * c for n, c in sizes if n == 1)
    histogram: dict[str, int] = {}
    refused = {"twin_guard": 0, "cannot_link": 0}
    if "person_pair" in tables:
        cols = {r[0] for r in q("SELECT column_name FROM duckdb_columns() WHERE table_name = 'person_pair'")}
        # 0.05 bins, the top one split where thresholds live: 0.95-0.99, 0.99-0.999, 0.999-1
        for label, n in q("""
                SELECT CASE WHEN match_probability >= 0.999 THEN '0.999-1.000'
                            WHEN match_probability >= 0.99 THEN '0.990-0.999'
                            WHEN match_probability >= 0.95 THEN '0.950-0.990'
                            ELSE printf('%.3f-%.3f', floor(match_probability * 20) / 20,
                                        floor(match_probability * 20) / 20 + 0.05) END AS bin, count(*)
                FROM person_pair GROUP BY 1 ORDER BY 1"""):
            histogram[label] = n
        if "cannot_link" in cols:
            refused["twin_guard"] = q("SELECT count(*) FROM person_pair WHERE twin_guard AND match_probability >= ?",
                                      float(settings.threshold))[0][0]
            refused["cannot_link"] = q("SELECT count(*) FROM person_pair WHERE cannot_link AND match_probability >= ?",
                                       float(settings.threshold))[0][0]
    low = 0
    if "person_link" in tables:
        low = q("SELECT count(*) FROM person_link WHERE match_probability < ?", float(settings.low_confidence))[0][0]
    violated = 0
    if "link_override" in tables:
        violated = q("""
            SELECT count(*) FROM link_override o
            JOIN person_cluster x ON x.node = o.a JOIN person_cluster y ON y.node = o.b
            WHERE o.decision = 'cannot_link' AND x.label = y.label""")[0][0]
    return {
        "period": period,
        "probabilistic": bool(settings.enabled),
        "threshold": float(settings.threshold),
        "low_confidence": float(settings.low_confidence),
        "records_per_source": per_source,
        "people": link_stats.get("people"),
        "new_people": link_stats.get("new_people"),
        "matched_keys": matched,
        "unmatched_keys": unmatched,
        "probabilistic_links": link_stats.get("probabilistic_links", 0),
        "override_links": link_stats.get("override_links", 0),
        "links_below_low_confidence": low,
        "pairs_refused": refused,
        # cannot-link pairs still in one person (a deterministic link, or links through a third
        # record): for clerical review
        "cannot_link_pairs_still_joined": violated,
        "probability_histogram": histogram,
        "people_merged": link_stats.get("merged", 0),
        "people_split": link_stats.get("split", 0),
    }


def summary_block(quality: dict) -> dict:
    keys = ("probabilistic", "threshold", "probabilistic_links", "override_links", "links_below_low_confidence",
            "matched_keys", "unmatched_keys", "people_merged", "people_split")
    block = {k: quality[k] for k in keys}
    block["twin_pairs_refused"] = quality["pairs_refused"]["twin_guard"]
    return block
