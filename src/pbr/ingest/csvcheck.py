"""A vectorised (polars) check that every CSV record has the header's field count, for the common
case of well-formed quoting. It only ever answers "no problem" or "don't know": anything unusual
(a quote inside an unquoted field, a quoted line break, a lone carriage return, a ragged row)
sends the caller to the exact, row-by-row check in discover.py, which words the error."""

from __future__ import annotations

import polars as pl

QUOTED = r'"(?:[^"]|"")*"'  # a quoted field's text, doubled quotes included
MARK = "\x01"  # stands for a quoted field once its text is removed


def fields_consistent(text: str) -> bool:
    """True when every line is a whole record whose quoted fields open at a field's start and close
    at its end, and every non-blank record has as many fields as the first line."""
    lines = pl.Series("line", text.split("\n"), pl.String)
    if lines.len() and lines[-1] == "":
        lines = lines.head(-1)  # the final newline ends the last record
    if not lines.len():
        return False
    lines = lines.str.strip_suffix("\r")
    shape = pl.DataFrame({"line": lines}).select(
        pl.col("line").str.contains(MARK, literal=True).alias("mark"),
        pl.col("line").str.replace_all(QUOTED, MARK).alias("bare"),
    ).select(
        "mark",
        pl.col("bare").str.contains(r'["\r]').alias("odd"),
        # a quoted field must be the whole field: nothing but separators either side of it
        pl.col("bare").str.contains(f"[^,]{MARK}|{MARK}[^,]").alias("glued"),
        (pl.col("bare").str.count_matches(",", literal=True) + 1).alias("fields"),
        (pl.col("bare").str.len_bytes() == 0).alias("blank"),
    )
    if shape.select(pl.any_horizontal(pl.col("mark").any(), pl.col("odd").any(), pl.col("glued").any())).item():
        return False
    if shape.get_column("blank")[0]:
        return False  # a blank first line is the csv module's header (of no fields)
    fields = shape.filter(~pl.col("blank")).get_column("fields")
    return bool((fields == fields[0]).all())
