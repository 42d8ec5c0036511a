"""Linkage quality on messy synthetic data: person-pair precision/recall and cohort family
precision/recall against the generator's ground truth.

    python benchmarks/bench_linkage.py --families 2000 [--months 14] [--seed 7] [--clean] [--no-probabilistic]

Generates `pbr generate --messy` data under .bench/linkage-N, runs every monthly refresh in order
and prints the figures (pairs over every source record key the store linked; cohort rows over the
last period, a row matching when its members (as true people), route, flags and identified period
all equal the truth's)."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from e2e import pipeline_cohort, true_person_of, truth_cohort  # noqa: E402

from pbr import calendar as cal  # noqa: E402
from pbr.generate import generate  # noqa: E402
from pbr.refresh import refresh  # noqa: E402


def pairs(groups: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in groups.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--months", type=int, default=14)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--clean", action="store_true", help="clean data instead of messy")
    ap.add_argument("--no-probabilistic", action="store_true", help="deterministic linkage only")
    a = ap.parse_args()
    root = Path(".bench") / f"linkage-{a.families}{'-clean' if a.clean else ''}"
    if root.exists():
        shutil.rmtree(root)
    periods = cal.periods_between("2025-01", "2030-12")[: a.months]
    t0 = time.monotonic()
    generate(families=a.families, seed=a.seed, start=periods[0], end=periods[-1], out=root / "gen", messy=not a.clean)
    print(f"generated {a.families} families, {len(periods)} months, messy={not a.clean}: {time.monotonic() - t0:.1f}s")
    config = None
    if a.no_probabilistic:
        config = root / "config.yaml"
        config.write_text("linkage:\n  enabled: false\n", encoding="utf-8")
    db, out = root / "pbr.duckdb", root / "out"
    times = []
    for period in periods:
        t = time.monotonic()
        result = refresh(period, root / "gen" / "deliveries" / period, db, out, config_path=config)
        times.append(time.monotonic() - t)
    print(f"refreshes: mean {sum(times) / len(times):.1f}s, last {times[-1]:.1f}s, total {sum(times):.0f}s")
    truth = true_person_of(root / "gen")
    con = duckdb.connect(str(db), read_only=True)
    xwalk = con.execute("SELECT source, source_key, person_id FROM person_xwalk").fetchall()
    con.close()
    by_pipeline, by_truth, by_both = Counter(), Counter(), Counter()
    for s, k, pid in xwalk:
        t = truth[(s, k)]
        by_pipeline[pid] += 1
        by_truth[t] += 1
        by_both[(pid, t)] += 1
    tp, predicted, actual = pairs(by_both), pairs(by_pipeline), pairs(by_truth)
    print(f"person pairs: precision {tp / predicted if predicted else 1:.4f} recall {tp / actual if actual else 1:.4f} "
          f"(true pairs {actual}, predicted {predicted}, keys {len(xwalk)}, people {len(by_pipeline)} vs true {len(by_truth)})")
    exact = sum(pipeline_cohort(out / p, truth) == truth_cohort(root / "gen", p) for p in periods)
    print(f"periods whose cohort equals the truth exactly: {exact} of {len(periods)}")
    last = result.out_dir
    got = pipeline_cohort(last, truth)
    want = truth_cohort(root / "gen", periods[-1])
    hit = sum((got & want).values())
    print(f"cohort families ({periods[-1]}): precision {hit / max(1, sum(got.values())):.4f} "
          f"recall {hit / max(1, sum(want.values())):.4f} (pipeline {sum(got.values())}, truth {sum(want.values())})")
    g2, w2 = Counter(r[-1] for r in got.elements()), Counter(r[-1] for r in want.elements())
    h2 = sum((g2 & w2).values())
    print(f"cohort families by members only: precision {h2 / max(1, sum(g2.values())):.4f} recall {h2 / max(1, sum(w2.values())):.4f}")


if __name__ == "__main__":
    main()
