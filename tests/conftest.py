"""Fixtures: run pbr refreshes over hand-made deliveries in a temporary folder and read back the
contract outputs (cohort.csv, family_members.csv, quarantine.csv, cohort_evidence.csv,
summary.json) and, where a test needs it, the store."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml

from builders import write_delivery
from pbr.refresh import refresh


@dataclass
class Run:
    """One finished refresh and its output folder."""

    period: str
    out_dir: Path
    summary: dict
    db: Path

    def read_csv(self, name: str) -> list[dict]:
        with open(self.out_dir / name, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    @property
    def cohort(self) -> list[dict]:
        return self.read_csv("cohort.csv")

    @property
    def members(self) -> list[dict]:
        return self.read_csv("family_members.csv")

    @property
    def quarantine(self) -> list[dict]:
        return self.read_csv("quarantine.csv")

    @property
    def evidence(self) -> list[dict]:
        return self.read_csv("cohort_evidence.csv")

    @property
    def summary_file(self) -> dict:
        return json.loads((self.out_dir / "summary.json").read_text(encoding="utf-8"))

    def only_family(self) -> dict:
        """The single cohort row (the test expects exactly one cohort family)."""
        rows = self.cohort
        assert len(rows) == 1, rows
        return rows[0]

    def person_of(self, source: str, source_key: str) -> str | None:
        """person_id of a source record key in any cohort family's membership."""
        ids = {m["person_id"] for m in self.members if m["source"] == source and m["source_key"] == source_key}
        assert len(ids) <= 1, ids
        return next(iter(ids), None)

    def member_keys(self, family_id: str | None = None) -> set[tuple[str, str]]:
        return {(m["source"], m["source_key"]) for m in self.members
                if family_id is None or m["family_id"] == family_id}

    def query(self, sql: str, *params) -> list[tuple]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()

    def person_ids(self) -> dict[tuple[str, str], str]:
        """(source, source_key) -> person_id for every record key the store has linked."""
        return {(s, k): p for s, k, p in self.query("SELECT source, source_key, person_id FROM person_xwalk")}

    def families(self) -> dict[str, set[tuple[str, str]]]:
        """Every family at R (household with a child), cohort or not: family_id -> its members'
        record keys."""
        out: dict[str, set[tuple[str, str]]] = {}
        for fid, source, key in self.query("""
                SELECT s.family_id, x.source, x.source_key FROM family_snapshot s
                JOIN person_xwalk x USING (person_id) WHERE s.period = ?""", self.period):
            out.setdefault(fid, set()).add((source, key))
        return out

    def status(self) -> list[dict]:
        """Every family at R (cohort or not) with its criteria flags at this refresh."""
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            cur = con.execute("SELECT * FROM family_status WHERE period = ? ORDER BY family_id", [self.period])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
        finally:
            con.close()


class Pipeline:
    """A store and an output folder under tmp_path; each call writes a delivery and refreshes."""

    def __init__(self, root: Path):
        self.root = root
        self.db = root / "store.duckdb"
        self.out = root / "out"
        self._n = 0

    def folder(self, name: str | None = None) -> Path:
        self._n += 1
        p = self.root / "deliveries" / (name or f"d{self._n:02d}")
        p.mkdir(parents=True, exist_ok=True)
        return p

    def delivery(self, **tables: list[dict]) -> Path:
        return write_delivery(self.folder(), **tables)

    def config(self, data: dict) -> Path:
        self._n += 1
        p = self.root / f"config{self._n:02d}.yaml"
        p.write_text(yaml.safe_dump(data), encoding="utf-8")
        return p

    def refresh(self, period: str, extracts: Path | None = None, *, config: dict | Path | None = None,
                rulebook: str | None = None, **tables: list[dict]) -> Run:
        if tables:
            assert extracts is None, "give either a folder or tables"
            extracts = self.delivery(**tables)
        if isinstance(config, dict):
            config = self.config(config)
        result = refresh(period, extracts, self.db, self.out, rulebook=rulebook, config_path=config)
        assert result.out_dir == self.out / period
        return Run(period, result.out_dir, result.summary, self.db)

    def clone(self, root: Path) -> "Pipeline":
        """A pipeline under root starting from a copy of this one's store (module-scoped baselines
        are built once and copied into each test)."""
        other = Pipeline(root)
        for suffix in ("", ".wal"):
            src = self.db.with_name(self.db.name + suffix)
            if src.exists():
                shutil.copy(src, other.db.with_name(other.db.name + suffix))
        return other

    def table_counts(self) -> dict[str, int] | None:
        """Row count of every table in the store (None when there is no store)."""
        if not self.db.exists():
            return None
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            tables = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                "ORDER BY 1").fetchall()]
            return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        finally:
            con.close()


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path)


@pytest.fixture(scope="session")
def pipeline_at():
    """Pipeline(root) for module-scoped fixtures that run one refresh shared by many tests."""
    return Pipeline
