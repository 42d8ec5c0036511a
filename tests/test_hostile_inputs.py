"""Hostile deliveries: every reader and the validation step end in a clear file error (naming the
file, and the line and column where there is one) or a quarantined row — never another exception,
a traceback or a partial load. Property-based (hypothesis) where the input space is open."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pbr.errors import InputErrors, InputFileError, PbrError
from pbr.ingest import discover, parse_file
from pbr.ingest.discover import MAX_CELL_CHARS, DeliveryFile

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "deliveries" / "2025-10"
PERIOD = "2025-10"
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def asb_rows(n: int = 6) -> tuple[list[str], list[list[str]]]:
    with open(SAMPLE / "asb.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:1 + n]


def as_csv(header, rows, *, encoding="utf-8") -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def delivery(data: bytes, name: str = "asb.csv") -> DeliveryFile:
    fmt = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}[Path(name).suffix]
    return DeliveryFile(Path(name).stem, Path(name), fmt, data, hashlib.sha256(data).hexdigest())


def outcome(f: DeliveryFile):
    """The parsed file, or the InputFileError; anything else fails the test."""
    try:
        return parse_file(f, None, PERIOD)
    except InputFileError as e:
        assert str(e).startswith(f.name), str(e)
        assert "Traceback" not in str(e)
        return e


def accounted(p, n_rows: int) -> None:
    """Every delivered row either loads or is quarantined: nothing is silently lost."""
    bad = set(p.rejects.get_column("line_no").to_list())
    good = set(p.rows.get_column("line_no").to_list())
    assert not (bad & good)
    assert len(bad) + len(good) == p.rows_read == n_rows


# Random bytes in every format ----------------------------------------------------------------------

@MANY
@given(data=st.binary(max_size=3000), name=st.sampled_from(["asb.csv", "attendance.xlsx", "benefits.parquet"]))
def test_random_bytes_are_a_clear_file_error(data, name):
    r = outcome(delivery(data, name))
    assert isinstance(r, InputFileError)  # random bytes are never a valid delivery


def _good_binaries() -> dict[str, bytes]:
    from openpyxl import Workbook
    header, rows = asb_rows()
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    xlsx = io.BytesIO()
    wb.save(xlsx)
    pq = io.BytesIO()
    pl.DataFrame({h: [r[i] for r in rows] for i, h in enumerate(header)}).write_parquet(pq)
    return {"asb.xlsx": xlsx.getvalue(), "asb.parquet": pq.getvalue()}


GOOD = _good_binaries()


def test_the_good_binaries_parse():
    for name, data in GOOD.items():
        assert not isinstance(outcome(delivery(data, name)), InputFileError)


@FEW
@given(name=st.sampled_from(sorted(GOOD)), cut=st.integers(min_value=1, max_value=100_000),
       flip=st.integers(min_value=1, max_value=255))
def test_truncated_or_corrupted_workbooks_and_parquet(name, cut, flip):
    good = GOOD[name]
    k = cut % len(good)
    outcome(delivery(good[:k], name))   # truncated: a clear file error
    corrupted = good[:k] + bytes([flip ^ good[k]]) + good[k + 1:]
    r = outcome(delivery(corrupted, name))  # one byte changed: parses or a clear file error
    if not isinstance(r, InputFileError):
        accounted(r, r.rows_read)


# Hostile cell values ---------------------------------------------------------------------------------

cell_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) | st.sampled_from([
    "=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", '"', '""', "a,b", "a\nb",
    "a\r\nb", "\t", " ", "'", "\\", "\u202e", "\ufeff", "NULL", "null", "N/A", "9" * 40])


@FEW
@given(column=st.sampled_from(["forename", "surname", "dob", "postcode", "person_ref", "event_id", "event_date",
                               "event_type", "agency", "sex", "uprn"]),
       row=st.integers(min_value=0, max_value=5), value=cell_text)
def test_any_cell_value_loads_quarantines_or_is_a_file_error(column, row, value):
    header, rows = asb_rows()
    rows[row][header.index(column)] = value
    data = as_csv(header, rows)
    r = outcome(delivery(data))
    if isinstance(r, InputFileError):
        assert "\x00" in value, str(r)  # only a NUL byte makes the text not a CSV file
    else:
        accounted(r, len(rows))
        if r.rejects.height:  # reasons never quote the value
            reasons = " ".join(r.rejects.get_column("reason").to_list())
            assert len(value.strip()) < 4 or value.strip() not in reasons


@pytest.mark.parametrize("value, outcome_kind", [
    ("31/02/2026", "quarantined"), ("2026-02-30", "quarantined"), ("00/00/0000", "quarantined"),
    ("2026-13-01", "quarantined"), ("yesterday", "quarantined"), ("29/02/2023", "quarantined"),
    ("9999-12-31", "loads"),  # a real date after the period: kept with a warning, ignored until then
    ("1/2/2025", "loads"),
])
def test_impossible_dates_are_quarantined(value, outcome_kind):
    header, rows = asb_rows()
    rows[2][header.index("event_date")] = value
    r = outcome(delivery(as_csv(header, rows)))
    accounted(r, len(rows))
    bad = r.rejects.filter(pl.col("line_no") == 4)
    if outcome_kind == "quarantined":
        assert bad.get_column("column_name").to_list() == ["event_date"]
    else:
        assert bad.height == 0


@pytest.mark.parametrize("char", ["x", "é"])
def test_a_cell_over_10000_characters_is_a_file_error_naming_line_and_column(char):
    # The limit counts characters: sizes are checked on byte lengths first (no scan of the text),
    # and 10,000 two-byte characters are 20,000 bytes within it.
    header, rows = asb_rows()
    rows[3][header.index("address")] = char * MAX_CELL_CHARS
    assert not isinstance(outcome(delivery(as_csv(header, rows))), InputFileError)
    rows[3][header.index("address")] = char * (MAX_CELL_CHARS + 1)
    e = outcome(delivery(as_csv(header, rows)))
    assert isinstance(e, InputFileError) and (e.line, e.column) == (5, "address")
    assert "10,001 characters" in str(e)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32"])
def test_wrong_encodings_are_a_file_error(encoding):
    header, rows = asb_rows()
    rows[1][header.index("forename")] = "Zoë Ségolène"
    rows[1][header.index("address")] = "1 Café Row – €" if encoding != "latin-1" else "1 Café Row ±"
    e = outcome(delivery(as_csv(header, rows, encoding=encoding)))
    assert isinstance(e, InputFileError)
    assert "UTF-8" in str(e) or "binary" in str(e)
    assert "Zo" not in str(e) and "Caf" not in str(e)


@pytest.mark.parametrize("mutate, expect", [
    (lambda h, r: r[2].append("extra"), "fields where the header has"),
    (lambda h, r: r[2].pop(), "fields where the header has"),
    (lambda h, r: (h.append("shoe_size"), [x.append("9") for x in r]), "unexpected"),
    (lambda h, r: h.__setitem__(h.index("event_date"), "evnt_date"), "missing"),
])
def test_extra_or_missing_fields_are_a_file_error(mutate, expect):
    header, rows = asb_rows()
    mutate(header, rows)
    e = outcome(delivery(as_csv(header, rows)))
    assert isinstance(e, InputFileError) and expect in str(e), str(e)


def test_a_short_row_is_the_error_even_when_typing_fails_too():
    # The rows' shapes are counted in a second thread while the file is typed (discover.read_text_frame):
    # a file that is both ragged and misheaded reports its ragged row, at its line, as it always did.
    header, rows = asb_rows()
    header[header.index("event_date")] = "evnt_date"
    rows[2].pop()
    e = outcome(delivery(as_csv(header, rows)))
    assert isinstance(e, InputFileError) and "fields where the header has" in str(e) and "line 4" in str(e), str(e)


def test_an_unclosed_quote_is_a_file_error():
    header, rows = asb_rows()
    good = as_csv(header, rows)
    data = good.replace(b",yot\r\n", b',"yot\r\n', 1)  # the quote never closes
    assert data != good
    assert isinstance(outcome(delivery(data)), InputFileError)


# Folders: symlinks, odd names ------------------------------------------------------------------------

def test_symlinked_files_are_refused(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    secret = tmp_path / "elsewhere.csv"
    secret.write_bytes((SAMPLE / "asb.csv").read_bytes())
    (folder / "asb.csv").symlink_to(secret)
    (folder / "benefits.csv").symlink_to("/etc/passwd")
    with pytest.raises(InputErrors) as e:
        discover(folder)
    assert sorted(x.file for x in e.value.errors) == ["asb.csv", "benefits.csv"]
    assert all("symbolic link" in x.problem for x in e.value.errors)


def test_a_symlinked_store_is_refused(tmp_path):
    from pbr.store import connect
    (tmp_path / "real.duckdb").write_bytes(b"")
    (tmp_path / "pbr.duckdb").symlink_to(tmp_path / "real.duckdb")
    with pytest.raises(PbrError, match="symbolic link"):
        connect(tmp_path / "pbr.duckdb")


@pytest.mark.parametrize("name", ["asb.csv\n", "asb .csv.exe", "ASB.CSV ", "asb;rm -rf.csv",
                                  "-asb.csv", "attendance.csv.zip"])
def test_odd_file_names_are_refused_or_ignored_never_followed(tmp_path, name):
    folder = tmp_path / "d"
    folder.mkdir()
    target = folder / name  # (a file name cannot hold '/': discover lists the folder, never joins names)
    target.write_bytes((SAMPLE / "asb.csv").read_bytes())
    try:
        files = discover(folder)
    except InputErrors as e:
        assert all(x.file == target.name for x in e.errors)
        return
    assert all(f.path.parent == folder for f in files)


def test_a_refresh_from_and_to_oddly_named_folders(tmp_path):
    from pbr.refresh import refresh
    odd = tmp_path / "in -x 'quote' $HOME ü;\tnew\nline"
    odd.mkdir()
    for f in SAMPLE.iterdir():
        (odd / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out dir ü 'x'"
    r = refresh(PERIOD, odd, tmp_path / "st ore ü.duckdb", out)
    assert (out / PERIOD / "cohort.csv").is_file() and r.summary["cohort"] >= 0


def test_the_cli_never_shows_a_traceback_for_hostile_files(tmp_path):
    folder = tmp_path / "2025-10"
    folder.mkdir()
    (folder / "asb.csv").write_bytes(os.urandom(2000))
    (folder / "attendance.xlsx").write_bytes(b"PK\x03\x04" + os.urandom(500))
    (folder / "benefits.parquet").write_bytes(b"PAR1" + os.urandom(500) + b"PAR1")
    (folder / "employment.csv").write_bytes(b"\xff\xfe" + os.urandom(100))
    db = tmp_path / "pbr.duckdb"
    for args in (["validate", str(folder)],
                 ["refresh", "--period", PERIOD, "--extracts", str(folder), "--db", str(db), "--out", str(tmp_path / "o")]):
        r = subprocess.run([sys.executable, "-m", "pbr.cli", *args], capture_output=True, text=True, cwd=ROOT,
                           timeout=120)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr + r.stdout
        for name in ("asb.csv", "attendance.xlsx", "benefits.parquet", "employment.csv"):
            assert name in r.stderr
    assert not db.exists()  # nothing written


_PARQUET_SWEEP = """
import sys
from pbr.errors import InputFileError
from pathlib import Path
from pbr.ingest.discover import DeliveryFile, _read_parquet
good = open(sys.argv[1], "rb").read()
for k in range(1, len(good)):
    for data in (good[:k], good[:k] + bytes([good[k] ^ 0xFF]) + good[k + 1:]):
        try:
            _read_parquet(DeliveryFile("asb", Path("asb.parquet"), "parquet", data, ""))
        except InputFileError:
            pass
