"""`pbr purge --before DATE`: retention of personal data.

Deletes the raw extract rows (names, dates of birth, addresses, postcodes, UPNs, NINOs…) of every
extract file last delivered in a period that ended before DATE (a file delivered again unchanged
counts as delivered again), the delivered text kept with their quarantined rows, and
the source record keys (UPN, NINO, person refs, name|dob) that no remaining raw row holds. Keeps
what auditors need and which holds no personal data: the extract registry (file names, SHA-256,
counts), quarantine lines/columns/reasons, refresh runs, pbr's own ids (people, families, their
snapshots), the cohort, the frozen criteria and result evidence (ids, lines, windows, counts), the
attachments and the whole claim ledger. The store is then rewritten so the deleted rows do not
linger in its free space. All in one transaction as the store's single writer; `--dry-run` only
counts."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timezone
from pathlib import Path

from .errors import PbrError
from .store import connect, migrate, private_files, transaction

# raw_areas holds postcode districts and ward names, no personal data: the areas list is kept.
RAW_TABLES = ["raw_attendance", "raw_asb", "raw_benefits", "raw_employment", "raw_interventions"]

# The source record key each raw table gives person_xwalk (family_members.csv's source_key).
XWALK_KEYS = {
    "attendance": ("raw_attendance", "upn"),
    "asb": ("raw_asb", "person_ref"),
    "interventions": ("raw_interventions", "person_ref"),
    "benefits": ("raw_benefits", "person_key"),
    "employment": ("raw_employment", "person_key"),
}

PURGE_LOG = """CREATE TABLE IF NOT EXISTS purge_log (
    purged_at TIMESTAMP NOT NULL, before_date DATE NOT NULL, actor VARCHAR NOT NULL,
    extracts INTEGER NOT NULL, raw_rows BIGINT NOT NULL, quarantine_texts BIGINT NOT NULL,
    source_keys BIGINT NOT NULL)"""


def parse_cutoff(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PbrError(f"--before must be a date YYYY-MM-DD, not {text!r}") from None


def purge(db: Path, before: date, *, dry_run: bool = False, actor: str = "pbr") -> dict:
    db = Path(db)
    if not db.exists():
        raise PbrError(f"store not found: {db}")
    con = connect(db)
    try:
        with transaction(con):
            migrate(con)
            counts = _purge(con, before, dry_run, actor)
            if dry_run:
                raise _DryRun(counts)
    except _DryRun as d:
        con.close()
        return {**d.counts, "dry_run": True}
    except BaseException:
        con.close()
        raise
    try:
        if counts["raw_rows"] or counts["quarantine_texts"] or counts["source_keys"]:
            _compact(con, db)
    finally:
        con.close()
    return {**counts, "dry_run": False}


class _DryRun(Exception):
    def __init__(self, counts: dict):
        self.counts = counts


def _purge(con, before: date, dry_run: bool, actor: str) -> dict:
    latest = con.execute("SELECT max(period) FROM refresh_run WHERE finished_at IS NOT NULL").fetchone()[0]
    if latest is not None:
        latest_start = date.fromisoformat(f"{latest}-01")
        if before > latest_start:
            raise PbrError(
                f"--before {before} is after the start of the latest refreshed period {latest}: that would purge "
                f"deliveries the latest refresh used; choose a date on or before {latest_start}")
    # Extract files last delivered in a period (YYYY-MM) that ended before the cut-off. A file
    # delivered again unchanged is loaded once (recognised by its hash): the refresh runs that read
    # it again count as deliveries of it too.
    cutoff_period = f"{before.year:04d}-{before.month:02d}"
    last = dict(con.execute("SELECT extract_id, delivery_period FROM extract_file").fetchall())
    for period, summary in con.execute("SELECT period, summary FROM refresh_run WHERE summary IS NOT NULL").fetchall():
        for f in json.loads(summary).get("files", []):
            eid = f.get("extract_id")
            if eid in last and period > last[eid]:
                last[eid] = period
    extracts = sorted(eid for eid, p in last.items() if p < cutoff_period)
    con.execute("CREATE OR REPLACE TEMP TABLE purge_extract (extract_id INTEGER)")
    if extracts:
        con.executemany("INSERT INTO purge_extract VALUES (?)", [(e,) for e in extracts])
    raw_rows = 0
    for t in RAW_TABLES:
        raw_rows += con.execute(f"SELECT count(*) FROM {t} WHERE extract_id IN (SELECT extract_id FROM purge_extract)"
                                ).fetchone()[0]
    texts = con.execute("SELECT count(*) FROM quarantine WHERE raw_row IS NOT NULL "
                        "AND extract_id IN (SELECT extract_id FROM purge_extract)").fetchone()[0]
    # Source keys left in no remaining raw row.
    keep = " UNION ALL ".join(
        f"SELECT '{src}' AS source, {col} AS source_key FROM {table} "
        f"WHERE extract_id NOT IN (SELECT extract_id FROM purge_extract)"
        for src, (table, col) in XWALK_KEYS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE purge_key AS SELECT x.source, x.source_key FROM person_xwalk x "
                f"ANTI JOIN ({keep}) k ON k.source = x.source AND k.source_key = x.source_key")
    keys = con.execute("SELECT count(*) FROM purge_key").fetchone()[0]
    counts = {"before": before.isoformat(), "extracts": len(extracts), "raw_rows": raw_rows,
              "quarantine_texts": texts, "source_keys": keys}
    if dry_run:
        return counts
    for t in RAW_TABLES:
        con.execute(f"DELETE FROM {t} WHERE extract_id IN (SELECT extract_id FROM purge_extract)")
    con.execute("UPDATE quarantine SET raw_row = NULL WHERE extract_id IN (SELECT extract_id FROM purge_extract)")
    con.execute("DELETE FROM person_xwalk WHERE (source, source_key) IN (SELECT (source, source_key) FROM purge_key)")
    from .memo import clear
    clear(con)  # the derived-value memo holds names and addresses: the next refresh rebuilds it
    from .validation.memo import clear as clear_validation_memo
    clear_validation_memo(con)  # row hashes of personal data: the next refresh validates every row
    from .in_force import forget
    forget(con)  # held rows and identities seen: the next refresh derives them from what is left
    con.execute(PURGE_LOG)
    con.execute("INSERT INTO purge_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                [datetime.now(timezone.utc).replace(tzinfo=None), before, actor, len(extracts), raw_rows, texts, keys])
    return counts


def _compact(con, db: Path) -> None:
    """Rewrite the store from its live rows so deleted personal data does not stay in free blocks
    of the file. Runs holding the write lock; the old file is replaced atomically."""
    from .backup import _copy_database, _tmp_beside
    private_files()
    tmp = _tmp_beside(db, "compacting")
    con.execute("CHECKPOINT")
    try:
        _copy_database(con, tmp)
    except BaseException:
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
        raise
    os.chmod(tmp, 0o600)
    os.replace(tmp, db)
