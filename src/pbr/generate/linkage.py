"""The deterministic link keys, used twice: to keep the world linkable and to check it.

Rows belong together when they share (source, source id) for the upn / asb person_ref /
interventions person_ref; a nino across benefits and employment; or upper-cased, trimmed
forename + surname + dob + postcode without spaces. In clean data these components must be
exactly the true persons: that is what lets a deterministic pipeline reach the exact truth."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from .deliveries import SOURCES, Schedule
from .world import World

_CLUSTER = {"attendance": "upn", "asb": "asb", "interventions": "case", "benefits": "nino", "employment": "nino"}


class _UnionFind:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        parent = self.parent
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def prune_unlinkable(world: World, schedule: Schedule, spans: dict[int, tuple[int, int] | None] | None = None) -> int:
    """Drop the records of a person that the link keys could never join to the rest of them.

    Within one delivery all of a person's rows carry the same identity and address, so they join
    by name + dob + postcode. Across a move they join only if some system's id (upn, person_ref,
    nino) has rows both before and after it. A mover whose records before and after come from
    different systems would be two people to any deterministic linker; rather than bend the
    rules, such a fragment (rare) is removed from the world, keeping the largest part.
    spans: each record's run of deliveries by id(record), when already worked out."""
    # Only someone who has lived at two postcodes can fall apart.
    movers = {p.id for p in world.people if len({dw.postcode for _, dw in p.homes}) > 1}
    by_person: dict[int, list[tuple[str, object, tuple[int, int]]]] = {}
    for s in SOURCES:
        for rec in getattr(world, s):
            if rec.person.id not in movers:
                continue
            span = spans[id(rec)] if spans is not None else schedule.span(s, rec)
            if span is not None:
                by_person.setdefault(rec.person.id, []).append((s, rec, span))
    dropped: set[int] = set()
    for pid, recs in by_person.items():
        p = world.people[pid]
        postcode_at: dict[int, str] = {}
        uf = _UnionFind()
        for s, _, (first, last) in recs:
            for i in range(first, last + 1):
                pc = postcode_at.get(i)
                if pc is None:
                    pc = postcode_at[i] = p.home_at(schedule.R[i]).postcode
                uf.union(("system", _CLUSTER[s]), ("postcode", pc))
        sizes = Counter(uf.find(("system", _CLUSTER[s])) for s, _, _ in recs)
        if len(sizes) < 2:
            continue
        first_seen = {}
        for s, _, (first, _) in recs:
            root = uf.find(("system", _CLUSTER[s]))
            first_seen[root] = min(first_seen.get(root, first), first)
        keep = max(sizes, key=lambda r: (sizes[r], -first_seen[r], str(r)))
        for s, rec, _ in recs:
            if uf.find(("system", _CLUSTER[s])) != keep:
                dropped.add(id(rec))
    if dropped:
        for s in SOURCES:
            setattr(world, s, [r for r in getattr(world, s) if id(r) not in dropped])
    return len(dropped)


def row_keys(source: str, row: dict[str, str]) -> list[tuple]:
    """The link keys of one delivered row."""
    keys: list[tuple] = []
    if source == "attendance":
        keys.append(("attendance", row["upn"]))
    elif source in ("asb", "interventions"):
        keys.append((source, row["person_ref"]))
    elif row.get("nino"):
        keys.append(("nino", row["nino"]))
    keys.append(("name", row["forename"].strip().upper(), row["surname"].strip().upper(), row["dob"].strip(),
                 "".join(row["postcode"].split()).upper()))
    return keys


def source_key(source: str, row: dict[str, str]) -> str:
    """The source_key of data-contract.md's family_members.csv."""
    if source == "attendance":
        return row["upn"]
    if source in ("asb", "interventions"):
        return row["person_ref"]
    return row["nino"] or f"{row['forename']}|{row['surname']}|{row['dob']}"


def read_people(out: Path) -> dict[tuple[str, str], str]:
    with open(Path(out) / "truth" / "people.csv", newline="", encoding="utf-8") as fh:
        return {(r["source"], r["source_key"]): r["true_person_id"] for r in csv.DictReader(fh)}


def check_linkable(out: Path) -> dict[str, int]:
    """Assert that the link-key components over all rows of all deliveries are exactly the true
    persons. Messages give counts and ids, never personal data."""
    out = Path(out)
    people = read_people(out)
    uf = _UnionFind()
    owners: set[tuple[tuple, str]] = set()
    rows = 0
    for folder in sorted(p for p in (out / "deliveries").iterdir() if p.is_dir()):
        for s in SOURCES:
            f = folder / f"{s}.csv"
            if not f.exists():
                continue
            with open(f, newline="", encoding="utf-8") as fh:
                for line, row in enumerate(csv.DictReader(fh), start=2):
                    tid = people.get((s, source_key(s, row)))
                    if tid is None:
                        raise AssertionError(f"{folder.name}/{s}.csv line {line}: source key not in people.csv")
                    keys = row_keys(s, row)
                    for k in keys[1:]:
                        uf.union(keys[0], k)
                    owners.add((keys[0], tid))
                    rows += 1
    persons_of: dict[tuple, set[str]] = {}
    components_of: dict[str, set[tuple]] = {}
    for key, tid in owners:
        root = uf.find(key)
        persons_of.setdefault(root, set()).add(tid)
        components_of.setdefault(tid, set()).add(root)
    merged = sorted(t for ts in persons_of.values() if len(ts) > 1 for t in ts)
    split = sorted(t for t, roots in components_of.items() if len(roots) > 1)
    if merged or split:
        raise AssertionError(f"link components differ from true persons: {len(merged)} persons merged "
                             f"(e.g. {merged[:5]}), {len(split)} persons split (e.g. {split[:5]})")
    return {"rows": rows, "components": len(persons_of), "people": len(components_of)}
