"""Synthetic monthly deliveries with exact ground truth, for testing pbr end to end.

    from pbr.generate import generate, check_linkable
    summary = generate(families=2000, seed=1, start="2013-04", end="2016-03", out=Path("scratch/gen"))

writes out/deliveries/YYYY-MM/*.csv (the contract format) and out/truth/{people.csv, cohort.csv,
claims.csv, manifest.json}. The cohort truth comes from `reference.py`, a plain reading of rules.md
applied to the delivered rows, never from what the simulation meant to happen; the claims truth
(every item approved at audit) from `reference_claims.py`, built on it."""

from __future__ import annotations

import gc
import shutil
from collections import Counter
from pathlib import Path

from ..calendar import parse_period, periods_between
from ..rulebook import Rulebook, load_rulebook
from . import truth
from .deliveries import DeliveryWriter, Schedule, record_spans
from .linkage import check_linkable, prune_unlinkable
from .noise import Presenter
from .reference import Reference, reference_cohort
from .reference_claims import ReferenceClaims, ReferenceState
from .world import simulate

GENERATOR_VERSION = "1"

__all__ = ["GENERATOR_VERSION", "Reference", "check_linkable", "generate", "reference_cohort"]


def generate(families: int, seed: int, start: str, end: str, out: Path, messy: bool = False,
             rulebook: Rulebook | str | None = None, lookback_months: int = 24, truth: bool = True,
             shard: int = 0) -> dict:
    """Simulate `families` families, write one delivery per period from start to end (YYYY-MM,
    inclusive) and the truth; return a summary. out/deliveries and out/truth are replaced.
    truth=False (benchmarks) writes the deliveries and truth/people.csv only: the reference cohort
    and claims models are not run, so the summary has no cohort, families or claims figures.
    shard k > 0 simulates another authority of a region, with its own postcode areas and id
    ranges (`pbr.generate.region` puts shards together)."""
    parse_period(start), parse_period(end)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if families < 1 or lookback_months < 1:
        raise ValueError("families and lookback_months must be at least 1")
    rb = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook)
    # Millions of small long-lived objects: the cyclic collector would rescan them over and
    # over (superlinear time) and there are no cycles worth collecting until the end.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(families, seed, start, end, Path(out), messy, rb, lookback_months, truth, shard)
    finally:
        if was_enabled:
            gc.enable()


def _generate(families: int, seed: int, start: str, end: str, out: Path, messy: bool, rb: Rulebook,
              lookback_months: int, with_truth: bool = True, shard: int = 0) -> dict:
    for sub in ("deliveries", "truth"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    (out / "truth").mkdir(parents=True)

    periods = periods_between(start, end)
    world = simulate(families, seed, start, end, lookback_months, rb, shard)
    schedule = Schedule(periods, lookback_months)
    spans = record_spans(world, schedule)
    dropped = prune_unlinkable(world, schedule, spans)
    writer = DeliveryWriter(world, schedule, Presenter(world, messy, seed), out / "deliveries", spans)
    if not with_truth:
        return _deliveries_only(world, writer, periods, out, dropped, families, seed, start, end, messy,
                                lookback_months, rb)
    ref = Reference(writer.dobs, {dw.id: dw.postcode for dw in world.dwellings}, rb)

    cohort_rows: list[dict] = []
    claims_ref, claim_rows = ReferenceClaims(rb), []
    cohort, new, meeting, fams = {}, {}, {}, {}
    try:
        for i, period in enumerate(periods):
            rows, areas = writer.write(i)
            ref.deliver(period, rows, areas)
            now = ref.refresh(period)
            cohort_rows.extend(now)
            claim_rows.extend(claims_ref.refresh(period, now, ReferenceState(ref)))
            cohort[period] = len(now)
            new[period] = sum(r["identified_period"] == period for r in now)
            meeting[period] = sum(r["still_meets_criteria"] for r in now)
            fams[period] = len(ref.families)
    finally:
        writer.close()

    truth.write_people(out / "truth", writer.people_keys)
    truth.write_cohort(out / "truth", cohort_rows)
    truth.write_claims(out / "truth", claim_rows)
    entered = [r for r in cohort_rows if r["period"] == periods[-1]]
    summary = {
        "people": len(writer.ids),
        "households_simulated": world.households,
        "rows": dict(sorted(writer.rows_written.items())),
        "records_dropped_unlinkable": dropped,
        "families": fams,
        "family_ids": ref.family_ids,
        "cohort": cohort,
        "new_to_cohort": new,
        "still_meeting": meeting,
        "routes": dict(sorted(Counter(r["route"] for r in entered).items())),
        "claims": dict(sorted(Counter(r["claim_type"] for r in claim_rows).items())),
    }
    truth.write_manifest(out / "truth", {
        "generator_version": GENERATOR_VERSION,
        "parameters": {"families": families, "seed": seed, "start": start, "end": end, "messy": messy,
                       "lookback_months": lookback_months, "rulebook": rb.label, "rulebook_sha256": rb.sha256},
        "summary": summary,
    })
    return summary


def _deliveries_only(world, writer: DeliveryWriter, periods: list[str], out: Path, dropped, families: int,
                     seed: int, start: str, end: str, messy: bool, lookback_months: int, rb: Rulebook) -> dict:
    """The deliveries without the reference models (truth=False): each period's rows are written
    and dropped, so memory stays that of the simulated world."""
    try:
        for i in range(len(periods)):
            writer.write(i)
    finally:
        writer.close()
    truth.write_people(out / "truth", writer.people_keys)
    summary = {
        "people": len(writer.ids),
        "households_simulated": world.households,
        "rows": dict(sorted(writer.rows_written.items())),
        "records_dropped_unlinkable": dropped,
    }
    truth.write_manifest(out / "truth", {
        "generator_version": GENERATOR_VERSION,
        "parameters": {"families": families, "seed": seed, "start": start, "end": end, "messy": messy,
                       "lookback_months": lookback_months, "rulebook": rb.label, "rulebook_sha256": rb.sha256,
                       "truth": False},
        "summary": summary,
    })
    return summary
