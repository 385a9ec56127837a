"""The daily digest as a pure fold and its text: plain values in, exact text out (empty, small, DST, busy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broker.schemas import Priority
from security.office.alarms import (
    Acknowledge,
    ActionRejected,
    AlarmBook,
    BookConfig,
    Condition,
    Resolve,
    RuleName,
    Shelve,
)
from security.office.alarms.kpis import AlarmLife, life_of
from security.office.digest import (
    MAX_ROWS,
    DayDigest,
    DeviceFaultFact,
    DeviceStatusFact,
    IncidentFact,
    build_digest,
    day_bounds,
    due_day,
    duration,
    render_html,
    render_text,
    sections,
    subject,
)
from security.office.visits_report import InvitationFact, VisitFact

WARSAW = ZoneInfo("Europe/Warsaw")
DAY = date(2026, 12, 4)  # a Friday; Warsaw is UTC+1


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A wall-clock time of `day` in Warsaw."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=WARSAW)


def visit(n: int, arrived: datetime, left: datetime | None = None, *, invited: bool = False) -> VisitFact:
    return VisitFact(f"v-{n}", arrived, left, invited, "guest", "e-1", "Anna Host")


def lives(steps: Sequence[tuple[Any, datetime]]) -> list[AlarmLife]:
    """Run conditions and actions through the real alarm book; every alarm's life at the end."""
    book = AlarmBook(BookConfig())
    for item, at in steps:
        book, out = book.apply(item, at)
        assert not any(isinstance(o, ActionRejected) for o in out), out
    ordered = sorted(book.alarms.values(), key=lambda a: int(a.id.split("-")[1]))
    return [life_of(a, int(a.id.split("-")[1])) for a in ordered]


def digest(**facts: Any) -> DayDigest:
    values: dict[str, Any] = {"visits": [], "invitations": [], "lives": [], "opened": [], "closed": [],
                              "statuses": [], "faults": []}
    values.update(facts)
    day = values.pop("day", DAY)
    as_of = values.pop("as_of", local(6, day=day + timedelta(1)))
    return build_digest(site="hq", day=day, tz=WARSAW, as_of=as_of, **values)


EMPTY = """\
Gatehouse daily digest, site hq
Friday 2026-12-04, Europe/Warsaw (24 hours); made 2026-12-05 06:00

Visitors
========
  Arrivals             0
  Walk-ins             0
  Invited              0
  Not checked out yet  0
  Median stay          -
  Longest stay         -

Invitations for the day
=======================
  Expected     0
  Came         0
  Cancelled    0
  No-shows     0
  Still valid  0

Arrivals by hour
================
  No visitor arrived.

Alarms
======
  Raised                     0
    Critical                 0
    High                     0
    Medium                   0
    Low                      0
  Average per 10 min         0.00
  Worst 10 min               0
  Standing (open over 24 h)  0
  Shelved at the day's end   0
  Shelve actions             0
  Chattering sources         0

Incidents opened
================
  None.

Incidents closed
================
  None.

Devices offline now
===================
  None: every device that reported a status is online.

Devices that went offline or silent
===================================
  None raised an alarm.

Device faults
=============
  None reported.
"""


def test_an_empty_day_says_so_in_every_section() -> None:
    d = digest()
    assert render_text(d) == EMPTY
    assert subject(d) == "[Gatehouse hq] Daily digest 2026-12-04: 0 visitors, 0 alarms, 0 incidents opened"
    assert (d.start, d.end) == (datetime(2026, 12, 3, 23, tzinfo=UTC), datetime(2026, 12, 4, 23, tzinfo=UTC))


