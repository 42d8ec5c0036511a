"""The store connection's DuckDB memory cap (config `store.memory_limit`)."""

import contextlib

import pytest
from test_validation import P, good_row

from pbr import store_settings
from pbr.config import load_config
from pbr.errors import ConfigError


def test_memory_limit_parsed_and_validated(tmp_path):
    p = tmp_path / "c.yaml"
    assert load_config(None).store.memory_limit is None
    p.write_text("store:\n  memory_limit: 1.5GB\n")
    assert load_config(p).store.memory_limit == "1.5GB"
    p.write_text("store:\n  memory_limit: auto\n")
    assert load_config(p).store.memory_limit is None
    for bad in ["lots", "1.5", "1GB; DROP TABLE x", "5"]:
        p.write_text(f"store:\n  memory_limit: '{bad}'\n")
        with pytest.raises(ConfigError, match="store.memory_limit"):
            load_config(p)
    p.write_text("store:\n  threads: 2\n")
    with pytest.raises(ConfigError, match="unknown store settings"):
        load_config(p)


def test_memory_limit_applied_to_the_refresh_connection(pipeline, monkeypatch):
    seen = []
    real = store_settings.apply

    def spy(con, config, **kw):
        before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        real(con, config, **kw)
        seen.append((before, con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))

    monkeypatch.setattr(store_settings, "apply", spy)
    pipeline.refresh(P, asb=[good_row("asb", i) for i in range(3)], config={"store": {"memory_limit": "700MB"}})
    assert len(seen) == 1
    before, after = seen[0]
    assert after != before
    assert after.replace(" ", "").upper() in {"667.5MIB", "700.0MB", "700MB"}, after


GIB = 1 << 30


def test_default_cap_follows_the_delivery_within_a_share_of_the_machine():
    limit = store_settings.default_memory_limit
    assert limit(0, 24 * GIB) == limit(150, 24 * GIB) == store_settings.FLOOR == GIB  # small: the floor
    assert limit(3_000_000, 24 * GIB) == 3_000_000 * store_settings.PER_ROW  # grows with the rows read
    assert limit(3_000_000, None) == 3_000_000 * store_settings.PER_ROW
    assert limit(10_000_000, 24 * GIB) == 6 * GIB  # at most a quarter of the machine
    assert limit(10_000_000, 2 * GIB) == GIB  # never below the floor, however small the machine
    assert limit(100, GIB // 2) == GIB


def test_default_cap_applied_to_the_refresh_connection_and_a_small_refresh_runs(pipeline, monkeypatch):
    seen = []
    real = store_settings.apply

    def spy(con, config, **kw):
        real(con, config, **kw)
        seen.append((kw, con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))

    monkeypatch.setattr(store_settings, "apply", spy)
    pipeline.refresh(P, asb=[good_row("asb", i) for i in range(3)])  # no store section: the default
    assert len(seen) == 1
    kw, after = seen[0]
    assert kw == {"rows": 3}
    assert after.replace(" ", "") in {"1.0GiB", "1024.0MiB", "1073.7MB"}, after


MIB = 1 << 20


def test_current_limit_reads_what_was_set():
    import duckdb
    con = duckdb.connect()
    for text, want in [("700MB", 700 * 1000**2), ("1GiB", GIB), ("300MiB", 300 * MIB)]:
        con.execute(f"SET memory_limit = '{text}'")
        got = store_settings.current_limit(con)
        assert abs(got - want) <= want * 0.002, (text, got)  # DuckDB reports one decimal place


def test_lent_spills_the_idle_store_and_gives_its_cap_back(tmp_path):
    import duckdb
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    con.execute("SET memory_limit = '1GiB'")
    con.execute(f"SET temp_directory = '{tmp_path / 'tmp'}'")
    con.execute("CREATE TEMP TABLE t AS SELECT range AS a, md5(range::VARCHAR) AS b FROM range(3000000)")
    before = con.execute("SELECT sum(a), max(b) FROM t").fetchall()

    def used():
        return con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]

    assert used() > 100 * MIB
    with store_settings.lent(con, 64 * MIB) as lowered:
        assert lowered
        assert store_settings.current_limit(con) == 64 * MIB
        assert used() <= 64 * MIB  # the temporary table's blocks went out to the temp directory
    assert abs(store_settings.current_limit(con) - GIB) <= GIB * 0.002
    assert con.execute("SELECT sum(a), max(b) FROM t").fetchall() == before  # nothing lost
    with store_settings.lent(con, 2 * GIB) as lowered:  # not below its cap: nothing to lend
        assert not lowered
    assert abs(store_settings.current_limit(con) - GIB) <= GIB * 0.002


def test_splink_memory_grows_with_the_observations_within_half_the_budget():
    from pbr.probabilistic import SPLINK_MEMORY_FLOOR, SPLINK_MEMORY_PER_OBS, splink_memory_limit
    assert splink_memory_limit(10, 8 * GIB) == SPLINK_MEMORY_FLOOR
    assert splink_memory_limit(3_000_000, 8 * GIB) == 3_000_000 * SPLINK_MEMORY_PER_OBS
    assert splink_memory_limit(3_000_000, None) == 3_000_000 * SPLINK_MEMORY_PER_OBS
    assert splink_memory_limit(20_000_000, 8 * GIB) == 4 * GIB  # at most half the store's budget
    assert splink_memory_limit(20_000_000, GIB // 2) == SPLINK_MEMORY_FLOOR  # never below the floor


def test_refresh_lends_splink_part_of_the_store_budget_and_takes_it_back(pipeline, monkeypatch):
    from pbr import probabilistic_links
    seen = {}
    real_predict, real_lent = probabilistic_links.predict, store_settings.lent

    def predict(obs, threshold, memory_limit=None, **kw):
        seen["splink"], seen["obs"] = memory_limit, obs.num_rows
        return real_predict(obs, threshold, memory_limit=memory_limit, **kw)

    def lent(con, keep):
        seen["budget"], seen["keep"] = store_settings.current_limit(con), keep
        with real_lent(con, keep) as lowered:
            seen["during"] = store_settings.current_limit(con)
            yield lowered
        seen["after"] = store_settings.current_limit(con)

    monkeypatch.setattr(probabilistic_links, "predict", predict)
    monkeypatch.setattr(store_settings, "lent", contextlib.contextmanager(lent))
    pipeline.refresh(P, asb=[good_row("asb", i) for i in range(3)])
    from pbr.probabilistic import splink_memory_limit
    assert seen["obs"] > 0
    assert seen["splink"] == splink_memory_limit(seen["obs"], seen["budget"])
    assert seen["keep"] + seen["splink"] == seen["budget"]
    assert seen["during"] == seen["keep"] >> 20 << 20
    assert seen["after"] == seen["budget"]
