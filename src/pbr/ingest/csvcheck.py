"""A vectorised (numpy) check that every CSV record has the header's field count, for the common
case of well-formed quoting. It only ever answers "no problem" or "don't know": anything unusual
(a quote inside an unquoted field, a lone carriage return, an unclosed quote, a ragged row) sends
the caller to the exact, row-by-row check in discover.py, which words the error."""

from __future__ import annotations

import numpy as np

QUOTE, COMMA, LF, CR = ord('"'), ord(","), ord("\n"), ord("\r")


def fields_consistent(data: bytes) -> bool:
    """True when the CSV is well formed (quotes open at a field's start and close at its end or as
    a doubled quote) and every non-blank record has as many fields as the first. UTF-8 never has
    these ASCII bytes inside a multi-byte character, so bytes stand for characters."""
    a = np.frombuffer(data, dtype=np.uint8)
    if a.size == 0:
        return False
    is_quote = a == QUOTE
    # Quote parity before each byte (a uint8 running count keeps its parity when it wraps).
    inside = (np.cumsum(is_quote, dtype=np.uint8) & 1).astype(bool)  # after counting this byte
    quotes = np.flatnonzero(is_quote)
    if quotes.size:
        if quotes.size % 2:
            return False  # ends inside a quoted field
        opening = quotes[0::2]  # the parity before an opening quote is even
        closing = quotes[1::2]
        prev = a[np.maximum(opening - 1, 0)]
        ok_open = (opening == 0) | (prev == COMMA) | (prev == LF) | (prev == QUOTE)
        # a quote reopened straight after a close is a doubled quote: its close must be inside
        # the same field, which the check on closes below covers
        doubled = (opening > 0) & (prev == QUOTE)
        ok_open &= ~doubled | np.isin(opening - 1, closing)
        nxt_idx = np.minimum(closing + 1, a.size - 1)
        nxt = a[nxt_idx]
        at_end = closing == a.size - 1
        ok_close = at_end | (nxt == COMMA) | (nxt == LF) | (nxt == CR) | (nxt == QUOTE)
        if not (ok_open.all() and ok_close.all()):
            return False
    outside = ~inside & ~is_quote
    del inside
    cr = np.flatnonzero((a == CR) & outside)
    if cr.size and not (cr + 1 < a.size).all():
        return False
    if cr.size and not (a[cr + 1] == LF).all():
        return False  # a lone carriage return ends a record for the csv module: let it decide
    ends = np.flatnonzero((a == LF) & outside)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [a.size]))
    # A record's length without its \r; blank records (no bytes) are skipped like the csv module's.
    lengths = stops - starts
    has_cr = np.zeros(lengths.size, dtype=bool)
    if cr.size:
        has_cr[np.searchsorted(starts, cr, side="right") - 1] = True
    lengths = lengths - has_cr
    commas = np.flatnonzero((a == COMMA) & outside)
    counts = np.bincount(np.searchsorted(starts, commas, side="right") - 1, minlength=starts.size) + 1
    if lengths[0] <= 0:
        return False  # a blank first line is the csv module's header (of no fields)
    counts = counts[lengths > 0]
    return bool(counts.size) and bool((counts == counts[0]).all())
