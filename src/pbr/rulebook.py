"""The versioned rulebook: every threshold, window, list and payment amount of rules.md."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

DEFAULT_RULEBOOK = "phase1-2012"


@dataclass(frozen=True)
class Rulebook:
    name: str
    version: str
    data: dict[str, Any] = field(repr=False)
    sha256: str = ""
    path: str = ""

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, dotted: str) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            try:
                node = node[part]
            except (KeyError, TypeError):
                raise ConfigError(f"rulebook {self.name} {self.version}: missing setting '{dotted}'") from None
        return node

    @property
    def term_ends(self) -> dict[str, str]:
        return dict(self.data["terms"]["end"])

    @property
    def academic_year_start(self) -> str:
        return str(self.data["terms"]["academic_year_start"])

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    def payment_row(self, fy_start_year: int) -> dict[str, Any]:
        for row in self.data["payments"]["by_financial_year"]:
            lo, hi = row.get("from"), row.get("to")
            if (lo is None or fy_start_year >= lo) and (hi is None or fy_start_year <= hi):
                return row
        raise ConfigError(f"rulebook {self.label}: no payment row for financial year {fy_start_year}")


_REQUIRED = [
    "terms.end", "terms.academic_year_start",
    "identification.window_months", "identification.adult_age_years",
    "identification.crime_asb.offence_types", "identification.crime_asb.asb_intervention_types",
    "identification.education.terms", "identification.education.fixed_exclusions_min",
    "identification.education.unauthorised_absence_pct", "identification.education.provisions",
    "identification.work.out_of_work_benefits", "identification.local_discretion.filters",
    "payments.max_per_family", "payments.by_financial_year",
]


def load_rulebook(name_or_path: str | None = None) -> Rulebook:
    """Load a rulebook by bundled name (e.g. 'phase1-2012') or by path to a YAML file."""
    ref = name_or_path or DEFAULT_RULEBOOK
    p = Path(ref)
    if p.suffix.lower() in {".yaml", ".yml"} or p.exists():
        if not p.is_file():
            raise ConfigError(f"rulebook file not found: {ref}")
        raw = p.read_bytes()
        where = str(p)
    else:
        res = resources.files("pbr") / "rulebooks" / f"{ref}.yaml"
        if not res.is_file():
            raise ConfigError(f"unknown rulebook '{ref}': give a bundled name or a path to a YAML file")
        raw = res.read_bytes()
        where = f"pbr/rulebooks/{ref}.yaml"
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"rulebook {where} is not valid YAML: {e}") from None
    if not isinstance(data, dict) or "name" not in data or "version" not in data:
        raise ConfigError(f"rulebook {where} must have a name and a version")
    rb = Rulebook(str(data["name"]), str(data["version"]), data, hashlib.sha256(raw).hexdigest(), where)
    for key in _REQUIRED:
        rb.get(key)
    return rb
