"""The refresh finds dwellings while Splink scores people (probabilistic_links.predict_alongside):
the two run at once, and a failure of either is raised only once both have stopped."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

from pbr import probabilistic_links as pl_links

OBS = pa.table({"unique_id": [1, 2]})
PAIRS = pa.table({"unique_id_l": [1], "unique_id_r": [2], "match_probability": [0.99], "match_weight": [7.0]})


def test_scoring_and_alongside_overlap(monkeypatch):
    scoring_started, alongside_ran = threading.Event(), threading.Event()
    seen = {}

    def fake_predict(obs, floor, memory_limit=None):
        seen["thread"] = threading.current_thread().name
        scoring_started.set()
        # Only a concurrent caller can set this while scoring is under way.
        seen["overlapped"] = alongside_ran.wait(10)
        return PAIRS

    def alongside():
        assert scoring_started.wait(10), "scoring did not start while the alongside work ran"
        alongside_ran.set()

    monkeypatch.setattr(pl_links, "predict", fake_predict)
    assert pl_links.predict_alongside(OBS, 0.5, 1 << 20, alongside) is PAIRS
    assert seen["overlapped"] is True
    assert seen["thread"].startswith("pbr-splink")


def test_alongside_failure_waits_for_scoring(monkeypatch):
    finished = threading.Event()

    def slow_predict(obs, floor, memory_limit=None):
        threading.Event().wait(0.3)
        finished.set()
        return PAIRS

    def failing():
        raise RuntimeError("address components failed")

    monkeypatch.setattr(pl_links, "predict", slow_predict)
    with pytest.raises(RuntimeError, match="address components failed"):
        pl_links.predict_alongside(OBS, 0.5, None, failing)
    assert finished.is_set()  # nothing left running once the refresh fails


def test_scoring_failure_raised_after_alongside(monkeypatch):
    ran = []

    def broken_predict(obs, floor, memory_limit=None):
        raise MemoryError("splink out of memory")

    monkeypatch.setattr(pl_links, "predict", broken_predict)
    with pytest.raises(MemoryError, match="splink out of memory"):
        pl_links.predict_alongside(OBS, 0.5, None, lambda: ran.append(True))
    assert ran == [True]


def test_without_alongside_scores_in_this_thread(monkeypatch):
    threads = []
    monkeypatch.setattr(pl_links, "predict",
                        lambda obs, floor, memory_limit=None: threads.append(threading.current_thread()) or PAIRS)
    assert pl_links.predict_alongside(OBS, 0.5, None, None) is PAIRS
    assert threads == [threading.current_thread()]
