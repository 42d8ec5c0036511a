"""OUT/YYYY-MM/claims.xlsx: the claim workbook internal audit signs off (see docs/workbooks.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from ..calendar import reference_date
from ..claim_outputs import CLAIM_COLUMNS, claim_rows
from ..rulebook import Rulebook
from . import evidence as evm
from . import glossary
from .cells import Formula, Money, TITLE_FONT, as_date, cell, protect_sheet, save_book, table_sheet

CLAIM_TYPES = ["attachment_fee", "route_a", "progress_to_work", "route_b"]
_DATE_COLUMNS = {"attached_date", "case_attached_date", "ptw_start_date", "route_b_employment_start",
                 "route_b_counted_to"}
_INT_COLUMNS = {"asb_baseline_count", "asb_outcome_count", "offending_baseline_count", "offending_outcome_count",
                "education_terms_since_attachment", "education_pupils_assessed", "education_pupils_failing",
                "route_b_days", "route_b_required_days", "sample_seed"}
_NUM_COLUMNS = {"asb_outcome_pct", "asb_threshold_pct", "offending_outcome_pct", "offending_threshold_pct"}


def _typed_claim_row(values: list) -> list:
    out = []
    for name, v in zip(CLAIM_COLUMNS, values):
        if name == "amount":
            v = Money(Decimal(v))
        elif name in _DATE_COLUMNS:
            v = as_date(v.isoformat() if hasattr(v, "isoformat") else v)
        elif name in _INT_COLUMNS or name in _NUM_COLUMNS:
            v = v if v is None or isinstance(v, (int, float)) else float(v)
        out.append(v)
    return out


def people_rows(con: duckdb.DuckDBPyConnection, family_ids: list[str], period: str) -> list[list]:
    """Names and dates of birth of the members of the given families (the identities copy only):
    each person's most frequent name over their records, the date of birth pbr holds."""
    if not family_ids:
        return []
    return [list(r) for r in con.execute("""
        WITH members AS (
            SELECT s.family_id, s.person_id FROM family_snapshot s
            WHERE s.period <= ? AND s.family_id IN (SELECT unnest(?::VARCHAR[]))
            QUALIFY dense_rank() OVER (PARTITION BY s.family_id ORDER BY s.period DESC) = 1
        ), recs AS (
            SELECT 'attendance' AS source, upn AS k, forename, surname, dob FROM raw_attendance
            UNION ALL SELECT 'asb', person_ref, forename, surname, dob FROM raw_asb
            UNION ALL SELECT 'benefits', person_key, forename, surname, dob FROM raw_benefits
            UNION ALL SELECT 'employment', person_key, forename, surname, dob FROM raw_employment
            UNION ALL SELECT 'interventions', person_ref, forename, surname, dob FROM raw_interventions
        ), named AS (
            SELECT m.family_id, m.person_id, r.forename, r.surname, r.dob, count(*) AS n
            FROM members m JOIN person_xwalk x USING (person_id)
            JOIN recs r ON r.source = x.source AND r.k = x.source_key
            GROUP BY ALL
        )
        SELECT family_id, person_id, forename, surname, dob FROM named
        QUALIFY row_number() OVER (PARTITION BY family_id, person_id ORDER BY n DESC, forename, surname, dob) = 1
        ORDER BY family_id, person_id""", [period, family_ids]).fetchall()]


