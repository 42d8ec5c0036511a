"""The pbr command line: help on every command, and `pbr refresh` exit codes (0 ok, 2 bad input
or usage) with messages that name the file and never hold personal data."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from builders import asb, attendance, benefit, person, write_delivery
from pbr.cli import main
from pbr.errors import PbrError
from pbr.refresh import refresh

SURNAME = "Quillfeatherby"
MUM = person("Ann", SURNAME, "1985-03-02")
KID = person("Bob", SURNAME, "2012-05-05")


def good_delivery(folder):
    return write_delivery(
        folder,
        benefits=[benefit(MUM, "AB123456C", "jsa", "2025-06-01")],
        attendance=[attendance(KID, "K100", "2025/26", "autumn", possible=100, unauthorised=20)],
        asb=[asb(KID, "Y1", "E1", "2025-11-10", "asbo")],
    )


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_main_help():
    r = invoke("--help")
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output
    for name in main.commands:
        assert name in r.output


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help(command):
    r = invoke(command, "--help")
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output and command in r.output


def test_refresh_help_documents_the_options():
    r = invoke("refresh", "--help")
    for option in ("--period", "--extracts", "--db", "--out", "--rulebook", "--config"):
        assert option in r.output


def test_refresh_ok(tmp_path):
    folder = good_delivery(tmp_path / "in")
    r = invoke("refresh", "--period", "2026-01", "--extracts", folder, "--db", tmp_path / "s.duckdb",
               "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    out = tmp_path / "out" / "2026-01"
    for name in ("cohort.csv", "family_members.csv", "quarantine.csv", "cohort_evidence.csv", "summary.json"):
        assert (out / name).is_file(), name
    with open(out / "cohort.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["route"] == "three_criteria"
    assert SURNAME not in r.output


def test_refresh_bad_file_exits_2_naming_the_file(tmp_path):
    folder = good_delivery(tmp_path / "in")
    (folder / "asb.csv").rename(folder / "attendence.csv")
    r = invoke("refresh", "--period", "2026-01", "--extracts", folder, "--db", tmp_path / "s.duckdb",
               "--out", tmp_path / "out")
    assert r.exit_code == 2, r.output
    assert "attendence.csv" in r.output
    assert not (tmp_path / "s.duckdb").exists()


def test_refresh_missing_column_exits_2_naming_the_file(tmp_path):
    folder = good_delivery(tmp_path / "in")
    p = folder / "benefits.csv"
    with open(p, newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(p, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[c for c in rows[0] if c != "benefit"], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    r = invoke("refresh", "--period", "2026-01", "--extracts", folder, "--db", tmp_path / "s.duckdb",
               "--out", tmp_path / "out")
    assert r.exit_code == 2, r.output
    assert "benefits.csv" in r.output and "benefit" in r.output
    assert SURNAME not in r.output


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "January"])
def test_refresh_bad_period_exits_2(tmp_path, period):
    folder = good_delivery(tmp_path / "in")
    r = invoke("refresh", "--period", period, "--extracts", folder, "--db", tmp_path / "s.duckdb",
               "--out", tmp_path / "out")
    assert r.exit_code == 2, r.output
    assert "period" in r.output.lower()


def test_refresh_api_bad_period_is_a_pbr_error(tmp_path):
    with pytest.raises(PbrError) as ei:
        refresh("2026-13", None, tmp_path / "s.duckdb", tmp_path / "out")
    assert ei.value.exit_code == 2 and "2026-13" in str(ei.value)
    assert not (tmp_path / "s.duckdb").exists()


def test_refresh_without_period_is_a_usage_error(tmp_path):
    r = invoke("refresh", "--db", tmp_path / "s.duckdb")
    assert r.exit_code == 2
    assert "--period" in r.output


def test_refresh_of_an_earlier_period_exits_2(tmp_path):
    folder = good_delivery(tmp_path / "in")
    common = ["--extracts", folder, "--db", tmp_path / "s.duckdb", "--out", tmp_path / "out"]
    assert invoke("refresh", "--period", "2026-02", *common).exit_code == 0
    r = invoke("refresh", "--period", "2026-01", *common)
    assert r.exit_code == 2, r.output
    assert "2026-02" in r.output
