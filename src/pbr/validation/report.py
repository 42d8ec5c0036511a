"""The validation report an auditor opens offline: one self-contained HTML page (inline CSS, no
scripts, no external URLs) rendered from a refresh's stored results. It shows files, checks,
outcomes, counts and line numbers only: never a delivered value."""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path

MAX_LINES_SHOWN = 200

CSS = """
:root { --ok:#1b7f3b; --bad:#b3261e; --warn:#8a5a00; --muted:#5f6368; --line:#d9dce1; --bg:#f6f7f9; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color:#1f2328;
       margin:0; background:var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
header.page { background:#12355b; color:#fff; padding: 22px 28px; }
header.page h1 { margin:0 0 4px; font-size: 24px; font-weight: 600; }
header.page p { margin: 0; color:#d6e2f0; }
h2 { font-size: 19px; margin: 0 0 4px; }
section.file { background:#fff; border:1px solid var(--line); border-radius:8px; padding:18px 20px; margin:22px 0; }
section.summary { background:#fff; border:1px solid var(--line); border-radius:8px; padding:18px 20px; margin:22px 0; }
p.meta { color: var(--muted); margin: 0 0 12px; font-size: 13px; word-break: break-all; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
table.checks { table-layout: fixed; }
table.checks th, table.checks .badge { white-space: normal; }
table.checks td { overflow-wrap: break-word; }
table.checks .lines { padding-left: 16px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
code { font: 12.5px/1.4 SFMono-Regular, Consolas, "Liberation Mono", monospace; background:#f1f3f5; padding:1px 4px;
       border-radius: 4px; }
.badge { display:inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12.5px; font-weight: 600;
         white-space: nowrap; }
.ok { background:#e6f4ea; color: var(--ok); }
.bad { background:#fce8e6; color: var(--bad); }
.warn { background:#fef7e0; color: var(--warn); }
.file-level { background:#eceff1; color: var(--muted); }
.lines { font: 12.5px/1.5 SFMono-Regular, Consolas, "Liberation Mono", monospace; color:#30363d; }
tr.failed td { background: #fffafa; }
tr.warned td { background: #fffdf5; }
.note { color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 13px; margin-top: 28px; }
@media print { body { background:#fff; } header.page { background:#fff; color:#000; border-bottom:2px solid #000; }
  header.page p { color:#000; } section.file, section.summary { border:none; padding:0; break-inside: avoid-page; } }
"""


def _outcome(c: dict) -> tuple[str, str]:
    if c["level"] == "file" and c["success"]:
        return "file-level", "passed (header check)"
    if c["success"]:
        return "ok", "passed"
    if c["severity"] == "critical":
        return "bad", "failed: rows quarantined"
    if c["severity"] == "warning":
        return "warn", "failed: rows kept (warning)"
    return "file-level", "noted (info): rows kept"


def _lines(lines: list[int]) -> str:
    if not lines:
        return ""
    shown = ", ".join(str(n) for n in lines[:MAX_LINES_SHOWN])
    more = len(lines) - MAX_LINES_SHOWN
    if more > 0:
        shown += f" … and {more:,} more (quarantine.csv lists every quarantined row)"
    return shown


