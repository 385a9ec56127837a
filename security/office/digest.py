"""The managers' daily digest: one local day of the site in figures, and its e-mail text (pure).

`build_digest` folds plain values (the day's check-ins and invitations, alarm life cycles,
incidents, device states and faults) into a `DayDigest` for one local day of the site's zone;
`render_text` and `render_html` draw it as the same tables (`sections`), every text from `TEXTS`.

A day is local midnight to local midnight, so a day when clocks change has 23 or 25 hours; the
alarm rate is per 10 minutes of that day's real length. Device history is what the log keeps:
the last status of each device (offline now), the `device-offline` and `device-silent` alarms
raised that day (when a device went down, if the rule is on), and its `device.fault` events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from html import escape

from broker.schemas import Priority
from security.office.alarms.kpis import AlarmKpis, AlarmLife, alarm_kpis
from security.office.digest_texts import TEXTS, WEEKDAYS
from security.office.visits_report import (
    InvitationFact,
    InvitationOutcomes,
    VisitFact,
    VisitStats,
    arrivals_heat,
    invitation_outcomes,
    visit_stats,
)

DEVICE_RULES = ("device-offline", "device-silent")
"""The alarm rules that say a device went down (`security.office.alarms.RuleName`)."""
MAX_ROWS = 20
"""A table shows at most this many rows, then says how many more there are."""
MAX_CELL = 80
"""A cell's text is cut to this many characters."""


@dataclass(frozen=True, slots=True)
class IncidentFact:
    """One incident as the digest tells it."""

    id: str
    title: str
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    closed_by: str | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class DeviceStatusFact:
    """A device's last known status: its source, kind, state, and since when (if it said)."""

    source: str
    kind: str
    state: str
    since: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceFaultFact:
    """One `device.fault` event: which device, when the service received it, what fault."""

    source: str
    at: datetime
    fault: str
    cleared: bool


@dataclass(frozen=True, slots=True)
class FaultCount:
    """How often one device reported one fault in the day, first and last time."""

    source: str
    fault: str
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceDown:
    """A device that went offline or silent in the day (from its alarm), and when that was resolved."""

    source: str
    rule: str
    at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class DayDigest:
    """Everything one daily digest says about one local day of one site."""

    site: str
    day: date
    tz: tzinfo
    start: datetime
    end: datetime
    as_of: datetime
    visits: VisitStats
    by_hour: tuple[int, ...]
    """Arrivals per local wall-clock hour 0-23 (a repeated hour counts twice into its cell)."""
    invitations: InvitationOutcomes
    alarms: AlarmKpis
    by_priority: tuple[tuple[Priority, int], ...]
    opened: tuple[IncidentFact, ...]
    closed: tuple[IncidentFact, ...]
    offline_now: tuple[DeviceStatusFact, ...]
    went_down: tuple[DeviceDown, ...]
    faults: tuple[FaultCount, ...]

    @property
    def zone(self) -> str:
        """The site's zone by name (`Europe/Warsaw`)."""
        return str(self.tz)

    @property
    def hours(self) -> float:
        """How long the day is, in hours (23 or 25 on a day the clocks change)."""
        return (self.end - self.start).total_seconds() / 3600


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Local midnight of `day` and of the next day in `tz`, in UTC."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def due_day(now: datetime, hour: int, tz: tzinfo) -> date:
    """The newest day whose digest is due at `now` when digests go out at `hour`:00 local the next day."""
    local = now.astimezone(tz)
    return local.date() - timedelta(days=1 if local.hour >= hour else 2)


def _faults(faults: Iterable[DeviceFaultFact], start: datetime, end: datetime) -> tuple[FaultCount, ...]:
    found: dict[tuple[str, str], list[datetime]] = {}
    for f in faults:
        if not f.cleared and start <= f.at < end:
            found.setdefault((f.source, f.fault), []).append(f.at)
    counts = [FaultCount(source, fault, len(at), min(at), max(at)) for (source, fault), at in found.items()]
    return tuple(sorted(counts, key=lambda c: (-c.count, c.source, c.fault)))


def build_digest(
    *, site: str, day: date, tz: tzinfo, visits: Iterable[VisitFact], invitations: Iterable[InvitationFact],
    lives: Iterable[AlarmLife], opened: Iterable[IncidentFact], closed: Iterable[IncidentFact],
    statuses: Iterable[DeviceStatusFact], faults: Iterable[DeviceFaultFact], as_of: datetime,
) -> DayDigest:
    """The digest of local `day` in `tz` from the day's facts; figures that change later are as of `as_of`.

    `visits` are the day's check-ins; `lives` may hold older alarms still open (for standing and
    shelved ones); `opened` and `closed` are the incidents opened and closed in the day.
    """
    start, end = day_bounds(day, tz)
    moment = min(as_of, end)
    facts = [v for v in visits if start <= v.arrived_at < end]
    every = list(lives)
    inside = [a for a in every if start <= a.raised_at < end]
    raised = Counter(a.priority for a in inside)
    heat = arrivals_heat((v.arrived_at for v in facts), tz)
    down = sorted((DeviceDown(a.source, a.rule, a.raised_at, a.resolved_at) for a in inside
                   if a.rule in DEVICE_RULES), key=lambda d: (d.at, d.source))
    return DayDigest(
        site=site, day=day, tz=tz, start=start, end=end, as_of=as_of,
        visits=visit_stats(facts, tz), by_hour=heat[day.weekday()],
        invitations=invitation_outcomes([i for i in invitations if start <= i.expected_at < end], moment),
        alarms=alarm_kpis(every, start, end, tz, as_of=moment),
        by_priority=tuple((p, raised[p]) for p in Priority),
        opened=tuple(sorted((i for i in opened if start <= i.opened_at < end), key=lambda i: i.opened_at)),
        closed=tuple(sorted((i for i in closed if i.closed_at is not None and start <= i.closed_at < end),
                            key=lambda i: (i.closed_at, i.id))),
        offline_now=tuple(sorted((s for s in statuses if s.state == "offline"), key=lambda s: s.source)),
        went_down=tuple(down), faults=_faults(faults, start, end),
    )


