"""The authority's local configuration (YAML): name, column mappings, local-discretion filters.

Example (docs/config.example.yaml):

    authority: Example Borough Council
    column_mappings:            # the authority's own headers onto contract names, per source
      attendance:
        "Pupil UPN": upn
    local_discretion:           # which local filters are on (override the rulebook's defaults)
      areas: true
      benefit_cap: false
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


@dataclass(frozen=True)
class Config:
    authority: str = "Local authority"
    column_mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    local_discretion: dict[str, bool] = field(default_factory=dict)
    sha256: str = ""

    def filters(self, rulebook_defaults: dict[str, bool]) -> dict[str, bool]:
        out = {k: bool(v) for k, v in rulebook_defaults.items()}
        for k, v in self.local_discretion.items():
            if k not in out:
                raise ConfigError(f"config: unknown local_discretion filter '{k}' (known: {', '.join(out)})")
            out[k] = bool(v)
        return out


def load_config(path: str | Path | None) -> Config:
    if path is None:
        return Config()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    raw = p.read_bytes()
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config {p} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {p} must be a mapping")
    unknown = set(data) - {"authority", "column_mappings", "local_discretion"}
    if unknown:
        raise ConfigError(f"config {p}: unknown settings {sorted(unknown)}")
    mappings: dict[str, dict[str, str]] = {}
    for source, mapping in (data.get("column_mappings") or {}).items():
        if not isinstance(mapping, dict):
            raise ConfigError(f"config {p}: column_mappings.{source} must map headers to contract names")
        mappings[str(source).lower()] = {str(k).strip().lower(): str(v).strip().lower() for k, v in mapping.items()}
    ld: dict[str, Any] = data.get("local_discretion") or {}
    return Config(
        authority=str(data.get("authority") or "Local authority"),
        column_mappings=mappings,
        local_discretion={str(k): bool(v) for k, v in ld.items()},
        sha256=hashlib.sha256(raw).hexdigest(),
    )
