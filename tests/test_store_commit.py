"""store.transaction's commit: the COMMIT writes the log only, and the checkpoint DuckDB would have
run inside it (the log past checkpoint_threshold) runs as a statement of its own just after."""

import logging

import duckdb
import pytest

from pbr import store
from pbr.store_settings import setting_bytes


class Recording:
    """A store connection that records what transaction() runs, the log's size after each COMMIT,
    and can make one statement fail."""

    def __init__(self, con, wal, fail_on=None):
        self.con, self.wal, self.fail_on, self.sql, self.wal_after_commit = con, wal, fail_on, [], None

    def execute(self, sql, *args):
        self.sql.append(sql)
        if self.fail_on and sql.startswith(self.fail_on):
            raise duckdb.IOException("disk full (test)")
        result = self.con.execute(sql, *args)
        if sql == "COMMIT":
            self.wal_after_commit = self.wal.stat().st_size if self.wal.exists() else 0
        return result


def fill(con, rows):
    con.execute("CREATE TABLE IF NOT EXISTS t (i BIGINT, s VARCHAR)")
    # (under a row group, 122,880 rows: DuckDB writes a bigger append to the file before the
    # COMMIT, and only logs where it is)
    assert rows < 122_880
    con.execute("INSERT INTO t SELECT i, 'row ' || i || repeat('.', 40) FROM range(?) r(i)", [rows])


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET checkpoint_threshold = '1MiB'")
    yield path, con
    con.close()


def test_a_big_commit_checkpoints_after_the_commit_not_inside_it(db):
    path, con = db
    wal = path.with_name(path.name + ".wal")
    rec = Recording(con, wal)
    with store.transaction(rec):
        fill(con, 100_000)  # a log of several MiB, past the 1 MiB threshold
    assert rec.wal_after_commit > 1 << 20  # the COMMIT wrote the log and did not checkpoint
    assert rec.sql[-1] == "CHECKPOINT" and rec.sql.index("COMMIT") < rec.sql.index("CHECKPOINT")
    assert not wal.exists() or wal.stat().st_size == 0  # then the checkpoint emptied it
    assert setting_bytes(con, "checkpoint_threshold") == 1 << 20  # the store's threshold given back
    con.close()
    assert duckdb.connect(str(path), read_only=True).execute("SELECT count(*) FROM t").fetchone()[0] == 100_000


def test_a_small_commit_keeps_its_log_as_duckdb_would(db):
    path, con = db
    wal = path.with_name(path.name + ".wal")
    rec = Recording(con, wal)
    with store.transaction(rec):
        fill(con, 10)
    assert "CHECKPOINT" not in rec.sql
    assert 0 < wal.stat().st_size < 1 << 20
    assert setting_bytes(con, "checkpoint_threshold") == 1 << 20


def test_a_failed_checkpoint_keeps_the_commit_and_only_warns(db, caplog):
    path, con = db
    rec = Recording(con, path.with_name(path.name + ".wal"), fail_on="CHECKPOINT")
    with caplog.at_level(logging.WARNING, logger="pbr"):
        with store.transaction(rec):
            fill(con, 100_000)
    assert "checkpoint after commit deferred (IOException)" in caplog.text
    assert "row " not in caplog.text  # names the error's kind, never a value
    con.close()
    assert duckdb.connect(str(path), read_only=True).execute("SELECT count(*) FROM t").fetchone()[0] == 100_000


def test_a_failed_transaction_rolls_back_and_leaves_the_threshold(db):
    path, con = db
    with store.transaction(con):
        fill(con, 5)
    with pytest.raises(RuntimeError):
        with store.transaction(con):
            fill(con, 100_000)
            raise RuntimeError("stop")
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 5
    assert setting_bytes(con, "checkpoint_threshold") == 1 << 20


def test_a_failed_commit_gives_the_threshold_back(db):
    path, con = db
    rec = Recording(con, path.with_name(path.name + ".wal"), fail_on="COMMIT")
    with pytest.raises(duckdb.IOException):
        with store.transaction(rec):
            fill(con, 5)
    assert setting_bytes(con, "checkpoint_threshold") == 1 << 20


def test_checkpoint_false_leaves_the_checkpoint_to_the_caller(db):
    path, con = db
    wal = path.with_name(path.name + ".wal")
    rec = Recording(con, wal)
    with store.transaction(rec, checkpoint=False):
        fill(con, 100_000)
    assert "CHECKPOINT" not in rec.sql and wal.stat().st_size > 1 << 20  # committed, in the log
    assert store.checkpoint_if_due(con) is True
    assert not wal.exists() or wal.stat().st_size == 0
    assert store.checkpoint_if_due(con) is False  # nothing due now


def test_a_refresh_moves_its_outputs_into_place_before_the_checkpoint(pipeline, monkeypatch):
    from test_validation import P, good_row

    import pbr.refresh as refresh_module
    seen = []
    real = refresh_module.checkpoint_if_due

    def spy(con):
        seen.append(sorted(p.name for p in (pipeline.out / P).iterdir()))
        return real(con)

    monkeypatch.setattr(refresh_module, "checkpoint_if_due", spy)
    pipeline.refresh(P, pipeline.delivery(asb=[good_row("asb", i) for i in range(3)]))
    assert len(seen) == 1 and "cohort.csv" in seen[0] and "summary.json" in seen[0]
