"""The authority's local configuration (YAML): name, column mappings, local-discretion filters.

Example (docs/config.example.yaml):

    authority: Example Borough Council
    column_mappings:            # the authority's own headers onto contract names, per source
      attendance:
        "Pupil UPN": upn
    local_discretion:           # which local filters are on (override the rulebook's defaults)
      areas: true
      benefit_cap: false
    validation:
      max_row_drop_share: 0.5   # a file with over 50% fewer rows than the source's previous delivery stops the refresh
      row_drop_min_rows: 100    # ... when that previous delivery had at least this many rows
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


# A delivery whose row count fell by more than this share against the previous delivery of its
# source is a file failure (a truncated export, the wrong filter): 0.5 = half the rows gone. Only
# when that previous delivery had at least DEFAULT_ROW_DROP_MIN_ROWS rows: a share of a handful of
# rows is noise (a small source delivering 5 rows after 21 is not a truncated export).
DEFAULT_MAX_ROW_DROP_SHARE = 0.5
DEFAULT_ROW_DROP_MIN_ROWS = 100


@dataclass(frozen=True)
class ValidationConfig:
    max_row_drop_share: float = DEFAULT_MAX_ROW_DROP_SHARE  # 1 turns the check off
    row_drop_min_rows: int = DEFAULT_ROW_DROP_MIN_ROWS


@dataclass(frozen=True)
class LinkageConfig:
    """Probabilistic person linkage (docs/linkage.md): links at or above `threshold` join people;
    families holding a link below `low_confidence` are flagged for audit; pairs from `review_min`
    up are scored (quality report, `pbr linkage review`); `overrides` a must/cannot-link file."""
    enabled: bool = True
    threshold: float = 0.99
    low_confidence: float = 0.995
    review_min: float = 0.5
    overrides: str | None = None


# A DuckDB memory size: a number and a unit, e.g. "1.5GB", "800MB".
MEMORY_LIMIT_RE = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


@dataclass(frozen=True)
class StoreConfig:
    """The store connection of a refresh. memory_limit: DuckDB's memory_limit for it (e.g. "1.5GB"):
    beyond it DuckDB spills to disk; None (the default, or "auto"): pbr's default cap, which follows
    the delivery's size within a share of the machine's memory (store_settings.default_memory_limit)."""
    memory_limit: str | None = None


@dataclass(frozen=True)
class Config:
    authority: str = "Local authority"
    column_mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    local_discretion: dict[str, bool] = field(default_factory=dict)
    sha256: str = ""
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    report: "ReportConfig" = field(default_factory=lambda: ReportConfig())
    linkage: LinkageConfig = field(default_factory=LinkageConfig)
    store: StoreConfig = field(default_factory=StoreConfig)

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
    unknown = set(data) - {"authority", "column_mappings", "local_discretion", "validation", "report", "linkage", "store"}
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
        validation=_validation(p, data.get("validation")),
        report=_report(p, data.get("report")),
        linkage=_linkage(p, data.get("linkage")),
        store=_store(p, data.get("store")),
    )


def _store(p: Path, data: Any) -> StoreConfig:
    if data is None:
        return StoreConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"config {p}: store must be a mapping")
    unknown = set(data) - {"memory_limit"}
    if unknown:
        raise ConfigError(f"config {p}: unknown store settings {sorted(unknown)} (known: memory_limit)")
    limit = data.get("memory_limit")
    if limit is None:
        return StoreConfig()
    if isinstance(limit, str) and limit.strip().lower() == "auto":  # the default, said explicitly
        return StoreConfig()
    if not isinstance(limit, str) or not MEMORY_LIMIT_RE.match(limit.strip()):
        raise ConfigError(f"config {p}: store.memory_limit must be a size such as \"1.5GB\" or \"800MB\", or auto")
    return StoreConfig(memory_limit=limit.strip())


def _linkage(p: Path, data: Any) -> LinkageConfig:
    if data is None:
        return LinkageConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"config {p}: linkage must be a mapping")
    known = {"enabled", "threshold", "low_confidence", "review_min", "overrides"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"config {p}: unknown linkage settings {sorted(unknown)} (known: {', '.join(sorted(known))})")
    d = LinkageConfig()
    values = {}
    for name in ("threshold", "low_confidence", "review_min"):
        v = data.get(name, getattr(d, name))
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
            raise ConfigError(f"config {p}: linkage.{name} must be a probability above 0 and at most 1")
        values[name] = float(v)
    enabled = data.get("enabled", d.enabled)
    if not isinstance(enabled, bool):
        raise ConfigError(f"config {p}: linkage.enabled must be true or false")
    overrides = data.get("overrides")
    if overrides is not None:
        overrides = str((p.parent / str(overrides)) if not Path(str(overrides)).is_absolute() else overrides)
    return LinkageConfig(enabled=enabled, overrides=overrides, **values)


def _validation(p: Path, data: Any) -> ValidationConfig:
    if data is None:
        return ValidationConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"config {p}: validation must be a mapping")
    unknown = set(data) - {"max_row_drop_share", "row_drop_min_rows"}
    if unknown:
        raise ConfigError(f"config {p}: unknown validation settings {sorted(unknown)} "
                          "(known: max_row_drop_share, row_drop_min_rows)")
    share = data.get("max_row_drop_share", DEFAULT_MAX_ROW_DROP_SHARE)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ConfigError(f"config {p}: validation.max_row_drop_share must be a number from 0 to 1 "
                          "(the largest share of rows a delivery may lose against the previous one; 1 turns the check off)")
    min_rows = data.get("row_drop_min_rows", DEFAULT_ROW_DROP_MIN_ROWS)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        raise ConfigError(f"config {p}: validation.row_drop_min_rows must be a whole number, 0 or more "
                          "(the row-count check applies when the previous delivery had at least this many rows)")
    return ValidationConfig(max_row_drop_share=float(share), row_drop_min_rows=min_rows)


# The monthly report (docs/report.md). Counts below the disclosure threshold are suppressed on the
# page, which is meant for wider circulation (a partnership board). The unit costs price the cost
# avoided estimate (rules.md, Cost avoidance): illustrative defaults, to be replaced by the
# authority's own figures (e.g. from the Troubled Families cost savings calculator).
DEFAULT_DISCLOSURE_THRESHOLD = 5
DEFAULT_UNIT_COSTS = {
    "asb_event": 673.0,              # one ASB incident or intervention
    "proven_offence": 2900.0,        # one proven offence by a young person
    "out_of_work_benefit_year": 9800.0,  # one adult off out-of-work benefit for a year
}


@dataclass(frozen=True)
class ReportConfig:
    disclosure_threshold: int = DEFAULT_DISCLOSURE_THRESHOLD  # counts 1..threshold-1 are suppressed
    allocation: float | None = None       # the authority's claim allocation (£), for the cumulative chart
    unit_costs: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_UNIT_COSTS))
    unit_costs_source: str = "pbr illustrative defaults"


def _report(p: Path, data: Any) -> ReportConfig:
    if data is None:
        return ReportConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"config {p}: report must be a mapping")
    unknown = set(data) - {"disclosure_threshold", "allocation", "unit_costs", "unit_costs_source"}
    if unknown:
        raise ConfigError(f"config {p}: unknown report settings {sorted(unknown)} "
                          "(known: disclosure_threshold, allocation, unit_costs, unit_costs_source)")
    threshold = data.get("disclosure_threshold", DEFAULT_DISCLOSURE_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ConfigError(f"config {p}: report.disclosure_threshold must be a whole number, 0 or more "
                          "(counts from 1 up to below it are suppressed; 0 or 1 turns suppression off)")
    allocation = data.get("allocation")
    if allocation is not None and (isinstance(allocation, bool) or not isinstance(allocation, (int, float))
                                   or allocation < 0):
        raise ConfigError(f"config {p}: report.allocation must be an amount in pounds, 0 or more")
    costs = dict(DEFAULT_UNIT_COSTS)
    given = data.get("unit_costs")
    if given is not None:
        if not isinstance(given, dict):
            raise ConfigError(f"config {p}: report.unit_costs must map a unit to its cost in pounds")
        for k, v in given.items():
            if k not in DEFAULT_UNIT_COSTS:
                raise ConfigError(f"config {p}: unknown report.unit_costs entry '{k}' "
                                  f"(known: {', '.join(DEFAULT_UNIT_COSTS)})")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"config {p}: report.unit_costs.{k} must be an amount in pounds, 0 or more")
            costs[k] = float(v)
    source = str(data.get("unit_costs_source") or ("local configuration" if given else "pbr illustrative defaults"))
    return ReportConfig(disclosure_threshold=threshold, allocation=None if allocation is None else float(allocation),
                        unit_costs=costs, unit_costs_source=source)
