"""What a refresh keeps in memory while it reads a delivery (issue 9, peak memory): a file read for
a period keeps its loadable rows and quarantine, not its text and typed frames nor its bytes; a
file read without one (the Prefect flow's read tasks) keeps what it needs to be validated again."""

from __future__ import annotations

import pytest
from test_validation import P, good_row

from builders import write_delivery
from pbr.config import load_config
from pbr.errors import PbrError
from pbr.ingest import discover, parse_file
from pbr.ingest.parse import for_period
from pbr.refresh import read_delivery, release_frames


def test_parsed_for_a_period_keeps_rows_not_frames(tmp_path):
    folder = write_delivery(tmp_path / "d", asb=[good_row("asb", i) for i in range(3)])
    (f,) = discover(folder)
    p = parse_file(f, None, P)
    assert p.rows.height == 3 and p.typed_file is None
    assert for_period(p, P) is p
    # Its frames are gone: it cannot be validated for another period (and does not pretend to be).
    with pytest.raises(PbrError, match="validated for period 2026-01, not 2026-02"):
        for_period(p, "2026-02")


def test_parsed_without_a_period_is_validated_again_for_one(tmp_path):
    folder = write_delivery(tmp_path / "d", asb=[good_row("asb", i) for i in range(3)])
    (f,) = discover(folder)
    p = parse_file(f)
    assert p.typed_file is not None
    again = for_period(p, P)
    assert again is not p and again.period == P and again.rows.height == 3


def test_read_delivery_drops_each_files_bytes_and_keeps_its_size(tmp_path):
    folder = write_delivery(tmp_path / "d", asb=[good_row("asb", i) for i in range(3)],
                            interventions=[good_row("interventions", i) for i in range(2)])
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    parsed = read_delivery(folder, load_config(None), P)
    assert {p.file.name: p.file.size for p in parsed} == sizes
    assert all(p.file.data == b"" for p in parsed)
    assert [p.rows.height for p in parsed] == [3, 2]


def test_release_frames_drops_the_bytes_of_a_file_read_without_a_period(tmp_path):
    folder = write_delivery(tmp_path / "d", asb=[good_row("asb", i) for i in range(3)])
    (f,) = discover(folder)
    size = f.size
    p = parse_file(f)
    assert p.file.data
    release_frames([p])
    assert p.file.data == b"" and p.file.size == size and p.rows.height == 0 and p.typed_file is None
