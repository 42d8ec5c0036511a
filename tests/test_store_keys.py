"""Schema version 5: the per-period history tables and the person crosswalk hold no primary key
(their indexes were ~0.6 s of every commit at authority scale); the refresh checks their keys on
the rows it writes instead, and a second row for one key is refused with the store left as it was."""

from __future__ import annotations

import duckdb
import pytest

from pbr.errors import PbrError
from pbr.sqlfiles import migrations, statements
from pbr.store import check_unique, migrate
from test_identification import CRIME, EDU, WORK, merge

UNKEYED = {"person_xwalk": ("source", "source_key"), "family_snapshot": ("period", "person_id"),
           "family_status": ("period", "family_id"), "family_result": ("period", "family_id")}


def primary_keys(con) -> dict[str, list[str]]:
    return {t: cols for t, cols in con.execute(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
    ).fetchall()}


def test_a_version_4_store_keeps_every_row_and_column_rule_but_the_four_keys(tmp_path):
    con = duckdb.connect(str(tmp_path / "v4.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for version, name, sql in migrations():
        if version <= 4:
            for stmt in statements(sql):
                con.execute(stmt)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    assert set(UNKEYED) <= set(primary_keys(con))
    con.execute("INSERT INTO person_xwalk (source, source_key, person_id, first_period) VALUES "
                "('asb', 'Y1', 'P0000001', '2026-01'), ('asb', 'Y2', 'P0000002', '2026-01')")
    con.execute("INSERT INTO family_snapshot VALUES ('2026-01', 'F0000001', 'P0000001', false), "
                "('2026-01', 'F0000001', 'P0000002', true)")
    before = {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in UNKEYED}
    columns = {t: con.execute("SELECT column_name, data_type, is_nullable, column_default FROM "
                              "information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                              [t]).fetchall() for t in UNKEYED}
    assert migrate(con) >= 5
    keys = primary_keys(con)
    assert not set(UNKEYED) & set(keys)
    assert keys["cohort"] == ["family_id"] and keys["claim_slot"] == ["family_id", "slot"]  # the others stay
    for t in UNKEYED:
        assert con.execute(f"SELECT * FROM {t}").fetchall() == before[t]
        assert con.execute("SELECT column_name, data_type, is_nullable, column_default FROM "
                           "information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                           [t]).fetchall() == columns[t]
    with pytest.raises(duckdb.ConstraintException):  # NOT NULL still holds
        con.execute("INSERT INTO family_snapshot VALUES ('2026-02', 'F0000001', NULL, false)")
    con.execute("INSERT INTO person_xwalk (source, source_key, person_id, first_period) VALUES ('asb', 'Y3', 'P3', '2026-02')")
    assert con.execute("SELECT match_probability FROM person_xwalk WHERE source_key = 'Y3'").fetchall() == [(1.0,)]
    con.close()


def test_check_unique_refuses_a_repeated_key_of_the_period_naming_no_value(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE TABLE family_snapshot (period VARCHAR, family_id VARCHAR, person_id VARCHAR, is_child BOOLEAN)")
    con.execute("INSERT INTO family_snapshot VALUES ('2026-01', 'F1', 'P1', false), ('2026-02', 'F1', 'P1', false), "
                "('2026-02', 'F2', 'P2', true)")
    check_unique(con, "family_snapshot", ("period", "person_id"), "2026-02")
    check_unique(con, "family_snapshot", ("period", "person_id"))
    con.execute("INSERT INTO family_snapshot VALUES ('2026-02', 'F9', 'P2', false), ('2026-02', 'F8', 'P2', false)")
    check_unique(con, "family_snapshot", ("period", "person_id"), "2026-01")  # another period's rows only
    for period in ("2026-02", None):
        with pytest.raises(PbrError) as e:
            check_unique(con, "family_snapshot", ("period", "person_id"), period)
        assert "3 rows" in str(e.value) and "1 key(s)" in str(e.value)
        assert "P2" not in str(e.value) and "F9" not in str(e.value)
    con.execute("SELECT 1").fetchall()  # the connection is free for more work (no unfinished result)


def test_a_refresh_writing_a_second_row_for_one_key_is_refused_and_the_store_is_unchanged(pipeline, monkeypatch):
    import pbr.refresh as refresh_module

    rows = merge(WORK, EDU, CRIME)
    pipeline.refresh("2026-01", **rows)
    before = pipeline.table_counts()
    real = refresh_module.run_sql

    def run_sql(con, relative):
        real(con, relative)
        if relative == "refresh/60_cohort.sql":  # a rule bug: one family's criteria written twice
            con.execute("INSERT INTO family_status SELECT * FROM family_status WHERE period = '2026-02' LIMIT 1")

    monkeypatch.setattr(refresh_module, "run_sql", run_sql)
    with pytest.raises(PbrError, match="family_status would hold 2 rows for period 2026-02"):
        pipeline.refresh("2026-02", **rows)
    assert pipeline.table_counts() == before
    assert not (pipeline.out / "2026-02").exists()
    monkeypatch.setattr(refresh_module, "run_sql", real)
    assert pipeline.refresh("2026-02", **rows).summary["families"] >= 1
