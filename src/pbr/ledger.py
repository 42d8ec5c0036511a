"""The claim ledger's audit workflow: draft -> audited -> submitted -> paid. Each transition checks
the batch's state and refuses anything else with a clear message."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from .errors import PbrError


class LedgerError(PbrError):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _batch_state(con: duckdb.DuckDBPyConnection, batch_id: str) -> str:
    row = con.execute("SELECT state FROM claim_batch WHERE batch_id = ?", [batch_id]).fetchone()
    if row is None:
        raise LedgerError(f"no claim batch '{batch_id}' (see `pbr claims list`)")
    return row[0]


def list_batches(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("""
        SELECT b.batch_id, b.period, b.state, count(i.claim_id) AS items,
               coalesce(sum(i.amount), 0) AS amount,
               count(i.claim_id) FILTER (WHERE i.decision IS NULL) AS undecided,
               count(i.claim_id) FILTER (WHERE i.decision = 'rejected') AS rejected
        FROM claim_batch b LEFT JOIN claim_item i USING (batch_id)
        GROUP BY ALL ORDER BY b.period, b.batch_id""").fetchall()


def batch_items(con: duckdb.DuckDBPyConnection, batch_id: str) -> list[tuple]:
    _batch_state(con, batch_id)
    return con.execute("""
        SELECT claim_id, case_ref, family_id, claim_type, amount, audit_sample, anomaly_flags,
               coalesce(decision, ''), coalesce(decision_note, '')
        FROM claim_item WHERE batch_id = ? ORDER BY claim_id""", [batch_id]).fetchall()


def audit(con: duckdb.DuckDBPyConnection, batch_id: str, approve: list[str], reject: list[str],
          note: str | None, actor: str) -> dict:
    state = _batch_state(con, batch_id)
    if state != "draft":
        raise LedgerError(f"batch {batch_id} is {state}: only a draft batch can be audited")
    if not approve and not reject:
        raise LedgerError("give at least one --approve or --reject claim id")
    both = set(approve) & set(reject)
    if both:
        raise LedgerError(f"claim(s) both approved and rejected: {', '.join(sorted(both))}")
    repeated = sorted({c for c in approve + reject if (approve + reject).count(c) > 1})
    if repeated:
        raise LedgerError(f"claim(s) given more than once: {', '.join(repeated)}")
    if reject and not (note and note.strip()):
        raise LedgerError("a rejection needs a --note saying why")
    items = dict(con.execute("SELECT claim_id, decision FROM claim_item WHERE batch_id = ?", [batch_id]).fetchall())
    unknown = [c for c in approve + reject if c not in items]
    if unknown:
        raise LedgerError(f"not in batch {batch_id}: {', '.join(unknown)}")
    decided = [c for c in approve + reject if items[c] is not None]
    if decided:
        raise LedgerError(f"already decided: {', '.join(decided)}")
    now = _now()
    for ids, decision in ((approve, "approved"), (reject, "rejected")):
        for claim_id in ids:
            con.execute("""UPDATE claim_item SET decision = ?, decision_note = ?, decided_by = ?, decided_at = ?
                           WHERE claim_id = ?""", [decision, note, actor, now, claim_id])
            if decision == "rejected":
                # A rejected item frees its slots: claimable again in a later batch.
                con.execute("DELETE FROM claim_slot WHERE claim_id = ?", [claim_id])
    con.execute("INSERT INTO claim_event VALUES (?, ?, ?, 'audit', ?)",
                [batch_id, now, actor, f"approved {len(approve)}, rejected {len(reject)}"])
    remaining = con.execute("SELECT count(*) FROM claim_item WHERE batch_id = ? AND decision IS NULL",
                            [batch_id]).fetchone()[0]
    if remaining == 0:
        con.execute("UPDATE claim_batch SET state = 'audited', audited_at = ? WHERE batch_id = ?", [now, batch_id])
        con.execute("INSERT INTO claim_event VALUES (?, ?, ?, 'audited', 'every item decided')", [batch_id, now, actor])
    return {"approved": len(approve), "rejected": len(reject), "undecided": remaining,
            "state": "audited" if remaining == 0 else "draft"}


def submit(con: duckdb.DuckDBPyConnection, batch_id: str, actor: str) -> None:
    state = _batch_state(con, batch_id)
    if state != "audited":
        undecided = con.execute("SELECT count(*) FROM claim_item WHERE batch_id = ? AND decision IS NULL",
                                [batch_id]).fetchone()[0]
        why = f" ({undecided} item(s) not yet decided)" if state == "draft" else ""
        raise LedgerError(f"batch {batch_id} is {state}{why}: only an audited batch can be submitted")
    now = _now()
    con.execute("UPDATE claim_batch SET state = 'submitted', submitted_at = ? WHERE batch_id = ?", [now, batch_id])
    con.execute("INSERT INTO claim_event VALUES (?, ?, ?, 'submitted', '')", [batch_id, now, actor])


def mark_paid(con: duckdb.DuckDBPyConnection, batch_id: str, actor: str) -> None:
    state = _batch_state(con, batch_id)
    if state != "submitted":
        raise LedgerError(f"batch {batch_id} is {state}: only a submitted batch can be marked paid")
    now = _now()
    con.execute("UPDATE claim_batch SET state = 'paid', paid_at = ? WHERE batch_id = ?", [now, batch_id])
    con.execute("INSERT INTO claim_event VALUES (?, ?, ?, 'paid', '')", [batch_id, now, actor])
