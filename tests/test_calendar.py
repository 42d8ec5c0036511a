"""Date arithmetic of rules.md (Words): months clamped to month end, reference dates, terms,
financial years. Expected values are worked out by hand from the spec."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pbr import calendar as cal
from pbr.rulebook import load_rulebook
from pbr.sqlfiles import read_sql, statements

RB = load_rulebook("phase1-2012")
TERM_ENDS = RB.term_ends
START = RB.academic_year_start


@pytest.mark.parametrize("d, n, expected", [
    (date(2026, 8, 31), -6, date(2026, 2, 28)),   # the spec's first example
    (date(2026, 11, 30), -6, date(2026, 5, 30)),  # the spec's second example
    (date(2024, 8, 31), -6, date(2024, 2, 29)),   # clamped to a leap February
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
    (date(2026, 1, 31), -12, date(2025, 1, 31)),
    (date(2024, 2, 29), -12, date(2023, 2, 28)),
    (date(2025, 12, 15), 2, date(2026, 2, 15)),   # across a year end
    (date(2026, 2, 28), 0, date(2026, 2, 28)),
])
def test_add_months_clamps_to_month_end(d, n, expected):
    assert cal.add_months(d, n) == expected


def test_add_months_matches_the_sql_macro():
    """The SQL rules use the add_months macro of 00_macros.sql: it must agree with calendar.py."""
    con = duckdb.connect()
    for stmt in statements(read_sql("refresh/00_macros.sql")):
        con.execute(stmt)
    cases = [(date(2026, 8, 31), -6), (date(2026, 11, 30), -6), (date(2008, 2, 29), 216),
             (date(2024, 2, 29), -12), (date(2026, 1, 31), 1), (date(2025, 3, 31), -1)]
    for d, n in cases:
        got = con.execute("SELECT add_months(?::DATE, ?)", [d, n]).fetchone()[0]
        assert got == cal.add_months(d, n), (d, n)


@pytest.mark.parametrize("dob, years, expected", [
    (date(2008, 2, 29), 18, date(2026, 2, 28)),  # leap-day birthday in a common year: 28 February
    (date(2008, 2, 29), 16, date(2024, 2, 29)),  # ... and in a leap year: 29 February
    (date(2010, 5, 5), 18, date(2028, 5, 5)),
])
def test_add_years_leap_day(dob, years, expected):
    assert cal.add_years(dob, years) == expected


@pytest.mark.parametrize("period, r", [
    ("2026-01", date(2026, 1, 31)),
    ("2026-02", date(2026, 2, 28)),
    ("2024-02", date(2024, 2, 29)),
    ("2025-04", date(2025, 4, 30)),
    ("2025-12", date(2025, 12, 31)),
])
def test_reference_date_is_last_day_of_period(period, r):
    assert cal.reference_date(period) == r


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", "", "2026-01-31"])
def test_bad_period_rejected(bad):
    with pytest.raises(ValueError):
        cal.parse_period(bad)


def test_next_period_and_periods_between():
    assert cal.next_period("2025-12") == "2026-01"
    assert cal.next_period("2026-01") == "2026-02"
    assert cal.periods_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize("year, term, end", [
    ("2025/26", "autumn", date(2025, 12, 31)),
    ("2025/26", "spring", date(2026, 3, 31)),
    ("2025/26", "summer", date(2026, 7, 31)),
    ("2024/25", "autumn", date(2024, 12, 31)),
])
def test_term_end(year, term, end):
    assert cal.term_end(year, term, TERM_ENDS, START) == end


def _terms(d: date, n: int = 3) -> list[tuple[str, str, date]]:
    return [(t.academic_year, t.name, t.end) for t in cal.last_terms(d, n, TERM_ENDS, START)]


@pytest.mark.parametrize("d, expected", [
    # mid-winter: the autumn term just ended, then the previous summer and spring
    (date(2026, 1, 31), [("2025/26", "autumn", date(2025, 12, 31)), ("2024/25", "summer", date(2025, 7, 31)),
                         ("2024/25", "spring", date(2025, 3, 31))]),
    # exactly on a term end: that term counts ("end date on or before D")
    (date(2025, 12, 31), [("2025/26", "autumn", date(2025, 12, 31)), ("2024/25", "summer", date(2025, 7, 31)),
                          ("2024/25", "spring", date(2025, 3, 31))]),
    # the day before: it does not
    (date(2025, 12, 30), [("2024/25", "summer", date(2025, 7, 31)), ("2024/25", "spring", date(2025, 3, 31)),
                          ("2024/25", "autumn", date(2024, 12, 31))]),
    # on the summer term end and over the holiday into the new academic year
    (date(2025, 7, 31), [("2024/25", "summer", date(2025, 7, 31)), ("2024/25", "spring", date(2025, 3, 31)),
                         ("2024/25", "autumn", date(2024, 12, 31))]),
    (date(2025, 9, 1), [("2024/25", "summer", date(2025, 7, 31)), ("2024/25", "spring", date(2025, 3, 31)),
                        ("2024/25", "autumn", date(2024, 12, 31))]),
    # just after the spring term: spring, autumn, and the previous academic year's summer
    (date(2025, 4, 1), [("2024/25", "spring", date(2025, 3, 31)), ("2024/25", "autumn", date(2024, 12, 31)),
                        ("2023/24", "summer", date(2024, 7, 31))]),
    (date(2025, 3, 31), [("2024/25", "spring", date(2025, 3, 31)), ("2024/25", "autumn", date(2024, 12, 31)),
                         ("2023/24", "summer", date(2024, 7, 31))]),
])
def test_last_three_terms(d, expected):
    assert _terms(d) == expected


def test_last_terms_most_recent_first_for_longer_windows():
    got = _terms(date(2026, 2, 28), 5)
    assert [t[2] for t in got] == [date(2025, 12, 31), date(2025, 7, 31), date(2025, 3, 31),
                                  date(2024, 12, 31), date(2024, 7, 31)]


@pytest.mark.parametrize("d, fy", [
    (date(2013, 3, 31), 2012),
    (date(2013, 4, 1), 2013),
    (date(2014, 1, 15), 2013),
    (date(2014, 3, 31), 2013),
    (date(2014, 4, 1), 2014),
    (date(2026, 12, 31), 2026),
])
def test_financial_year_starts_1_april(d, fy):
    assert cal.financial_year(d) == fy
