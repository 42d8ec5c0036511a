"""Contract sources read from databases (README, Reading from databases).

Every source is read from SQLite and from a real PostgreSQL server (started by
.ci/system.d/postgresql.sh under .ci/run, or by the `pg_url` fixture here) and the refresh must give
the same contract outputs as from the equivalent delivery files; the registry records each extract
(URL without its password, the query's SHA-256, rows, extraction time); errors name the source and
never show a password."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from pbr.cli import main
from pbr.contract import sources as contract_sources
from pbr.errors import ConfigError, InputErrors, PbrError
from pbr.ingest.database import read_source
from pbr.ingest.sources import DatabaseSource, load_sources
from pbr.refresh import refresh
from system_tools import need

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "deliveries" / "2025-10"
PERIOD = "2025-10"
PASSWORD_VAR = "PBR_TEST_DB_PASSWORD"
SOURCES = ["attendance", "asb", "benefits", "employment", "interventions", "areas"]


# --------------------------------------------------------------------------- a PostgreSQL server


@pytest.fixture(scope="session")
def pg_url():
    """The URL of a PostgreSQL database the tests may write to: PBR_TEST_PG_URL (.ci/run exports
    it), else a throwaway server started here with .ci/system.d/postgresql.sh when initdb is
    installed; otherwise the tests skip (fail under .ci/run)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        need(False, "the psycopg driver (pip install -e '.[dev]')")
    url = os.environ.get("PBR_TEST_PG_URL")
    stop = None
    if not url and (shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))):
        script = ROOT / ".ci" / "system.d" / "postgresql.sh"
        run = subprocess.run(
            ["bash", "-c", f'set -euo pipefail; PBR_CI_CLEANUP=(); source "{script}"; '
                           'echo "$PBR_TEST_PG_URL"; echo "${PBR_CI_CLEANUP[-1]}"'],
            capture_output=True, text=True, timeout=120)
        if run.returncode == 0:
            url, stop = run.stdout.strip().splitlines()[-2:]
    need(bool(url), "a PostgreSQL server (PBR_TEST_PG_URL, or initdb to start one)")
    try:
        sa.create_engine(url, poolclass=sa.pool.NullPool).connect().close()
    except Exception:
        need(False, "a reachable PostgreSQL server at PBR_TEST_PG_URL")
    yield sa.engine.make_url(url)
    if stop:
        subprocess.run(["bash", "-c", stop], timeout=60)


