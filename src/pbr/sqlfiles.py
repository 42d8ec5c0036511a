"""SQL kept as files under sql/ (in a checkout) or pbr/_sql (in an installed wheel)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path


@lru_cache(maxsize=1)
def sql_root() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("pbr") / "_sql"))


@lru_cache(maxsize=None)
def read_sql(relative: str) -> str:
    return (sql_root() / relative).read_text(encoding="utf-8")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every schema file, in order."""
    out = []
    for p in sorted((sql_root() / "schema").glob("*.sql")):
        out.append((int(p.name.split("_", 1)[0]), p.stem, p.read_text(encoding="utf-8")))
    return out


def statements(sql: str) -> list[str]:
    """Split a file on ';' at line ends (our SQL files keep one statement per ';' line end)."""
    parts, buf = [], []
    for line in sql.splitlines():
        buf.append(line)
        if line.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if stmt.strip(";").strip() and not all(l.strip().startswith("--") or not l.strip() for l in buf):
                parts.append(stmt)
            buf = []
    tail = "\n".join(buf).strip()
    if tail and not all(l.strip().startswith("--") or not l.strip() for l in buf):
        parts.append(tail)
    return parts