# --- drawing -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Section:
    """One table of the digest: a title, column headers (none for label/value lists), rows of text."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str
    """One letter a column: `l` left, `r` right."""
    empty: str = ""
    """What to say instead of an empty table (no rows: the section is left out when this is empty too)."""


def cut(text: str, width: int = MAX_CELL) -> str:
    """`text` on one line (runs of white space folded), at most `width` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def duration(seconds: float | None) -> str:
    """Seconds for a reader: `40 s`, `12 min`, `3.5 h`, `2.0 d`; a dash for none."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 48 * 3600 else f"{seconds / 86400:.1f} d"


def _clock(d: DayDigest, at: datetime, tz: tzinfo) -> str:
    """A time of the day as `HH:MM`; another day's as `YYYY-MM-DD HH:MM` (local)."""
    local = at.astimezone(tz)
    return local.strftime("%H:%M") if local.date() == d.day else local.strftime("%Y-%m-%d %H:%M")


def _limited(rows: Sequence[tuple[str, ...]], width: int) -> tuple[tuple[str, ...], ...]:
    if len(rows) <= MAX_ROWS:
        return tuple(rows)
    more = TEXTS["more"].format(n=len(rows) - MAX_ROWS)
    return (*rows[:MAX_ROWS], (more, *([""] * (width - 1))))


def _table(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], align: str,
           empty: str = "") -> Section:
    return Section(title, header, _limited(rows, len(header)), align, empty)


def _visit_sections(d: DayDigest, tz: tzinfo) -> list[Section]:
    t, v, inv = TEXTS, d.visits, d.invitations
    summary = (
        (t["arrivals"], str(v.arrivals)), (t["walk_ins"], str(v.walk_ins)), (t["invited"], str(v.invited)),
        (t["still_in"], str(v.dwell.still_in)), (t["median_stay"], duration(v.dwell.p50_s)),
        (t["longest_stay"], duration(v.dwell.max_s)),
    )
    invitations = (
        (t["expected"], str(inv.invited)), (t["came"], str(inv.checked_in)),
        (t["cancelled"], str(inv.cancelled)), (t["no_shows"], str(inv.no_shows)),
        (t["pending"], str(inv.pending)),
    )
    hours = [(f"{h:02d}:00", str(n)) for h, n in enumerate(d.by_hour) if n]
    return [Section(t["visitors"], (), summary, "ll"), Section(t["invitations"], (), invitations, "ll"),
            _table(t["by_hour"], (t["hour"], t["arrivals"]), hours, "lr", t["no_arrivals"])]


def _alarm_sections(d: DayDigest, tz: tzinfo) -> list[Section]:
    t, k = TEXTS, d.alarms
    peak = k.worst_10min_by_day[0] if k.worst_10min_by_day else None
    worst = ("0" if peak is None or peak.window_start is None else
             t["worst_at"].format(n=peak.count, at=_clock(d, peak.window_start, tz)))
    summary = (
        (t["raised"], str(k.raised)),
        *((t["priority_raised"].format(priority=str(p).capitalize()), str(n)) for p, n in d.by_priority),
        (t["per_10min"], f"{k.per_10min_average:.2f}"), (t["worst_10min"], worst),
        (t["standing"], str(len(k.standing))), (t["shelved"], str(len(k.shelved_at_end))),
        (t["shelve_actions"], str(k.shelve_actions)), (t["chattering"], str(len(k.chattering))),
    )
    ack = [(str(a.group).capitalize(), str(a.acknowledged), str(a.unacknowledged), duration(a.p50_s),
            duration(a.p90_s)) for a in k.ack_by_priority]
    top = [(s.rule, cut(s.source, 40), str(s.alarms), f"{s.share:.0%}") for s in k.top_sources]
    chatter = [(c.rule, cut(c.source, 40), str(c.most_in_window), _clock(d, c.window_start, tz))
               for c in k.chattering]
    standing = [(s.alarm_id, str(s.priority), s.rule, cut(s.source, 40), _clock(d, s.raised_at, tz),
                 duration(s.open_for_s)) for s in k.standing]
    return [
        Section(t["alarms"], (), summary, "ll"),
        _table(t["ack_title"], (t["priority"], t["acknowledged"], t["unacknowledged"], "p50", "p90"),
               ack, "lrrrr"),
        _table(t["top_sources"], (t["rule"], t["source"], t["alarms"], t["share"]), top, "llrr"),
        _table(t["chattering_title"], (t["rule"], t["source"], t["most_in_minute"], t["from"]), chatter,
               "llrl"),
        _table(t["standing_title"], (t["alarm"], t["priority"], t["rule"], t["source"], t["raised_at"],
                                     t["open_for"]), standing, "lllllr"),
    ]


