"""Read one contract source from a database (SQLAlchemy) into the same all-text frame a delivered
file gives, so typing, validation, quarantine, supersede rules and lineage are the files' own.

Rows are fetched in chunks (`stream_results` / `yield_per`: a server-side cursor where the driver
has one). Each value becomes the text a CSV export would hold (dates `YYYY-MM-DD`, integers as
digits, booleans `true`/`false`), then the file path types it, so a database and a file give the
same rows and the same quarantine. A row's "line" is its row number in the result, from 1.

Messages name the source and the URL without its password, and never quote a value or a password."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import polars as pl
import sqlalchemy as sa
from sqlalchemy import exc

from .. import calendar as cal
from ..errors import InputFileError
from .discover import finish_text_frame
from .sources import DatabaseSource

FORMAT = "database"
# Connection failures that mean the account, not the network.
_CREDENTIAL_WORDS = ("password authentication failed", "authentication failed", "login failed", "access denied",
                     "ora-01017", "invalid password", "no password supplied", "invalid authorization",
                     "role \"", "ora-28000")
QUERY_PARAMETERS = ("period", "period_start", "period_end")


class SourceError(InputFileError):
    """A database source that cannot be read (the refresh stops before writing, like a bad file)."""


class DatabaseUnreachable(SourceError):
    """The database did not answer: worth a retry by an orchestrator."""


@dataclass
class DatabaseExtract:
    """A database source's rows as one delivery: what the registry records in place of a file."""

    source: str
    name: str                      # e.g. "asb (database table tf.asb; line = result row)"
    origin: str                    # the URL without its password
    query_sha256: str              # of the SQL text run (the query as written, or the SELECT of the table)
    sha256: str = ""               # of the rows as text: the same rows extracted again are recognised
    size: int = 0                  # bytes of that text
    rows: int = 0
    extracted_at: dt.datetime | None = None
    seconds: float = 0.0
    format: str = field(default=FORMAT)

    @property
    def path(self) -> Path:  # the file-shaped interface parse.py uses for hints
        return Path(self.name)


def safe_url(url: sa.engine.URL) -> str:
    """The URL as recorded and shown: no password (the user name is kept: which account read it)."""
    # URL.set(password=None) keeps the password (None means "unchanged"): replace the field.
    return url._replace(password=None).render_as_string(hide_password=False)


def read_source(spec: DatabaseSource, period: str | None = None) -> tuple[DatabaseExtract, pl.DataFrame]:
    """The source's rows as an all-text frame (result column names, __line from 1) and its extract."""
    url = spec.url()
    shown = safe_url(url)
    label = f"source '{spec.source}' ({shown})"
    secrets = spec.secrets() + ([url.password] if url.password else [])

    def fail(problem: str, cls=SourceError):
        return cls(label, _scrub(problem, secrets))

    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not url.database.startswith("file:") and not Path(url.database).is_file():
        raise fail("database file not found")
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=_connect_args(url))
    except (ModuleNotFoundError, exc.NoSuchModuleError, exc.ArgumentError):
        raise fail(f"no driver for '{url.drivername}' is installed (PostgreSQL: pip install 'pbr[postgres]'; "
                   "see the README, Reading from databases)") from None
    query_text = ""
    try:
        started = time.monotonic()
        extracted_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        try:
            conn = engine.connect()
        except exc.DBAPIError as e:
            message = _driver_message(e)
            if any(w in message.lower() for w in _CREDENTIAL_WORDS):
                raise fail(f"the database refused the credentials of user '{url.username or ''}' "
                           "(check the password variable and the account)") from None
            raise fail(f"cannot connect to the database ({message})", DatabaseUnreachable) from None
        with conn:
            stmt, params, query_text = _statement(conn, spec, period, fail)
            try:
                result = conn.execution_options(stream_results=True, yield_per=spec.chunk_size).execute(stmt, params)
                columns = list(result.keys())
                _check_columns(columns, fail)
                frames, digest, size = [], hashlib.sha256(), 0
                header = ("\x1f".join(columns) + "\n").encode()
                digest.update(header)
                size += len(header)
                for part in result.partitions(spec.chunk_size):
                    chunk = _chunk_frame(columns, part, fail)
                    text = chunk.write_csv(include_header=False).encode()
                    digest.update(text)
                    size += len(text)
                    frames.append(chunk)
            except exc.DBAPIError as e:
                raise fail(_query_problem(e)) from None
    finally:
        engine.dispose()
    what = f"table {spec.table}" if spec.table else "query"
    extract = DatabaseExtract(
        source=spec.source, name=f"{spec.source} (database {what}; line = result row)", origin=shown,
        query_sha256=hashlib.sha256(query_text.encode()).hexdigest(), sha256=digest.hexdigest(), size=size,
        extracted_at=extracted_at, seconds=time.monotonic() - started)
    frame = pl.concat(frames) if frames else pl.DataFrame(schema={c: pl.String for c in columns})
    frame = finish_text_frame(extract, frame, first_line=1)
    extract.rows = frame.height
    return extract, frame