def small_day() -> DayDigest:
    forced = Condition(RuleName.DOOR_FORCED, "door-forced:server-room", Priority.HIGH, "Forced")
    offline = Condition(RuleName.DEVICE_OFFLINE, "device-offline:gatehouse/hq/printer-1", Priority.MEDIUM,
                        "Printer printer-1 went offline")
    old = Condition(RuleName.CAMERA_TAMPER, "camera-tamper:cam-2", Priority.LOW, "Covered")
    alarms = lives([
        (old, local(10, day=DAY - timedelta(days=2))),  # open for days: standing
        (forced, local(9, 15)), (Acknowledge("a-2", "guard:maria"), local(9, 17)),
        (offline, local(13, 40)), (Resolve("a-3", "guard:jan", "closed"), local(14, 0)),
        (Shelve("a-1", "guard:jan", local(23, 30)), local(22, 0)),
    ])
    return digest(
        visits=[visit(1, local(8, 5), local(10, 5), invited=True), visit(2, local(8, 50), local(9, 20)),
                visit(3, local(14, 10)), visit(9, local(8, 0, DAY - timedelta(days=1)))],  # not this day
        invitations=[InvitationFact("v-1", local(8), local(12), None, local(8, 5)),
                     InvitationFact("v-7", local(11), local(15), None, None)],
        lives=alarms,
        opened=[IncidentFact("i-4", "Tailgating at\ndoor 2", local(9, 30), "guard:maria", None, None, None)],
        closed=[IncidentFact("i-2", "Lost badge", local(8, 0, DAY - timedelta(days=3)), "guard:jan",
                             local(16, 45), "manager:ola", "badge found")],
        statuses=[DeviceStatusFact("gatehouse/hq/printer-1", "printer", "offline", local(13, 39)),
                  DeviceStatusFact("gatehouse/hq/reader-1", "reader", "online", None)],
        faults=[DeviceFaultFact("gatehouse/hq/printer-1", local(12, 0), "paper_out", False),
                DeviceFaultFact("gatehouse/hq/printer-1", local(12, 30), "paper_out", False),
                DeviceFaultFact("gatehouse/hq/printer-1", local(12, 31), "paper_out", True)],
    )


SMALL = """\
Gatehouse daily digest, site hq
Friday 2026-12-04, Europe/Warsaw (24 hours); made 2026-12-05 06:00

Visitors
========
  Arrivals             3
  Walk-ins             2
  Invited              1
  Not checked out yet  1
  Median stay          30 min
  Longest stay         2.0 h

Invitations for the day
=======================
  Expected     2
  Came         1
  Cancelled    0
  No-shows     1
  Still valid  0

Arrivals by hour
================
  Hour   Arrivals
  -----  --------
  08:00         2
  14:00         1

Alarms
======
  Raised                     2
    Critical                 0
    High                     1
    Medium                   1
    Low                      0
  Average per 10 min         0.01
  Worst 10 min               1 from 09:15
  Standing (open over 24 h)  1
  Shelved at the day's end   0
  Shelve actions             1
  Chattering sources         0

Time to acknowledge
===================
  Priority  Acknowledged  Not acknowledged     p50     p90
  --------  ------------  ----------------  ------  ------
  High                 1                 0   2 min   2 min
  Medium               1                 0  20 min  20 min

Top sources
===========
  Rule            Source                  Alarms  Share
  --------------  ----------------------  ------  -----
  device-offline  gatehouse/hq/printer-1       1    50%
  door-forced     server-room                  1    50%

Standing alarms
===============
  Alarm  Priority  Rule           Source  Raised            Open for
  -----  --------  -------------  ------  ----------------  --------
  a-1    low       camera-tamper  cam-2   2026-12-02 10:00     2.6 d

Incidents opened
================
  Incident  At     By           Title
  --------  -----  -----------  --------------------
  i-4       09:30  guard:maria  Tailgating at door 2

Incidents closed
================
  Incident  At     By           Outcome
  --------  -----  -----------  -----------
  i-2       16:45  manager:ola  badge found

Devices offline now
===================
  Device                  Kind     Since
  ----------------------  -------  -----
  gatehouse/hq/printer-1  printer  13:39

Devices that went offline or silent
===================================
  Device                  What     At     Resolved
  ----------------------  -------  -----  --------
  gatehouse/hq/printer-1  offline  13:40  14:00

Device faults
=============
  Device                  Fault      Times  First  Last
  ----------------------  ---------  -----  -----  -----
  gatehouse/hq/printer-1  paper_out      2  12:00  12:30

Attached: visits-2026-12-04.csv.
"""


