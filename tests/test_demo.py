"""`pbr demo` on the bundled sample: every period's cohort equals the sample's ground truth."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from e2e import pipeline_cohort, true_person_of, truth_cohort
from pbr.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_demo_runs_the_sample_and_matches_its_truth(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    periods = sorted(p.name for p in (SAMPLE / "deliveries").iterdir())
    assert len(periods) >= 3
    people = true_person_of(SAMPLE)
    for period in periods:
        assert f"{period}:" in result.output
        got = pipeline_cohort(tmp_path / "out" / period, people)
        assert got == truth_cohort(SAMPLE, period), period
    assert (tmp_path / "out" / periods[-1] / "claims.csv").exists()


def test_generate_command_writes_deliveries_and_truth(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--families", "20", "--seed", "5", "--from", "2026-01",
                                       "--to", "2026-02", "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "g" / "deliveries").iterdir()) == ["2026-01", "2026-02"]
    assert (tmp_path / "g" / "truth" / "cohort.csv").exists()
    bad = CliRunner().invoke(main, ["generate", "--from", "2026-03", "--to", "2026-02", "--out", str(tmp_path / "h")])
    assert bad.exit_code == 2