def _other_sections(d: DayDigest, tz: tzinfo) -> list[Section]:
    t = TEXTS
    opened = [(i.id, _clock(d, i.opened_at, tz), cut(i.opened_by, 40), cut(i.title)) for i in d.opened]
    closed = [(i.id, _clock(d, i.closed_at, tz) if i.closed_at else "", cut(i.closed_by or "", 40),
               cut(i.outcome or "")) for i in d.closed]
    offline = [(cut(s.source, 60), s.kind, _clock(d, s.since, tz) if s.since else "?") for s in d.offline_now]
    down = [(cut(x.source, 60), t[x.rule], _clock(d, x.at, tz),
             _clock(d, x.resolved_at, tz) if x.resolved_at else "-") for x in d.went_down]
    faults = [(cut(f.source, 60), f.fault, str(f.count), _clock(d, f.first_at, tz), _clock(d, f.last_at, tz))
              for f in d.faults]
    return [
        _table(t["opened_title"], (t["incident"], t["at"], t["by"], t["title_column"]), opened, "llll",
               t["none_opened"]),
        _table(t["closed_title"], (t["incident"], t["at"], t["by"], t["outcome"]), closed, "llll",
               t["none_closed"]),
        _table(t["offline_now"], (t["device"], t["kind"], t["since"]), offline, "lll", t["all_online"]),
        _table(t["went_down"], (t["device"], t["what"], t["at"], t["resolved"]), down, "llll",
               t["none_down"]),
        _table(t["faults"], (t["device"], t["fault"], t["times"], t["first"], t["last"]), faults, "llrll",
               t["no_faults"]),
    ]


def sections(d: DayDigest) -> tuple[Section, ...]:
    """The digest's tables in order: visitors, alarms, incidents, devices."""
    tz = d.tz
    return (*_visit_sections(d, tz), *_alarm_sections(d, tz), *_other_sections(d, tz))


def subject(d: DayDigest) -> str:
    """`[Gatehouse hq] Daily digest 2026-12-04: 12 visitors, 9 alarms, 1 incident`."""
    return TEXTS["subject"].format(site=d.site, day=d.day.isoformat(), visitors=d.visits.arrivals,
                                   alarms=d.alarms.raised, incidents=len(d.opened))


def heading(d: DayDigest) -> tuple[str, str]:
    """The digest's title line, and the line saying which day it covers and when it was made (local)."""
    made = d.as_of.astimezone(d.tz).strftime("%Y-%m-%d %H:%M")
    return (TEXTS["title"].format(site=d.site),
            TEXTS["covers"].format(weekday=WEEKDAYS[d.day.weekday()], day=d.day.isoformat(), zone=d.zone,
                                   hours=f"{d.hours:g}", made=made))


def _text_table(section: Section) -> list[str]:
    rows = [section.header, *section.rows] if section.header else list(section.rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, section.align,
                                                                           strict=True)]
        return "  " + "  ".join(cells).rstrip()

    out = [line(r) for r in rows]
    if section.header:
        out.insert(1, "  " + "  ".join("-" * w for w in widths))
    return out


def render_text(d: DayDigest, notes: Sequence[str] = ()) -> str:
    """The digest as a plain-text e-mail body: a heading, then each table under its title; `notes` last."""
    title, covers = heading(d)
    lines = [title, covers]
    for section in sections(d):
        if not section.rows and not section.empty:
            continue
        lines += ["", section.title, "=" * len(section.title)]
        lines += _text_table(section) if section.rows else [f"  {section.empty}"]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def render_html(d: DayDigest, notes: Sequence[str] = ()) -> str:
    """The same digest as a small HTML document (every text escaped)."""
    title, covers = heading(d)
    parts = ['<!DOCTYPE html><html><head><meta charset="utf-8"></head>',
             '<body style="font-family:sans-serif">', f"<h1>{escape(title)}</h1>", f"<p>{escape(covers)}</p>"]
    for section in sections(d):
        if not section.rows and not section.empty:
            continue
        parts.append(f"<h2>{escape(section.title)}</h2>")
        if not section.rows:
            parts.append(f"<p>{escape(section.empty)}</p>")
            continue
        parts.append('<table style="border-collapse:collapse" cellpadding="3">')
        if section.header:
            parts.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in section.header) + "</tr>")
        for row in section.rows:
            cells = ("<td{}>{}</td>".format(' style="text-align:right"' if a == "r" else "", escape(c))
                     for c, a in zip(row, section.align, strict=True))
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts += [f"<p>{escape(n)}</p>" for n in notes]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
