"""Disclosure control for anything meant for wider circulation (the monthly report).

Primary suppression: a count from 1 up to below the threshold (default 5, configurable as
report.disclosure_threshold) is not shown. Secondary suppression: within a group whose total is
shown, a lone suppressed cell could be recovered as the total minus the others, so further cells
(the smallest non-zero ones) are suppressed until the suppressed cells add up to at least the
threshold; when no cell is left to suppress, the total is suppressed too. Zero is shown: it
identifies nobody. A value derived from a count (an amount, a share) is suppressed with it."""

from __future__ import annotations

from dataclasses import dataclass

MARK = "*"


@dataclass(frozen=True)
class Cell:
    value: float | int | None      # None when suppressed
    suppressed: bool = False
    reason: str = ""              # "" | "primary" | "secondary"

    def text(self, fmt: str = "{:,}") -> str:
        return MARK if self.suppressed else fmt.format(self.value)


def is_small(n: int | None, threshold: int) -> bool:
    return n is not None and 0 < n < threshold


def cell(n: int, threshold: int) -> Cell:
    """One count on its own (primary suppression only)."""
    if is_small(n, threshold):
        return Cell(None, True, "primary")
    return Cell(n)


def protect(values: list[int], threshold: int, total_shown: bool = True) -> tuple[list[Cell], Cell]:
    """Cells of one group and their total, with primary and secondary suppression."""
    values = [int(v) for v in values]
    total = sum(values)
    hidden = {i for i, v in enumerate(values) if is_small(v, threshold)}
    primary = set(hidden)
    total_hidden = is_small(total, threshold)
    if total_shown and hidden and not total_hidden:
        while sum(values[i] for i in hidden) < threshold:
            rest = sorted((v, i) for i, v in enumerate(values) if i not in hidden and v > 0)
            if not rest:
                total_hidden = True   # nothing left to hide a cell behind: the total goes
                break
            hidden.add(rest[0][1])
    cells = [Cell(None, True, "primary" if i in primary else "secondary") if i in hidden else Cell(v)
             for i, v in enumerate(values)]
    tot = Cell(None, True, "primary" if is_small(total, threshold) else "secondary") if total_hidden else Cell(total)
    return cells, tot


def protect_part(part: int, whole: int, threshold: int) -> tuple[Cell, Cell]:
    """A count out of a shown whole (improved of applicable): the part and its complement form a
    group, so a part is hidden when either it or the rest is small."""
    (p, _rest), w = protect([part, whole - part], threshold)
    return p, w