def test_a_small_day_in_exact_text() -> None:
    d = small_day()
    assert render_text(d, ["Attached: visits-2026-12-04.csv."]) == SMALL
    assert subject(d) == "[Gatehouse hq] Daily digest 2026-12-04: 3 visitors, 2 alarms, 1 incidents opened"


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 10, 25), 25), (date(2026, 3, 29), 23)])
def test_a_day_the_clocks_change_has_its_real_length(day: date, hours: int) -> None:
    """Local midnight to midnight: 25 or 23 hours; the rate is per 10 min of that length."""
    start, end = day_bounds(day, WARSAW)
    assert end - start == timedelta(hours=hours)
    raised = lives([(Condition(RuleName.DOOR_FORCED, f"door-forced:d{n}", Priority.HIGH, "Forced"),
                     start + timedelta(minutes=30 * n)) for n in range(6)])
    d = digest(day=day, lives=raised)
    assert d.alarms.per_10min_average == 6 / (hours * 6)
    assert f"({hours} hours); made " in render_text(d)


def test_the_hour_repeated_when_clocks_go_back_counts_twice_into_its_cell() -> None:
    day = date(2026, 10, 25)
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, the same wall-clock hour
    d = digest(day=day, visits=[visit(1, first), visit(2, second), visit(3, local(23, 59, day))])
    assert d.by_hour[2] == 2
    assert d.by_hour[23] == 1
    assert sum(d.by_hour) == d.visits.arrivals == 3
    assert "  02:00         2\n  23:00         1\n" in render_text(d)


def test_a_busy_day_cuts_long_tables_and_keeps_its_totals() -> None:
    visits = [visit(n, local(7) + timedelta(minutes=n), local(7) + timedelta(minutes=n + 45))
              for n in range(600)]
    steps: list[tuple[Any, datetime]] = []
    for n in range(40):  # 40 sources, each chattering 3 times within a minute
        condition = Condition(RuleName.UNKNOWN_CREDENTIAL, f"unknown-credential:C{n:02d}", Priority.LOW,
                              f"Unknown C{n}")
        at = local(10) + timedelta(minutes=5 * n)
        steps += [(condition, at + timedelta(seconds=10 * k)) for k in range(3)]
    d = digest(visits=visits, lives=lives(steps))
    assert (d.visits.arrivals, d.alarms.raised, len(d.alarms.chattering)) == (600, 40, 40)
    assert sum(d.by_hour) == 600
    [chatter] = [s for s in sections(d) if s.title == "Chattering"]
    assert len(chatter.rows) == MAX_ROWS + 1
    assert chatter.rows[-1] == ("... and 20 more", "", "", "")
    text = render_text(d)
    assert "  Raised                     40\n" in text
    assert "    Low                      40\n" in text
    assert "  Chattering sources         40\n" in text


def test_html_says_the_same_with_every_text_escaped() -> None:
    d = digest(opened=[IncidentFact("i-1", "<script>alert(1)</script> & more", local(9), "guard:<b>",
                                    None, None, None)])
    page = render_html(d, ["Attached: a.csv."])
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "guard:&lt;b&gt;" in page
    for section in sections(d):  # the same tables as the text, those with nothing to say left out
        shown = f"<h2>{section.title.replace(chr(39), '&#x27;')}</h2>" in page
        assert shown == bool(section.rows or section.empty)
    assert "<p>Attached: a.csv.</p>" in page


@pytest.mark.parametrize(("now", "hour", "expected"), [
    (local(6, 0, date(2026, 12, 5)), 6, DAY),  # at the hour: the day before is due
    (local(5, 59, date(2026, 12, 5)), 6, DAY - timedelta(days=1)),  # before it: still the one before
    (local(23, 59), 0, DAY - timedelta(days=1)),
    (local(0, 0, date(2026, 12, 5)), 0, DAY),
])
def test_the_due_day_is_the_newest_whose_hour_has_come(now: datetime, hour: int, expected: date) -> None:
    assert due_day(now, hour, WARSAW) == expected


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "-"), (0, "0 s"), (89, "89 s"), (90, "2 min"), (5399, "90 min"), (5400, "1.5 h"),
    (48 * 3600, "2.0 d"),
])
def test_durations_read_in_the_unit_that_fits(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown
