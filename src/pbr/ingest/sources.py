"""The sources file (YAML): contract sources read from databases instead of delivery files.

    databases:                  # optional: named connections several sources share
      warehouse: postgresql+psycopg://pbr_reader:${PBR_WAREHOUSE_PASSWORD}@warehouse.example:5432/tf
    sources:
      attendance:
        database: warehouse     # or url: <SQLAlchemy URL>
        table: education.tf_attendance
        chunk_size: 50000       # rows fetched at a time (default 10,000)
        columns:                # the database's column names onto contract names (optional)
          pupil_upn: upn
      asb:
        url: mssql+pyodbc://pbr_reader:${PBR_CSP_PASSWORD}@csp-dsn
        query: SELECT ... FROM ... WHERE event_date <= :period_end ORDER BY event_id

Credentials come from environment variables (`${NAME}` anywhere in a URL); a password written
into the file is refused. See docs/sources.example.yaml and the README."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import yaml
from sqlalchemy.engine import URL, make_url

from ..contract import sources as contract_sources
from ..errors import ConfigError

DEFAULT_CHUNK_SIZE = 10_000
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ONLY_PLACEHOLDER = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
# scheme://[user[:password]@]host...: the userinfo ends at the last '@' before the path.
_USERINFO = re.compile(r"^[A-Za-z0-9+._-]+://(?P<userinfo>[^/?#]*)@")
# Drivers that take the password as a URL query parameter or inside an ODBC connection string.
_QUERY_PASSWORD = re.compile(r"(?i)\b(password|pwd)\s*=\s*([^;&]*)")
SOURCE_KEYS = {"url", "database", "table", "query", "chunk_size", "columns"}


@dataclass(frozen=True)
class DatabaseSource:
    """One contract source read from a database: its URL as written (placeholders unresolved) and
    a table or a query."""

    source: str
    url_template: str
    table: str | None = None
    query: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    columns: dict[str, str] = field(default_factory=dict)  # database column (lower case) -> contract name

    def url(self) -> URL:
        """The URL with its ${NAME} placeholders filled from the environment."""
        missing = [n for n in PLACEHOLDER.findall(self.url_template) if n not in os.environ]
        if missing:
            raise ConfigError(
                f"source '{self.source}': environment variable(s) {', '.join(sorted(set(missing)))} not set "
                "(the sources file's URL takes credentials from the environment)")
        # In the user name, password and query string (which SQLAlchemy decodes) values are
        # percent-encoded, so a password holding '@', ':' or '/' cannot break the URL; host, port and
        # database are taken as they are.
        userinfo = _USERINFO.match(self.url_template)
        userinfo_end = userinfo.end() if userinfo else -1
        query_start = self.url_template.find("?")

        def fill(m: re.Match) -> str:
            value = os.environ[m.group(1)]
            encode = m.start() < userinfo_end or (query_start >= 0 and m.start() > query_start)
            return quote(value, safe="") if encode else value

        filled = PLACEHOLDER.sub(fill, self.url_template)
        try:
            return make_url(filled)
        except Exception:
            raise ConfigError(f"source '{self.source}': the url is not a SQLAlchemy database URL "
                              "(dialect+driver://user:${PASSWORD_VARIABLE}@host:port/database)") from None

    def secrets(self) -> list[str]:
        """The values filled in from the environment: never to appear in a message."""
        return [os.environ[n] for n in PLACEHOLDER.findall(self.url_template) if os.environ.get(n)]

    @property
    def what(self) -> str:
        return f"table {self.table}" if self.table else "query"


@dataclass(frozen=True)
class SourcesFile:
    path: Path
    sha256: str
    sources: dict[str, DatabaseSource]


def load_sources(path: str | Path) -> SourcesFile:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sources file not found: {p}")
    raw = p.read_bytes()
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as e:
        # The parser's message may quote a line of the file (a URL): give its position only.
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"sources file {p} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"sources file {p} must be a mapping with a 'sources' section")
    unknown = set(data) - {"databases", "sources"}
    if unknown:
        raise ConfigError(f"sources file {p}: unknown sections {sorted(unknown)} (known: databases, sources)")
    databases = data.get("databases") or {}
    if not isinstance(databases, dict) or not all(isinstance(v, str) for v in databases.values()):
        raise ConfigError(f"sources file {p}: databases must map a name to a SQLAlchemy URL")
    for name, url in databases.items():
        _refuse_literal_password(p, f"database '{name}'", url)
    entries = data.get("sources") or {}
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"sources file {p}: 'sources' must map contract sources to a url and a table or query")
    known = contract_sources()
    out: dict[str, DatabaseSource] = {}
    for name, spec in entries.items():
        source = str(name).strip().lower()
        if source not in known:
            raise ConfigError(f"sources file {p}: '{name}' is not a contract source (one of {', '.join(known)})")
        out[source] = _source(p, source, spec, databases)
    return SourcesFile(p, hashlib.sha256(raw).hexdigest(), out)


def _source(p: Path, source: str, spec: Any, databases: dict) -> DatabaseSource:
    where = f"sources file {p}, source '{source}'"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: give a url (or database) and a table or query")
    unknown = set(spec) - SOURCE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown settings {sorted(unknown)} (known: {', '.join(sorted(SOURCE_KEYS))})")
    if ("url" in spec) == ("database" in spec):
        raise ConfigError(f"{where}: give either url or database (a name under databases)")
    if "database" in spec:
        if spec["database"] not in databases:
            raise ConfigError(f"{where}: database '{spec['database']}' is not listed under databases")
        url = databases[spec["database"]]
    else:
        url = spec["url"]
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{where}: url must be a SQLAlchemy URL")
        _refuse_literal_password(p, f"source '{source}'", url)
    table, query = spec.get("table"), spec.get("query")
    if (table is None) == (query is None):
        raise ConfigError(f"{where}: give either table or query")
    if table is not None and (not isinstance(table, str) or not re.fullmatch(r"[^\s.]+(\.[^\s.]+)?", table.strip())):
        raise ConfigError(f"{where}: table must be a table name, optionally with its schema (schema.table)")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise ConfigError(f"{where}: query must be an SQL SELECT statement")
    chunk = spec.get("chunk_size", DEFAULT_CHUNK_SIZE)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ConfigError(f"{where}: chunk_size must be a whole number of rows, 1 or more")
    columns = spec.get("columns") or {}
    if not isinstance(columns, dict):
        raise ConfigError(f"{where}: columns must map the database's column names onto contract names")
    return DatabaseSource(source, url.strip(), table.strip() if table else None, query.strip() if query else None,
                          chunk, {str(k).strip().lower(): str(v).strip().lower() for k, v in columns.items()})


def _refuse_literal_password(p: Path, owner: str, url: str) -> None:
    """A password must come from the environment: `user:${NAME}@host`, never `user:secret@host`. The
    message never repeats the URL."""
    problem = None
    m = _USERINFO.match(url.strip())
    if m and ":" in m.group("userinfo"):
        password = m.group("userinfo").split(":", 1)[1]
        if not _ONLY_PLACEHOLDER.match(password):
            problem = "its URL holds a password"
    query = url.split("?", 1)[1] if "?" in url else ""
    for _key, value in parse_qsl(query, keep_blank_values=True):
        for _k, secret in _QUERY_PASSWORD.findall(value) + _QUERY_PASSWORD.findall(f"{_key}={value}"):
            if secret.strip() and not _ONLY_PLACEHOLDER.match(secret.strip()):
                problem = "its URL holds a password in a connection parameter"
    if problem:
        raise ConfigError(
            f"sources file {p}, {owner}: {problem}; put it in an environment variable and write "
            "${VARIABLE_NAME} in its place (e.g. postgresql+psycopg://reader:${PBR_DB_PASSWORD}@host/db)")