def _flatten(prefix: str, node, out: list[list]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
        for i, x in enumerate(node):
            _flatten(f"{prefix}[{i}]", x, out)
    elif isinstance(node, list):
        out.append([prefix, ", ".join(str(x) for x in node)])
    else:
        out.append([prefix, node if isinstance(node, (int, float)) and not isinstance(node, bool) else str(node)])


@dataclass
class ClaimsData:
    """What the claims workbook shows from the store: read (claims_data), then written
    (render_claims_book), which reads nothing more."""
    period: str
    batches: list[dict]
    items: list
    claims: list
    attendance: list
    records: list
    people: list | None  # the identities copy only


def claims_data(con: duckdb.DuckDBPyConnection, period: str, with_identities: bool = False) -> ClaimsData:
    its = evm.items(con, period)
    people = people_rows(con, sorted({it.family_id for it in its}), period) if with_identities else None
    return ClaimsData(period, evm.batches(con, period), its, claim_rows(con, period),
                      evm.attendance_rows(con, period, its), evm.record_rows(con, period, its), people)


def write_claims_book(con: duckdb.DuckDBPyConnection, period: str, path: Path, rb: Rulebook,
                      authority: str = "Local authority", with_identities: bool = False,
                      generated_at: datetime | None = None) -> Path:
    return render_claims_book(claims_data(con, period, with_identities), path, rb, authority, with_identities,
                              generated_at)


def render_claims_book(data: ClaimsData, path: Path, rb: Rulebook, authority: str = "Local authority",
                       with_identities: bool = False, generated_at: datetime | None = None) -> Path:
    generated_at = generated_at or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    period, bs, its = data.period, data.batches, data.items
    claims = [_typed_claim_row(r) for r in data.claims]
    sources = evm.source_rows(its)
    manifest = evm.manifest_sha256(sources)

    wb = Workbook(write_only=True)
    _summary(wb, period, authority, bs, rb, claims, manifest, generated_at, with_identities)
    table_sheet(wb, "Claims", CLAIM_COLUMNS, claims,
                widths={"source_files": 60, "anomaly_flags": 30, "decision_note": 30, "asb_baseline_window": 25,
                        "asb_outcome_window": 25, "offending_baseline_window": 25, "offending_outcome_window": 25})
    table_sheet(wb, "Evidence", evm.EVIDENCE_COLUMNS,
                evm.evidence_rows(its, _int_or_none(rb, "results.education.terms")), widths={"why": 90})
    table_sheet(wb, "Attendance", evm.ATTENDANCE_COLUMNS, data.attendance,
                widths={"file": 30, "sha256": 66})
    table_sheet(wb, "Spells", evm.SPELL_COLUMNS, evm.spell_rows(its),
                widths={"detail": 70, "file": 30, "sha256": 66, "kind": 24})
    table_sheet(wb, "Records", evm.RECORD_COLUMNS, data.records,
                widths={"detail": 50, "file": 30, "sha256": 66})
    seeds = "; ".join(f"{b['batch_id']}: seed {b['sample_seed']}" for b in bs) or "no batch"
    table_sheet(wb, "Audit sample",
                ["claim_id", "batch_id", "family_id", "case_ref", "claim_type", "amount", "audit_sample",
                 "anomaly_flags", "decision", "decision_note"],
                [[it.claim_id, it.batch_id, it.family_id, it.case_ref, it.claim_type, Money(it.amount),
                  it.audit_sample, it.anomaly_flags, it.decision, it.decision_note]
                 for it in its if it.audit_sample or it.anomaly_flags],
                widths={"anomaly_flags": 40, "decision_note": 40},
                preamble=[["Audit sample", f"{_sample_share(rb)} of a batch's items, at least "
                           f"{_sample_min(rb)}, or all when there are that few; drawn with the batch's seed"],
                          ["Seeds", seeds],
                          ["Listed", "every sampled item and every item with an anomaly flag"]])
    table_sheet(wb, "Sources", evm.SOURCE_COLUMNS, sources, widths={"file": 40, "sha256": 66},
                preamble=[["Manifest SHA-256", manifest],
                          ["How", "SHA-256 of the sorted lines 'delivery_period file sha256', one per file"]])
    rules = []
    _flatten("", rb.data, rules)
    sha = next((b["rulebook_sha256"] for b in bs if b.get("rulebook_sha256")), rb.sha256)
    table_sheet(wb, "Rules", ["setting", "value"], rules, widths={"setting": 55, "value": 60},
                preamble=[["Rulebook", rb.name], ["Version", rb.version], ["SHA-256", sha]])
    if with_identities:
        table_sheet(wb, "People", ["family_id", "person_id", "forename", "surname", "dob"],
                    data.people,
                    preamble=[["RESTRICTED", "Personal data: the authority's case-file copy only. Do not circulate."]])
    table_sheet(wb, "Glossary", ["term", "meaning"],
                [[f"sheet: {k}", v] for k, v in glossary.SHEETS.items()]
                + glossary.rows(glossary.CLAIMS, glossary.EVIDENCE, glossary.ATTENDANCE, glossary.RECORDS,
                                glossary.SOURCES),
                widths={"term": 34, "meaning": 110})
    tmp = path.with_name(f".{path.name}.tmp")
    save_book(wb, tmp)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def _int_or_none(rb: Rulebook, key: str):
    try:
        return int(rb.get(key))
    except Exception:  # noqa: BLE001 - a rulebook without the setting simply does not show it
        return None


def _sample_share(rb: Rulebook) -> str:
    return f"{float(rb.get('claims.audit_sample.share')) * 100:g}%"


def _sample_min(rb: Rulebook) -> int:
    return int(rb.get("claims.audit_sample.minimum"))


def _summary(wb, period, authority, bs, rb, claims, manifest, generated_at, with_identities) -> None:
    ws = wb.create_sheet("Summary")
    for col, width in zip("ABCDEF", (34, 24, 18, 18, 18, 14)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"  # write-only: sheet views and widths before the first row
    n = len(claims)
    last = n + 1  # Claims: header on row 1
    rng = lambda col: f"Claims!${col}$2:${col}${max(last, 2)}"  # noqa: E731
    type_col = get_column_letter(CLAIM_COLUMNS.index("claim_type") + 1)
    amount_col = get_column_letter(CLAIM_COLUMNS.index("amount") + 1)
    batch_col = get_column_letter(CLAIM_COLUMNS.index("batch_id") + 1)
    title = cell(ws, f"Claim workbook {period}")
    title.font = TITLE_FONT
    ws.append([title])
    info = [
        ("Authority", authority),
        ("Period", period),
        ("Reference date C", reference_date(period)),
        ("Batches", "; ".join(f"{b['batch_id']} ({b['state']})" for b in bs) or "no claim batch this period"),
        ("Rulebook", f"{rb.name} {rb.version}"),
        ("Run", "; ".join(sorted({b["run_id"] for b in bs})) or ""),
        ("Generated (UTC)", generated_at),
        ("Input manifest SHA-256", manifest),
        ("Copy", "WITH IDENTITIES (restricted: People sheet)" if with_identities else "ids only (no personal data)"),
    ]
    for k, v in info:
        ws.append([cell(ws, k, bold=True), cell(ws, v)])
    ws.append([])
    header_at = len(info) + 3
    ws.append([cell(ws, h, bold=True) for h in
               ("claim type", "items (formula)", "amount (formula)", "items (pbr)", "amount (pbr)", "agree")])
    first = header_at + 1
    rows_by = [(t, None) for t in CLAIM_TYPES] + [(t, b["batch_id"]) for b in bs for t in CLAIM_TYPES] if len(bs) > 1 \
        else [(t, None) for t in CLAIM_TYPES]
    r = first
    for t, batch in rows_by:
        mine = [c for c in claims if c[4] == t and (batch is None or c[0] == batch)]
        crit = f'{rng(type_col)},"{t}"' + (f',{rng(batch_col)},"{batch}"' if batch else "")
        ws.append([cell(ws, t if batch is None else f"{batch} {t}"),
                   cell(ws, Formula(f"=COUNTIFS({crit})")),
                   cell(ws, Formula(f"=SUMIFS({rng(amount_col)},{crit})"), number_format='"£"#,##0.00'),
                   cell(ws, len(mine)),
                   cell(ws, Money(sum((c[5].value for c in mine), Decimal("0")))),
                   cell(ws, Formula(f'=IF(AND(B{r}=D{r},ROUND(C{r}-E{r},2)=0),"yes","NO")'))])
        r += 1
    n_types = len(CLAIM_TYPES)
    end = first + n_types - 1
    ws.append([cell(ws, "total", bold=True),
               cell(ws, Formula(f"=SUM(B{first}:B{end})")),
               cell(ws, Formula(f"=SUM(C{first}:C{end})"), number_format='"£"#,##0.00'),
               cell(ws, n),
               cell(ws, Money(sum((c[5].value for c in claims), Decimal("0")))),
               cell(ws, Formula(f'=IF(AND(B{r}=D{r},ROUND(C{r}-E{r},2)=0,B{r}=COUNTA({rng(batch_col)})),"yes","NO")'))])
    ws.append([])
    ws.append([cell(ws, "Note"), cell(ws, "Columns B and C are live formulas over the Claims sheet; D and E are "
                                        "pbr's own figures. 'agree' says whether they match.")])
    ws.print_area = f"A1:F{r + 2}"
    protect_sheet(ws)
