"""The extract data contract (version 1) loaded from contract_v1.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    values: tuple[str, ...] | None = None
    default: Any = None
    min: int | None = None
    max_column: str | None = None
    min_column: str | None = None
    pattern: str | None = None
    case: str | None = None  # "upper" or "lower": how the text is normalised


@dataclass(frozen=True)
class Source:
    name: str
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    source_key: tuple[str, ...]
    identity: bool

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


@lru_cache(maxsize=1)
def sources() -> dict[str, Source]:
    data = yaml.safe_load((resources.files("pbr") / "contract_v1.yaml").read_text())
    identity = [Column(**c) for c in data["identity_columns"]]
    out: dict[str, Source] = {}
    for name, spec in data["sources"].items():
        cols = [Column(**c) for c in spec["columns"]]
        if spec.get("identity"):
            cols = identity + cols
        out[name] = Source(
            name=name,
            columns=tuple(cols),
            natural_key=tuple(spec["natural_key"]),
            source_key=tuple(spec.get("source_key", [])),
            identity=bool(spec.get("identity")),
        )
    return out


IDENTITY_SOURCES = ("interventions", "benefits", "employment", "attendance", "asb")
# Tie-break order for "the most recent record" on one date (rules.md, Household at R).
SOURCE_TIE_ORDER = {s: i for i, s in enumerate(IDENTITY_SOURCES)}
