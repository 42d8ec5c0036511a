"""The faster linkage paths give exactly what the plain ones gave (issue 9, round 2)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from pbr.probabilistic import OBS_SQL, _derive, observations
from pbr.refresh import run_sql
from pbr.sqlfiles import read_sql, statements

IDENTITIES = [
    # source, key, fn, sn, dob, sex, pc, addr
    ("attendance", "U1", "ALEX", "SMITH", "2004-03-07", "M", "S65 1AB", "FLAT 3 12 MILL ROAD ROTHERHAM"),
    ("benefits", "B1", "ALEXANDER", "SMITH", "2004-07-03", "M", "S65 1AB", "3 12 MILL RD"),
    ("asb", "A1", "BECKY", "O", "1990-12-31", "F", "S651AB", None),
    ("asb", "A2", None, "ASHCROFT", None, None, None, "12 12 HIGH STREET HIGH"),
    ("interventions", "I1", "ZOE", None, "1985-01-02", "F", "DN1 2XY", "THE COTTAGE"),
    ("employment", "E1", "JOHN", "PFISTER", "1979-11-20", None, "S60", "4 LEE LANE"),
]


def _store() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    run_sql(con, "refresh/00_macros.sql")
    for stmt in statements(read_sql("refresh/20_identity.sql")):
        if "TEMP MACRO" in stmt:
            con.execute(stmt)
    con.execute("""CREATE TEMP TABLE identity_obs (source VARCHAR, source_key VARCHAR, fn VARCHAR, sn VARCHAR,
                   dob DATE, sex VARCHAR, pc VARCHAR, addr VARCHAR)""")
    con.executemany("INSERT INTO identity_obs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", IDENTITIES)
    con.execute("""CREATE TEMP TABLE det_cluster AS
                   SELECT source || ':' || source_key AS node, 'attendance:U1' AS label FROM identity_obs""")
    return con


def test_observations_derive_in_sql_as_the_python_reference_did():
    con = _store()
    got = observations(con, "det_cluster")
    base = con.sql(f"SELECT *, address_key(addr) AS addr_key FROM ({OBS_SQL.format(clusters='det_cluster')}) "
                   "ORDER BY unique_id").to_arrow_table()
    want = _derive(base)
    assert got.num_rows == len(IDENTITIES)
    assert got.column_names == want.column_names
    for name in want.column_names:
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name
    # derived values really vary (a lookup that failed would give NULLs)
    assert ["ALEX", "ALEXANDER", "ALEXANDRA"] in got.column("fn_alts").to_pylist()
    assert "S530" in got.column("sn_ph").to_pylist() and "1979" in got.column("dob_year").to_pylist()
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_pbr_obs_base'").fetchone()[0] == 0
    assert isinstance(got, pa.Table)


def _graph_store(edges: list[tuple[str, str]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE e (a VARCHAR, b VARCHAR)")
    if edges:
        con.executemany("INSERT INTO e VALUES (?, ?)", edges)
    return con


def test_components_match_the_sql_label_propagation():
    import random

    from pbr.graph import components, components_sql

    rng = random.Random(3)
    names = [f"{rng.choice(['attendance', 'asb', 'NINO', 'NID'])}:{i:04d}" for i in range(400)]
    edges = [(rng.choice(names), rng.choice(names)) for _ in range(300)]
    edges += [(n, n) for n in names[:50]]  # self edges: a key that is only itself
    edges += [(names[i], names[i + 1]) for i in range(100, 160)]  # a long chain
    con = _graph_store(edges)
    components(con, "e", "fast")
    components_sql(con, "e", "slow")
    fast = con.execute("SELECT node, label FROM fast ORDER BY node").fetchall()
    slow = con.execute("SELECT node, label FROM slow ORDER BY node").fetchall()
    assert fast == slow
    assert len({label for _, label in fast}) > 1 and len(fast) == len(set(names) & {x for e in edges for x in e})
    assert con.execute("SELECT count(DISTINCT label) FROM fast WHERE node IN "
                       f"({', '.join(repr(names[i]) for i in range(100, 161))})").fetchone()[0] == 1


def test_components_of_no_edges():
    from pbr.graph import components

    con = _graph_store([])
    components(con, "e", "out")
    assert con.execute("SELECT count(*) FROM out").fetchone()[0] == 0


from hypothesis import given, settings, strategies as st  # noqa: E402

from pbr.graph import assign_stable_ids, assign_stable_ids_sql  # noqa: E402

_names = st.sampled_from([f"c{i}" for i in range(12)] + ["attendance:U1", "benefits:NIA", "Zed"])
_old = st.sampled_from([f"P{i:02d}" for i in range(1, 9)] + ["P100"])


@settings(max_examples=300, deadline=None)
@given(clusters=st.lists(_names, min_size=0, max_size=12),
       pairs=st.lists(st.tuples(st.integers(0, 11), _old, st.integers(1, 4)), max_size=20),
       next_number=st.sampled_from([101, 999, 1234]))  # past every old id, as in a store; past the width
def test_stable_ids_in_sql_are_the_greedy_matchings(clusters, pairs, next_number):
    """Clusters that overlap one old id each way are taken in SQL, the rest by the greedy loop:
    the same ids, new ids (numbered in name order, past the width too), merges and splits as the
    whole matching in Python. Overlaps name clusters of the list (one row per pair)."""
    clusters = sorted(set(clusters)) or ["c0"]
    overlaps, seen = [], set()
    for i, old_id, n in pairs:
        c = clusters[i % len(clusters)]
        if (c, old_id) not in seen:
            seen.add((c, old_id))
            overlaps.append((c, old_id, n))
    want = assign_stable_ids(clusters, overlaps, prefix="P", width=2, next_number=next_number)
    con = duckdb.connect()
    con.execute("CREATE TABLE cl (cluster VARCHAR)")
    con.executemany("INSERT INTO cl VALUES (?)", [(c,) for c in clusters + clusters[:1]])  # repeats allowed
    con.execute("CREATE TABLE ov (cluster VARCHAR, old_id VARCHAR, n BIGINT)")
    if overlaps:
        con.executemany("INSERT INTO ov VALUES (?, ?, ?)", overlaps)
    got = assign_stable_ids_sql(con, "cl", "ov", "ids", prefix="P", width=2, next_number=next_number)
    assert dict(con.execute("SELECT cluster, id FROM ids").fetchall()) == want.ids
    assert {c for (c,) in con.execute("SELECT cluster FROM ids WHERE new").fetchall()} == {
        c for c, i in want.ids.items() if i in want.new_ids}
    assert got.clusters == len(clusters)
    assert got.new_ids == want.new_ids
    assert got.merged == want.merged
    assert got.split == want.split


@pytest.mark.parametrize("outputs, linker", [(True, True), (False, True), (True, False), (False, False)])
def test_the_link_step_preloads_what_later_steps_import(outputs, linker):
    """In a fresh interpreter: scipy's graph routines (always: connected components), Splink (when
    linking probabilistically) and the output modules (when writing outputs) are imported by the
    preload thread, and nothing else is."""
    import subprocess
    import sys

    code = (
        "import sys, threading\n"
        "from pbr.refresh import preload_modules\n"
        f"preload_modules(outputs={outputs}, linker={linker})\n"
        "for t in threading.enumerate():\n"
        "    if t.name == 'pbr-preload': t.join()\n"
        "print(sorted(m for m in ('scipy.sparse.csgraph', 'splink', 'pbr.report.page', "
        "'pbr.workbooks.claims_book', 'pbr.workbooks.cohort_book') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    want = ["scipy.sparse.csgraph"] + (["splink"] if linker else []) + (["pbr.report.page", "pbr.workbooks.claims_book",
                                               "pbr.workbooks.cohort_book"] if outputs else [])
    assert out.strip() == str(sorted(want))


def test_observations_are_numbered_as_the_window_over_their_order_numbers_them():
    # Ties on every leading column and NULLs in each: the ids must follow OBS_SQL's window exactly,
    # since a pair's sides (l < r) and so the review files follow them.
    import random

    rng = random.Random(11)
    pick = lambda *xs: rng.choice(xs)  # noqa: E731
    rows = {(pick("attendance", "asb", "benefits"), pick("K1", "K2", "K3", "K10"), pick("ANN", "ANNE", None),
             pick("LEE", "LI", None), pick("2001-02-03", "2001-03-02", None), pick("F", "M", None),
             pick("S1 1AA", "S11AA", None), pick("1 A ROAD", "1A ROAD", None)) for _ in range(600)}
    con = _store()
    con.execute("DELETE FROM identity_obs")
    con.executemany("INSERT INTO identity_obs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", sorted(rows, key=repr))
    con.execute("""CREATE OR REPLACE TEMP TABLE det_cluster AS
                   SELECT DISTINCT source || ':' || source_key AS node,
                          CASE WHEN source_key IN ('K1', 'K10') THEN 'asb:K1' ELSE source || ':' || source_key END AS label
                   FROM identity_obs""")
    got = observations(con, "det_cluster")
    cols = ["unique_id", "det", "source", "source_key", "fn", "sn", "dob", "sex", "pc", "addr"]
    want = con.sql(f"SELECT {', '.join(cols)} FROM ({OBS_SQL.format(clusters='det_cluster')}) ORDER BY unique_id").fetchall()
    assert len(want) > 300
    assert list(zip(*(got.column(c).to_pylist() for c in cols))) == want
    assert got.column("unique_id").to_pylist() == list(range(1, len(want) + 1))
