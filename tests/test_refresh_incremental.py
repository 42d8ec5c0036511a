"""Change-only and faster month-on-month refresh (issue 9, round 4b): with the derived-value and
validation memos warm, a refresh gives exactly what it gives with them emptied before every refresh; the faster
current-rows and scoring queries give what the ones they replaced gave."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pbr import memo
from pbr.generate import generate
from pbr.purge import purge
from pbr import in_force
from pbr.refresh import identity_steps, refresh, run_sql
from pbr.validation import memo as validation_memo
from store_dump import RUN_ID, dump

PERIODS = ["2015-01", "2015-02", "2015-03"]
TS = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?")


def _refresh_all(gen: Path, root: Path, *, empty_memo: bool) -> Path:
    db = root / "store.duckdb"
    for period in PERIODS:
        if empty_memo and db.exists():
            con = duckdb.connect(str(db))
            con.execute(f"DELETE FROM {memo.TABLE}")
            con.execute(f"DELETE FROM {validation_memo.TABLE}")
            con.execute(f"DELETE FROM {in_force.STATE}")  # rows in force and identities derived again
            con.close()
        refresh(period, gen / "deliveries" / period, db, root / "out")
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("memo")
    gen = tmp / "gen"
    generate(families=150, seed=11, start=PERIODS[0], end=PERIODS[-1], out=gen, messy=True, truth=False)
    warm = _refresh_all(gen, tmp / "warm", empty_memo=False)
    cold = _refresh_all(gen, tmp / "cold", empty_memo=True)
    return gen, warm, cold


def _store(root: Path) -> dict:
    tables = dump(root / "store.duckdb", normalise=True)
    tables.pop(f"{memo.TABLE}", None)
    tables.pop(f"{validation_memo.TABLE}", None)
    # validation_file's duration_s is a wall time
    tables["validation_file"] = [r[:-2] + r[-1:] for r in tables["validation_file"]]
    return tables


def _text_outputs(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted((root / "out").rglob("*")):
        if p.suffix in (".csv", ".json") and p.parent.name != "validation":
            out[str(p.relative_to(root))] = TS.sub("<ts>", RUN_ID.sub("<run>", p.read_text(encoding="utf-8")))
    return out


def test_warm_memo_gives_the_same_store_and_outputs_as_an_empty_one(runs):
    _gen, warm, cold = runs
    a, b = _store(warm), _store(cold)
    assert a.keys() == b.keys()
    assert [t for t in a if a[t] != b[t]] == []
    assert len(a["person_xwalk"]) > 100 and a["family_snapshot"]  # a real linkage happened
    oa, ob = _text_outputs(warm), _text_outputs(cold)
    assert len(oa) >= 3 * len(PERIODS) and oa.keys() == ob.keys()
    assert [k for k in oa if oa[k] != ob[k]] == []


def test_the_memo_is_used_and_holds_the_macros_own_values(runs):
    _gen, warm, _cold = runs
    con = duckdb.connect(str(warm / "store.duckdb"))
    try:
        kinds = dict(con.execute(f"SELECT kind, count(*) FROM {memo.TABLE} GROUP BY 1").fetchall())
        assert set(kinds) == {"std_name", "std_postcode", "std_address", "address_key"} and min(kinds.values()) > 50
        assert {v for (v,) in con.execute(f"SELECT DISTINCT version FROM {memo.TABLE}").fetchall()} == {memo.version()}
        run_sql(con, "refresh/00_macros.sql")
        for kind, expr, _inputs in memo.KINDS:
            wrong = con.execute(f"""SELECT count(*) FROM {memo.TABLE}
                WHERE kind = ? AND {expr} IS DISTINCT FROM output""", [kind]).fetchall()[0][0]
            assert wrong == 0, kind
    finally:
        con.close()


def test_a_warm_refresh_derives_only_new_values_and_stale_versions_go(runs, tmp_path, monkeypatch):
    gen, warm, _cold = runs
    db = tmp_path / "store.duckdb"
    shutil.copy(warm / "store.duckdb", db)
    con = duckdb.connect(str(db))
    con.execute(f"INSERT INTO {memo.TABLE} VALUES ('std_name', 'old-version', 'ZZTOP', 'WRONG')")
    con.close()
    seen: list[dict] = []
    real = memo.prepare
    monkeypatch.setattr(memo, "prepare", lambda c, persist=True: seen.append(real(c, persist)) or seen[-1])
    # The latest month again: every value it needs was derived by the earlier run.
    refresh(PERIODS[-1], gen / "deliveries" / PERIODS[-1], db, tmp_path / "out")
    assert len(seen) == 1
    assert all(s["inputs"] > 0 for s in seen[0].values())
    assert sum(s["derived"] for s in seen[0].values()) == 0
    con = duckdb.connect(str(db))
    try:
        assert con.execute(f"SELECT count(*) FROM {memo.TABLE} WHERE version = 'old-version'").fetchall()[0][0] == 0
    finally:
        con.close()


def test_purge_empties_both_memos(runs, tmp_path):
    _gen, warm, _cold = runs
    db = tmp_path / "store.duckdb"
    shutil.copy(warm / "store.duckdb", db)
    carried = [f"held_{s}" for s in in_force.SOURCES] + [in_force.IDENTITIES, in_force.STATE]
    count = lambda c, t: c.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]  # noqa: E731
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert count(con, validation_memo.TABLE) > 0
        # the rows in force and identities carried between refreshes (personal data too)
        assert count(con, in_force.IDENTITIES) > 0 and count(con, in_force.STATE) == 5
        assert count(con, "held_attendance") + count(con, "held_asb") > 0
    finally:
        con.close()
    purge(db, date(2015, 2, 1))
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute(f"SELECT count(*) FROM {memo.TABLE}").fetchall()[0][0] == 0
        assert con.execute(f"SELECT count(*) FROM {validation_memo.TABLE}").fetchall()[0][0] == 0
        assert [t for t in carried if count(con, t)] == []
    finally:
        con.close()


def test_predict_without_retained_columns_scores_exactly_as_with_them(runs):
    """predict() no longer carries the compared columns through Splink: same pairs, same scores."""
    import json

    from pbr.config import load_config
    from pbr.graph import components
    from pbr.probabilistic import _linker, model_path, observations, predict
    from pbr.refresh import set_rule_variables
    from pbr.rulebook import load_rulebook

    _gen, warm, _cold = runs
    con = duckdb.connect(str(warm / "store.duckdb"), read_only=True)
    try:
        set_rule_variables(con, PERIODS[-1], load_rulebook(None), load_config(None))
        identity_steps(con, persist=False)
        components(con, "person_edge", "det_cluster")
        obs = observations(con, "det_cluster")
    finally:
        con.close()
    got = predict(obs, 0.01)
    settings = json.loads(model_path().read_text(encoding="utf-8"))
    assert settings["retain_matching_columns"] is True  # the model as pinned: the old output
    want = _linker(obs, settings).inference.predict(threshold_match_probability=0.01).as_pyarrow_table()
    assert "fn_l" in want.column_names and "fn_l" not in got.column_names
    cols = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    rows = lambda t: sorted(zip(*(t.column(c).to_pylist() for c in cols)))  # noqa: E731
    assert len(rows(got)) > 20
    assert rows(got) == rows(want)


# 10_current_rows.sql before round 4b (a window per natural key), kept as the reference.
WINDOW_REFERENCE = {
    "attendance": """SELECT r.*, c.term_end FROM raw_attendance r JOIN live_extract USING (extract_id)
        JOIN term_calendar c USING (academic_year, term)
        QUALIFY row_number() OVER (PARTITION BY r.upn, r.academic_year, r.term, r.school_urn
                                   ORDER BY r.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1""",
    "asb": "r.event_id, r.person_ref",
    "benefits": "r.person_key, r.benefit, r.start_date",
    "employment": "r.person_key, r.record_type, r.start_date",
    "interventions": "r.case_ref, r.person_ref",
}


def test_current_rows_are_the_latest_row_per_natural_key_as_the_window_gave(runs, tmp_path):
    from pbr.config import load_config
    from pbr.refresh import set_rule_variables
    from pbr.rulebook import load_rulebook

    _gen, warm, _cold = runs
    con = duckdb.connect(str(warm / "store.duckdb"), read_only=True)
    try:
        set_rule_variables(con, PERIODS[-1], load_rulebook(None), load_config(None))
        folded = in_force.derive(con, persist=False)  # read-only: from the held rows the refresh kept
        assert all(f["folded"] for f in folded.values()), folded
        for source in WINDOW_REFERENCE:
            con.execute(f"CREATE OR REPLACE TEMP TABLE ref AS {window_reference(source)}")
            n = con.execute("SELECT count(*) FROM ref").fetchall()[0][0]
            assert n > 0 or source == "employment", source
            extra = con.execute(f"""SELECT (SELECT count(*) FROM (SELECT * FROM ref EXCEPT ALL SELECT * FROM cur_{source})),
                                           (SELECT count(*) FROM (SELECT * FROM cur_{source} EXCEPT ALL SELECT * FROM ref))""").fetchall()[0]
            assert extra == (0, 0), source
            assert con.execute(f"DESCRIBE cur_{source}").fetchall() == con.execute("DESCRIBE ref").fetchall()
        # superseded rows exist (several months' snapshots), so the check is not trivial
        total = con.execute("SELECT count(*) FROM raw_asb JOIN live_extract USING (extract_id)").fetchall()[0][0]
        assert total > con.execute("SELECT count(*) FROM cur_asb").fetchall()[0][0]
    finally:
        con.close()


def window_reference(source: str) -> str:
    """The rows in force of a source by WINDOW_REFERENCE, as SQL (needs live_extract)."""
    ref = WINDOW_REFERENCE[source]
    return ref if ref.startswith("SELECT") else f"""
        SELECT r.* FROM raw_{source} r JOIN live_extract USING (extract_id)
        QUALIFY row_number() OVER (PARTITION BY {ref}
                                   ORDER BY r.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1"""


def test_person_components_from_the_deterministic_ones_equal_the_whole_graphs(runs):
    from pbr.config import load_config
    from pbr.graph import components
    from pbr.linkage import person_components_from_det
    from pbr.probabilistic_links import add_probabilistic_edges
    from pbr.refresh import set_rule_variables
    from pbr.rulebook import load_rulebook

    _gen, warm, _cold = runs
    config = load_config(None)
    con = duckdb.connect(str(warm / "store.duckdb"), read_only=True)
    try:
        set_rule_variables(con, PERIODS[-1], load_rulebook(None), config)
        identity_steps(con, persist=False)
        add_probabilistic_edges(con, PERIODS[-1], config.linkage)
        # a must-link between two deterministic people, as an override would add
        a, b = [r[0] for r in con.execute(
            "SELECT label FROM det_cluster GROUP BY label ORDER BY label LIMIT 2").fetchall()]
        con.execute("INSERT INTO person_link VALUES (?, ?, 1.0, 'override')", [a, b])
        con.execute("INSERT INTO person_edge VALUES (?, ?)", [a, b])
        assert con.execute("SELECT count(*) FROM person_link WHERE kind = 'probabilistic'").fetchall()[0][0] > 0
        components(con, "person_edge", "want")
        person_components_from_det(con)
        diff = con.execute("""SELECT (SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM person_cluster)),
                                     (SELECT count(*) FROM (SELECT * FROM person_cluster EXCEPT ALL SELECT * FROM want))""").fetchall()[0]
        assert diff == (0, 0)
        # the links really merged deterministic people
        assert con.execute("SELECT count(DISTINCT label) FROM want").fetchall()[0][0] < \
            con.execute("SELECT count(DISTINCT label) FROM det_cluster").fetchall()[0][0]
    finally:
        con.close()


def test_the_validation_memo_holds_each_sources_passing_rows_and_is_used(runs, tmp_path, monkeypatch):
    """After a refresh the store knows each delivered source's rows (their memoised verdicts);
    re-running the month, every row is known and skips those expectations."""
    from pbr.validation import chunks

    gen, warm, _cold = runs
    con = duckdb.connect(str(warm / "store.duckdb"), read_only=True)
    try:
        stored = dict(con.execute(f"SELECT source, count(*) FROM {validation_memo.TABLE} GROUP BY 1").fetchall())
        read = dict(con.execute("""SELECT source, sum(rows_read) FROM extract_file
            WHERE delivery_period = ? GROUP BY 1""", [PERIODS[-1]]).fetchall())
    finally:
        con.close()
    assert len(read) >= 5 and set(read) <= set(stored)  # (a source not delivered this month keeps its rows)
    for source, n in read.items():
        assert 0.8 * n < stored[source] <= n, source  # (identical rows are stored once)

    calls: list[tuple[str, int, int]] = []
    real = chunks.run_suite_memo

    def spy(suite, typed, period_end, memoised, failed, chunk_rows=None):
        calls.append((suite.source, typed.height, 0 if failed is None else int(failed.is_not_null().sum())))
        return real(suite, typed, period_end, memoised, failed, chunk_rows)

    monkeypatch.setattr(chunks, "run_suite_memo", spy)
    monkeypatch.setattr("pbr.validation.core.run_suite_memo", spy)
    db = tmp_path / "store.duckdb"
    shutil.copy(warm / "store.duckdb", db)
    refresh(PERIODS[-1], gen / "deliveries" / PERIODS[-1], db, tmp_path / "out")
    assert set(read) <= {c[0] for c in calls} <= set(stored)
    for source, rows, known in calls:
        assert known == rows, source


def test_keys_moved_counts_the_keys_whose_person_the_link_step_changed(runs, tmp_path):
    # Two keys of different people are given each other's person id before the link step, so the
    # step moves keys; its keys_moved (the UPDATE's own count) is every key whose id it changed.
    from pbr.config import load_config
    from pbr.ingest import discover
    from pbr.refresh import ArrivingDelivery, apply_delivery
    from pbr.rulebook import load_rulebook

    gen, warm, _ = runs
    db = tmp_path / "store.duckdb"
    shutil.copyfile(warm / "store.duckdb", db)
    seen = {}

    def runner(name, fn, run):
        if name == "link":
            (a, pa), (b, pb) = run.con.execute("""
                SELECT source || ':' || source_key, person_id FROM person_xwalk
                WHERE person_id IN (SELECT min(person_id) FROM person_xwalk UNION SELECT max(person_id) FROM person_xwalk)
                QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY source, source_key) = 1
                ORDER BY person_id""").fetchall()
            run.con.execute("UPDATE person_xwalk SET person_id = CASE person_id WHEN ? THEN ? ELSE ? END "
                            "WHERE source || ':' || source_key IN (?, ?)", [pa, pb, pa, a, b])
            run.con.execute("CREATE TEMP TABLE _before AS SELECT source, source_key, person_id FROM person_xwalk")
        fn(run)
        if name == "link":
            seen["moved"] = run.stats["link"]["keys_moved"]
            seen["changed"] = run.con.execute("""
                SELECT count(*) FROM person_xwalk x JOIN _before b USING (source, source_key)
                WHERE x.person_id <> b.person_id""").fetchone()[0]

    period = PERIODS[-1]
    config = load_config(None)
    apply_delivery(period, ArrivingDelivery(discover(gen / "deliveries" / period), config, period, None), db,
                   tmp_path / "out", load_rulebook(None), config, step_runner=runner)
    assert seen["moved"] == seen["changed"] >= 2
