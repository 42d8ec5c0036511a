"""generate(truth=False), for benchmarks: the same deliveries without the reference models."""

from __future__ import annotations

from pbr.generate import generate


def test_truth_false_writes_the_same_deliveries_without_reference_truth(tmp_path):
    full = generate(families=60, seed=5, start="2015-01", end="2015-03", out=tmp_path / "a", messy=True)
    lean = generate(families=60, seed=5, start="2015-01", end="2015-03", out=tmp_path / "b", messy=True, truth=False)
    a, b = tmp_path / "a" / "deliveries", tmp_path / "b" / "deliveries"
    files = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*.csv"))
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert lean["people"] == full["people"] and lean["rows"] == full["rows"]
    assert "cohort" in full and "cohort" not in lean
    assert (tmp_path / "a" / "truth" / "cohort.csv").exists()
    assert not (tmp_path / "b" / "truth" / "cohort.csv").exists()
    assert (tmp_path / "b" / "truth" / "people.csv").read_bytes() == (tmp_path / "a" / "truth" / "people.csv").read_bytes()
