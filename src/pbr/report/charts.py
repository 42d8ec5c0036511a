"""The report's charts: matplotlib (Agg backend, no display) rendered to SVG text that the page
inlines. Values are those already through disclosure control: a suppressed value (None) is not
drawn, and its bar or point is left out with a note."""

from __future__ import annotations

import io
import math

import matplotlib
from matplotlib.figure import Figure

# Figures are made with matplotlib's object API, never pyplot: pyplot keeps global state (its
# figure manager) that is not thread-safe, and a refresh draws the report on a thread of its own
# (pbr.outputs.write_outputs). A bare Figure saves through the Agg/SVG canvas, no display needed.
matplotlib.rcParams.update({
    "svg.fonttype": "path",          # text as paths: no font needed where the page is opened
    "svg.hashsalt": "pbr-report",    # stable ids: the same figures give the same SVG
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
})
COLOURS = ["#1d70b8", "#00703c", "#f47738", "#912b88", "#505a5f", "#d4351c"]
SUPPRESSED_NOTE = "* suppressed values are not drawn"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _v(x):
    return float("nan") if x is None else float(x)


def _note(ax, values) -> None:
    if any(v is None for v in values):
        ax.text(1.0, -0.18, SUPPRESSED_NOTE, transform=ax.transAxes, ha="right", fontsize=7, color="#505a5f")


def bar_chart(labels: list[str], values: list, title: str, xlabel: str = "families", money: bool = False) -> str:
    fig = Figure(figsize=(6.4, 0.45 * max(len(labels), 2) + 0.9))
    ax = fig.subplots()
    ys = list(range(len(labels)))[::-1]
    vals = [_v(v) for v in values]
    ax.barh(ys, [0 if math.isnan(v) else v for v in vals], color=COLOURS[0])
    for y, v in zip(ys, vals):
        ax.text(0 if math.isnan(v) else v, y, " *" if math.isnan(v) else (f" £{v:,.0f}" if money else f" {v:,.0f}"),
                va="center", fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    _note(ax, values)
    return _svg(fig)


def line_chart(periods: list[str], series: dict[str, list], title: str, ylabel: str,
               hline: tuple[str, float] | None = None) -> str:
    fig = Figure(figsize=(6.4, 3.0))
    ax = fig.subplots()
    xs = list(range(len(periods)))
    for i, (name, vals) in enumerate(series.items()):
        ax.plot(xs, [_v(v) for v in vals], marker="o", markersize=3, label=name, color=COLOURS[i % len(COLOURS)])
    if hline is not None:
        ax.axhline(hline[1], color="#d4351c", linestyle="--", linewidth=1, label=hline[0])
    step = max(1, math.ceil(len(periods) / 6))
    ax.set_xticks(xs[::step], periods[::step])
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title, loc="left")
    if series or hline:
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    _note(ax, [v for vals in series.values() for v in vals])
    return _svg(fig)


def stacked_bars(periods: list[str], series: dict[str, list], title: str, ylabel: str,
                 line: tuple[str, list] | None = None, hline: tuple[str, float] | None = None) -> str:
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.subplots()
    xs = list(range(len(periods)))
    bottom = [0.0] * len(periods)
    for i, (name, vals) in enumerate(series.items()):
        heights = [0.0 if v is None else float(v) for v in vals]
        ax.bar(xs, heights, bottom=bottom, label=name, color=COLOURS[i % len(COLOURS)], width=0.7)
        bottom = [b + h for b, h in zip(bottom, heights)]
    if line is not None:
        ax2 = ax.twinx()
        ax2.plot(xs, [_v(v) for v in line[1]], color="#0b0c0c", marker="o", markersize=3, label=line[0])
        if hline is not None:
            ax2.axhline(hline[1], color="#d4351c", linestyle="--", linewidth=1, label=hline[0])
        ax2.set_ylim(bottom=0)
        ax2.set_ylabel("cumulative (£)")
        ax2.legend(fontsize=7, frameon=False, loc="upper right")
        ax2.spines["top"].set_visible(False)
    step = max(1, math.ceil(len(periods) / 6))
    ax.set_xticks(xs[::step], periods[::step])
    ax.set_ylim(bottom=0, top=max([1.0] + bottom) * 1.1)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    _note(ax, [v for vals in series.values() for v in vals])
    return _svg(fig)
