"""The Prefect flow runs the same pipeline functions as the CLI and gives the same outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from builders import asb, attendance, benefit, intervention, person, write_delivery

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONTRACT_FILES = ["cohort.csv", "family_members.csv", "quarantine.csv", "claims.csv"]


@pytest.fixture(scope="module")
def prefect_harness(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    env = {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120", "PREFECT_LOGGING_LEVEL": "INFO"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.environ.pop("PREFECT_API_URL", None)
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=120):
        yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _delivery(folder: Path) -> Path:
    mum = person("Harriet", "Quennell", "1984-02-03", address="4 Mill Lane", postcode="S66 2CD")
    kid = person("Ollie", "Quennell", "2011-06-07", address="4 Mill Lane", postcode="S66 2CD")
    return write_delivery(
        folder,
        attendance=[attendance(kid, "A100000000001", "2025/26", "autumn", possible=100, unauthorised=30)],
        asb=[asb(kid, "PR1", "EV1", "2025-11-02", "asbo")],
        benefits=[benefit(mum, "QQ123456C", "esa", "2024-05-01")],
        interventions=[intervention(mum, "CASE-9", "IP1", "2026-01-10"), intervention(kid, "CASE-9", "IP2", "2026-01-10")],
    )


def test_flow_outputs_equal_cli_outputs_and_artifacts_hold_no_personal_data(tmp_path, prefect_harness):
    from click.testing import CliRunner
    from prefect.client.orchestration import get_client

    from flows.monthly_refresh import monthly_refresh
    from pbr.cli import main

    extracts = _delivery(tmp_path / "in")
    cli = CliRunner().invoke(main, ["refresh", "--period", "2026-01", "--extracts", str(extracts),
                                    "--db", str(tmp_path / "cli.duckdb"), "--out", str(tmp_path / "cli-out")])
    assert cli.exit_code == 0, cli.output
    summary = monthly_refresh(extracts=str(extracts), db=str(tmp_path / "flow.duckdb"),
                              out=str(tmp_path / "flow-out"), period="2026-01")
    assert summary["cohort"] == 1 and summary["attached"] == 1
    for name in CONTRACT_FILES:
        a = (tmp_path / "cli-out" / "2026-01" / name).read_text().splitlines()
        b = (tmp_path / "flow-out" / "2026-01" / name).read_text().splitlines()
        if name == "claims.csv":  # generation-specific columns aside, the claims are the same
            a, b = [l.split(",")[:6] for l in a], [l.split(",")[:6] for l in b]
        assert a == b, name

    import anyio

    async def artifacts_and_logs():
        async with get_client() as client:
            return await client.read_artifacts(), await client.read_logs(), await client.read_task_runs()
    arts, logs, task_runs = anyio.run(artifacts_and_logs)
    names = {t.name.rsplit("-", 1)[0] for t in task_runs}
    for step in ("read-delivery-file", "apply-to-store", "refresh-load", "refresh-link", "refresh-families",
                 "refresh-cohort", "refresh-outcomes", "refresh-claims", "refresh-outputs"):
        assert step in names, (step, sorted(names))
    keys = {a.key for a in arts}
    assert "pbr-refresh-2026-01" in keys and "pbr-refresh-2026-01-files" in keys
    assert any("refresh 2026-01" in log.message for log in logs)
    text = " ".join(str(a.data) for a in arts) + " ".join(log.message for log in logs)
    for secret in ("Quennell", "Harriet", "Ollie", "QQ123456C", "A100000000001", "1984-02-03", "Mill Lane", "S66 2CD"):
        assert secret not in text


def test_flow_fails_with_the_cli_message_and_leaves_the_store_unchanged(tmp_path, prefect_harness):
    from flows.monthly_refresh import monthly_refresh
    from pbr.errors import PbrError

    extracts = _delivery(tmp_path / "in")
    (extracts / "asb.csv").write_text("person_ref,event_id\nX,Y\n")
    with pytest.raises(PbrError) as e:
        monthly_refresh(extracts=str(extracts), db=str(tmp_path / "flow.duckdb"), out=str(tmp_path / "o"),
                        period="2026-01")
    assert "asb.csv" in str(e.value) and "missing required column" in str(e.value)
    assert not (tmp_path / "flow.duckdb").exists()


def test_flow_rejects_a_malformed_period(prefect_harness, tmp_path):
    from flows.monthly_refresh import monthly_refresh
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError):
        monthly_refresh(extracts=str(tmp_path), period="2026-13")


def test_multi_authority_flow_runs_one_child_refresh_per_authority(tmp_path, prefect_harness):
    from flows.monthly_refresh import multi_authority_refresh

    a = _delivery(tmp_path / "north" / "in")
    b = _delivery(tmp_path / "south" / "in")
    (b / "asb.csv").unlink()  # south has no ASB delivery this month: crime/ASB not met, so no cohort
    authorities = [
        {"name": "north", "extracts": str(a), "db": str(tmp_path / "north.duckdb"), "out": str(tmp_path / "north-out")},
        {"name": "south", "extracts": str(b), "db": str(tmp_path / "south.duckdb"), "out": str(tmp_path / "south-out")},
    ]
    states = multi_authority_refresh(authorities=authorities, period="2026-01")
    assert states == {"north": "completed", "south": "completed"}
    north = (tmp_path / "north-out" / "2026-01" / "cohort.csv").read_text().splitlines()
    south = (tmp_path / "south-out" / "2026-01" / "cohort.csv").read_text().splitlines()
    assert len(north) == 2 and len(south) == 1


def test_flow_reads_database_sources_alongside_files(tmp_path, prefect_harness):
    """The `sources` parameter: asb and benefits from a database, the rest from files, the same
    contract outputs as all files; the database sources are read as tasks of their own."""
    import csv

    import sqlalchemy as sa
    import yaml
    from prefect.client.orchestration import get_client

    from flows.monthly_refresh import monthly_refresh

    files = _delivery(tmp_path / "all-files")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with engine.begin() as c:
        for source in ("asb", "benefits"):
            with open(files / f"{source}.csv", newline="") as fh:
                rows = list(csv.DictReader(fh))
            cols = list(rows[0])
            c.execute(sa.text(f"CREATE TABLE {source} ({', '.join(f'{n} TEXT' for n in cols)})"))
            c.execute(sa.text(f"INSERT INTO {source} VALUES ({', '.join(':' + n for n in cols)})"),
                      [{k: v or None for k, v in r.items()} for r in rows])
    engine.dispose()
    for f in files.iterdir():
        if f.stem not in ("asb", "benefits"):
            (mixed / f.name).write_bytes(f.read_bytes())
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": {s: {"url": f"sqlite:///{tmp_path / 'w.sqlite'}", "table": s}
                                                   for s in ("asb", "benefits")}}))
    monthly_refresh(extracts=str(files), db=str(tmp_path / "a.duckdb"), out=str(tmp_path / "a-out"), period="2026-01")
    summary = monthly_refresh(extracts=str(mixed), sources=str(sources), db=str(tmp_path / "b.duckdb"),
                              out=str(tmp_path / "b-out"), period="2026-01")
    assert {f["source"]: f["file_name"] for f in summary["files"]}["asb"] == "asb (database table asb; line = result row)"
    for name in ("cohort.csv", "family_members.csv", "quarantine.csv"):
        assert (tmp_path / "a-out" / "2026-01" / name).read_text() == (tmp_path / "b-out" / "2026-01" / name).read_text()

    import anyio

    async def task_runs():
        async with get_client() as client:
            return await client.read_task_runs()
    assert "read-database-source" in {t.name.rsplit("-", 1)[0] for t in anyio.run(task_runs)}


def test_flow_with_identities_adds_the_people_sheet_and_keeps_artifacts_counts_only(tmp_path, prefect_harness):
    import anyio
    from openpyxl import load_workbook
    from prefect.client.orchestration import get_client

    from flows.monthly_refresh import monthly_refresh

    extracts = _delivery(tmp_path / "in")
    monthly_refresh(extracts=str(extracts), db=str(tmp_path / "plain.duckdb"), out=str(tmp_path / "plain"),
                    period="2026-01")
    monthly_refresh(extracts=str(extracts), db=str(tmp_path / "ids.duckdb"), out=str(tmp_path / "ids"),
                    period="2026-01", with_identities=True)
    assert "People" not in load_workbook(tmp_path / "plain" / "2026-01" / "claims.xlsx", read_only=True).sheetnames
    people = load_workbook(tmp_path / "ids" / "2026-01" / "claims.xlsx", read_only=True)["People"]
    assert "Quennell" in " ".join(str(c) for row in people.iter_rows(values_only=True) for c in row)

    async def artifacts_and_logs():
        async with get_client() as client:
            return await client.read_artifacts(), await client.read_logs()
    arts, logs = anyio.run(artifacts_and_logs)
    text = " ".join(str(a.data) for a in arts) + " ".join(log.message for log in logs)
    for secret in ("Quennell", "Harriet", "QQ123456C", "1984-02-03"):
        assert secret not in text


def test_flow_validates_each_file_once_for_the_period_with_the_stores_memo(tmp_path, prefect_harness, monkeypatch):
    """The read tasks validate for the flow's period with the validation memo the store holds
    (the apply step then keeps their results: no second validation)."""
    import duckdb

    from flows.monthly_refresh import monthly_refresh
    from pbr.ingest import parse
    from pbr.validation import memo as vm

    calls: list[tuple[str, str | None, bool]] = []
    real = parse.validate_typed

    def spy(t, period, memo=None):
        calls.append((t.file.source, period, memo is not None and bool(memo.stored)))
        return real(t, period, memo)

    monkeypatch.setattr(parse, "validate_typed", spy)
    extracts = _delivery(tmp_path / "in")
    db = tmp_path / "flow.duckdb"
    for period in ("2026-01", "2026-02"):
        monthly_refresh(extracts=str(extracts), db=str(db), out=str(tmp_path / "out"), period=period)
    sources = sorted(f.stem for f in extracts.iterdir())
    first, second = calls[:len(sources)], calls[len(sources):]
    assert sorted(c[0] for c in first) == sorted(c[0] for c in second) == sources  # once each, per run
    assert {c[1] for c in first} == {"2026-01"} and {c[1] for c in second} == {"2026-02"}
    assert not any(c[2] for c in first) and all(c[2] for c in second)  # the second run had the memo
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert {r[0] for r in con.execute(f"SELECT DISTINCT source FROM {vm.TABLE}").fetchall()} == set(sources)
    finally:
        con.close()