def _connect_args(url: sa.engine.URL) -> dict:
    # An unreachable PostgreSQL host otherwise waits on the operating system's TCP timeout.
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        return {"connect_timeout": 15}
    return {}


def _statement(conn: sa.Connection, spec: DatabaseSource, period: str | None, fail):
    """(statement, parameters, SQL text) for the source. A table is reflected so a missing one is
    named as such; its columns are selected untyped, so every value arrives as the driver gives
    it (a dialect's own type conversion would reject a bad date instead of quarantining it)."""
    if spec.table:
        schema, _, name = spec.table.rpartition(".")
        try:
            inspector = sa.inspect(conn)
            if not inspector.has_table(name, schema=schema or None):
                raise fail(f"table {spec.table} not found in the database (or the account cannot see it)")
            names = [c["name"] for c in inspector.get_columns(name, schema=schema or None)]
        except exc.DBAPIError as e:
            raise fail(_query_problem(e)) from None
        table = sa.table(name, *[sa.column(n) for n in names], schema=schema or None)
        stmt = sa.select(*table.c)
        return stmt, {}, str(stmt.compile(dialect=conn.dialect))
    stmt = sa.text(spec.query)
    binds = set(stmt.compile().params)
    unknown = binds - set(QUERY_PARAMETERS)
    if unknown:
        raise fail(f"the query uses parameter(s) {', '.join(':' + b for b in sorted(unknown))}; pbr supplies "
                   f"{', '.join(':' + p for p in QUERY_PARAMETERS)}")
    params = {}
    if binds:
        if period is None:
            raise fail("the query uses the delivery period: give --period")
        year, month = cal.parse_period(period)
        params = {"period": period, "period_start": dt.date(year, month, 1), "period_end": cal.reference_date(period)}
        params = {k: v for k, v in params.items() if k in binds}
    return stmt, params, spec.query


def _check_columns(columns: list[str], fail) -> None:
    seen: set[str] = set()
    for c in columns:
        key = str(c).strip().lower()
        if key in seen:
            raise fail(f"the result has two columns named '{key}': give each column one name")
        seen.add(key)


def _chunk_frame(columns: list[str], rows, fail) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema={c: pl.String for c in columns})
    return pl.DataFrame([_column_text(name, values, fail) for name, values in zip(columns, zip(*rows))])


def _column_text(name: str, values: tuple, fail) -> pl.Series:
    """One column of a chunk as text. A column of one type converts in polars; mixed types (SQLite
    keeps any value in any column), timezone-aware times and anything unusual go value by value."""
    try:
        s = pl.Series(name, values, strict=True)
    except Exception:
        s = None
    if s is not None:
        dtype = s.dtype
        if dtype == pl.String:
            return s
        if dtype == pl.Null or dtype.is_integer() or dtype.is_float() or dtype.is_decimal():
            return s.cast(pl.String)
        if dtype == pl.Boolean:
            return pl.select(pl.when(s).then(pl.lit("true")).when(~s).then(pl.lit("false"))
                             .otherwise(None).alias(name)).to_series()
        if dtype == pl.Date:
            return s.dt.strftime("%Y-%m-%d")
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            return s.dt.strftime("%Y-%m-%d %H:%M:%S")  # as a Parquet file's timestamps read
    if any(isinstance(v, (bytes, bytearray, memoryview)) for v in values):
        raise fail(f"column '{name}' holds binary data: select it as text")
    return pl.Series(name, [_as_text(v) for v in values], dtype=pl.String)


def _as_text(v) -> str | None:
    """The value as a CSV export writes it, so the file path types it the same way."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ") if v.tzinfo else v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _driver_message(e: exc.DBAPIError) -> str:
    """The driver's own first line (SQLAlchemy's text adds the statement and its parameters)."""
    lines = [line.strip() for line in str(e.orig).splitlines() if line.strip()]
    return lines[0] if lines else type(e.orig).__name__


def _query_problem(e: exc.DBAPIError) -> str:
    state = str(getattr(e.orig, "sqlstate", None) or getattr(e.orig, "pgcode", None) or "")
    if state.startswith("22"):
        # A data exception (a cast that failed) may quote the value: name the class only.
        return (f"the database could not convert a value while running the query (SQLSTATE {state}, data "
                "exception): select the column as text and let pbr quarantine the row")
    return f"the query failed in the database: {_driver_message(e)}"


def _scrub(message: str, secrets: list[str]) -> str:
    for s in secrets:
        for form in {s, quote(s, safe="")}:
            if form:
                message = message.replace(form, "***")
    return message


def parse_source(spec: DatabaseSource, mapping: dict[str, str] | None = None, period: str | None = None,
                 memo=None):
    """Read the source and take it down the files' path: typed, validated by its suite (memo: the
    store's validation memo), split into the rows that load and the quarantine (a ParsedFile whose
    `file` is the DatabaseExtract). The sources file's column mapping wins over the
    configuration's column_mappings."""
    from .parse import type_text, validate_typed

    extract, text = read_source(spec, period)
    return validate_typed(type_text(extract, text, {**(mapping or {}), **spec.columns}), period, memo)
