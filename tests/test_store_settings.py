"""The store connection's DuckDB memory cap (config `store.memory_limit`)."""

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
    assert limit(10_000_000, 24 * GIB) == 8 * GIB  # at most a third of the machine
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
