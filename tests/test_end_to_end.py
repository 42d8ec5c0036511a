"""End to end: 2,000 clean synthetic families over 12+ months give exactly the ground truth."""

from __future__ import annotations

import pytest

from e2e import pipeline_cohort, run_all, true_person_of, truth_cohort

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    return run_all(tmp_path_factory.mktemp("e2e"), families=2000, seed=11, start="2025-01", end="2026-02")


def test_every_period_cohort_equals_ground_truth(clean_run):
    gen = clean_run["gen"]
    people = true_person_of(gen)
    periods = sorted(k for k in clean_run if k[:2] == "20")
    assert len(periods) >= 12
    total = 0
    for period in periods:
        got = pipeline_cohort(clean_run[period], people)
        want = truth_cohort(gen, period)
        assert want, f"the ground truth has no cohort in {period}: the generator exercises nothing"
        missing, extra = want - got, got - want
        assert not missing and not extra, (
            f"{period}: {sum(missing.values())} truth rows missing, {sum(extra.values())} unexpected; "
            f"e.g. missing {list(missing)[:2]} extra {list(extra)[:2]}")
        total += sum(want.values())
    assert total > 0
