"""Clerical overrides: pairs of source record keys staff have decided must, or must never, be one
person. Every refresh honours the file it is given (`pbr refresh --overrides PATH`, or
`linkage.overrides` in the configuration).

The file is CSV with a header: `decision,source_a,key_a,source_b,key_b[,note]`; decision is
`must_link` or `cannot_link`; sources are contract source names (attendance, asb, benefits,
employment, interventions) and keys their source record keys as in family_members.csv. Errors name
the file, line and column, never a value."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

SOURCES = ("attendance", "asb", "benefits", "employment", "interventions")
DECISIONS = ("must_link", "cannot_link")
COLUMNS = ("decision", "source_a", "key_a", "source_b", "key_b")


@dataclass(frozen=True)
class Override:
    decision: str
    a: str  # node name: source:source_key
    b: str
    note: str = ""


def load_overrides(path: str | Path) -> list[Override]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"overrides file not found: {p}")
    out: list[Override] = []
    with open(p, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ConfigError(f"overrides {p}: missing column(s) {', '.join(missing)} "
                              f"(expected {','.join(COLUMNS)}[,note])")
        reader.fieldnames = header
        for line, row in enumerate(reader, start=2):
            decision = (row.get("decision") or "").strip().lower()
            if decision not in DECISIONS:
                raise ConfigError(f"overrides {p} line {line}, column decision: must be must_link or cannot_link")
            nodes = []
            for side in ("a", "b"):
                source = (row.get(f"source_{side}") or "").strip().lower()
                key = (row.get(f"key_{side}") or "").strip()
                if source not in SOURCES:
                    raise ConfigError(f"overrides {p} line {line}, column source_{side}: not a contract source "
                                      f"({', '.join(SOURCES)})")
                if not key:
                    raise ConfigError(f"overrides {p} line {line}, column key_{side}: empty")
                nodes.append(f"{source}:{key}")
            if nodes[0] == nodes[1]:
                raise ConfigError(f"overrides {p} line {line}: both sides are the same record key")
            out.append(Override(decision, nodes[0], nodes[1], (row.get("note") or "").strip()))
    pairs = {}
    for o in out:
        k = tuple(sorted((o.a, o.b)))
        if pairs.setdefault(k, o.decision) != o.decision:
            raise ConfigError(f"overrides {p}: a pair is both must_link and cannot_link")
    return out
