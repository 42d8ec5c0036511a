"""A region's monthly deliveries: several authorities simulated one at a time and delivered as one.

    from pbr.generate.region import generate_region
    summary = generate_region(authorities=10, families=80_000, seed=7, start="2015-02", end="2015-04",
                              out=Path(".bench/region/gen"), workers=2)

The generator simulates its whole world in memory (about 2 GB at 80,000 families), so a region of
ten times that is built as ten authorities (`generate(..., shard=k)`: own postcode areas and id
ranges, seed + k), each simulated, written and dropped before the next, in `workers` processes.
Their files are appended, in authority order, into out/deliveries/YYYY-MM/<source>.csv (one
header). Authority 0 is exactly `generate(families, seed, ...)`, so a region's first authority is
the authority benchmark's data. Only deliveries and truth/people.csv (true ids prefixed with the
authority, "3/P000123", from the second on) are written: as with truth=False, no reference model
runs."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import GENERATOR_VERSION, generate
from .world import SHARD_AREAS


def _one(k: int, families: int, seed: int, start: str, end: str, out: str, messy: bool, lookback_months: int) -> dict:
    return generate(families=families, seed=seed + k, start=start, end=end, out=Path(out), messy=messy,
                    lookback_months=lookback_months, truth=False, shard=k)


def generate_region(authorities: int, families: int, seed: int, start: str, end: str, out: Path,
                    messy: bool = True, lookback_months: int = 24, workers: int = 1) -> dict:
    """Simulate `authorities` authorities of `families` families each and write their deliveries
    together; return a summary (people and rows summed, per authority too)."""
    if not 1 <= authorities <= len(SHARD_AREAS):
        raise ValueError(f"authorities must be 1..{len(SHARD_AREAS)}")
    out = Path(out)
    for sub in ("deliveries", "truth", ".shards"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "truth").mkdir(parents=True)
    shards = out / ".shards"
    people_rows, per_authority = 0, []
    rows: dict[str, int] = {}
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: nothing inherited
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx) as pool, \
            open(out / "truth" / "people.csv", "w", encoding="utf-8", newline="") as people:
        futures = [pool.submit(_one, k, families, seed, start, end, str(shards / str(k)), messy, lookback_months)
                   for k in range(authorities)]
        for k, fut in enumerate(futures):  # merged in authority order as each finishes
            summary = fut.result()
            shard = shards / str(k)
            _append_deliveries(shard / "deliveries", out / "deliveries")
            people_rows += _append_people(shard / "truth" / "people.csv", people, k)
            for source, n in summary["rows"].items():
                rows[source] = rows.get(source, 0) + n
            per_authority.append({"authority": k, "people": summary["people"], "rows": summary["rows"]})
            shutil.rmtree(shard)
    shards.rmdir()
    summary = {"people": sum(a["people"] for a in per_authority), "authorities": authorities,
               "rows": dict(sorted(rows.items())), "per_authority": per_authority}
    (out / "truth" / "manifest.json").write_text(json.dumps({
        "generator_version": GENERATOR_VERSION,
        "parameters": {"authorities": authorities, "families_per_authority": families, "seed": seed,
                       "start": start, "end": end, "messy": messy, "lookback_months": lookback_months,
                       "truth": False},
        "summary": summary}, indent=2) + "\n")
    return summary


def _append_deliveries(src: Path, dst: Path) -> None:
    for period in sorted(p for p in src.iterdir() if p.is_dir()):
        (dst / period.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(period.iterdir()):
            target = dst / period.name / f.name
            with open(f, "rb") as fin:
                header = fin.readline()
                with open(target, "ab") as fout:
                    if fout.tell() == 0:
                        fout.write(header)
                    shutil.copyfileobj(fin, fout, 1 << 20)


def _append_people(src: Path, people, k: int) -> int:
    n = 0
    with open(src, encoding="utf-8", newline="") as fh:
        header = fh.readline()
        if k == 0:
            people.write(header)
        for line in fh:
            people.write(line if k == 0 else f"{k}/{line}")
            n += 1
    return n
