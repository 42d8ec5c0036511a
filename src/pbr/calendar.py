"""Date arithmetic of rules.md: months clamped to month end, reference dates, academic terms."""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import date

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_period(period: str) -> tuple[int, int]:
    m = _PERIOD.match(period or "")
    if not m:
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    return int(m.group(1)), int(m.group(2))


def reference_date(period: str) -> date:
    """R: the last day of the period's month."""
    y, m = parse_period(period)
    return date(y, m, _cal.monthrange(y, m)[1])


def add_months(d: date, n: int) -> date:
    """Same day number n months later (or earlier), clamped to the month's last day,
    as DuckDB's `d + INTERVAL n MONTH` and dateutil's relativedelta."""
    idx = d.year * 12 + (d.month - 1) + n
    y, m = divmod(idx, 12)
    m += 1
    return date(y, m, min(d.day, _cal.monthrange(y, m)[1]))


def add_years(d: date, n: int) -> date:
    return add_months(d, 12 * n)


def next_period(period: str) -> str:
    y, m = parse_period(period)
    d = add_months(date(y, m, 1), 1)
    return f"{d.year:04d}-{d.month:02d}"


def periods_between(start: str, end: str) -> list[str]:
    """Every period from start to end inclusive."""
    parse_period(start), parse_period(end)
    if start > end:
        raise ValueError(f"period {start} is after {end}")
    out = [start]
    while out[-1] < end:
        out.append(next_period(out[-1]))
    return out


def financial_year(d: date) -> int:
    """The starting calendar year of the 1 April - 31 March financial year holding d."""
    return d.year if d.month >= 4 else d.year - 1


@dataclass(frozen=True, order=True)
class Term:
    end: date
    academic_year: str  # "2025/26"
    name: str  # autumn | spring | summer


def academic_year_label(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def term_end(academic_year: str, term: str, term_ends: dict[str, str], start_mmdd: str = "09-01") -> date:
    """End date of a term of academic year 'YYYY/YY'. A term ending before the academic year's
    start month-day belongs to the following calendar year."""
    start_year = int(academic_year[:4])
    mm, dd = (int(x) for x in term_ends[term].split("-"))
    smm, sdd = (int(x) for x in start_mmdd.split("-"))
    year = start_year if (mm, dd) >= (smm, sdd) else start_year + 1
    return date(year, mm, dd)


def last_terms(d: date, n: int, term_ends: dict[str, str], start_mmdd: str = "09-01") -> list[Term]:
    """The n most recent terms whose end date is on or before d, most recent first."""
    terms: list[Term] = []
    start_year = d.year
    while len(terms) < n:
        label = academic_year_label(start_year)
        year_terms = sorted(
            (Term(term_end(label, t, term_ends, start_mmdd), label, t) for t in term_ends), reverse=True
        )
        for t in year_terms:
            if t.end <= d and len(terms) < n:
                terms.append(t)
        start_year -= 1
    return sorted(terms, reverse=True)