@pytest.fixture
def pg(pg_url, monkeypatch):
    """(engine, URL template with ${PBR_TEST_DB_PASSWORD}, schema): a fresh schema per test."""
    monkeypatch.setenv(PASSWORD_VAR, pg_url.password)
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    schema = "t" + os.urandom(6).hex()
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield engine, template(pg_url), schema
    with engine.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def template(url: sa.engine.URL) -> str:
    """The URL as a sources file holds it: the password as a ${VARIABLE}."""
    bare = url._replace(password=None).render_as_string(hide_password=False)
    return bare.replace(f"{url.username}@", f"{url.username}:${{{PASSWORD_VAR}}}@", 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- test data


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        r = csv.DictReader(fh)
        return list(r.fieldnames), list(r)


def write_rows(path: Path, header: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> dict[str, tuple[list[str], list[dict]]]:
    """The sample's 2025-10 delivery with rows that fail validation added: bad dates in asb (kept
    as text in every database), a bad postcode, a value outside a list, a duplicate key and an end
    before its start elsewhere (representable in typed columns)."""
    tables = {s: read_rows(SAMPLE / f"{s}.csv") for s in SOURCES}
    asb_h, asb_rows = tables["asb"]
    asb_rows += [{**asb_rows[0], "event_id": "BAD-1", "event_date": "2025-02-30"},
                 {**asb_rows[1], "event_id": "BAD-2", "dob": "31/13/1990"},
                 {**asb_rows[2], "event_id": "BAD-3", "event_type": "bogus"}]
    att_h, att_rows = tables["attendance"]
    att_rows += [{**att_rows[0], "postcode": "NOT A POSTCODE"}, dict(att_rows[1])]
    ben_h, ben_rows = tables["benefits"]
    ben_rows += [{**ben_rows[0], "start_date": "2025-06-01", "end_date": "2025-05-01", "benefit": "esa"}]
    return tables


@pytest.fixture(scope="module")
def files_run(delivery, tmp_path_factory):
    """The refresh from the equivalent delivery files: the baseline every database run must equal."""
    root = tmp_path_factory.mktemp("files")
    folder = root / PERIOD
    folder.mkdir()
    for source, (header, rows) in delivery.items():
        write_rows(folder / f"{source}.csv", header, rows)
    result = refresh(PERIOD, folder, root / "s.duckdb", root / "out")
    return result.out_dir


CONTRACT_TYPES = {"date": "DATE", "integer": "INTEGER", "boolean": "BOOLEAN"}


def as_value(kind: str, text: str, lenient: bool):
    """A CSV cell as a typed database value (the export's inverse); lenient (SQLite): a value that
    does not convert is stored as its text, as SQLite allows."""
    if text == "":
        return None
    try:
        if kind == "date":
            if "/" in text:
                d, m, y = text.split("/")
                return dt.date(int(y), int(m), int(d))
            return dt.date.fromisoformat(text)
        if kind == "integer":
            return int(text)
        if kind == "boolean":
            return {"y": True, "true": True, "1": True, "n": False, "false": False, "0": False}[text.lower()]
    except (ValueError, KeyError):
        if lenient:
            return text
        raise
    return text


def create_table(engine: sa.Engine, name: str, source: str, header: list[str], rows: list[dict], *,
                 typed: bool, schema: str | None = None, rename: dict[str, str] | None = None,
                 types: dict[str, str] | None = None) -> str:
    """A table holding the rows in delivery order (a `seq` column records it for queries)."""
    rename = rename or {}
    kinds = {c.name: c.type for c in contract_sources()[source].columns}
    sqlite = engine.dialect.name == "sqlite"
    q = engine.dialect.identifier_preparer.quote
    full = f"{schema}.{name}" if schema else name
    cols = []
    for h in header:
        sqltype = (types or {}).get(h) or (CONTRACT_TYPES.get(kinds[h], "TEXT") if typed else "TEXT")
        cols.append(f"{q(rename.get(h, h))} {sqltype}")
    values = []
    for i, r in enumerate(rows, 1):
        row = {"seq": i}
        for j, h in enumerate(header):
            v = as_value(kinds[h], r[h], lenient=sqlite) if typed else (r[h] or None)
            if sqlite and isinstance(v, dt.date):
                v = v.isoformat()  # SQLite keeps dates as ISO text
            if isinstance(v, bool) and sqlite:
                v = int(v)
            if (types or {}).get(h, "").startswith("NUMERIC") and v is not None:
                v = Decimal(v)
            if (types or {}).get(h) == "TIMESTAMP" and v is not None:
                v = dt.datetime.combine(v, dt.time())
            row[f"p{j}"] = v
        values.append(row)
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE TABLE {full} (seq INTEGER, {', '.join(cols)})"))
        placeholders = ", ".join(f":p{j}" for j in range(len(header)))
        names = ", ".join(q(rename.get(h, h)) for h in header)
        c.execute(sa.text(f"INSERT INTO {full} (seq, {names}) VALUES (:seq, {placeholders})"), values)
    return full


def select_all(full: str, header: list[str], rename: dict[str, str] | None = None) -> str:
    rename = rename or {}
    cols = ", ".join(f'"{rename.get(h, h)}" AS "{h}"' if h in rename else f'"{h}"' for h in header)
    return f"SELECT {cols} FROM {full} ORDER BY seq"


def write_sources(path: Path, url: str, entries: dict[str, dict]) -> Path:
    path.write_text(yaml.safe_dump({"databases": {"db": url},
                                    "sources": {s: e if "url" in e else {"database": "db", **e}
                                                for s, e in entries.items()}}),
                    encoding="utf-8")
    return path


# --------------------------------------------------------------------------- comparing outputs


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def contract_outputs(out_dir: Path, csv_sources=()) -> dict:
    """The outputs of a refresh without what names the extract (file name, SHA-256, run id) and
    with each row's line as its row number in the delivery: a CSV line less the header's, for the
    sources in csv_sources (a database row's line is already its row number)."""
    def source_of(name: str) -> str:
        return name.split(" ", 1)[0].removesuffix(".csv")

    def row_of(source: str, line: str) -> int:
        return int(line) - (1 if source in csv_sources else 0)

    quarantine = []
    for q in _csv(out_dir / "quarantine.csv"):
        source = source_of(q["file"])
        reason = re.sub(r"first delivered at line (\d+)",
                        lambda m: f"first delivered at line {row_of(source, m.group(1))}", q["reason"])
        quarantine.append({**q, "file": source, "line": row_of(source, q["line"]), "reason": reason})
    quarantine.sort(key=lambda q: (q["file"], q["line"], q["column"]))  # files load before databases
    evidence = [{**{k: v for k, v in e.items() if k not in ("extract_file", "extract_sha256")},
                 "line": row_of(e["source"], e["line"]) if e["line"] else ""}
                for e in _csv(out_dir / "cohort_evidence.csv")]
    claims = [{k: v for k, v in c.items() if k != "source_files"} for c in _csv(out_dir / "claims.csv")]
    summary = json.loads((out_dir / "summary.json").read_text())
    files = {f["source"]: {k: f[k] for k in ("rows_read", "rows_loaded", "rows_quarantined", "already_loaded",
                                             "quarantined_by", "warnings")} for f in summary.pop("files")}
    summary.pop("run_id")
    return {"cohort": _csv(out_dir / "cohort.csv"), "members": _csv(out_dir / "family_members.csv"),
            "cases": _csv(out_dir / "cases_reported.csv"), "quarantine": quarantine, "evidence": evidence,
            "claims": claims, "summary": summary, "files": files}


def assert_same_outputs(db_out: Path, files_out: Path) -> None:
    got, want = contract_outputs(db_out), contract_outputs(files_out, SOURCES)
    assert want["cohort"] and want["quarantine"] and want["claims"], "the baseline must exercise every output"
    for key in want:
        assert got[key] == want[key], key


# --------------------------------------------------------------------------- same outputs as files


def test_every_source_from_sqlite_gives_the_files_outputs(delivery, files_run, tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    entries = {}
    for source, (header, rows) in delivery.items():
        # Declared types hold ints, 0/1 booleans and ISO dates; SQLite keeps a value that is not
        # one (the bad dates) as text, which pbr must quarantine as it does from the file.
        table = create_table(engine, f"tf_{source}", source, header, rows, typed=True)
        entries[source] = ({"query": select_all(table, header), "chunk_size": 50} if source == "asb"
                           else {"table": table})
    # A table is read with every column: drop the helper column `seq` from those read whole.
    with engine.begin() as c:
        for source, e in entries.items():
            if "table" in e:
                c.execute(sa.text(f"ALTER TABLE {e['table']} DROP COLUMN seq"))
    engine.dispose()
    sources = write_sources(tmp_path / "sources.yaml", f"sqlite:///{tmp_path / 'warehouse.sqlite'}", entries)
    result = refresh(PERIOD, None, tmp_path / "s.duckdb", tmp_path / "out", sources_path=sources)
    assert_same_outputs(result.out_dir, files_run)


def test_every_source_from_postgresql_gives_the_files_outputs(delivery, files_run, pg, tmp_path):
    engine, url, schema = pg
    entries = {}
    for source, (header, rows) in delivery.items():
        if source == "asb":  # holds dates no DATE column can: read as text through a query
            table = create_table(engine, "asb_events", source, header, rows, typed=False, schema=schema)
            entries[source] = {"query": select_all(table, header), "chunk_size": 64}
        elif source == "benefits":  # the warehouse's own column name, mapped in the sources file
            rename = {"nino": "national_insurance_number"}
            table = create_table(engine, "dwp_spells", source, header, rows, typed=True, schema=schema, rename=rename)
            entries[source] = {"query": select_all(table, [rename.get(h, h) for h in header]),
                               "columns": {"national_insurance_number": "nino"}}
        elif source == "interventions":  # a query renaming the warehouse's columns
            rename = {"case_ref": "case_no", "attached_date": "start_dt"}
            table = create_table(engine, "cases", source, header, rows, typed=True, schema=schema, rename=rename,
                                 types={"dob": "TIMESTAMP"})
            entries[source] = {"query": select_all(table, header, rename)}
        else:
            types = {"sessions_authorised": "NUMERIC(6,1)"} if source == "attendance" else None
            table = create_table(engine, f"tf_{source}", source, header, rows, typed=True, schema=schema, types=types)
            with engine.begin() as c:
                c.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN seq"))
            entries[source] = {"table": table, "chunk_size": 100}
    sources = write_sources(tmp_path / "sources.yaml", url, entries)
    result = refresh(PERIOD, None, tmp_path / "s.duckdb", tmp_path / "out", sources_path=sources)
    assert_same_outputs(result.out_dir, files_run)
    # The registry: the URL without its password, the SQL's SHA-256, rows, extraction time.
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT source, file_format, origin, query_sha256, extracted_at, rows_read, file_name FROM extract_file").fetchall()}
    con.close()
    password = os.environ[PASSWORD_VAR]
    assert set(rows) == set(SOURCES)
    for source, (fmt, origin, query_sha, extracted_at, rows_read, name) in rows.items():
        assert fmt == "database" and password not in origin and ":" + PASSWORD_VAR not in origin
        assert origin.startswith("postgresql+psycopg://pbr_test@127.0.0.1:")
        assert extracted_at is not None and rows_read == len(delivery[source][1])
        assert name.startswith(f"{source} (database ")
    assert rows["asb"][2] == hashlib.sha256(entries["asb"]["query"].encode()).hexdigest()


def test_files_and_database_sources_together(delivery, files_run, tmp_path):
    """--extracts and --sources in one refresh: the same outputs as all files."""
    folder = tmp_path / "files"
    folder.mkdir()
    for source in ("attendance", "areas", "employment"):
        shutil.copy(files_run.parent.parent / PERIOD / f"{source}.csv", folder)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    entries = {}
    for source in ("asb", "benefits", "interventions"):
        header, rows = delivery[source]
        table = create_table(engine, source, source, header, rows, typed=False)
        entries[source] = {"query": select_all(table, header)}
    engine.dispose()
    sources = write_sources(tmp_path / "sources.yaml", f"sqlite:///{tmp_path / 'w.sqlite'}", entries)
    result = refresh(PERIOD, folder, tmp_path / "s.duckdb", tmp_path / "out", sources_path=sources)
    got = contract_outputs(result.out_dir, ("attendance", "areas", "employment"))
    want = contract_outputs(files_run, SOURCES)
    for key in want:
        assert got[key] == want[key], key


# --------------------------------------------------------------------------- registry: re-extracts


def _asb_source(tmp_path: Path, rows: list[dict], header: list[str]) -> Path:
    db = tmp_path / "asb.sqlite"
    if db.exists():
        db.unlink()
    engine = sa.create_engine(f"sqlite:///{db}")
    table = create_table(engine, "asb", "asb", header, rows, typed=False)
    engine.dispose()
    return write_sources(tmp_path / "sources.yaml", f"sqlite:///{db}", {"asb": {"query": select_all(table, header)}})


def test_identical_rows_extracted_again_load_nothing_and_changed_rows_are_a_correction(delivery, tmp_path):
    header, rows = delivery["asb"]
    sources = _asb_source(tmp_path, rows[:40], header)
    first = refresh(PERIOD, None, tmp_path / "s.duckdb", tmp_path / "out", sources_path=sources)
    again = refresh(PERIOD, None, tmp_path / "s.duckdb", tmp_path / "out", sources_path=sources)
    (f1,), (f2,) = first.summary["files"], again.summary["files"]
    assert not f1["already_loaded"] and f2["already_loaded"] and f2["extract_id"] == f1["extract_id"]
    # One row changed in the warehouse: a correction of the period, replacing the earlier extract.
    sources = _asb_source(tmp_path, rows[:39] + [{**rows[39], "agency": "council"}], header)
    third = refresh(PERIOD, None, tmp_path / "s.duckdb", tmp_path / "out", sources_path=sources)
    (f3,) = third.summary["files"]
    assert not f3["already_loaded"] and f3["extract_id"] != f1["extract_id"]
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT extract_id, replaced_by FROM extract_file ORDER BY 1").fetchall() == [
            (f1["extract_id"], f3["extract_id"]), (f3["extract_id"], None)]
        assert con.execute("SELECT count(*) FROM raw_asb WHERE extract_id = ?", [f3["extract_id"]]).fetchone()[0] == 40
    finally:
        con.close()


def test_chunk_size_changes_neither_the_rows_nor_their_hash(delivery, tmp_path):
    header, rows = delivery["attendance"]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    table = create_table(engine, "att", "attendance", header, rows, typed=True)
    engine.dispose()
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    one, frame_one = read_source(DatabaseSource("attendance", url, query=select_all(table, header), chunk_size=50))
    big, frame_big = read_source(DatabaseSource("attendance", url, query=select_all(table, header), chunk_size=100_000))
    assert frame_one.equals(frame_big) and frame_one.height == len(rows)
    assert one.sha256 == big.sha256 and one.size == big.size and one.rows == len(rows)
    assert frame_one["__line"].to_list() == list(range(1, len(rows) + 1))


def test_a_duckdb_database_is_a_source_too(tmp_path):
    """duckdb-engine comes with pbr: a DuckDB file (not the store) reads like any database."""
    from pbr.ingest import discover, parse_file
    from pbr.ingest.database import parse_source

    header, rows = read_rows(SAMPLE / "areas.csv")
    con = duckdb.connect(str(tmp_path / "ref.duckdb"))
    con.execute("CREATE TABLE areas (area VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO areas VALUES (?, ?)", [[r["area"] or None, r["name"] or None] for r in rows])
    con.close()
    db = parse_source(DatabaseSource("areas", f"duckdb:///{tmp_path / 'ref.duckdb'}", table="areas"), None, PERIOD)
    (f,) = [f for f in discover(SAMPLE) if f.source == "areas"]
    files = parse_file(f, None, PERIOD)
    assert db.rows.drop("line_no").equals(files.rows.drop("line_no")) and db.rows_read == len(rows)


def test_typed_database_values_read_as_the_file_text(pg):
    """Dates, timestamps at midnight, integers, numerics and booleans arrive as the text a CSV
    export holds, so they type exactly as from a file."""
    engine, url, schema = pg
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE TABLE {schema}.v (d DATE, ts TIMESTAMP, i INTEGER, n NUMERIC(8,2), b BOOLEAN, "
                          "big BIGINT, t TEXT)"))
        c.execute(sa.text(f"INSERT INTO {schema}.v VALUES ('2025-03-04', '2025-03-04 00:00:00', 7, 12.00, true, "
                          "9000000000, ' x '), (NULL, NULL, NULL, NULL, false, NULL, NULL)"))
    extract, frame = read_source(DatabaseSource("areas", url, table=f"{schema}.v"))
    assert frame.drop("__line").rows() == [("2025-03-04", "2025-03-04 00:00:00", "7", "12.00", "true", "9000000000", " x "),
                                           (None, None, None, None, "false", None, None)]
    assert extract.query_sha256 == hashlib.sha256(
        f'SELECT {schema}.v.d, {schema}.v.ts, {schema}.v.i, {schema}.v.n, {schema}.v.b, {schema}.v.big, {schema}.v.t \n'
        f'FROM {schema}.v'.encode()).hexdigest()


def test_a_query_may_use_the_delivery_period(delivery, tmp_path):
    header, rows = delivery["asb"]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    create_table(engine, "asb", "asb", header, rows[:30], typed=False)
    engine.dispose()
    query = select_all("asb", header).replace(" ORDER BY", " WHERE event_date <= :period_end ORDER BY")
    spec = DatabaseSource("asb", f"sqlite:///{tmp_path / 'a.sqlite'}", query=query)
    _, frame = read_source(spec, "2025-06")
    assert frame.height == sum(r["event_date"] <= "2025-06-30" for r in rows[:30]) > 0
    with pytest.raises(PbrError, match="the query uses the delivery period: give --period"):
        read_source(spec, None)
    bad = DatabaseSource("asb", spec.url_template, query=query.replace(":period_end", ":cutoff"))
    with pytest.raises(PbrError, match=r"parameter\(s\) :cutoff; pbr supplies :period, :period_start, :period_end"):
        read_source(bad, "2025-06")


# --------------------------------------------------------------------------- the sources file


def _sources_file(tmp_path: Path, data) -> Path:
    p = tmp_path / "sources.yaml"
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return p


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://reader:Hunter2secret@db.example/tf",
    "postgresql+psycopg://reader:Hunter2secret@db.example/tf?sslmode=require",
    "postgresql+psycopg://reader@db.example/tf?password=Hunter2secret",
    "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC+Driver+18%7D%3BUID%3Dreader%3BPWD%3DHunter2secret",
    "postgresql+psycopg://reader:${PBR_PW}x@db.example/tf",
])
def test_a_password_written_in_the_sources_file_is_refused(tmp_path, url):
    p = _sources_file(tmp_path, {"sources": {"asb": {"url": url, "table": "asb"}}})
    with pytest.raises(ConfigError, match=r"source 'asb': its URL holds a password.*\$\{VARIABLE_NAME\}") as e:
        load_sources(p)
    assert "Hunter2secret" not in str(e.value) and "db.example" not in str(e.value)


