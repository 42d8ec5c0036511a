"""csv_shape.rows_regular: the numpy row-shape check that spares most files the csv module's count.
It may only answer True where the csv module (strict=False) finds no irregular row, and it must
answer True for ordinary well-quoted files (else it saves nothing)."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbr.ingest.csv_shape import rows_regular
from pbr.ingest.discover import _csv_problem, _csv_shape

# Bytes that matter to CSV structure, and a multi-byte character.
RAW = st.text(alphabet=['a', 'b', ',', '"', '\n', ' ', 'é', '\r'], max_size=60).map(lambda s: s.encode())
CELL = st.text(alphabet=['a', ',', '"', '\n', ' ', 'é'], max_size=6)


def written(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RAW, st.integers(1, 8))
def test_regular_only_where_the_csv_module_finds_no_problem(data, chunk):
    if data and rows_regular(data, chunk=chunk):
        assert _csv_problem(data, False) is None


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 4).flatmap(lambda width: st.lists(st.lists(CELL, min_size=width, max_size=width),
                                                        min_size=1, max_size=8)),
       st.integers(1, 16))
def test_well_quoted_files_are_proved_regular_in_any_chunking(rows, chunk):
    data = written(rows)
    if rows[0] == [""]:  # written as an empty line: the csv module's header is then []
        return
    assert rows_regular(data, chunk=chunk)
    assert rows_regular(data, chunk=chunk) == rows_regular(data)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=2, max_size=8), st.data(), st.integers(1, 16))
def test_a_row_of_another_width_is_never_proved_regular(rows, data, chunk):
    i = data.draw(st.integers(1, len(rows) - 1))
    rows[i] = rows[i][:data.draw(st.sampled_from([1, 2]))] if data.draw(st.booleans()) else rows[i] + ["x"]
    body = written(rows)
    assert not rows_regular(body, chunk=chunk)
    assert _csv_shape(body) == _csv_problem(body, False) is not None


def test_cases_left_to_the_csv_module():
    for data in [b"a,b\r\n1,2\r\n",  # carriage returns
                 b'a,b\n1,x"y\n',  # a quote inside an unquoted field
                 b'a,b\n"1"x,2\n',  # text after a closing quote
                 b'a,b\n"1,2\n',  # an unclosed quote
                 b"\na,b\n1,2\n"]:  # an empty first line
        assert not rows_regular(data)
    assert rows_regular(b'a,b\n"1,\n""x""",2\n\n3,\n')  # quoted commas, newlines and quotes; a blank line
    assert rows_regular(b"a,b")  # a header alone
    assert not rows_regular(b"a,b\n1")  # a short last line without a newline
