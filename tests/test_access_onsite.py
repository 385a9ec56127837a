"""The muster list: visitors checked in and not out, employees badged in and not out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from broker.events import Event, make_event
from broker.schemas import AccessGranted, Data, VisitorCheckedIn, VisitorCheckedOut, VisitorType
from security.office.access import Direction, Person, PersonKind, on_site, render_muster

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
PEOPLE = {
    p.id: p for p in (Person("E1", "alice Arndt"), Person("E2", "Bob Brandt"), Person("E3", "Zoe Zeller"))
}
_seq = iter(range(1, 10_000))


def ev(minutes: int, kind: str, data: Data) -> Event:
    """An event `minutes` after T0."""
    return make_event("hq", "central", kind, next(_seq), data, time=T0 + timedelta(minutes=minutes))


def grant(minutes: int, person: str, door: str = "main-door") -> Event:
    """An access.granted event."""
    return ev(minutes, "access.granted", AccessGranted(credential="0A", door=door, person_id=person))


def checked_in(minutes: int, visit: str, name: str, company: str | None = None) -> Event:
    """A visitor.checked_in event."""
    return ev(
        minutes,
        "visitor.checked_in",
        VisitorCheckedIn(
            visit_id=visit,
            visitor_name=name,
            visitor_type=VisitorType.GUEST,
            company=company,
            host_name="Alice",
        ),
    )


def test_muster_list() -> None:
    """Who came in and did not leave, visitors first, then employees by name regardless of case."""
    events = [
        grant(0, "E2"),
        grant(1, "E1"),
        grant(2, "E3"),
        checked_in(3, "V1", "Vera Visitor", "ACME"),
        checked_in(4, "V2", "Otto Out"),
        grant(5, "E3"),  # out through the exit reader
        ev(6, "visitor.checked_out", VisitorCheckedOut(visit_id="V2", method="qr")),
        grant(7, "V1", "lab-door"),
        grant(8, "E9"),  # unknown person: ignored
    ]
    outs = {events[5].id}
    listed = on_site(reversed(events), PEOPLE, lambda e: Direction.OUT if e.id in outs else Direction.IN)
    assert [(p.person_id, p.kind) for p in listed] == [
        ("V1", PersonKind.VISITOR),
        ("E1", PersonKind.EMPLOYEE),
        ("E2", PersonKind.EMPLOYEE),
    ]
    assert listed[0].last_door == "lab-door"
    assert listed[0].since == T0 + timedelta(minutes=3)
    assert listed[2].since == T0  # a second "in" keeps the first time


def test_unknown_direction_counts_as_in_and_visitor_stays_until_checkout() -> None:
    """Without a direction a grant means on site; a visitor's exit grant does not replace checking out."""
    events = [grant(0, "E1"), grant(5, "E1"), checked_in(1, "V1", "Vera"), grant(2, "V1")]
    listed = on_site(events, PEOPLE)
    assert [p.person_id for p in listed] == ["V1", "E1"]
    listed = on_site(events, PEOPLE, lambda e: Direction.OUT if e.data.person_id == "V1" else None)  # type: ignore[attr-defined]
    assert [p.person_id for p in listed] == ["V1", "E1"]
    assert on_site([], PEOPLE) == ()


def test_printable_rendering() -> None:
    """The printout has a heading, counts, one tick line per person and '(none)' for an empty section."""
    listed = on_site([checked_in(3, "V1", "Vera Visitor", "ACME")], PEOPLE)
    text = render_muster(listed, T0 + timedelta(hours=1), "hq")
    lines = text.splitlines()
    assert lines[0] == "MUSTER LIST hq"
    assert "on site: 1 (1 visitors, 0 employees)" in lines
    assert any(
        line.startswith("[ ] Vera Visitor") and "ACME, host Alice" in line and "since 07:03" in line
        for line in lines
    )
    assert "EMPLOYEES (0)" in lines
    assert "    (none)" in lines


def test_the_service_clock_decides_not_the_device_clock() -> None:
    """A check-in a device dated 2099, then the check-out: the visitor has left, since when is ours."""
    skewed = checked_in(0, "V7", "Vic Future")
    skewed = replace(skewed, time=datetime(2099, 1, 1, tzinfo=UTC), received_at=T0)
    out = replace(ev(1, "visitor.checked_out", VisitorCheckedOut(visit_id="V7", method="qr")),
                  received_at=T0 + timedelta(minutes=1))
    assert on_site([skewed, out], PEOPLE) == ()
    (listed,) = on_site([skewed], PEOPLE)
    assert listed.since == T0
