"""The rows in force and raw identities carried between refreshes (pbr.in_force, issue 9 round 23):
whether a refresh folds its new extracts into what the one before kept, or derives everything
again (a corrected file, a purge), the store holds exactly the rows in force and identities that
every live delivery gives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pbr import in_force
from pbr.config import load_config
from pbr.generate import generate
from pbr.purge import purge
from pbr.refresh import refresh, set_rule_variables
from pbr.rulebook import load_rulebook
from test_refresh_incremental import WINDOW_REFERENCE, window_reference

PERIODS = ["2015-01", "2015-02", "2015-03", "2015-04"]

# Per natural key the latest live row, whatever its term (what held_<source> keeps).
KEYS = {"attendance": "r.upn, r.academic_year, r.term, r.school_urn", **{
    s: k for s, k in WINDOW_REFERENCE.items() if s != "attendance"}}
IDENTITIES = """
    SELECT DISTINCT * FROM (
        SELECT 'attendance' AS source, upn AS source_key, NULL AS nino, forename, surname, dob, postcode, address, uprn, sex
        FROM raw_attendance JOIN live_extract USING (extract_id)
        UNION ALL SELECT 'asb', person_ref, NULL, forename, surname, dob, postcode, address, uprn, sex
        FROM raw_asb JOIN live_extract USING (extract_id)
        UNION ALL SELECT 'benefits', person_key, nino, forename, surname, dob, postcode, address, uprn, sex
        FROM raw_benefits JOIN live_extract USING (extract_id)
        UNION ALL SELECT 'employment', person_key, nino, forename, surname, dob, postcode, address, uprn, sex
        FROM raw_employment JOIN live_extract USING (extract_id)
        UNION ALL SELECT 'interventions', person_ref, NULL, forename, surname, dob, postcode, address, uprn, sex
        FROM raw_interventions JOIN live_extract USING (extract_id))"""


def _same(con, a: str, b: str) -> bool:
    return con.execute(f"""SELECT (SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})),
                                  (SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}))""").fetchall()[0] == (0, 0)


def check_store(db: Path, period: str) -> dict:
    """The stored held rows and identities, and the rows in force and identities a read-only
    caller derives from them, against the references computed from every live raw row."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        set_rule_variables(con, period, load_rulebook(None), load_config(None))
        got = in_force.derive(con, persist=False)
        assert all(g["folded"] for g in got.values()), got  # the refresh recorded what it held
        for source in WINDOW_REFERENCE:
            con.execute(f"CREATE OR REPLACE TEMP TABLE want AS {window_reference(source)}")
            assert _same(con, "want", f"cur_{source}"), source
            con.execute(f"""CREATE OR REPLACE TEMP TABLE want_held AS
                SELECT r.* FROM raw_{source} r JOIN live_extract USING (extract_id)
                WHERE r.extract_id <> (SELECT max(extract_id) FROM live_extract WHERE source = '{source}')
                QUALIFY row_number() OVER (PARTITION BY {KEYS[source]}
                                           ORDER BY r.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1
                    AND NOT EXISTS (SELECT 1 FROM raw_{source} n WHERE n.extract_id = (
                        SELECT max(extract_id) FROM live_extract WHERE source = '{source}')
                        AND ({' AND '.join(f'n.{k.split(".")[1]} = {k}' for k in KEYS[source].split(', '))}))""")
            assert _same(con, "want_held", f"held_{source}"), source
        con.execute(f"CREATE OR REPLACE TEMP TABLE want_identity AS {IDENTITIES}")
        assert _same(con, "want_identity", "identity_raw")
        assert _same(con, "want_identity", in_force.IDENTITIES)
        counts = {s: con.execute(f"SELECT count(*) FROM held_{s}").fetchall()[0][0] for s in in_force.SOURCES}
        return {"derived": got, "held": counts}
    finally:
        con.close()


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("in_force") / "gen"
    generate(families=150, seed=23, start=PERIODS[0], end=PERIODS[-1], out=out, messy=True, truth=False)
    return out


