"""How the CLI fails: a known error prints one plain line and exits 2; anything unexpected prints
only its type (no message: it might quote data) and exits 1; never a traceback."""

from __future__ import annotations

from click.testing import CliRunner

import pbr.purge
from pbr.cli import main
from pbr.errors import InputFileError


def test_a_known_error_is_one_plain_line_with_exit_2(monkeypatch, tmp_path):
    def boom(*_a, **_k):
        raise InputFileError("asb.csv", "not a valid UK postcode [expect_column_values_to_match_regex]",
                             line=7, column="postcode")
    monkeypatch.setattr(pbr.purge, "purge", boom)
    r = CliRunner().invoke(main, ["purge", "--before", "2025-01-01", "--db", str(tmp_path / "x.duckdb")])
    assert r.exit_code == 2
    # The square brackets print as written (not taken for rich markup).
    assert "error: asb.csv, line 7, column 'postcode': not a valid UK postcode " \
           "[expect_column_values_to_match_regex]" in r.output
    assert "Traceback" not in r.output


def test_an_unexpected_error_exits_1_without_its_message(monkeypatch, tmp_path):
    def boom(*_a, **_k):
        raise RuntimeError("Zebedee Quxworthy, 1931-07-13")
    monkeypatch.setattr(pbr.purge, "purge", boom)
    monkeypatch.delenv("PBR_DEBUG", raising=False)
    r = CliRunner().invoke(main, ["purge", "--before", "2025-01-01", "--db", str(tmp_path / "x.duckdb")])
    assert r.exit_code == 1
    assert "internal error: RuntimeError" in r.output
    assert "Zebedee" not in r.output and "Traceback" not in r.output


def test_store_errors_are_plain(tmp_path):
    junk = tmp_path / "pbr.duckdb"
    junk.write_bytes(b"this is not a database" * 1000)
    r = CliRunner().invoke(main, ["claims", "list", "--db", str(junk)])
    assert r.exit_code == 2 and "cannot open store" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["claims", "list", "--db", str(tmp_path / "missing.duckdb")])
    assert r.exit_code == 2 and "store not found" in r.output
    r = CliRunner().invoke(main, ["--wait", "-1", "claims", "list"])
    assert r.exit_code == 2 and "--wait" in r.output
    r = CliRunner().invoke(main, ["purge", "--before", "2025-01-01", "--db", str(tmp_path / "missing.duckdb")])
    assert r.exit_code == 2 and "store not found" in r.output
