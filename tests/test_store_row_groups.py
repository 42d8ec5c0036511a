"""The writer's store connection (store.connect) attaches the store with STORE_ROW_GROUP_SIZE, so
an append of a few row groups goes into the store file compressed instead of through the
write-ahead log (issue 9, round 19); everything else about the connection stays as
`duckdb.connect(path)` had it."""

import duckdb
import pytest

from pbr import store
from pbr.store import STORE_ROW_GROUP_SIZE

ROWS = 100_000  # under DuckDB's default row group (122,880 rows), three of the store's and a part


def append(con, rows=ROWS):
    con.execute("CREATE TABLE IF NOT EXISTS t (i BIGINT, s VARCHAR)")
    with store.transaction(con, checkpoint=False):
        con.execute("INSERT INTO t SELECT i, 'row ' || i || repeat('.', 40) FROM range(?) r(i)", [rows])


def wal_bytes(path):
    wal = path.with_name(path.name + ".wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.fixture
def path(tmp_path):
    return tmp_path / "store.duckdb"


def test_an_append_of_a_few_row_groups_goes_to_the_store_file_not_the_log(path):
    assert ROWS < 122_880 and ROWS > 3 * STORE_ROW_GROUP_SIZE
    con = store.connect(path)
    con.execute("SET checkpoint_threshold = '1TiB'")  # nothing checkpointed: the log stays to be measured
    append(con)
    assert wal_bytes(path) < 256 << 10  # where the row groups are, not ~6 MB of rows
    con.close()
    # The same append on a plain connection (DuckDB's default row group) is logged row by row.
    plain = path.with_name("plain.duckdb")
    con = duckdb.connect(str(plain))
    con.execute("SET checkpoint_threshold = '1TiB'")
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    append(con)
    assert wal_bytes(plain) > 2 << 20
    con.close()


def test_the_writer_writes_row_groups_of_the_store_size(path):
    con = store.connect(path)
    append(con)
    per_group = con.execute("""
        SELECT row_group_id, sum(count) FROM pragma_storage_info('t')
        WHERE column_id = 0 AND segment_type <> 'VALIDITY' GROUP BY ALL ORDER BY 1""").fetchall()
    assert [n for _, n in per_group] == [STORE_ROW_GROUP_SIZE] * 3 + [ROWS - 3 * STORE_ROW_GROUP_SIZE]
    con.close()


def test_closing_the_writer_keeps_every_row_and_leaves_no_log(path):
    con = store.connect(path)
    con.execute("SET checkpoint_threshold = '1TiB'")
    append(con)
    append(con, 10)  # a small append: logged
    assert wal_bytes(path) > 0
    con.close()
    assert wal_bytes(path) == 0  # checkpointed as it closed, as duckdb.connect(path) does
    ro = store.connect(path, read_only=True)
    assert ro.execute("SELECT count(*), count(DISTINCT i) FROM t").fetchone() == (ROWS + 10, ROWS)
    ro.close()


def test_the_writer_is_the_connections_default_database_and_spills_beside_the_store(path):
    con = store.connect(path)
    con.execute("CREATE TABLE kept AS SELECT 1 AS one")  # unqualified names: the store
    con.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS one")  # temp tables: not the store
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == f"{path}.tmp"
    assert store._wal_path(con) == path.with_name(path.name + ".wal")
    assert store.has_table(con, "kept") and not store.has_table(con, "scratch")
    con.close()
    ro = duckdb.connect(str(path), read_only=True)
    assert ro.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("kept",)]
    ro.close()


def test_a_store_this_process_has_open_already_is_opened_as_that_connection_has_it(path):
    mine = duckdb.connect(str(path))
    mine.execute("CREATE TABLE t AS SELECT 7 AS seven")
    con = store.connect(path, wait_seconds=0)  # the same database, not a second copy of its file
    assert con.execute("SELECT seven FROM t").fetchone() == (7,)
    con.execute("INSERT INTO t VALUES (8)")
    assert mine.execute("SELECT count(*) FROM t").fetchone() == (2,)
    con.close()
    mine.close()


def test_a_second_writer_or_reader_in_this_process_is_told_the_store_is_busy(path):
    first = store.connect(path)
    with pytest.raises(store.StoreBusy, match="already open for writing in this process"):
        store.connect(path, wait_seconds=0)
    with pytest.raises(store.StoreBusy, match="already open for writing in this process"):
        store.connect(path, read_only=True, wait_seconds=0)  # a reader too, not DuckDB's handle conflict
    first.execute("CREATE TABLE t AS SELECT 1 AS one")  # the first writer is untouched
    first.close()
    again = store.connect(path)  # and once it has closed, the store opens
    assert again.execute("SELECT one FROM t").fetchone() == (1,)
    again.close()


def test_a_second_process_still_finds_the_store_busy(path):
    import subprocess
    import sys
    con = store.connect(path)
    code = ("from pbr import store\n"
            "try:\n"
            f"    store.connect({str(path)!r}, wait_seconds=0)\n"
            "except store.StoreBusy as e:\n"
            "    print('busy:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    con.close()
    assert out.stdout.startswith("busy: store ") and "one writer at a time" in out.stdout, out.stderr[-2000:]
