"""Monthly deliveries in the contract format, cut from the world as each source would at R.

A delivery for period P holds records dated on or before R (the last day of P) and repeats the
last `lookback_months` of history: terms that ended and events dated in the window, spells open
at R or ended in the window, and cases attached in the window or still open at R. Every row
carries the person's identity as the source holds it and the address they live at on R. An end
or closed date after R is not known yet, so it is left empty; a later delivery fills it in."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

from ..calendar import add_months, reference_date
from ..contract import sources
from .noise import Presenter
from .reference import Asb, Attendance, Intervention, Row, Spell
from .world import AsbRec, AttendanceRec, CaseRec, SpellRec, World

# Also the order in which true person ids are handed out: by first appearance, delivery by
# delivery, in the contract's tie order of sources, then line by line.
SOURCES = ("interventions", "benefits", "employment", "attendance", "asb")

SORT_KEYS = {
    "attendance": lambda r: (r.term_end, r.person.id, r.school_urn),
    "asb": lambda r: (r.event_date, r.event_id, r.person.id),
    "benefits": lambda r: (r.start, r.person.id, r.kind),
    "employment": lambda r: (r.start, r.person.id, r.kind),
    "interventions": lambda r: (r.attached, r.case_ref, r.person.id),
}


class Schedule:
    """Which deliveries carry a record: always a run of consecutive deliveries."""

    def __init__(self, periods: list[str], lookback_months: int):
        self.periods = periods
        self.n = len(periods)
        self.R = [reference_date(p) for p in periods]
        self.W = [add_months(r, -lookback_months) for r in self.R]  # windows are (W, R]

    def _first(self, d: date) -> int:
        return bisect_left(self.R, d)  # first delivery whose R is on or after d

    def _last_in_window(self, d: date) -> int:
        return bisect_left(self.W, d) - 1  # last delivery whose window still holds d

    def span(self, source: str, rec) -> tuple[int, int] | None:
        if source == "attendance":
            first, last = self._first(rec.term_end), self._last_in_window(rec.term_end)
        elif source == "asb":
            first, last = self._first(rec.event_date), self._last_in_window(rec.event_date)
        elif source in ("benefits", "employment"):
            first = self._first(rec.start)
            last = self.n - 1 if rec.end is None else self._last_in_window(rec.end)
        else:
            first = self._first(rec.attached)
            still_open = self.n - 1 if rec.closed is None else bisect_left(self.R, rec.closed) - 1
            last = max(self._last_in_window(rec.attached), still_open)
        last = min(last, self.n - 1)
        return (first, last) if first <= last else None


def _q(s: str) -> str:
    if "," in s or '"' in s or "\n" in s or "\r" in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def _d(d: date | None) -> str:
    return d.isoformat() if d else ""


def _b(v: bool | None) -> str:
    return "" if v is None else ("Y" if v else "N")


def _i(v: int | None) -> str:
    return "" if v is None else str(v)


def record_spans(world: World, schedule: Schedule) -> dict[int, tuple[int, int] | None]:
    """The run of deliveries holding each record, by id(record)."""
    return {id(r): schedule.span(s, r) for s in SOURCES for r in getattr(world, s)}


class DeliveryWriter:
    """Writes the deliveries one by one (they must be written in order) and hands the reference
    the same rows. At scale this is millions of rows, so the work is done in whole-list passes
    and whatever does not change between deliveries is cached: each record version's cells
    (2j for record j, 2j + 1 once its end or closed date is known) and each person's identity
    and address cells per source, redone only when they first appear again or move house."""

    def __init__(self, world: World, schedule: Schedule, presenter: Presenter, folder: Path,
                 spans: dict[int, tuple[int, int] | None] | None = None):
        """spans: each record's run of deliveries by id(record), when already worked out."""
        self.world = world
        self.schedule = schedule
        self.presenter = presenter
        self.folder = folder
        self.records = {s: sorted(getattr(world, s), key=SORT_KEYS[s]) for s in SOURCES}
        if spans is None:
            spans = record_spans(world, schedule)
        self.spans = {s: [spans[id(r)] for r in recs] for s, recs in self.records.items()}
        self.starting: dict[str, list[list[int]]] = {s: [[] for _ in range(schedule.n)] for s in SOURCES}
        for s in SOURCES:
            for j, sp in enumerate(self.spans[s]):
                if sp is not None:
                    self.starting[s][sp[0]].append(j)
        self.active: dict[str, list[int]] = {s: [] for s in SOURCES}
        self.pids = {s: [r.person.id for r in recs] for s, recs in self.records.items()}
        # The date from which a record's end (or closed) date is known and delivered.
        self.known_from = {s: [getattr(r, "end", None) if s != "interventions" else r.closed for r in recs]
                           for s, recs in self.records.items()}
        # People whose home at R differs from the one at the previous delivery's R.
        self.movers: list[list[int]] = [[] for _ in range(schedule.n)]
        for p in world.people:
            for k in sorted({bisect_left(schedule.R, since) for since, _ in p.homes[1:]}):
                if 0 < k < schedule.n:
                    self.movers[k].append(p.id)

        width = max(6, len(str(len(world.people))))
        self._id_format = f"P{{:0{width}d}}"
        self.ids: dict[int, str] = {}  # world person id -> true person id
        self.dobs: dict[str, date] = {}
        self.people_keys: set[tuple[str, str, str]] = set()
        self._seen: set[tuple[int, str]] = set()
        n = len(world.people)
        # Per source, per person: identity and address cells, dwelling id, and the dates between
        # which they hold.
        self._prefix = {s: [""] * n for s in SOURCES}
        self._home = {s: [-1] * n for s in SOURCES}
        self._valid: dict[str, list[tuple[date, date] | None]] = {s: [None] * n for s in SOURCES}
        self._person_cells: dict[tuple[int, str], str] = {}
        self._place_cells: dict[tuple[int, str], str] = {}
        # Per source and record version: its own cells and reference data; and, for the dwelling
        # its person lived in when last delivered, its whole line and reference row.
        self._texts = {s: [""] * (2 * len(recs)) for s, recs in self.records.items()}
        self._lines = {s: [""] * (2 * len(recs)) for s, recs in self.records.items()}
        self._data: dict[str, list[tuple | None]] = {s: [None] * (2 * len(recs)) for s, recs in self.records.items()}
        self._dwells = {s: [-1] * (2 * len(recs)) for s, recs in self.records.items()}
        self._objs: dict[str, list[Row | None]] = {s: [None] * (2 * len(recs)) for s, recs in self.records.items()}
        self.rows_written: Counter[str] = Counter()
        self.headers = {s: ",".join(sources()[s].column_names) for s in (*SOURCES, "areas")}
        # Files are saved by a background thread while the next rows are worked out (the disk
        # writes release the GIL); flush() waits for them.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pbr-generate-io")
        self._saving: list[Future] = []

    def _save(self, path: Path, text: str) -> None:
        self._saving.append(self._io.submit(path.write_text, text, encoding="utf-8"))

    def flush(self) -> None:
        """Wait until every file written so far is on disk (raising any error saving it)."""
        saving, self._saving = self._saving, []
        for f in saving:
            f.result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._io.shutdown()

    def true_id(self, p) -> str:
        tid = self.ids.get(p.id)
        if tid is None:
            tid = self.ids[p.id] = self._id_format.format(len(self.ids) + 1)
            self.dobs[tid] = p.dob
        return tid

    def write(self, i: int) -> tuple[dict[str, list[Row]], list[str]]:
        """Write delivery i; return its rows as the reference reads them (per source, in file
        order, so the reference's own line numbering matches the files), and its areas. The
        files may still be being saved when this returns: flush() (or close()) waits."""
        self.flush()  # one delivery in flight at most
        period, R = self.schedule.periods[i], self.schedule.R[i]
        out = self.folder / period
        out.mkdir(parents=True, exist_ok=True)
        ref_rows: dict[str, list[Row]] = {}
        for s in SOURCES:
            spans, pids_of = self.spans[s], self.pids[s]
            keep = [j for j in self.active[s] if spans[j][1] >= i]
            keep.extend(self.starting[s][i])
            keep.sort()  # record order is delivery line order
            self.active[s] = keep
            known_from = self.known_from[s]
            if s in ("benefits", "employment", "interventions"):
                versions = [j + j + 1 if (kf := known_from[j]) is not None and kf <= R else j + j for j in keep]
            else:
                versions = [j + j for j in keep]
            pids = [pids_of[j] for j in keep]
            # Identity and address: people with new records (in file order, so true ids go by
            # first appearance), and people who have moved since the last delivery.
            valid = self._valid[s]
            for pid in dict.fromkeys(pids_of[j] for j in self.starting[s][i]):
                if valid[pid] is None or not valid[pid][0] <= R < valid[pid][1]:
                    self._refresh_person(pid, s, R)
            for pid in self.movers[i]:
                if valid[pid] is not None and not valid[pid][0] <= R < valid[pid][1]:
                    self._refresh_person(pid, s, R)
            home, lines, dwells, objs = self._home[s], self._lines[s], self._dwells[s], self._objs[s]
            for j, v, pid in [(j, v, pid) for j, v, pid in zip(keep, versions, pids) if dwells[v] != home[pid]]:
                self._render(s, j, v, pid)
            ref_rows[s] = [objs[v] for v in versions]
            self.rows_written[s] += len(keep)
            text = "".join([lines[v] for v in versions])
            self._save(out / f"{s}.csv", self.headers[s] + "\n" + text)
        areas = self._areas(period)
        body = [self.headers["areas"]] + [f"{_q(a)},{_q(n)}" for a, n in areas]
        self._save(out / "areas.csv", "\n".join(body) + "\n")
        self.rows_written["areas"] += len(areas)
        return ref_rows, [a for a, _ in areas]

    def _refresh_person(self, pid: int, s: str, R: date) -> None:
        """A person as source s holds them on R: identity and address cells, and the dates
        between which that stays true (until they move)."""
        p = self.world.people[pid]
        since, home, until = date.min, None, date.max
        for d, dw in p.homes:
            if d <= R:
                since, home = d, dw
            else:
                until = d
                break
        if (pid, s) not in self._seen:
            self._seen.add((pid, s))
            self.people_keys.add((self.true_id(p), s, self._source_key(p, s)))
        self._prefix[s][pid] = f"{self._person(p, s)},{self._place(home, s)},"
        self._home[s][pid] = home.id
        self._valid[s][pid] = (since, until)

    def _render(self, s: str, j: int, v: int, pid: int) -> None:
        """A record version's line and reference row as the person lives now: its own cells are
        made once, the identity and address in front of them again after a move."""
        if not self._texts[s][v]:
            self._texts[s][v], self._data[s][v] = self._cells(s, self.records[s][j], v & 1 == 1)
        dwelling = self._home[s][pid]
        self._lines[s][v] = f"{self._prefix[s][pid]}{self._texts[s][v]}\n"
        self._dwells[s][v] = dwelling
        self._objs[s][v] = Row(s, self.ids[pid], dwelling, self._data[s][v])

    def _areas(self, period: str) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for since, listed in self.world.areas:
            if since <= period:
                rows = listed
        return rows

    def _person(self, p, source: str) -> str:
        key = (p.id, source)
        cells = self._person_cells.get(key)
        if cells is None:
            fn, sn, dob, sex, _ = self.presenter.person(p, source)
            cells = self._person_cells[key] = f"{_q(fn)},{_q(sn)},{dob.isoformat()},{sex}"
        return cells

    def _place(self, dw, source: str) -> str:
        key = (dw.id, source)
        cells = self._place_cells.get(key)
        if cells is None:
            address, postcode, uprn = self.presenter.place(dw, source)
            cells = self._place_cells[key] = f"{_q(address)},{_q(postcode)},{uprn}"
        return cells

    def _source_key(self, p, source: str) -> str:
        if source == "attendance":
            return p.upn
        if source == "asb":
            return p.asb_ref
        if source == "interventions":
            return p.case_ref
        fn, sn, dob, _, has_nino = self.presenter.person(p, source)
        return p.nino if has_nino else f"{fn}|{sn}|{dob.isoformat()}"

    def _cells(self, s: str, rec, known: bool) -> tuple[str, tuple]:
        """A record's own cells (after the identity columns) and the reference's typed view of
        them. Codes, ids, numbers and dates never need quoting; free text (a keyworker) may."""
        if s == "attendance":
            r: AttendanceRec = rec
            text = (f"{r.person.upn},{r.school_urn},{r.academic_year},{r.term},{r.possible},{r.unauthorised},"
                    f"{_i(r.authorised)},{_i(r.fixed)},{_b(r.permanent)},{r.provision or ''}")
            data = Attendance(r.person.upn, r.school_urn, r.academic_year, r.term, r.possible, r.unauthorised,
                              r.fixed, r.permanent, r.provision)
        elif s == "asb":
            a: AsbRec = rec
            text = f"{a.person.asb_ref},{a.event_id},{a.event_date.isoformat()},{a.event_type},{a.agency or ''}"
            data = Asb(a.person.asb_ref, a.event_id, a.event_date, a.event_type)
        elif s in ("benefits", "employment"):
            sp: SpellRec = rec
            fn, sn, dob, _, has_nino = self.presenter.person(sp.person, s)
            nino = sp.person.nino if has_nino else None
            end = sp.end if known else None
            text = f"{nino or ''},{sp.kind},{sp.start.isoformat()},{_d(end)}"
            if s == "benefits":
                text += f",{(sp.end_reason or '') if known else ''},{_b(sp.cap)}"
            data = Spell(sp.kind, sp.start, end, sp.cap, nino, fn, sn, dob)
        else:
            c: CaseRec = rec
            closed = c.closed if known else None
            text = (f"{c.case_ref},{c.person.case_ref},{c.attached.isoformat()},{_d(closed)},"
                    f"{_q(c.keyworker or '')},{c.role or ''}")
            data = Intervention(c.case_ref, c.person.case_ref, c.attached, closed)
        return text, data
