"""apply_delivery(release_inputs=True) (what `pbr refresh` uses) empties the parsed files' frames
once they are loaded, and gives the same results as keeping them."""

from __future__ import annotations

from pbr.config import load_config
from pbr.generate import generate
from pbr.refresh import apply_delivery, read_delivery
from pbr.rulebook import load_rulebook


def test_released_frames_are_emptied_and_results_unchanged(tmp_path):
    generate(families=40, seed=11, start="2015-03", end="2015-03", out=tmp_path / "gen", messy=True, truth=False)
    folder = tmp_path / "gen" / "deliveries" / "2015-03"
    rb, config = load_rulebook(None), load_config(None)
    outputs = {}
    for release in (False, True):
        parsed = read_delivery(folder, config, "2015-03")
        heights = [p.rows.height for p in parsed]
        assert sum(heights) > 0
        res = apply_delivery("2015-03", parsed, tmp_path / f"{release}.duckdb", tmp_path / f"out-{release}", rb, config,
                             origin=str(folder), release_inputs=release)
        if release:
            assert all(p.rows.height == 0 and p.typed_file is None for p in parsed)
        else:
            assert [p.rows.height for p in parsed] == heights
        summary = {k: v for k, v in res.summary.items() if k not in ("files",)}
        files = sorted((res.out_dir / name).read_bytes() for name in ("cohort.csv", "family_members.csv", "quarantine.csv"))
        outputs[release] = (summary, files, [f["rows_loaded"] for f in res.summary["files"]])
    assert outputs[True] == outputs[False]
