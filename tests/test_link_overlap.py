"""The refresh forms dwellings (address clusters) on the store's connection while Splink scores on
its own (probabilistic_links._scored_while): both run, at once, and either one's failure is raised;
with the linker off the dwellings are formed all the same."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from pbr.generate import generate
from pbr.probabilistic_links import _scored_while
from pbr.refresh import refresh


def test_the_work_runs_while_the_scoring_does():
    started, worked = threading.Event(), threading.Event()

    def score():
        started.set()
        assert worked.wait(10), "the work did not run while scoring"
        return "pairs"

    def work():
        assert started.wait(10), "scoring did not start before the work finished"
        worked.set()

    assert _scored_while(score, work) == "pairs"
    assert _scored_while(lambda: "alone", None) == "alone"


def test_a_failure_on_either_side_is_raised_once_both_are_done():
    finished = []

    def slow_score():
        threading.Event().wait(0.2)
        finished.append("score")
        return "pairs"

    def failing_work():
        raise ValueError("work failed")

    with pytest.raises(ValueError, match="work failed"):
        _scored_while(slow_score, failing_work)
    assert finished == ["score"]  # the scoring thread was waited for

    def failing_score():
        raise RuntimeError("scoring failed")

    done = []
    with pytest.raises(RuntimeError, match="scoring failed"):
        _scored_while(failing_score, lambda: done.append("work"))
    assert done == ["work"]


@pytest.mark.parametrize("enabled", [True, False])
def test_households_are_formed_with_the_linker_on_or_off(tmp_path: Path, enabled):
    gen = tmp_path / "gen"
    generate(families=30, seed=5, start="2015-01", end="2015-01", out=gen, messy=False, truth=False)
    config = tmp_path / "pbr.yaml"
    config.write_text(f"linkage:\n  enabled: {'true' if enabled else 'false'}\n", encoding="utf-8")
    db = tmp_path / "store.duckdb"
    refresh("2015-01", gen / "deliveries" / "2015-01", db, tmp_path / "out", config_path=config)
    con = duckdb.connect(str(db), read_only=True)
    try:
        n, dwellings = con.execute("SELECT count(*), count(DISTINCT address_id) FROM family_status").fetchone()
    finally:
        con.close()
    assert n > 0 and dwellings > 0
