"""The vectorised CSV field-count check never clears a file the row-by-row check would refuse,
and clears ordinary well-formed files (so large deliveries skip the slow path)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pbr.ingest.csvcheck import fields_consistent
from pbr.ingest.discover import _csv_problem


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet='ab ,"\n\r', max_size=40))
def test_never_clears_what_the_exact_check_refuses(text):
    if fields_consistent(text):
        assert _csv_problem(text, strict=False) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.text(alphabet='ab ,"\n\r\u00e9', max_size=6), min_size=3, max_size=3), min_size=1, max_size=8),
       st.sampled_from(["\n", "\r\n"]))
def test_clears_well_quoted_files(rows, newline):
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n\r') else v
    text = newline.join(",".join(cell(v) for v in row) for row in [["x", "y", "z"]] + rows) + newline
    assert _csv_problem(text, strict=False) is None
    # A quoted line break, or an empty or space-edged cell, may send it to the exact check; a file
    # of one-line records with quoted cells must not.
    if all(v and v.strip() == v and "\n" not in v and "\r" not in v for row in rows for v in row):
        assert fields_consistent(text)


def test_ragged_and_odd_files_go_to_the_exact_check():
    assert fields_consistent("a,b\n1,2\n\n3,4\n")
    assert not fields_consistent("a,b\n1,2,3\n")
    assert not fields_consistent("a,b\n1\n")
    assert not fields_consistent('a,b\n"1,2\n')          # unclosed quote
    assert not fields_consistent('a,b\nx"y,2\n')         # quote inside an unquoted field
    assert not fields_consistent("a,b\r1,2\r")            # lone carriage returns
    assert fields_consistent('a,b\r\n"x, ""y""",2\r\n')