print("swept", len(good))
"""


def test_every_one_byte_corruption_of_a_parquet_file_is_read_or_a_file_error(tmp_path):
    """polars' own Parquet reader panicked on some corrupted files, in a worker thread, which
    aborted the process; now every corruption gives rows or a
    clear file error (every truncation and every byte inverted here; the property test above
    flips bytes at random). In a child process, so an abort fails this test instead of the run."""
    import subprocess
    import sys
    src = tmp_path / "asb.parquet"
    src.write_bytes(GOOD["asb.parquet"])
    proc = subprocess.run([sys.executable, "-c", _PARQUET_SWEEP, str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("swept")


@pytest.mark.parametrize("odd", ["*", "^x.*$", "^.*$"])
def test_headers_polars_would_read_as_patterns_are_plain_names(odd):
    """A header such as "*" or "^.*$" is a column name like any other: an extra one is carried
    as any unknown column is, and one alone is a clear file error (polars' pl.col would have
    read it as a wildcard or a regular expression: "duplicate output name" or worse)."""
    header, rows = asb_rows()
    p = outcome(delivery(as_csv(header + [odd], [r + ["1"] for r in rows])))
    want = outcome(delivery(as_csv(header + ["extra"], [r + ["1"] for r in rows])))
    assert type(p) is type(want)
    if not isinstance(p, InputFileError):
        accounted(p, len(rows))
        assert p.rows.equals(want.rows)
    alone = outcome(delivery(as_csv([odd], [["1"], ["2"]])))
    assert isinstance(alone, InputFileError)


# Typing: each value parsed once, its failures found from the typed frame -----------------------------

def attendance_rows(n: int = 6) -> tuple[list[str], list[list[str]]]:
    with open(SAMPLE / "attendance.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:1 + n]


typed_text = st.sampled_from(["", " ", "\t", "12", "+7", "-3", "7.0", "7.5", "1234567890", "0012", "y", "N", "TRUE",
                              "0", "1", "maybe", "2025-10-31", "31/10/2025", "2025-10-31 00:00:00", "2025-02-30",
                              "1/2/2025", "yesterday", " 5 ", "٣"]) | st.text(max_size=12)


@FEW
@given(cells=st.lists(st.tuples(st.sampled_from(["dob", "sessions_possible", "sessions_unauthorised",
                                                 "fixed_exclusions", "permanent_exclusion"]),
                                st.integers(min_value=0, max_value=5), typed_text), max_size=8))
def test_parse_failures_are_the_values_present_that_did_not_parse(cells):
    # The reference: each typed column's parse failures judged from the delivered text on its own (as
    # type_text did before it parsed each value once), column by column, then line by line.
    from pbr.contract import sources
    from pbr.ingest.parse import _parse_bool, _parse_date, _parse_int, type_file
    from pbr.validation.suites import PARSE_EXPECTATIONS, PARSE_REASONS
    header, rows = attendance_rows()
    for column, row, value in cells:
        rows[row][header.index(column)] = value.replace("\x00", "")
    t = type_file(delivery(as_csv(header, rows), "attendance.csv"))
    parse = {"date": _parse_date, "integer": _parse_int, "boolean": _parse_bool}
    expected = []
    for c in sources()["attendance"].columns:
        if c.type not in PARSE_EXPECTATIONS:
            continue
        judged = t.text.select("__line", pl.col(c.name).is_not_null().alias("present"), parse[c.type](c.name).alias("v"))
        expected += [(line, c.name, PARSE_REASONS[c.type], PARSE_EXPECTATIONS[c.type])
                     for line, present, v in judged.iter_rows() if present and v is None]
    assert t.parse_failures.rows() == expected
    assert t.parse_failures.schema == pl.Schema({"__line": pl.Int64, "column_name": pl.String, "reason": pl.String,
                                                 "expectation": pl.String})
    # A failed value is null in the typed frame, and a column's default fills only a value not delivered.
    typed = t.typed.join(t.text.select("__line", pl.col("fixed_exclusions").alias("text")), on="__line")
    for _, column, _, _ in expected:
        failed = {line for line, c, _, _ in expected if c == column}
        assert all(v is None for line, v in t.typed.select("__line", column).iter_rows() if line in failed)
    assert all(v == 0 for text, v in typed.select("text", "fixed_exclusions").iter_rows() if text is None)


def test_rows_of_blank_cells_are_dropped_and_the_others_keep_their_lines():
    # Blank rows are dropped as the CSV's values are cleaned (type_text), not in a pass of their own.
    header, rows = asb_rows(4)
    blank = [" "] * len(header)
    blank[1] = "\t"
    rows = [rows[0], blank, rows[1], [""] * len(header), rows[2]]
    r = outcome(delivery(as_csv(header, rows)))
    accounted(r, 3)
    assert sorted(r.rows.get_column("line_no").to_list() + r.rejects.get_column("line_no").unique().to_list()) == [2, 4, 6]
    header, rows = asb_rows(2)
    e = outcome(delivery(as_csv(header, [[" "] * len(header), [""] * len(header)])))
    assert isinstance(e, InputFileError) and "has a header but no rows" in str(e)


def test_cleaned_text_is_stripped_and_a_blank_value_is_null():
    from pbr.ingest.parse import type_file
    header, rows = attendance_rows(3)
    col = header.index("provision")
    for row, value in zip(rows, ["  mainstream \t", " \t ", ""]):
        row[col] = value
    t = type_file(delivery(as_csv(header, rows), "attendance.csv"))
    assert t.text.get_column("provision").to_list() == ["mainstream", None, None]
    assert t.text.schema["provision"] == pl.String
