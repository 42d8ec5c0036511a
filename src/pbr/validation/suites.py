"""The Great Expectations suites of the extract contract: plain JSON files, one per source, in
`expectations/<source>.json` (a checkout) or `pbr/_expectations/` (an installed wheel).

Reading a suite needs no Great Expectations import: pbr reads the JSON itself to know each
expectation's severity, level, reported column and plain-English description."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import PbrError

# pbr-side checks that carry an expectation name like the suite's own (documented in README.md):
PARSE_EXPECTATIONS = {"date": "pbr_parse_date", "integer": "pbr_parse_integer", "boolean": "pbr_parse_boolean"}
PARSE_REASONS = {"date": "not a valid date (expected YYYY-MM-DD or DD/MM/YYYY)",
                 "integer": "not a whole number",
                 "boolean": "not a yes/no value (expected Y/N, true/false or 1/0)"}
ROW_DROP_EXPECTATION = "pbr_row_count_drop"
UNIQUE_TYPES = ("expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique")


@dataclass(frozen=True)
class SuiteExpectation:
    seq: int              # position in the suite file
    type: str             # the GX expectation type, e.g. expect_column_values_to_match_regex
    kwargs: dict
    description: str      # the plain-English reason shown to the user (never a value)
    severity: str         # critical (row quarantined) | warning (reported, row kept) | info
    level: str            # row | file (file: checked by pbr on the header, before typing)
    column: str           # the column a failing row is reported against
    keep_first: bool      # uniqueness: the first row of a key stands, later ones fail

    @property
    def key_columns(self) -> list[str]:
        return list(self.kwargs.get("column_list") or [self.kwargs["column"]])


@dataclass(frozen=True)
class Suite:
    source: str
    name: str
    path: str
    sha256: str
    raw: dict
    expectations: tuple[SuiteExpectation, ...]

    @property
    def row_level(self) -> list[SuiteExpectation]:
        return [e for e in self.expectations if e.level == "row"]


@lru_cache(maxsize=1)
def suite_root() -> Path:
    checkout = Path(__file__).resolve().parents[3] / "expectations"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("pbr") / "_expectations"))


def _column_of(e: dict) -> str:
    meta = e.get("meta") or {}
    if meta.get("column"):
        return str(meta["column"])
    kw = e.get("kwargs") or {}
    if "column" in kw:
        return str(kw["column"])
    if "column_list" in kw:
        return ",".join(kw["column_list"])
    if "column_B" in kw:
        return str(kw["column_B"])
    return ""


@lru_cache(maxsize=None)
def load_suite(source: str) -> Suite:
    path = suite_root() / f"{source}.json"
    try:
        raw_bytes = path.read_bytes()
    except OSError:
        raise PbrError(f"expectation suite not found: {path}") from None
    try:
        raw = json.loads(raw_bytes)
    except ValueError as e:
        raise PbrError(f"expectation suite {path} is not valid JSON: {e}") from None
    out = []
    for i, e in enumerate(raw.get("expectations") or []):
        meta = e.get("meta") or {}
        if not e.get("description"):
            raise PbrError(f"expectation suite {path}: expectation {i + 1} ({e.get('type')}) needs a description "
                           "(the reason users see)")
        out.append(SuiteExpectation(
            seq=i, type=e["type"], kwargs=dict(e.get("kwargs") or {}), description=e["description"],
            severity=str(e.get("severity") or "critical"), level=str(meta.get("level") or "row"),
            column=_column_of(e), keep_first=meta.get("keep") == "first"))
    return Suite(source, raw.get("name") or f"pbr.{source}", str(path), hashlib.sha256(raw_bytes).hexdigest(), raw,
                 tuple(out))
