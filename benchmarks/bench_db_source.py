"""Benchmark: stream a contract source from PostgreSQL and print rows per second and peak memory.

    PBR_BENCH_PG_URL=postgresql+psycopg://user:pw@127.0.0.1:5432/db python benchmarks/bench_db_source.py [--rows 250000]

(PBR_TEST_PG_URL, which .ci/system.d/postgresql.sh exports, also works.) Builds an `attendance`
table with typed columns (DATE, INTEGER, BOOLEAN) of --rows rows from the bundled sample, then, each
in its own process so the peak memory is its own (timed after the imports): the extract alone (rows fetched and turned into
the text frame) at several chunk sizes, the whole read as a refresh does it (typing and the Great
Expectations suite), and the same rows from a CSV file for comparison. Prints figures only."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "deliveries" / "2025-10" / "attendance.csv"

CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
from pbr.ingest.sources import DatabaseSource
mode, arg, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
from pbr.ingest import discover, parse_file
from pbr.ingest.database import parse_source, read_source
if mode != "extract":
    import great_expectations  # noqa: F401 - its import (about 3 s) is not reading
t0 = time.perf_counter()
if mode == "extract":
    extract, frame = read_source(DatabaseSource("attendance", os.environ["BENCH_URL"], table=arg, chunk_size=chunk))
    rows = frame.height
elif mode == "parse":
    p = parse_source(DatabaseSource("attendance", os.environ["BENCH_URL"], table=arg, chunk_size=chunk), None, "2025-10")
    rows = p.rows_read
else:
    (f,) = discover(Path(arg))
    p = parse_file(f, None, "2025-10")
    rows = p.rows_read
wall = time.perf_counter() - t0
print(json.dumps({"rows": rows, "wall_s": wall, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build(engine: sa.Engine, rows: int, workdir: Path) -> str:
    with open(SAMPLE, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, sample = list(reader.fieldnames), list(reader)
    types = {"dob": "DATE", "sessions_possible": "INTEGER", "sessions_unauthorised": "INTEGER",
             "sessions_authorised": "INTEGER", "fixed_exclusions": "INTEGER", "permanent_exclusion": "BOOLEAN"}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for i in range(rows):
        r = dict(sample[i % len(sample)])
        r["upn"] = f"B{i:012d}"  # a distinct natural key per row
        w.writerow([r[h] for h in header])
    (workdir / "csv").mkdir(exist_ok=True)
    (workdir / "csv" / "attendance.csv").write_text(buf.getvalue(), encoding="utf-8")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS bench_attendance")
        cur.execute("CREATE TABLE bench_attendance (" + ", ".join(f"{h} {types.get(h, 'TEXT')}" for h in header) + ")")
        with cur.copy("COPY bench_attendance FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()
    return "bench_attendance"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=250_000)
    ap.add_argument("--chunks", default="1000,10000,50000")
    args = ap.parse_args()
    url = os.environ.get("PBR_BENCH_PG_URL") or os.environ.get("PBR_TEST_PG_URL")
    if not url:
        sys.exit("set PBR_BENCH_PG_URL (or PBR_TEST_PG_URL) to a PostgreSQL database the benchmark may write to")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with tempfile.TemporaryDirectory(prefix="pbr-bench-db-") as tmp:
        table = build(engine, args.rows, Path(tmp))
        env = {**os.environ, "BENCH_URL": url}
        runs = [("extract", table, int(c)) for c in args.chunks.split(",")]
        runs += [("parse", table, 10_000), ("csv file", str(Path(tmp) / "csv"), 0)]
        print(f"{args.rows:,} attendance rows (17 columns) from PostgreSQL; each run in its own process")
        for mode, arg, chunk in runs:
            out = subprocess.run([sys.executable, "-c", CHILD, "file" if mode == "csv file" else mode, arg, str(chunk)],
                                 env=env, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            what = {"extract": f"extract, chunk_size {chunk:,}", "parse": f"extract + type + validate, chunk_size {chunk:,}",
                    "csv file": "the same rows from a CSV file: read + type + validate"}[mode]
            print(f"  {what:55s} {r['wall_s']:6.2f} s  {r['rows'] / r['wall_s']:>9,.0f} rows/s  peak {r['peak_mb']:,.0f} MB")
        with engine.begin() as c:
            c.execute(sa.text(f"DROP TABLE {table}"))
    engine.dispose()


if __name__ == "__main__":
    main()
