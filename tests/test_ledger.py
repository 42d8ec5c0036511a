"""The claim ledger's workflow (rules.md, Claims; README "Attachment, results and claims"):
draft -> audited -> submitted -> paid, per-item approve/reject with who, when and a note,
rejected items claimable again, and the `pbr claims` command line (exit code 2 and a clear
message on every invalid transition).

One refresh (period 2012-06) builds the base store: two families enter the cohort with a case
each, so batch B2012-06-1 holds two attachment fees (£3,200 each: A = 2012-06-30, 2012/13). Every
test works on its own copy of that store."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from builders import asb, benefit, intervention, person, write_delivery
from pbr.cli import main
from pbr.ledger import LedgerError, audit, batch_items, list_batches, mark_paid, submit
from pbr.refresh import refresh
from pbr.store import connect, transaction

BATCH = "B2012-06-1"


def household(surname: str) -> dict[str, list[dict]]:
    mum = person("Mary", surname, "1980-01-01", address=f"1 {surname} Road", postcode="S65 1AB")
    kid = person("Kit", surname, "2000-05-01", address=f"1 {surname} Road", postcode="S65 1AB")
    return {
        # crime/ASB (an acceptable behaviour contract), work (ESA), local discretion (benefit cap)
        "asb": [asb(kid, f"A-{surname}", f"E-{surname}", "2012-03-01", "abc")],
        "benefits": [benefit(mum, f"NI{surname}".upper(), "esa", "2011-01-01", cap="Y")],
        "interventions": [intervention(mum, f"K-{surname}", f"I-{surname}-M", "2012-04-01"),
                          intervention(kid, f"K-{surname}", f"I-{surname}-K", "2012-04-01")],
    }


@dataclass
class Base:
    db: Path
    claim_of: dict[str, str]    # surname -> claim id of its attachment fee
    family_of: dict[str, str]   # surname -> family id


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Base:
    root = tmp_path_factory.mktemp("ledger")
    tables: dict[str, list[dict]] = {}
    for surname in ("Able", "Baker"):
        for source, rows in household(surname).items():
            tables.setdefault(source, []).extend(rows)
    folder = write_delivery(root / "d2012-06", **tables)
    result = refresh("2012-06", folder, root / "store.duckdb", root / "out")
    assert result.summary["batch_id"] == BATCH
    con = duckdb.connect(str(root / "store.duckdb"), read_only=True)
    try:
        fams = dict(con.execute("""
            SELECT x.source_key, s.family_id FROM person_xwalk x JOIN family_snapshot s USING (person_id)
            WHERE x.source = 'benefits'""").fetchall())
        claims = dict(con.execute("SELECT family_id, claim_id FROM claim_item WHERE batch_id = ?", [BATCH]).fetchall())
    finally:
        con.close()
    family_of = {s: fams[f"NI{s}".upper()] for s in ("Able", "Baker")}
    claim_of = {s: claims[f] for s, f in family_of.items()}
    # two items, numbered from C0000001
    assert sorted(claim_of.values()) == ["C0000001", "C0000002"]
    return Base(root / "store.duckdb", claim_of, family_of)


@pytest.fixture
def db(base, tmp_path) -> Path:
    copy = tmp_path / "store.duckdb"
    shutil.copy(base.db, copy)
    return copy


@pytest.fixture
def ids(base) -> tuple[str, str]:
    return base.claim_of["Able"], base.claim_of["Baker"]


def act(db: Path, fn, *args):
    """Run one ledger action in its own transaction, as the CLI does."""
    con = connect(db)
    try:
        with transaction(con):
            return fn(con, *args)
    finally:
        con.close()


def q(db: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def state(db: Path, batch: str = BATCH) -> str:
    return q(db, "SELECT state FROM claim_batch WHERE batch_id = ?", batch)[0][0]


def decisions(db: Path) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in q(db, "SELECT claim_id, decision, decision_note, decided_by FROM claim_item")}


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def ledger_tables(db: Path) -> tuple:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return tuple(con.execute(sql).fetchall() for sql in (
            "SELECT * FROM claim_batch ORDER BY 1", "SELECT * FROM claim_item ORDER BY 1",
            "SELECT * FROM claim_slot ORDER BY 1, 2", "SELECT * FROM claim_event ORDER BY event_at, action"))
    finally:
        con.close()


def refused(db: Path, fn, *args, match: str) -> None:
    before = ledger_tables(db)
    with pytest.raises(LedgerError, match=match):
        act(db, fn, *args)
    assert ledger_tables(db) == before, "a refused transition changed the store"


# ---------------------------------------------------------------------------------------------
# The library: every transition

def test_new_batch_is_a_draft(db, ids):
    assert state(db) == "draft"
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = list_batches(con)
    finally:
        con.close()
    assert [(b, p, s, n, str(a), u, r) for b, p, s, n, a, u, r in rows] == [(BATCH, "2012-06", "draft", 2, "6400.00", 2, 0)]
    assert q(db, "SELECT actor, action FROM claim_event WHERE batch_id = ?", BATCH) == [("pbr", "created")]


def test_audit_every_item_makes_the_batch_audited_with_who_and_when(db, ids):
    t0 = now()
    r = act(db, audit, BATCH, list(ids), [], "evidence checked", "alice")
    t1 = now()
    assert r == {"approved": 2, "rejected": 0, "undecided": 0, "state": "audited"}
    assert state(db) == "audited"
    for claim_id in ids:
        decision, note, by, at = q(db, "SELECT decision, decision_note, decided_by, decided_at FROM claim_item "
                                       "WHERE claim_id = ?", claim_id)[0]
        assert (decision, note, by) == ("approved", "evidence checked", "alice")
        assert t0 - timedelta(seconds=1) <= at <= t1 + timedelta(seconds=1)
    audited_at = q(db, "SELECT audited_at FROM claim_batch WHERE batch_id = ?", BATCH)[0][0]
    assert t0 - timedelta(seconds=1) <= audited_at <= t1 + timedelta(seconds=1)
    events = q(db, "SELECT actor, action FROM claim_event WHERE batch_id = ? ORDER BY event_at, action", BATCH)
    assert events[0] == ("pbr", "created")
    assert sorted(events[1:]) == [("alice", "audit"), ("alice", "audited")]


def test_partial_audit_stays_draft_and_cannot_be_submitted(db, ids):
    r = act(db, audit, BATCH, [ids[0]], [], None, "alice")
    assert r == {"approved": 1, "rejected": 0, "undecided": 1, "state": "draft"}
    assert state(db) == "draft"
    refused(db, submit, BATCH, "bob", match=r"draft \(1 item\(s\) not yet decided\).*only an audited batch")
    # decide the other: now audited, and submittable
    act(db, audit, BATCH, [], [ids[1]], "no evidence of the case's second member", "carol")
    assert state(db) == "audited"
    act(db, submit, BATCH, "bob")
    assert state(db) == "submitted"


def test_submit_refused_while_nothing_decided(db):
    refused(db, submit, BATCH, "bob", match=r"draft \(2 item\(s\) not yet decided\)")


def test_only_a_draft_can_be_audited(db, ids):
    act(db, audit, BATCH, [ids[0]], [], None, "alice")
    act(db, audit, BATCH, [ids[1]], [], None, "alice")
    refused(db, audit, BATCH, [ids[0]], [], None, "alice", match="is audited: only a draft batch can be audited")
    act(db, submit, BATCH, "bob")
    refused(db, audit, BATCH, [], [ids[0]], "late", "alice", match="is submitted: only a draft batch")
    act(db, mark_paid, BATCH, "dave")
    refused(db, audit, BATCH, [ids[0]], [], None, "alice", match="is paid: only a draft batch")


def test_only_a_submitted_batch_can_be_paid(db, ids):
    refused(db, mark_paid, BATCH, "dave", match="is draft: only a submitted batch can be marked paid")
    act(db, audit, BATCH, list(ids), [], None, "alice")
    refused(db, mark_paid, BATCH, "dave", match="is audited: only a submitted batch")
    t0 = now()
    act(db, submit, BATCH, "bob")
    act(db, mark_paid, BATCH, "dave")
    t1 = now()
    assert state(db) == "paid"
    sub, paid = q(db, "SELECT submitted_at, paid_at FROM claim_batch WHERE batch_id = ?", BATCH)[0]
    assert t0 - timedelta(seconds=1) <= sub <= paid <= t1 + timedelta(seconds=1)
    assert q(db, "SELECT actor FROM claim_event WHERE batch_id = ? AND action = 'submitted'", BATCH) == [("bob",)]
    assert q(db, "SELECT actor FROM claim_event WHERE batch_id = ? AND action = 'paid'", BATCH) == [("dave",)]
    refused(db, mark_paid, BATCH, "dave", match="is paid: only a submitted batch")
    refused(db, submit, BATCH, "bob", match="is paid: only an audited batch can be submitted")


def test_submit_twice_refused(db, ids):
    act(db, audit, BATCH, list(ids), [], None, "alice")
    act(db, submit, BATCH, "bob")
    refused(db, submit, BATCH, "bob", match="is submitted: only an audited batch can be submitted")


@pytest.mark.parametrize("note", [None, "", "   "])
def test_rejecting_needs_a_note(db, ids, note):
    refused(db, audit, BATCH, [], [ids[0]], note, "alice", match="a rejection needs a --note")
    assert all(d == (None, None, None) for d in decisions(db).values())


def test_unknown_claim_id_refused(db, ids):
    refused(db, audit, BATCH, [ids[0], "C9999999"], [], None, "alice", match="not in batch B2012-06-1: C9999999")
    assert all(d == (None, None, None) for d in decisions(db).values())


def test_claim_both_approved_and_rejected_refused(db, ids):
    refused(db, audit, BATCH, [ids[0]], [ids[0]], "why", "alice", match="both approved and rejected")


@pytest.mark.parametrize("approve, reject", [(["A", "A"], []), ([], ["A", "A"])])
def test_duplicate_claim_id_refused(db, ids, approve, reject):
    sub = lambda xs: [ids[0] if x == "A" else x for x in xs]  # noqa: E731
    refused(db, audit, BATCH, sub(approve), sub(reject), "a note", "alice", match=f"more than once: {ids[0]}")


def test_decided_twice_refused(db, ids):
    act(db, audit, BATCH, [ids[0]], [], None, "alice")
    refused(db, audit, BATCH, [], [ids[0]], "changed my mind", "alice", match=f"already decided: {ids[0]}")
    refused(db, audit, BATCH, [ids[0]], [], None, "alice", match=f"already decided: {ids[0]}")
    assert decisions(db)[ids[0]] == ("approved", None, "alice")


def test_audit_needs_some_decision(db):
    refused(db, audit, BATCH, [], [], None, "alice", match="at least one --approve or --reject")


@pytest.mark.parametrize("fn, args", [(audit, (["C0000001"], [], None, "a")), (submit, ("a",)), (mark_paid, ("a",)),
                                      (batch_items, ())])
def test_unknown_batch_refused(db, fn, args):
    with pytest.raises(LedgerError, match="no claim batch 'B1999-01-1'"):
        act(db, fn, "B1999-01-1", *args)


# ---------------------------------------------------------------------------------------------
# Rejected items are claimable again; re-running never claims twice

def test_rejected_item_is_claimable_again_in_the_next_batch(db, base, tmp_path):
    able, baker = base.claim_of["Able"], base.claim_of["Baker"]
    act(db, audit, BATCH, [able], [baker], "case not evidenced", "alice")
    assert state(db) == "audited"
    # the rejection freed Baker's slot; Able's approved fee keeps its slot
    assert q(db, "SELECT family_id, slot, claim_id FROM claim_slot ORDER BY family_id") == [
        (base.family_of["Able"], "attachment", able)]
    r = refresh("2012-07", None, db, tmp_path / "out")
    assert r.summary["batch_id"] == "B2012-07-1"
    items = q(db, "SELECT claim_id, family_id, claim_type, amount, decision FROM claim_item WHERE batch_id = ?",
              "B2012-07-1")
    assert [(c, f, t, float(a), d) for c, f, t, a, d in items] == [
        ("C0000003", base.family_of["Baker"], "attachment_fee", 3200.0, None)]
    csv_rows = (tmp_path / "out" / "2012-07" / "claims.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_rows) == 2 and csv_rows[1].startswith(f"B2012-07-1,C0000003,K-Baker,{base.family_of['Baker']},"
                                                         "attachment_fee,3200.00,")
    # the old batch and its decisions are untouched
    assert state(db) == "audited"
    assert decisions(db)[baker] == ("rejected", "case not evidenced", "alice")
    # and nothing more at the next refresh
    assert refresh("2012-08", None, db, tmp_path / "out").summary["batch_id"] is None


def test_rerunning_an_audited_period_claims_nothing_again(db, ids, tmp_path):
    act(db, audit, BATCH, list(ids), [], "fine", "alice")
    r = refresh("2012-06", None, db, tmp_path / "out")
    assert r.summary["batch_id"] is None
    assert q(db, "SELECT batch_id, state FROM claim_batch") == [(BATCH, "audited")]
    assert q(db, "SELECT count(*) FROM claim_item")[0][0] == 2
    rows = (tmp_path / "out" / "2012-06" / "claims.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 2 and all(",audited," in r and ",approved,fine,alice," in r for r in rows)


def test_rerunning_after_a_rejection_puts_it_in_a_further_batch(db, base, tmp_path):
    act(db, audit, BATCH, [base.claim_of["Able"]], [base.claim_of["Baker"]], "redo", "alice")
    r = refresh("2012-06", None, db, tmp_path / "out")
    assert r.summary["batch_id"] == "B2012-06-2"
    assert q(db, "SELECT family_id, claim_type, decision FROM claim_item WHERE batch_id = 'B2012-06-2'") == [
        (base.family_of["Baker"], "attachment_fee", None)]
    # re-running again rebuilds only the draft batch: still two batches, three items
    refresh("2012-06", None, db, tmp_path / "out")
    assert q(db, "SELECT batch_id, state FROM claim_batch ORDER BY 1") == [(BATCH, "audited"), ("B2012-06-2", "draft")]
    assert q(db, "SELECT count(*) FROM claim_item")[0][0] == 3


# ---------------------------------------------------------------------------------------------
# The command line

def cli(db: Path, *args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["claims", *args, "--db", str(db)], env=env)


def test_cli_happy_path(db, ids):
    r = cli(db, "list")
    assert r.exit_code == 0, r.output
    assert BATCH in r.stdout and "draft" in r.stdout
    r = cli(db, "show", BATCH)
    assert r.exit_code == 0, r.output
    assert "seed" in r.stdout
    r = cli(db, "audit", BATCH, "--approve", ids[0], "--by", "alice")
    assert r.exit_code == 0, r.output
    assert "1 undecided; state draft" in r.stdout
    r = cli(db, "audit", BATCH, "--reject", ids[1], "--note", "not evidenced", env={"PBR_USER": "erin"})
    assert r.exit_code == 0, r.output
    assert "state audited" in r.stdout
    assert decisions(db) == {ids[0]: ("approved", None, "alice"), ids[1]: ("rejected", "not evidenced", "erin")}
    r = cli(db, "submit", BATCH, "--by", "bob")
    assert (r.exit_code, "submitted" in r.stdout) == (0, True), r.output
    r = cli(db, "paid", BATCH, "--by", "dave")
    assert (r.exit_code, "paid" in r.stdout) == (0, True), r.output
    assert state(db) == "paid"
    assert q(db, "SELECT actor, action FROM claim_event WHERE action IN ('submitted', 'paid') ORDER BY event_at") == [
        ("bob", "submitted"), ("dave", "paid")]


def test_cli_audit_accepts_comma_separated_ids(db, ids):
    r = cli(db, "audit", BATCH, "--approve", f"{ids[0]},{ids[1]}", "--by", "alice")
    assert r.exit_code == 0, r.output
    assert state(db) == "audited"


# (steps before, the refused command, what the message must say)
INVALID = {
    "submit a draft": ([], ["submit", BATCH], "only an audited batch can be submitted"),
    "pay a draft": ([], ["paid", BATCH], "only a submitted batch can be marked paid"),
    "pay an audited batch": ([["audit", BATCH, "--approve", "C0000001,C0000002"]], ["paid", BATCH],
                             "is audited: only a submitted batch can be marked paid"),
    "audit an audited batch": ([["audit", BATCH, "--approve", "C0000001,C0000002"]],
                               ["audit", BATCH, "--approve", "C0000001"], "only a draft batch can be audited"),
    "submit twice": ([["audit", BATCH, "--approve", "C0000001,C0000002"], ["submit", BATCH]], ["submit", BATCH],
                     "is submitted: only an audited batch"),
    "pay twice": ([["audit", BATCH, "--approve", "C0000001,C0000002"], ["submit", BATCH], ["paid", BATCH]],
                  ["paid", BATCH], "is paid: only a submitted batch"),
    "reject without a note": ([], ["audit", BATCH, "--reject", "C0000001"], "a rejection needs a --note"),
    "unknown claim": ([], ["audit", BATCH, "--approve", "C0000009"], "not in batch B2012-06-1: C0000009"),
    "duplicate claim": ([], ["audit", BATCH, "--approve", "C0000001", "--approve", "C0000001"],
                        "more than once: C0000001"),
    "decided twice": ([["audit", BATCH, "--approve", "C0000001"]], ["audit", BATCH, "--approve", "C0000001"],
                      "already decided: C0000001"),
    "unknown batch": ([], ["submit", "B2099-01-1"], "no claim batch 'B2099-01-1'"),
    "show unknown batch": ([], ["show", "B2099-01-1"], "no claim batch 'B2099-01-1'"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_cli_invalid_transition_exits_2_with_a_message(db, case):
    steps, args, message = INVALID[case]
    for step in steps:
        r = cli(db, *step, "--by", "alice")
        assert r.exit_code == 0, r.output
    before = ledger_tables(db)
    r = cli(db, *args)
    assert r.exit_code == 2, r.output
    assert "error:" in r.stderr and message in r.stderr, r.stderr
    assert "Traceback" not in r.output
    assert ledger_tables(db) == before


def test_cli_list_without_a_store_exits_2(tmp_path):
    r = cli(tmp_path / "missing.duckdb", "list")
    assert r.exit_code == 2
    assert "store not found" in r.stderr