def test_placeholders_fill_from_the_environment_and_a_missing_variable_is_named(tmp_path, monkeypatch):
    p = _sources_file(tmp_path, {
        "databases": {"wh": "postgresql+psycopg://${PBR_USER}:${PBR_PW}@db.example:${PBR_PORT}/tf"},
        "sources": {"asb": {"database": "wh", "table": "police.asb", "columns": {"Incident Ref": "event_id"}}}})
    spec = load_sources(p).sources["asb"]
    assert spec.table == "police.asb" and spec.columns == {"incident ref": "event_id"}
    monkeypatch.delenv("PBR_PW", raising=False)
    with pytest.raises(ConfigError, match=r"source 'asb': environment variable\(s\) PBR_PORT, PBR_PW, PBR_USER not set"):
        spec.url()
    monkeypatch.setenv("PBR_USER", "reader")
    monkeypatch.setenv("PBR_PW", "p@ss:/w%rd?")
    monkeypatch.setenv("PBR_PORT", "6543")
    url = spec.url()
    assert (url.username, url.password, url.host, url.port, url.database) == ("reader", "p@ss:/w%rd?", "db.example", 6543, "tf")


def test_the_documented_example_sources_file_loads():
    spec = load_sources(ROOT / "docs" / "sources.example.yaml").sources
    assert set(spec) == {"attendance", "asb", "areas"}
    assert spec["attendance"].columns == {"pupil_upn": "upn", "school_urn_no": "school_urn"}
    assert "${PBR_WAREHOUSE_PASSWORD}" in spec["asb"].url_template and ":period_end" in spec["asb"].query


