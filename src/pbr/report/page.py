"""report.html: one self-contained page (inline CSS and SVG, no script, no external resource), so
it opens offline and can be e-mailed to a board. Every figure cell carries data-figure (a stable
key) and, when hidden by disclosure control, data-suppressed (primary | secondary)."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

from . import charts
from .disclosure import MARK, Cell, cell, protect, protect_part
from .figures import CLAIM_TYPES, COST_UNITS, FUNNEL_STAGES, INDICATORS, Figures, collect, cost_avoided

SECTIONS = [
    ("funnel", "The funnel: identified to paid"),
    ("cohort", "The cohort: routes, criteria, new and no longer meeting"),
    ("claims", "Claims by type and month, against the allocation"),
    ("outcomes", "Outcome indicators for attached families"),
    ("timeliness", "Timeliness"),
    ("cost-avoided", "Estimated cost avoided (an estimate)"),
    ("data-quality", "Data quality"),
]
STAGE_LABELS = {"identified": "Identified", "attached": "Attached", "results": "Results achieved",
                "claimed": "Results claimed", "paid": "Results paid"}
ROUTE_LABELS = {"three_criteria": "Three criteria", "two_plus_local": "Two criteria + local discretion"}
CLAIM_LABELS = {"attachment_fee": "Attachment fee", "route_a": "Route A (crime, ASB, education)",
                "progress_to_work": "Progress to work", "route_b": "Route B (continuous employment)"}
INDICATOR_LABELS = {
    "asb_reduced": "ASB reduced by 60% (families with ASB before attachment)",
    "offending_reduced": "Youth offending reduced by 33% (families with offending before attachment)",
    "attendance_improved": "School attendance and exclusions improved (families meeting the education criterion)",
    "into_work": "An adult off benefit into continuous work (families meeting the work criterion)",
}
MEASURE_LABELS = {"identification_to_attachment": "Identification to attachment",
                  "attachment_to_result": "Attachment to first result"}
UNIT_LABELS = {"asb_event": "ASB incident or intervention", "proven_offence": "Proven offence (young person)",
               "out_of_work_benefit_year": "Year of out-of-work benefit (adult into work)"}
ISSUE_LABELS = {"no_cohort_family": "Members in no cohort family",
                "spread_over_families": "Members spread over several families",
                "family_attached_by_other_case": "Family already attached by another case"}

CSS = """
*{box-sizing:border-box}body{font-family:Arial,Helvetica,sans-serif;margin:0;color:#0b0c0c;background:#f3f2f1}
header{background:#1d3557;color:#fff;padding:16px 24px}header h1{margin:0 0 4px;font-size:24px}
header p{margin:2px 0;font-size:14px}nav{padding:8px 24px;background:#fff;border-bottom:1px solid #b1b4b6}
nav a{margin-right:14px;color:#1d70b8;font-size:14px}main{padding:8px 24px 32px;max-width:1100px}
section{background:#fff;margin:16px 0;padding:12px 18px;border-left:5px solid #1d70b8}
h2{font-size:20px;margin:4px 0 10px}h3{font-size:16px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:14px}th,td{border-bottom:1px solid #d8d8d8;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f2f1}
td[data-suppressed]{color:#6f777b}.chart svg{max-width:100%;height:auto}.note{font-size:13px;color:#505a5f}
.estimate{border:2px solid #f47738;padding:6px 10px;background:#fff7f0;font-weight:bold}
.figs{display:flex;flex-wrap:wrap;gap:12px}.kpi{border:1px solid #b1b4b6;padding:8px 12px;min-width:140px}
.kpi b{display:block;font-size:24px}
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _td(key: str, c: Cell, fmt: str = "{:,}") -> str:
    if c.suppressed:
        return f'<td data-figure="{html.escape(key)}" data-suppressed="{c.reason}">{MARK}</td>'
    return f'<td data-figure="{html.escape(key)}">{html.escape(fmt.format(c.value))}</td>'


def _table(head: list[str], rows: list[str]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _tr(label: str, tds: list[str]) -> str:
    return f"<tr><th scope=\"row\">{html.escape(label)}</th>{''.join(tds)}</tr>"


def _chart(svg: str, label: str) -> str:
    return f'<div class="chart" role="img" aria-label="{html.escape(label)}">{svg}</div>'


def _money(v: float) -> str:
    return f"£{v:,.0f}"


def section_funnel(fig: Figures, k: int) -> str:
    now = fig.funnel_now
    cells = {s: cell(int(now[s]), k) for s in FUNNEL_STAGES}
    kpis = "".join(
        f'<div class="kpi">{html.escape(STAGE_LABELS[s])}<b data-figure="funnel.{fig.period}.{s}"'
        + (f' data-suppressed="{cells[s].reason}">{MARK}' if cells[s].suppressed else f">{cells[s].value:,}")
        + "</b></div>" for s in FUNNEL_STAGES)
    out = [f'<p>Families at each stage as at {html.escape(fig.period)} (cumulative since the first refresh).</p>',
           f'<div class="figs">{kpis}</div>',
           _chart(charts.bar_chart([STAGE_LABELS[s] for s in FUNNEL_STAGES],
                                   [cells[s].value for s in FUNNEL_STAGES], f"Funnel at {fig.period}"),
                  "funnel this month")]
    periods = [r["period"] for r in fig.funnel]
    series = {STAGE_LABELS[s]: [cell(int(r[s]), k).value for r in fig.funnel] for s in FUNNEL_STAGES}
    out.append(_chart(charts.line_chart(periods, series, "Funnel over time", "families"), "funnel over time"))
    rows = [_tr(r["period"], [_td(f"funnel.{r['period']}.{s}", cell(int(r[s]), k)) for s in FUNNEL_STAGES])
            for r in fig.funnel]
    out.append("<h3>Over time</h3>" + _table(["Period"] + [STAGE_LABELS[s] for s in FUNNEL_STAGES], rows))
    return "".join(out)


def section_cohort(fig: Figures, k: int) -> str:
    routes = list(ROUTE_LABELS)
    by = {r: {"families": 0, "new_this_month": 0, "no_longer_meeting": 0} for r in routes}
    combos: dict[str, int] = {}
    for row in fig.cohort:
        for m in by[row["route"]]:
            by[row["route"]][m] += int(row[m])
        combos[row["combination"]] = combos.get(row["combination"], 0) + int(row["families"])
    measures = [("families", "Families in the cohort"), ("new_this_month", "New this month"),
                ("no_longer_meeting", "No longer meeting the criteria")]
    cols = {}
    for m, _ in measures:
        cells, total = protect([by[r][m] for r in routes], k)
        cols[m] = (dict(zip(routes, cells)), total)
    rows = [_tr(ROUTE_LABELS[r], [_td(f"cohort.{m}.{r}", cols[m][0][r]) for m, _ in measures]) for r in routes]
    rows.append(_tr("Total", [_td(f"cohort.{m}.total", cols[m][1]) for m, _ in measures]))
    out = ["<h3>By route</h3>", _table(["Route"] + [label for _, label in measures], rows)]
    out.append(_chart(charts.bar_chart([ROUTE_LABELS[r] for r in routes], [cols["families"][0][r].value for r in routes],
                                       "Cohort by route"), "cohort by route"))
    names = sorted(combos)
    ccells, ctotal = protect([combos[n] for n in names], k)
    crow = [_tr(n, [_td(f"cohort.combination.{_slug(n)}", c)]) for n, c in zip(names, ccells)]
    crow.append(_tr("Total", [_td("cohort.combination.total", ctotal)]))
    out += ["<h3>By criteria combination (at entry)</h3>", _table(["Criteria met", "Families"], crow)]
    if names:
        out.append(_chart(charts.bar_chart(names, [c.value for c in ccells], "Cohort by criteria combination"),
                          "cohort by criteria combination"))
    out.append('<p class="note">Criteria are those met when the family entered the cohort (its frozen baseline). '
               '"No longer meeting" counts cohort families whose current data does not meet the criteria; they stay in the cohort.</p>')
    return "".join(out)


def section_claims(fig: Figures, k: int, allocation: float | None) -> str:
    periods = sorted({r["period"] for r in fig.claims})
    data = {(r["period"], r["claim_type"]): r for r in fig.claims}
    rows, amounts, cumulative, running = [], {t: [] for t in CLAIM_TYPES}, [], 0.0
    # A running total shown month after month would give away each month's amount (and so, at fixed
    # rates, a suppressed count): it is shown only once the items added since it was last shown
    # reach the threshold (or none were added).
    since, shown_running, shown_period = 0, 0.0, None
    for p in periods:
        items = [int(data[(p, t)]["items"]) if (p, t) in data else 0 for t in CLAIM_TYPES]
        cells, total = protect(items, k)
        tds = []
        month_amount = 0.0
        for t, c in zip(CLAIM_TYPES, cells):
            amount = float(data[(p, t)]["amount"]) if (p, t) in data else 0.0
            month_amount += amount
            tds.append(_td(f"claims.{p}.{t}.items", c))
            tds.append(_td(f"claims.{p}.{t}.amount", Cell(None, True, c.reason) if c.suppressed else Cell(amount), "£{:,.0f}"))
            amounts[t].append(None if c.suppressed else amount)
        running += month_amount
        since += sum(items)
        cum = Cell(None, True, "secondary") if 0 < since < k else Cell(running)
        if not cum.suppressed:
            since, shown_running, shown_period = 0, running, p
        cumulative.append(cum.value)
        tds.append(_td(f"claims.{p}.total.items", total))
        tds.append(_td(f"claims.{p}.total.amount", Cell(None, True, total.reason) if total.suppressed else Cell(month_amount), "£{:,.0f}"))
        tds.append(_td(f"claims.{p}.cumulative", cum, "£{:,.0f}"))
        rows.append(_tr(p, tds))
    short = {"attachment_fee": "Attachment fee", "route_a": "Route A", "progress_to_work": "Progress to work",
             "route_b": "Route B"}
    head = ["Batch period"] + [h for t in CLAIM_TYPES for h in (short[t], "£")] + ["All", "£", "Cumulative £"]
    out = []
    upto = f" (to {html.escape(shown_period)})" if shown_period and shown_period != fig.period else ""
    so_far = f'claimed so far{upto} <b data-figure="claims.cumulative">{_money(shown_running)}</b>'
    if allocation is not None:
        used = shown_running / allocation * 100 if allocation else 0.0
        out.append(f'<p>Allocation: <b data-figure="claims.allocation">{_money(allocation)}</b>; {so_far} '
                   f'(<span data-figure="claims.allocation_used_pct">{used:.1f}%</span> of the allocation).</p>')
    else:
        out.append(f'<p>{so_far[0].upper() + so_far[1:]}. No allocation is configured '
                   '(set <code>report.allocation</code> in the configuration).</p>')
    if periods:
        out.append(_chart(charts.stacked_bars(periods, {CLAIM_LABELS[t]: amounts[t] for t in CLAIM_TYPES},
                                              "Claims by type and month (£)", "£ per month",
                                              line=("cumulative", cumulative),
                                              hline=("allocation", allocation) if allocation is not None else None),
                          "claims by type and month, cumulative against the allocation"))
        out.append(_table(head, rows))
    else:
        out.append("<p>No claims yet.</p>")
    out.append('<p class="note">Items rejected by internal audit are left out; amounts are those of the claim batches '
               'of each period, whatever their state.</p>')
    return "".join(out)


def section_outcomes(fig: Figures, k: int) -> str:
    data = {r["indicator"]: r for r in fig.outcomes}
    rows, shares = [], []
    for ind in INDICATORS:
        r = data.get(ind, {"applicable": 0, "improved": 0})
        part, whole = protect_part(int(r["improved"]), int(r["applicable"]), k)
        share = None if part.suppressed or whole.suppressed or not r["applicable"] else \
            100.0 * int(r["improved"]) / int(r["applicable"])
        shares.append(share)
        share_cell = Cell(None, True, part.reason or whole.reason) if part.suppressed or whole.suppressed else \
            Cell(share if share is not None else 0.0)
        rows.append(_tr(INDICATOR_LABELS[ind], [_td(f"outcomes.{ind}.applicable", whole),
                                               _td(f"outcomes.{ind}.improved", part),
                                               _td(f"outcomes.{ind}.share", share_cell, "{:.1f}%")]))
    out = [f"<p>Attached families whose results can be measured at {html.escape(fig.period)} "
           "(six months or more after attachment), as the rulebook measures them.</p>",
           _table(["Indicator", "Families", "Improved", "Share"], rows),
           _chart(charts.bar_chart([INDICATOR_LABELS[i].split(" (")[0] for i in INDICATORS], shares,
                                   "Share of families improved", "% of families"), "outcome indicators")]
    return "".join(out)


def section_timeliness(fig: Figures, k: int) -> str:
    out = []
    periods = sorted({r["period"] for r in fig.timeliness} - {"all"})
    series = {}
    for measure, label in MEASURE_LABELS.items():
        rows = [r for r in fig.timeliness if r["measure"] == measure]
        by_p = {r["period"]: r for r in rows}
        trs, vals = [], []
        for r in rows:
            n = cell(int(r["families"]), k)
            hide = Cell(None, True, n.reason) if n.suppressed else None
            trs.append(_tr("All months" if r["period"] == "all" else r["period"], [_td(f"timeliness.{measure}.{r['period']}.families", n),
                                          _td(f"timeliness.{measure}.{r['period']}.median_days",
                                              hide or Cell(float(r["median_days"])), "{:,.0f}"),
                                          _td(f"timeliness.{measure}.{r['period']}.mean_days",
                                              hide or Cell(float(r["mean_days"])), "{:,.0f}")]))
        for p in periods:
            r = by_p.get(p)
            vals.append(None if r is None or cell(int(r["families"]), k).suppressed else float(r["median_days"]))
        series[label] = vals
        out.append(f"<h3>{html.escape(label)}</h3>")
        out.append(_table(["Month", "Families", "Median days", "Mean days"], trs) if trs else "<p>None yet.</p>")
    if periods:
        out.insert(0, _chart(charts.line_chart(periods, series, "Median days, by month", "days"), "timeliness"))
    out.append('<p class="note">Identification is the reference date of the refresh in which the family entered the '
               'cohort; attachment is the date A results are measured from; a result is the reference date of the '
               'first refresh at which route A, progress to work or route B was achieved.</p>')
    return "".join(out)


def section_cost(fig: Figures, k: int, unit_costs: dict[str, float], source: str) -> str:
    rows_data = {r["unit"]: r for r in cost_avoided(fig, unit_costs)}
    families = max((int(r["families"]) for r in fig.cost), default=0)
    fam = cell(families, k)
    rows, total, hidden_any = [], 0.0, fam.suppressed
    for unit in COST_UNITS:
        r = rows_data.get(unit, {"baseline": 0, "outcome": 0, "avoided": 0, "unit_cost": unit_costs.get(unit, 0.0),
                                 "estimate": 0.0})
        b, o = cell(int(r["baseline"]), k), cell(int(r["outcome"]), k)
        hide = fam.suppressed or b.suppressed or o.suppressed
        reason = fam.reason or b.reason or o.reason
        if fam.suppressed:
            b = o = Cell(None, True, "secondary")
        avoided = Cell(None, True, reason) if hide else Cell(int(r["avoided"]))
        est = Cell(None, True, reason) if hide else Cell(float(r["estimate"]))
        hidden_any = hidden_any or hide
        if not hide:
            total += float(r["estimate"])
        rows.append(_tr(UNIT_LABELS[unit], [_td(f"cost.{unit}.baseline", b), _td(f"cost.{unit}.outcome", o),
                                            _td(f"cost.{unit}.avoided", avoided),
                                            _td(f"cost.{unit}.unit_cost", Cell(float(r["unit_cost"])), "£{:,.0f}"),
                                            _td(f"cost.{unit}.estimate", est, "£{:,.0f}")]))
    tot = Cell(None, True, "secondary") if fam.suppressed else Cell(total)
    rows.append(_tr("Total (estimate)", ["<td></td>"] * 4 + [_td("cost.total", tot, "£{:,.0f}")]))
    costs = "".join(f"<li>{html.escape(UNIT_LABELS.get(u, u))}: <span data-figure=\"cost.unit_costs.{u}\">"
                    f"{_money(v)}</span></li>" for u, v in unit_costs.items())
    return "".join([
        '<p class="estimate">This is an ESTIMATE for local assurance, not a claim and not a measured saving: '
        'events in the six months before attachment minus events in the latest six months, for attached families '
        'whose results can be measured, priced at the unit costs below.</p>',
        f'<p>Families measured: <b>{_td_inline("cost.families", fam)}</b>.</p>',
        _table(["Unit", "Events before (A − 6 months, A]", "Events latest (C − 6 months, C]", "Avoided",
                "Unit cost", "Estimate"], rows),
        f"<h3>Unit costs used ({html.escape(source)})</h3><ul>{costs}</ul>",
        '<p class="note">Adults off benefit into work are counted as one year of out-of-work benefit each. '
        'A negative figure means more events than before. Set <code>report.unit_costs</code> in the configuration.'
        + (" Rows with suppressed counts are left out of the total." if hidden_any else "") + "</p>",
    ])


def _td_inline(key: str, c: Cell) -> str:
    if c.suppressed:
        return f'<span data-figure="{key}" data-suppressed="{c.reason}">{MARK}</span>'
    return f'<span data-figure="{key}">{c.value:,}</span>'


def section_quality(fig: Figures, k: int) -> str:
    out = [f"<h3>Rows quarantined per source (deliveries of {html.escape(fig.period)})</h3>"]
    rows = []
    for r in fig.quality:
        q, n = protect_part(int(r["rows_quarantined"]), int(r["rows_read"]), k)
        share = Cell(None, True, q.reason) if q.suppressed or n.suppressed else \
            Cell(100.0 * int(r["rows_quarantined"]) / int(r["rows_read"]) if r["rows_read"] else 0.0)
        rows.append(_tr(r["source"], [_td(f"quality.{r['source']}.files", Cell(int(r["files"]))),
                                      _td(f"quality.{r['source']}.rows_read", n),
                                      _td(f"quality.{r['source']}.rows_quarantined", q),
                                      _td(f"quality.{r['source']}.share", share, "{:.2f}%")]))
    out.append(_table(["Source", "Files", "Rows read", "Rows quarantined", "Share"], rows) if rows
               else "<p>No deliveries this month.</p>")
    out.append("<h3>Linkage match rates</h3>")
    rows, labels, rates = [], [], []
    for r in fig.linkage:
        m, n = protect_part(int(r["matched"]), int(r["record_keys"]), k)
        lo, _ = protect_part(int(r["below_confident"]), int(r["record_keys"]), k)
        rate = None if m.suppressed or n.suppressed or not r["record_keys"] else 100.0 * int(r["matched"]) / int(r["record_keys"])
        labels.append(r["source"])
        rates.append(rate)
        rows.append(_tr(r["source"], [_td(f"linkage.{r['source']}.record_keys", n),
                                      _td(f"linkage.{r['source']}.matched", m),
                                      _td(f"linkage.{r['source']}.rate",
                                          Cell(None, True, m.reason or n.reason) if rate is None and (m.suppressed or n.suppressed)
                                          else Cell(rate or 0.0), "{:.1f}%"),
                                      _td(f"linkage.{r['source']}.below_confident", lo)]))
    out.append(_table(["Source", "Record keys", "Matched to another source", "Match rate",
                       "Below the confident-match probability"], rows) if rows else "<p>No records linked yet.</p>")
    if rows:
        out.append(_chart(charts.bar_chart(labels, rates, "Record keys matched to another source", "%"), "linkage match rates"))
    out.append("<h3>Unmatched intervention cases</h3>")
    issues = list(ISSUE_LABELS)
    counts = {r["issue"]: int(r["cases"]) for r in fig.unmatched}
    cells, total = protect([counts.get(i, 0) for i in issues], k)
    rows = [_tr(ISSUE_LABELS[i], [_td(f"unmatched.{i}", c)]) for i, c in zip(issues, cells)]
    rows.append(_tr("Total", [_td("unmatched.total", total)]))
    out.append(_table(["Case reported", "Cases"], rows))
    return "".join(out)


def build_page(fig: Figures, authority: str, threshold: int, allocation: float | None,
               unit_costs: dict[str, float], unit_costs_source: str, rulebook: str, generated: str) -> str:
    bodies = {
        "funnel": section_funnel(fig, threshold),
        "cohort": section_cohort(fig, threshold),
        "claims": section_claims(fig, threshold, allocation),
        "outcomes": section_outcomes(fig, threshold),
        "timeliness": section_timeliness(fig, threshold),
        "cost-avoided": section_cost(fig, threshold, unit_costs, unit_costs_source),
        "data-quality": section_quality(fig, threshold),
    }
    nav = "".join(f'<a href="#{sid}">{html.escape(title)}</a>' for sid, title in SECTIONS)
    secs = "".join(f'<section id="{sid}" aria-labelledby="{sid}-h"><h2 id="{sid}-h">{html.escape(title)}</h2>'
                   f"{bodies[sid]}</section>" for sid, title in SECTIONS)
    supp = (f"Counts from 1 to {threshold - 1} are suppressed ({MARK}), and so are further cells where a total "
            "minus the others would reveal one." if threshold > 1 else "No small-number suppression (threshold off).")
    stale = "" if fig.refreshed else f"<p><b>No refresh of {html.escape(fig.period)} has finished in the store.</b></p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troubled Families monthly report {html.escape(fig.period)}: {html.escape(authority)}</title>
<style>{CSS}</style></head>
<body><header><h1>Troubled Families monthly report: {html.escape(fig.period)}</h1>
<p>{html.escape(authority)} · rulebook {html.escape(rulebook)} · generated {html.escape(generated)} UTC</p>
<p data-figure="disclosure.threshold" data-threshold="{threshold}">{html.escape(supp)}</p>{stale}</header>
<nav aria-label="sections">{nav}</nav><main>{secs}</main></body></html>
"""


def report_figures(con, period: str, rb) -> Figures:
    return collect(con, period, float(rb.get("claims.anomalies.min_match_probability")))


def page_from_figures(fig: Figures, config, rb) -> str:
    """The page from figures already read (no store access: a refresh builds it on a thread)."""
    rc = config.report
    generated = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    return build_page(fig, config.authority, rc.disclosure_threshold, rc.allocation, rc.unit_costs,
                      rc.unit_costs_source, f"{rb.name} {rb.version}", generated)


def render_report(con, period: str, config, rb) -> str:
    return page_from_figures(report_figures(con, period, rb), config, rb)