def test_folded_or_derived_again_the_store_holds_what_every_live_delivery_gives(gen, tmp_path, monkeypatch):
    db, out = tmp_path / "store.duckdb", tmp_path / "out"
    seen: list[dict] = []
    real = in_force.derive
    monkeypatch.setattr(in_force, "derive", lambda c, persist=True: seen.append(real(c, persist)) or seen[-1])

    for period in PERIODS[:3]:
        refresh(period, gen / "deliveries" / period, db, out)
        checked = check_store(db, period)
    # the first refresh derived everything; the next ones read only the latest extract folded
    # before and the new one (none, for a file delivered again unchanged)
    assert not any(s["folded"] for s in seen[0].values())
    assert all(s["folded"] and s["extracts_read"] in (1, 2) for s in seen[2].values()), seen[2]
    assert seen[2]["asb"]["extracts_read"] == 2
    # several months' deliveries: some keys were not delivered again, so rows are held
    assert checked["held"]["attendance"] > 0 and checked["held"]["asb"] > 0

    # A corrected asb file for the latest period replaces the first: asb is derived again, the
    # other sources' extracts are unchanged (the same files are recognised, nothing new to fold).
    fix = tmp_path / "fix"
    fix.mkdir()
    lines = (gen / "deliveries" / PERIODS[2] / "asb.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    # three rows fewer: they were delivered the months before too, so those rows stay in force (held)
    # until the next delivery repeats them
    (fix / "asb.csv").write_text("".join(lines[:1] + lines[4:]), encoding="utf-8")
    refresh(PERIODS[2], fix, db, out)
    assert not seen[-1]["asb"]["folded"] and seen[-1]["asb"]["extracts_read"] == 3
    assert seen[-1]["attendance"]["folded"] and seen[-1]["attendance"]["extracts_read"] == 1
    check_store(db, PERIODS[2])

    refresh(PERIODS[3], gen / "deliveries" / PERIODS[3], db, out)
    assert all(s["folded"] for s in seen[-1].values())
    check_store(db, PERIODS[3])

    # A purge empties the carried tables; the next refresh derives them from what is left.
    purge(db, date(2015, 2, 1))
    refresh(PERIODS[3], gen / "deliveries" / PERIODS[3], db, out)
    assert not any(s["folded"] for s in seen[-1].values())
    check_store(db, PERIODS[3])


def test_a_failed_refresh_leaves_the_carried_tables_as_they_were(gen, tmp_path, monkeypatch):
    from pbr import refresh as refresh_module
    from store_dump import dump

    db, out = tmp_path / "store.duckdb", tmp_path / "out"
    for period in PERIODS[:2]:
        refresh(period, gen / "deliveries" / period, db, out)
    carried = [f"held_{s}" for s in in_force.SOURCES] + [in_force.IDENTITIES, in_force.STATE]
    before = {t: rows for t, rows in dump(db).items() if t in carried}

    def fail(run):
        raise RuntimeError("stop after linking")
    monkeypatch.setattr(refresh_module, "STEPS", [s if s[0] != "families" else ("families", fail)
                                                  for s in refresh_module.STEPS])
    with pytest.raises(RuntimeError):
        refresh(PERIODS[2], gen / "deliveries" / PERIODS[2], db, out)
    after = {t: rows for t, rows in dump(db).items() if t in carried}
    assert after == before and before[in_force.STATE]


def test_a_reader_of_a_store_not_yet_refreshed_by_this_version_derives_everything(gen, tmp_path):
    """`pbr linkage review` on a store of schema version 5 (no carried tables yet), read only."""
    db = tmp_path / "store.duckdb"
    for period in PERIODS[:2]:
        refresh(period, gen / "deliveries" / period, db, tmp_path / "out")
    con = duckdb.connect(str(db))
    for t in [f"held_{s}" for s in in_force.SOURCES] + [in_force.IDENTITIES, in_force.STATE]:
        con.execute(f"DROP TABLE {t}")
    con.execute("DELETE FROM schema_migrations WHERE version = 6")
    con.close()
    con = duckdb.connect(str(db), read_only=True)
    try:
        set_rule_variables(con, PERIODS[1], load_rulebook(None), load_config(None))
        got = in_force.derive(con, persist=False)
        assert not any(g["folded"] for g in got.values())
        con.execute(f"CREATE OR REPLACE TEMP TABLE want AS {window_reference('attendance')}")
        assert _same(con, "want", "cur_attendance")
        con.execute(f"CREATE OR REPLACE TEMP TABLE want_identity AS {IDENTITIES}")
        assert _same(con, "want_identity", "identity_raw")
        assert con.execute("SELECT count(*) FROM identity_raw").fetchall()[0][0] > 100
    finally:
        con.close()