@pytest.mark.parametrize("data, message", [
    ({"sources": {"asbo": {"url": "sqlite://", "table": "x"}}}, "'asbo' is not a contract source"),
    ({"sources": {"asb": {"url": "sqlite://"}}}, "give either table or query"),
    ({"sources": {"asb": {"url": "sqlite://", "table": "x", "query": "SELECT 1"}}}, "give either table or query"),
    ({"sources": {"asb": {"table": "x"}}}, "give either url or database"),
    ({"sources": {"asb": {"database": "wh", "table": "x"}}}, "database 'wh' is not listed under databases"),
    ({"sources": {"asb": {"url": "sqlite://", "table": "x", "chunk_size": 0}}}, "chunk_size must be a whole number"),
    ({"sources": {"asb": {"url": "sqlite://", "table": "x", "password": "y"}}}, r"unknown settings \['password'\]"),
    ({"sources": {}}, "'sources' must map contract sources"),
    ("sources: [unclosed", "is not valid YAML"),
])
def test_a_malformed_sources_file_is_refused(tmp_path, data, message):
    with pytest.raises(ConfigError, match=message):
        load_sources(_sources_file(tmp_path, data))


# --------------------------------------------------------------------------- clear errors


def _refresh_cli(tmp_path: Path, sources: Path, *extra) -> "click.testing.Result":
    return CliRunner().invoke(main, ["refresh", "--period", PERIOD, "--sources", str(sources), "--db",
                                     str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out"), *extra])


def test_sqlite_source_errors_name_the_source_and_stop_before_writing(delivery, tmp_path):
    header, rows = delivery["asb"]
    db = tmp_path / "w.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    create_table(engine, "asb", "asb", header, rows[:5], typed=False)
    engine.dispose()
    url = f"sqlite:///{db}"
    sources = write_sources(tmp_path / "sources.yaml", url, {
        "asb": {"table": "asb_missing"},
        "benefits": {"query": "SELECT forename, surname, no_such_column FROM asb"},
        "interventions": {"query": "SELECT forename, surname, dob, address, postcode, person_ref FROM asb"},
        "employment": {"url": f"sqlite:///{tmp_path / 'absent.sqlite'}", "table": "employment"},
        "areas": {"query": "SELECT person_ref AS area, event_id AS area FROM asb"},
    })
    r = _refresh_cli(tmp_path, sources)
    assert r.exit_code == 2, r.output
    out = " ".join(r.output.split())
    assert f"source 'asb' ({url}): table asb_missing not found in the database" in out
    assert f"source 'benefits' ({url}): the query failed in the database: no such column: no_such_column" in out
    assert ("interventions (database query; line = result row): missing required column(s) case_ref, "
            "attached_date") in out
    assert f"source 'employment' (sqlite:///{tmp_path / 'absent.sqlite'}): database file not found" in out
    assert "source 'areas'" in out and "the result has two columns named 'area'" in out
    assert not (tmp_path / "s.duckdb").exists() and not (tmp_path / "out").exists()
    # Nothing from the rows reaches the messages.
    assert rows[0]["surname"] not in r.output


def test_a_source_given_both_as_a_file_and_in_the_sources_file_is_refused(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    shutil.copy(SAMPLE / "asb.csv", folder)
    sources = write_sources(tmp_path / "sources.yaml", "postgresql+psycopg://u:${NOT_SET_ANYWHERE}@nowhere/x",
                            {"asb": {"table": "asb"}})
    r = _refresh_cli(tmp_path, sources, "--extracts", str(folder))
    assert r.exit_code == 2
    assert "source(s) asb given twice" in " ".join(r.output.split())


def _secret_free(text: str, secret: str) -> None:
    assert secret not in text
    assert secret[:8] not in text


def test_postgresql_bad_credentials(pg, tmp_path, monkeypatch):
    engine, url, schema = pg
    wrong = "Wr0ngPassw0rd-" + os.urandom(4).hex()
    monkeypatch.setenv(PASSWORD_VAR, wrong)
    sources = write_sources(tmp_path / "sources.yaml", url, {"asb": {"table": f"{schema}.asb"}})
    r = _refresh_cli(tmp_path, sources)
    assert r.exit_code == 2
    out = " ".join(r.output.split())
    assert "source 'asb' (postgresql+psycopg://pbr_test@127.0.0.1:" in out
    assert "the database refused the credentials of user 'pbr_test'" in out
    _secret_free(r.output, wrong)
    with pytest.raises(InputErrors) as e:
        refresh(PERIOD, None, tmp_path / "s.duckdb", None, sources_path=sources)
    _secret_free(str(e.value), wrong)
    _secret_free(repr(e.value.errors), wrong)


def test_postgresql_unreachable(pg, pg_url, tmp_path):
    engine, url, schema = pg
    dead = template(pg_url._replace(port=free_port()))
    sources = write_sources(tmp_path / "sources.yaml", dead, {"asb": {"table": f"{schema}.asb"}})
    r = _refresh_cli(tmp_path, sources)
    assert r.exit_code == 2
    out = " ".join(r.output.split())
    assert "source 'asb' (postgresql+psycopg://pbr_test@127.0.0.1:" in out and "cannot connect to the database" in out
    _secret_free(r.output, pg_url.password)


def test_postgresql_missing_table_column_and_a_failed_cast_never_show_password_or_values(pg, pg_url, delivery, tmp_path):
    engine, url, schema = pg
    header, rows = delivery["asb"]
    table = create_table(engine, "asb", "asb", header, rows[:5], typed=False, schema=schema)
    sources = write_sources(tmp_path / "sources.yaml", url, {
        "asb": {"table": f"{schema}.nope"},
        "benefits": {"query": f"SELECT forename, no_such_column FROM {table}"},
        "employment": {"query": f"SELECT CAST(surname AS date) AS start_date FROM {table}"},
        "interventions": {"query": f"SELECT person_ref AS case_ref FROM {table}"},
    })
    r = _refresh_cli(tmp_path, sources)
    assert r.exit_code == 2
    out = " ".join(r.output.split())
    assert f"source 'asb' (postgresql+psycopg://pbr_test@127.0.0.1:{pg_url.port}/pbr_test): table {schema}.nope not found" in out
    assert 'the query failed in the database: column "no_such_column" does not exist' in out
    assert "source 'employment'" in out and "SQLSTATE 22007, data exception" in out
    assert "interventions (database query; line = result row): missing required column(s)" in out
    _secret_free(r.output, pg_url.password)
    assert rows[0]["surname"] not in r.output


# --------------------------------------------------------------------------- pbr validate --sources


def test_validate_reads_database_sources_without_loading(delivery, tmp_path):
    header, rows = delivery["asb"]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    table = create_table(engine, "asb", "asb", header, rows, typed=False)
    engine.dispose()
    sources = write_sources(tmp_path / "sources.yaml", f"sqlite:///{tmp_path / 'w.sqlite'}",
                            {"asb": {"query": select_all(table, header)}})
    r = CliRunner().invoke(main, ["validate", "--sources", str(sources), "--period", PERIOD])
    assert r.exit_code == 0, r.output
    n = len(rows)
    assert f"asb (database query; line = result row) (asb): {n} rows, {n - 3} would load, 3 quarantined" in r.output
    assert f"row {n - 2}, column 'event_date': not a valid date (expected YYYY-MM-DD or DD/MM/YYYY) [pbr_parse_date]" in r.output
    assert not list(tmp_path.glob("*.duckdb"))
    r = CliRunner().invoke(main, ["validate"])
    assert r.exit_code == 2 and "give a delivery FOLDER, --sources FILE or both" in r.output