def render_html(period: str, run_id: str, files: list[dict], generated_at: str) -> str:
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>pbr delivery validation {escape(period)}</title>", f"<style>{CSS}</style></head><body>",
           '<header class="page">', f"<h1>Delivery validation, period {escape(period)}</h1>",
           f"<p>Refresh <code style=\"background:transparent;color:inherit\">{escape(run_id)}</code> · generated "
           f"{escape(generated_at)} UTC · Great Expectations suites from <code style=\"background:transparent;"
           f"color:inherit\">expectations/</code></p>", "</header><main>"]
    total_rows = sum(f["rows_read"] for f in files)
    total_q = sum(f["rows_quarantined"] for f in files)
    out += ['<section class="summary">', "<h2>Summary</h2>"]
    if not files:
        out.append("<p>No delivery files were read by this refresh.</p>")
    else:
        out.append(f'<p class="note">{len(files)} file(s), {total_rows:,} rows read, {total_q:,} rows quarantined. '
                   "A row failing a critical check goes to the quarantine whole and the rest of its file loads; "
                   "a warning is reported and the row loads. A file that could not be read stops the refresh "
                   "before anything is written, so it never appears here.</p>")
        out.append('<table><thead><tr><th>file</th><th>source</th><th class="num">rows read</th>'
                   '<th class="num">rows quarantined</th><th class="num">checks failed</th>'
                   '<th class="num">warnings</th><th>outcome</th></tr></thead><tbody>')
        for f in files:
            failed = sum(1 for c in f["checks"] if not c["success"] and c["severity"] == "critical")
            warned = sum(1 for c in f["checks"] if not c["success"] and c["severity"] == "warning")
            cls, label = ("bad", "rows quarantined") if f["rows_quarantined"] else (
                ("warn", "loaded, with warnings") if warned else ("ok", "all rows passed"))
            out.append(f'<tr><td><a href="#{escape(_anchor(f))}">{escape(f["file_name"])}</a></td>'
                       f'<td>{escape(f["source"])}</td><td class="num">{f["rows_read"]:,}</td>'
                       f'<td class="num">{f["rows_quarantined"]:,}</td><td class="num">{failed}</td>'
                       f'<td class="num">{warned}</td><td><span class="badge {cls}">{label}</span></td></tr>')
        out.append("</tbody></table>")
    out.append("</section>")
    for f in files:
        out += [f'<section class="file" id="{escape(_anchor(f))}">', f"<h2>{escape(f['file_name'])}</h2>",
                f'<p class="meta">source <b>{escape(f["source"])}</b> · delivered for period '
                f'{escape(str(f["delivery_period"] or period))} · SHA-256 <code>{escape(f["sha256"])}</code><br>'
                f'suite <b>{escape(f["suite"])}</b> (SHA-256 <code>{escape(f["suite_sha256"][:16])}…</code>) · '
                f'Great Expectations {escape(f["gx_version"] or "-")} · dates checked against '
                f'{escape(f["period_end"])} · {f["rows_read"]:,} rows, {f["rows_quarantined"]:,} quarantined · '
                f'validated in {f["seconds"]:.2f} s</p>',
                _file_checks(f),
                '<table class="checks"><colgroup><col style="width:4%"><col style="width:24%"><col style="width:12%">'
                '<col style="width:22%"><col style="width:13%"><col style="width:8%"><col style="width:9%">'
                '<col style="width:8%"></colgroup>'
                '<thead><tr><th class="num">#</th><th>check</th><th>column</th><th>what it means</th>'
                '<th>outcome</th><th class="num">failing rows</th><th class="num">quarantined</th>'
                '<th class="lines">lines</th></tr></thead><tbody>']
        for i, c in enumerate([c for c in f["checks"] if c["level"] == "row"], 1):
            cls, label = _outcome(c)
            row_cls = {"bad": ' class="failed"', "warn": ' class="warned"'}.get(cls, "")
            by = "" if c["evaluated_by"] == "great_expectations" else '<br><span class="note">pbr check</span>'
            out.append(f'<tr{row_cls}><td class="num">{i}</td><td><code>{_breakable(c["expectation"])}</code>{by}</td>'
                       f'<td>{_breakable(c["column"])}</td><td>{escape(c["description"])}</td>'
                       f'<td><span class="badge {cls}">{label}</span></td>'
                       f'<td class="num">{c["unexpected_count"]:,}</td><td class="num">{c["rows_quarantined"]:,}</td>'
                       f'<td class="lines">{escape(_lines(c["lines"]) or _counted_only(c))}</td></tr>')
        out.append("</tbody></table></section>")
    out.append("<footer><p>This page holds no delivered values: only file names, column names, line numbers "
               "(the header is line 1; Parquet: row numbers from 1) and counts. quarantine.csv beside it lists "
               "every quarantined row with its file, line, column and reason; results.json holds these results as "
               "data. A natural key check counts every row sharing a key; the first delivered row of a key "
               "stands and later ones are quarantined.</p></footer></main></body></html>")
    return "\n".join(out) + "\n"


def _breakable(name: str) -> str:
    """An identifier that may wrap after its underscores or commas (long GX names in a narrow column)."""
    return escape(name).replace("_", "_<wbr>").replace(",", ",<wbr>")


def _file_checks(f: dict) -> str:
    """The file-level checks (made on the header before typing) in one line: a file that reached
    the report passed them all (a failure stops the refresh)."""
    checks = [c for c in f["checks"] if c["level"] == "file"]
    if not checks:
        return ""
    cols = [c["column"] for c in checks if c["expectation"] == "expect_column_to_exist"]
    others = [c["description"] for c in checks if c["expectation"] != "expect_column_to_exist"]
    ok = all(c["success"] for c in checks)
    cls, label = ("file-level", "passed") if ok else ("bad", "failed")
    text = (f"File checks on the header row, before typing (<code>expect_column_to_exist</code> for the "
            f"{len(cols)} required columns: {escape(', '.join(cols))}; "
            f"<code>expect_table_row_count_to_be_between</code>: at least one row)")
    if others and not any("row" in o for o in others):
        text += " · " + escape("; ".join(others))
    return f'<p class="note">{text}: <span class="badge {cls}">{label}</span></p>'


def _counted_only(c: dict) -> str:
    return "(counted only)" if not c["success"] and c["severity"] == "info" else ""


def _anchor(f: dict) -> str:
    return "file-" + "".join(ch if ch.isalnum() else "-" for ch in f["file_name"])


def write_report(folder: Path, period: str, run_id: str, files: list[dict], generated_at: str) -> Path:
    """index.html and results.json into folder (created owner-only)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    page = folder / "index.html"
    page.write_text(render_html(period, run_id, files, generated_at), encoding="utf-8")
    data = folder / "results.json"
    data.write_text(json.dumps({"period": period, "run_id": run_id, "generated_at": generated_at, "files": files},
                               indent=2, default=str) + "\n", encoding="utf-8")
    for p in (page, data):
        os.chmod(p, 0o600)
    return page
