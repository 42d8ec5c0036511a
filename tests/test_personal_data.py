"""Personal data never leaks: a delivery seeded with distinctive names, dates of birth, addresses,
postcodes and person refs is refreshed, validated and refused (a file error on a row holding
them); every line the CLI printed, every log record, every output file and every store table that
is not meant to hold personal data is searched for them."""

from __future__ import annotations

import csv
import io
import logging
import logging.handlers
import shutil
import stat
import zipfile
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pbr.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "deliveries"

NAMES = ["Zebedee", "Quxworthy", "Quentina", "Vandermolt", "Xylophone Row", "1931-07-13", "13/07/1931",
         "S66 9ZZ", "ZQ123456C", "Z123456789012"]
REFS = ["PRZZZ0001", "PRZZZ0002", "EVZZZ0001"]  # source system ids: in family_members.csv by contract

SEEDED = {
    "asb.csv": ['Zebedee,Quxworthy,1931-07-13,M,"9 Xylophone Row, Maltby",S66 9ZZ,,PRZZZ0001,EVZZZ0001,2025-06-01,'
                'asb_incident,police',
                # quarantined: a bad postcode and an impossible date, names in the row
                'Quentina,Vandermolt,13/07/1931,F,"7 Xylophone Row, Maltby",NOT A POSTCODE,,PRZZZ0002,EVZZZ0002,'
                '31/02/2025,asb_incident,police'],
    "benefits.csv": ['Zebedee,Quxworthy,1931-07-13,M,"9 Xylophone Row, Maltby",S66 9ZZ,,ZQ123456C,jsa,2025-01-01,,,',
                     # no NINO: the benefit row's key is name|dob (family_members.csv, by contract)
                     'Quentina,Vandermolt,1931-07-13,F,"9 Xylophone Row, Maltby",S66 9ZZ,,,esa,2025-02-01,,,N'],
    "attendance.csv": ['Quentina,Quxworthy,2014-03-03,F,"9 Xylophone Row, Maltby",S66 9ZZ,,Z123456789012,101898,'
                       '2024/25,autumn,140,60,2,3,N,mainstream'],
}


def seeded_folder(dest: Path, *, broken: bool = False) -> Path:
    shutil.copytree(SAMPLE / "2025-10", dest)
    for name, lines in SEEDED.items():
        with open(dest / name, "a", encoding="utf-8", newline="") as fh:
            for line in lines:
                fh.write(line + "\n")
    if broken:  # a row with an extra field holding names: the file is refused
        with open(dest / "asb.csv", "a", encoding="utf-8", newline="") as fh:
            fh.write('Zebedee,Quxworthy,1931-07-13,M,"9 Xylophone Row",S66 9ZZ,,PRZZZ0001,EVZZZ0003,2025-06-02,'
                     'asb_incident,police,Vandermolt\n')
    return dest


def leaks(text: str, needles=NAMES) -> list[str]:
    return [n for n in needles if n.lower() in text.lower()]


def file_text(p: Path) -> str:
    if p.suffix == ".xlsx":
        with zipfile.ZipFile(p) as z:
            return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return p.read_bytes().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pii")
    folder = seeded_folder(root / "2025-10")
    broken = seeded_folder(root / "broken" / "2025-10", broken=True)
    db, out = root / "pbr.duckdb", root / "out"
    runner = CliRunner()
    handler = logging.handlers.MemoryHandler(capacity=10**6, flushLevel=logging.CRITICAL + 1)
    logging.getLogger().addHandler(handler)
    old_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        results = {
            "refresh": runner.invoke(main, ["refresh", "--period", "2025-10", "--extracts", str(folder),
                                            "--db", str(db), "--out", str(out)]),
            "validate": runner.invoke(main, ["validate", str(folder), "--all"]),
            "refused": runner.invoke(main, ["refresh", "--period", "2025-11", "--extracts", str(broken),
                                            "--db", str(db), "--out", str(out)]),
            "validate_refused": runner.invoke(main, ["validate", str(broken)]),
            "claims": runner.invoke(main, ["claims", "list", "--db", str(db)]),
        }
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(old_level)
    logs = "\n".join(logging.Formatter("%(name)s %(message)s").format(r) for r in handler.buffer)
    return {"root": root, "db": db, "out": out, "results": results, "logs": logs}


def test_the_seeded_rows_were_read(runs):
    r = runs["results"]
    assert r["refresh"].exit_code == 0, r["refresh"].output
    assert "cohort families" in r["refresh"].output and "postcode" in r["validate"].output  # output captured
    assert r["refused"].exit_code == 2 and r["validate_refused"].exit_code == 2
    con = duckdb.connect(str(runs["db"]), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw_asb WHERE surname = 'Quxworthy'").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM quarantine WHERE raw_row LIKE '%Vandermolt%'").fetchone()[0] >= 1
    finally:
        con.close()


def test_no_personal_data_in_the_cli_output_or_logs(runs):
    for name, r in runs["results"].items():
        text = r.output + (r.stderr if hasattr(r, "stderr") else "")
        assert leaks(text, NAMES + REFS) == [], name
        assert "Traceback" not in text
    assert leaks(runs["logs"], NAMES + REFS) == []
    assert "fields where the header has" in runs["results"]["refused"].output  # the refusal says why


def test_no_personal_data_in_output_files(runs):
    files = [p for p in runs["out"].rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"cohort.csv", "quarantine.csv", "summary.json", "index.html", "claims.csv"}
    for p in files:
        text = file_text(p)
        if p.name == "family_members.csv":
            # By contract a benefits row without a NINO is keyed forename|surname|dob; nothing else.
            rows = list(csv.DictReader(io.StringIO(text)))
            text = "\n".join(r["source_key"] for r in rows if not (r["source"] in ("benefits", "employment")
                                                                  and r["source_key"].count("|") == 2))
        assert leaks(text) == [], p
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0


def test_no_personal_data_in_store_tables_meant_to_hold_none(runs):
    personal = {"raw_attendance", "raw_asb", "raw_benefits", "raw_employment", "raw_interventions", "person_xwalk",
                "derive_memo",  # the derived-value memo: names and addresses by design (docs/privacy.md), purged
                # the rows in force and identities a refresh carries to the next (pbr.in_force), purged
                "held_attendance", "held_asb", "held_benefits", "held_employment", "held_interventions", "identity_seen"}
    con = duckdb.connect(str(runs["db"]), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        for t in tables:
            if t in personal:
                continue
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [t]).fetchall()
                if not (t == "quarantine" and c == "raw_row")]  # the delivered text, kept on purpose
            text = "\n".join(str(row) for row in con.execute(
                f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{t}"').fetchall())
            assert leaks(text) == [], t
    finally:
        con.close()
