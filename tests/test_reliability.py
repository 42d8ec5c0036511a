"""Atomic refreshes, one writer, idempotency, backups and purges, proven on the bundled sample:
a refresh is SIGKILLed at every named point (tests/fault_child.py, pbr.testhooks) and the store
and outputs are compared with what they were (tests/store_dump.py)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pbr.config import load_config
from pbr.refresh import apply_delivery, read_delivery
from pbr.rulebook import load_rulebook
from pbr.testhooks import POINTS
from store_dump import diff, dump

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "deliveries"
CHILD = Path(__file__).with_name("fault_child.py")
PBR = [sys.executable, "-m", "pbr.cli"]
# What a re-run legitimately adds: the log of runs (each run and its validation results).
RUN_LOG = {"refresh_run", "validation_file", "validation_result"}


def tree(folder: Path) -> dict[str, str]:
    """Every file under folder (hidden ones included) -> its SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def apply(period: str, parsed, db: Path, out: Path):
    return apply_delivery(period, parsed, db, out, load_rulebook(None), load_config(None))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The sample's first two refreshes (the state every fault starts from) and the delivery of
    the third, validated once and pickled for the fault children."""
    root = tmp_path_factory.mktemp("reliability")
    config = load_config(None)
    parsed = {p: read_delivery(SAMPLE / p, config, p) for p in ("2025-10", "2025-11", "2025-12")}
    db, out = root / "base" / "pbr.duckdb", root / "base" / "out"
    for p in ("2025-10", "2025-11"):
        apply(p, parsed[p], db, out)
    pickles = {}
    for p in ("2025-11", "2025-12"):
        pickles[p] = root / f"parsed-{p}.pkl"
        pickles[p].write_bytes(pickle.dumps(parsed[p]))
    # A clean third refresh, the reference for re-runs after a fault.
    ref = root / "reference"
    shutil.copytree(root / "base", ref)
    apply("2025-12", parsed["2025-12"], ref / "pbr.duckdb", ref / "out")
    return {"root": root, "db": db, "out": out, "parsed": parsed, "pickles": pickles,
            "dump": dump(db), "norm_dump": dump(db, normalise=True), "tree": tree(out), "ref_dump": dump(ref / "pbr.duckdb", normalise=True),
            "ref_tree": tree(ref / "out")}


def copy_base(base, dest: Path) -> tuple[Path, Path]:
    shutil.copytree(base["db"].parent, dest)
    return dest / "pbr.duckdb", dest / "out"


def start_paused(base, period: str, db: Path, out: Path, point: str, marker: Path) -> subprocess.Popen:
    env = {**os.environ, "PBR_TEST_PAUSE_AT": point, "PBR_TEST_PAUSE_FILE": str(marker)}
    return subprocess.Popen([sys.executable, str(CHILD), str(base["pickles"][period]), str(db), str(out), period],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_paused(proc: subprocess.Popen, marker: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child ended before pausing: {proc.returncode} {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("child never reached its pause point")
        time.sleep(0.05)


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def without_run_log(d: dict) -> dict:
    return {k: v for k, v in d.items() if k.split("#")[0] not in RUN_LOG}


def visible(t: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in t.items() if not k.startswith(".")}


@pytest.mark.parametrize("point", [p for p in POINTS if p != "output-move"])
def test_sigkill_before_commit_leaves_store_and_outputs_as_they_were(base, tmp_path, point):
    db, out = copy_base(base, tmp_path / "s")
    marker = tmp_path / "paused"
    proc = start_paused(base, "2025-12", db, out, point, marker)
    wait_paused(proc, marker)
    kill(proc)
    assert diff(dump(db), base["dump"]) == []          # the store exactly as it was
    assert visible(tree(out)) == base["tree"]           # no output folder, not a file changed
    # Re-running succeeds, leaves no staging behind and gives what a clean run gives.
    apply("2025-12", base["parsed"]["2025-12"], db, out)
    assert sorted(p.name for p in out.iterdir()) == ["2025-10", "2025-11", "2025-12"]
    assert diff(without_run_log(dump(db, normalise=True)), without_run_log(base["ref_dump"])) == []


def test_sigkill_during_the_output_move_never_half_writes_outputs(base, tmp_path):
    db, out = copy_base(base, tmp_path / "s")
    marker = tmp_path / "paused"
    before = {k[len("2025-11/"):]: v for k, v in base["tree"].items() if k.startswith("2025-11/")}
    proc = start_paused(base, "2025-11", db, out, "output-move", marker)  # a re-run: outputs exist
    wait_paused(proc, marker)
    kill(proc)
    # The store committed the re-run; the period's previous outputs are whole, set aside, and the
    # new ones whole in staging: OUT/2025-11 itself is absent, never partial.
    assert not (out / "2025-11").exists()
    aside = out / ".2025-11.old"
    assert tree(aside) == before
    staged = [p for p in out.iterdir() if p.name.startswith(".2025-11.") and p != aside]
    assert len(staged) == 1 and set(tree(staged[0])) == set(before)
    # Re-running the period puts whole outputs in place and cleans up.
    apply("2025-11", base["parsed"]["2025-11"], db, out)
    assert sorted(p.name for p in out.iterdir()) == ["2025-10", "2025-11"]
    assert set(tree(out / "2025-11")) == set(before)
    assert diff(without_run_log(dump(db, normalise=True)), without_run_log(base["norm_dump"])) == []


def normalised_tree(folder: Path) -> dict[str, str]:
    from store_dump import _norm
    return {k: hashlib.sha256(_norm((folder / k).read_text(encoding="utf-8"), "VARCHAR").encode()).hexdigest()
            for k in tree(folder) if not k.endswith(".xlsx")}


def test_rerunning_the_same_delivery_is_idempotent(base, tmp_path):
    db, out = copy_base(base, tmp_path / "s")
    first = apply("2025-12", base["parsed"]["2025-12"], db, out)
    d1, o1 = dump(db, normalise=True), normalised_tree(out / "2025-12")
    second = apply("2025-12", base["parsed"]["2025-12"], db, out)
    assert first.run_id != second.run_id
    assert all(f["already_loaded"] for f in second.summary["files"])  # recognised by hash
    d2 = dump(db, normalise=True)
    assert diff(without_run_log(d1), without_run_log(d2)) == []
    assert len(d2["refresh_run"]) == len(d1["refresh_run"]) + 1     # the run log records the re-run
    # Outputs identical but for run ids and times; the summary says this run found its files loaded.
    o2 = normalised_tree(out / "2025-12")
    assert {k: v for k, v in o2.items() if k != "summary.json"} == {k: v for k, v in o1.items() if k != "summary.json"}
    s1, s2 = first.summary, second.summary
    for s in (s1, s2):
        for f in s["files"]:
            f.pop("already_loaded")
        s.pop("new_people")
    assert s1 == s2


def test_outputs_and_store_are_owner_only(base):
    for p in [base["db"], *base["out"].rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode & 0o077 == 0, (p, oct(mode))


# One writer ---------------------------------------------------------------------------------------

def run_cli(*args, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([*PBR, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_a_second_writer_or_reader_waits_then_stops_cleanly(base, tmp_path):
    db, out = copy_base(base, tmp_path / "s")
    marker = tmp_path / "paused"
    holder = start_paused(base, "2025-12", db, out, "step:cohort", marker)  # holds the store mid-refresh
    try:
        wait_paused(holder, marker)
        t0 = time.monotonic()
        w = run_cli("--wait", "1", "claims", "submit", "B2025-11-1", "--db", str(db))
        assert w.returncode == 2, w.stderr
        assert "in use by another pbr process" in w.stderr and "Traceback" not in w.stderr
        r = run_cli("claims", "list", "--db", str(db), env={"PBR_WAIT": "1"})
        assert r.returncode == 2 and "in use by another pbr process" in r.stderr
        assert time.monotonic() - t0 < 60
        # A reader with time to wait gets in once the writer ends (here: dies).
        waiting = subprocess.Popen([*PBR, "--wait", "60", "claims", "list", "--db", str(db)], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert waiting.poll() is None  # still waiting
    finally:
        kill(holder)
    o, e = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, e
    assert "B2025-11-1" in o
    assert diff(dump(db), base["dump"]) == []


class _Result:
    def __init__(self, r):
        self.returncode, self.stdout, self.stderr = r.exit_code, r.stdout, r.stderr


def cli(*args) -> _Result:
    """The CLI in this process (no start-up cost) for commands that need no second process."""
    from click.testing import CliRunner
    from pbr.cli import main
    return _Result(CliRunner().invoke(main, [str(a) for a in args]))


def test_default_waits():
    from pbr import store
    assert store.default_wait(read_only=False) == 60 and store.default_wait(read_only=True) == 5


# Backup, restore, purge ---------------------------------------------------------------------------

def test_backup_and_restore_give_an_identical_store(base, tmp_path):
    db, _ = copy_base(base, tmp_path / "s")
    bk = tmp_path / "backups" / "pbr-2025-11.duckdb"
    r = cli("backup", str(bk), "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(bk.stat().st_mode) == 0o600
    assert diff(dump(bk), base["dump"]) == []
    again = cli("backup", str(bk), "--db", str(db))
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    # Restore to a new place, and over a store changed since (only with --replace).
    fresh = tmp_path / "restored" / "pbr.duckdb"
    assert cli("restore", str(bk), "--db", str(fresh)).returncode == 0
    assert diff(dump(fresh), base["dump"]) == []
    apply("2025-12", base["parsed"]["2025-12"], db, tmp_path / "out")
    refused = cli("restore", str(bk), "--db", str(db))
    assert refused.returncode == 2 and "--replace" in refused.stderr
    assert cli("restore", str(bk), "--db", str(db), "--replace").returncode == 0
    assert diff(dump(db), base["dump"]) == []
    # The restored store carries on: the next refresh runs on it.
    apply("2025-12", base["parsed"]["2025-12"], db, tmp_path / "out")
    # Not a store: a clear message.
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database at all" * 100)
    bad = cli("restore", str(junk), "--db", str(tmp_path / "x.duckdb"))
    assert bad.returncode == 2 and "not a DuckDB database" in bad.stderr


def test_backup_waits_for_a_running_writer(base, tmp_path):
    db, out = copy_base(base, tmp_path / "s")
    marker = tmp_path / "paused"
    holder = start_paused(base, "2025-12", db, out, "pre-commit", marker)
    try:
        wait_paused(holder, marker)
        r = cli("--wait", "0.5", "backup", str(tmp_path / "bk.duckdb"), "--db", str(db))
        assert r.returncode == 2 and "in use by another pbr process" in r.stderr
        assert not (tmp_path / "bk.duckdb").exists()
    finally:
        kill(holder)


# Distinctive personal data, seeded into a copy of the sample's first delivery: one row that loads,
# one quarantined (bad postcode). None of these strings may leak, and purge must remove them all.
SEEDED_PII = ["Zebedee", "Quxworthy", "Xylophone Row", "Quentina", "Vandermolt", "PRZZZ0001", "PRZZZ0002",
              "1931-07-13"]
SEEDED_ASB = ('Zebedee,Quxworthy,1931-07-13,M,"9 Xylophone Row, Maltby",S66 2DS,,PRZZZ0001,EVZZZ0001,2025-06-01,'
              'asb_incident,police\n'
              'Quentina,Vandermolt,1931-07-13,F,"7 Xylophone Row, Maltby",NOTAPOSTCODE,,PRZZZ0002,EVZZZ0002,2025-06-02,'
              'asb_incident,police\n')


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seeded") / "2025-10"
    shutil.copytree(SAMPLE / "2025-10", folder)
    with open(folder / "asb.csv", "a", encoding="utf-8", newline="") as fh:
        fh.write(SEEDED_ASB)
    return folder


def test_purge_deletes_old_personal_data_and_keeps_the_ledger(base, seeded, tmp_path):
    db, out = tmp_path / "s" / "pbr.duckdb", tmp_path / "s" / "out"
    apply("2025-10", read_delivery(seeded, load_config(None), "2025-10"), db, out)
    apply("2025-11", base["parsed"]["2025-11"], db, out)
    before = dump(db)
    # Delivered only in 2025-10: after purging it they must be nowhere in the store file.
    gone = [s for s in SEEDED_PII if s != "1931-07-13"]
    raw = db.read_bytes()
    assert all(n.encode() in raw for n in gone)
    dry = cli("purge", "--before", "2025-11-01", "--dry-run", "--db", str(db))
    assert dry.returncode == 0 and "would purge" in dry.stdout
    assert diff(dump(db), before) == []                  # a dry run changes nothing
    too_late = cli("purge", "--before", "2025-11-02", "--db", str(db))
    assert too_late.returncode == 2 and "latest refreshed period" in too_late.stderr
    bad = cli("purge", "--before", "31/02/2026", "--db", str(db))
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    r = cli("purge", "--before", "2025-11-01", "--db", str(db), "--by", "tester")
    assert r.returncode == 0, r.stderr
    after = dump(db)
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        # The 2025-10 files re-delivered unchanged in 2025-11 (areas, here) are kept.
        again = {f["extract_id"] for f in json.loads(con.execute(
            "SELECT summary FROM refresh_run WHERE period = '2025-11'").fetchone()[0])["files"]}
        for t in ("raw_attendance", "raw_asb", "raw_benefits", "raw_employment", "raw_interventions"):
            left = con.execute(f"SELECT DISTINCT extract_id FROM {t} WHERE delivery_period < '2025-11'").fetchall()
            assert {e for (e,) in left} <= again
            assert con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM raw_areas").fetchone()[0] > 0
        assert con.execute("SELECT actor, before_date::VARCHAR FROM purge_log").fetchall() == [("tester", "2025-11-01")]
    finally:
        con.close()
    # The ledger, the evidence summaries, the registry and pbr's ids are kept whole.
    kept = ["claim_batch", "claim_item", "claim_slot", "claim_event", "cohort", "criteria_evidence",
            "result_evidence", "family_result", "attachment", "extract_file", "family_snapshot", "refresh_run"]
    assert [t for t in kept if after[t] != before[t]] == []
    raw_row = [c for c, _ in after["quarantine#columns"]].index("raw_row")
    assert [r[0] for r in after["quarantine"]] == [2]  # the seeded row with a bad postcode, in asb (extract 2)
    assert [r[raw_row] for r in before["quarantine"]] != [None] and [r[raw_row] for r in after["quarantine"]] == [None]
    stored = db.read_bytes()
    assert [n for n in gone if n.encode() in stored] == []  # not even in free blocks
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    # The purged store carries on.
    apply("2025-12", base["parsed"]["2025-12"], db, out)


def test_sigkill_during_a_ledger_change_leaves_the_ledger_as_it_was(base, tmp_path):
    import duckdb
    db, _ = copy_base(base, tmp_path / "s")
    con = duckdb.connect(str(db), read_only=True)
    ids = [r[0] for r in con.execute("SELECT claim_id FROM claim_item WHERE batch_id = 'B2025-11-1'").fetchall()]
    con.close()
    assert ids
    marker = tmp_path / "paused"
    env = {**os.environ, "PBR_TEST_PAUSE_AT": "pre-commit", "PBR_TEST_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen([*PBR, "claims", "audit", "B2025-11-1", "--approve", ",".join(ids), "--by", "auditor",
                             "--db", str(db)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_paused(proc, marker)
    kill(proc)
    assert diff(dump(db), base["dump"]) == []
    r = cli("claims", "audit", "B2025-11-1", "--approve", ",".join(ids), "--by", "auditor", "--db", str(db))
    assert r.returncode == 0 and "state audited" in r.stdout
