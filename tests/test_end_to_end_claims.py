"""End to end, claims: 2,000 clean synthetic families over 24 months, every refresh run in order
with the real pipeline; each period's claim batch equals the generator's claims ground truth
(truth/claims.csv, from `pbr.generate.reference_claims`, every item approved at audit). Families
are matched through their members' source record keys, never through pipeline ids.

The span 2012-10..2014-09 puts attached dates in three financial years (2012/13, 2013/14 and
2014/15), so every row of the rulebook's payment table is exercised."""

from __future__ import annotations

from collections import Counter

import pytest

from e2e import read_csv, run_all, true_person_of

pytestmark = pytest.mark.slow

START, END = "2012-10", "2014-09"


@pytest.fixture(scope="module")
def claims_run(tmp_path_factory):
    return run_all(tmp_path_factory.mktemp("e2e_claims"), families=2000, seed=11, start=START, end=END)


def pipeline_claims(out_dir, people: dict[tuple[str, str], str]) -> Counter:
    members: dict[str, set[str]] = {}
    for r in read_csv(out_dir / "family_members.csv"):
        members.setdefault(r["family_id"], set()).add(people[(r["source"], r["source_key"])])
    return Counter((r["case_ref"], r["claim_type"], r["amount"], ";".join(sorted(members.get(r["family_id"], set()))))
                   for r in read_csv(out_dir / "claims.csv"))


def truth_claims(gen) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for r in read_csv(gen / "truth" / "claims.csv"):
        out.setdefault(r["period"], Counter())[(r["case_ref"], r["claim_type"], r["amount"], r["members"])] += 1
    return out


def test_every_period_claims_equal_ground_truth(claims_run):
    gen = claims_run["gen"]
    people = true_person_of(gen)
    truth = truth_claims(gen)
    periods = sorted(k for k in claims_run if k[:2] == "20")
    assert len(periods) == 24
    bad = []
    for period in periods:
        got, want = pipeline_claims(claims_run[period], people), truth.get(period, Counter())
        missing, extra = want - got, got - want
        if missing or extra:
            bad.append(f"{period}: {sum(missing.values())} truth items missing, {sum(extra.values())} unexpected; "
                       f"e.g. missing {list(missing)[:2]} extra {list(extra)[:2]}")
    assert not bad, "\n".join(bad)

    # The world must exercise every claim type, and every row of the payment table.
    kinds = Counter()
    for c in truth.values():
        for (_, claim_type, amount, _), n in c.items():
            kinds[(claim_type, amount)] += n
    types = Counter()
    for (claim_type, _), n in kinds.items():
        types[claim_type] += n
    assert types["attachment_fee"] >= 100 and types["route_a"] >= 10, types
    assert types["progress_to_work"] >= 5 and types["route_b"] >= 5, types
    assert sum(1 for p in periods if any(k[1] == "attachment_fee" for k in truth.get(p, ()))) >= 18
    for fee in ("3200.00", "2400.00", "1600.00"):
        assert kinds[("attachment_fee", fee)] > 0, kinds
