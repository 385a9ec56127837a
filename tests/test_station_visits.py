"""The guard station's memory of visits, driven like a function: events in, the visitor of an alarm out."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from broker import schemas as s
from broker.events import Event, make_event
from broker.messages import AlarmStatus
from security.station.samples import (
    PHOTO_SIZE,
    WATCHLIST_CAUSE,
    sample_alarms,
    sample_events,
    sample_photo,
    sample_watchlist_events,
)
from security.station.viewmodel import StationViewModel
from security.station.visits import NOT_AT_THIS_STATION, Photo, Visits

T0 = datetime(2026, 11, 22, 8, 15, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0 a tiny stand-in for a JPEG \xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n not a JPEG"
SIZE = (320, 240)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Kiosk:
    """Builds the events one kiosk emits, numbered and a second apart."""

    def __init__(self) -> None:
        self.seq = 0

    def event(self, kind: str, data: s.Data, event_id: str | None = None, at: int | None = None) -> Event:
        self.seq += 1
        when = T0 + timedelta(seconds=self.seq if at is None else at)
        return make_event("lobby", "kiosk-1", kind, self.seq, data, time=when, event_id=event_id)

    def checked_in(self, visit: str, name: str, company: str | None = None, photo: bool = True) -> Event:
        data = s.VisitorCheckedIn(
            visit_id=visit, visitor_name=name, visitor_type=s.VisitorType.GUEST, company=company,
            photo="visitor.photo" if photo else None,
        )  # fmt: skip
        return self.event("visitor.checked_in", data)

    def photo(self, v: str, jpeg: str | None, size: tuple[int, int] = SIZE, at: int | None = None) -> Event:
        data = s.VisitorPhoto(visit_id=v, jpeg=jpeg, width=size[0], height=size[1])
        return self.event("visitor.photo", data, at=at)

    def screened(self, visit: str, ev: str, score: float | None = 0.9, entry: str | None = "wl-1") -> Event:
        data = s.VisitorScreened(visit_id=visit, result="match", score=score, entry_id=entry)
        return self.event("visitor.screened", data, event_id=ev)


def visits_of(*events: Event, limit: int = 100) -> Visits:
    visits = Visits(limit=limit)
    for event in events:
        visits.on_event(event)
    return visits


K = Kiosk()
WATCHLIST = "watchlist-match"


# the visitor behind an alarm, from what the station has seen
@pytest.mark.parametrize(
    ("events", "rule", "cause", "expected"),
    [
        # everything seen: name, company, match and photo
        ([K.checked_in("v-1", "Ada Lovelace", "Engines Ltd"), K.photo("v-1", b64(JPEG)),
          K.screened("v-1", "e-1")],
         WATCHLIST, ("e-1",),
         ("Ada Lovelace", "Engines Ltd", "watchlist match 90% · entry wl-1", JPEG, "")),
        # the photo came after the screening
        ([K.checked_in("v-1", "Ada Lovelace"), K.screened("v-1", "e-1", 0.5, None),
          K.photo("v-1", b64(JPEG))],
         WATCHLIST, ("e-1",), ("Ada Lovelace", None, "watchlist match 50%", JPEG, "")),
        # the check-in says a photo was taken, the photo never reached this station
        ([K.checked_in("v-1", "Ada Lovelace"), K.screened("v-1", "e-1", None, None)],
         WATCHLIST, ("e-1",), ("Ada Lovelace", None, "", None, NOT_AT_THIS_STATION)),
        # no photo was taken at check-in
        ([K.checked_in("v-1", "Ada Lovelace", photo=False), K.screened("v-1", "e-1")],
         WATCHLIST, ("e-1",),
         ("Ada Lovelace", None, "watchlist match 90% · entry wl-1", None, "no photo was taken at check-in")),
        # retention removed the photo: no photo
        ([K.checked_in("v-1", "Ada"), K.photo("v-1", b64(JPEG)), K.photo("v-1", None),
          K.screened("v-1", "e-1")],
         WATCHLIST, ("e-1",),
         ("Ada", None, "watchlist match 90% · entry wl-1", None, "no photo: removed by retention")),
        # not a JPEG, or not base64 at all: no photo, and it says why
        ([K.photo("v-1", b64(PNG)), K.screened("v-1", "e-1")],
         WATCHLIST, ("e-1",),
         ("visit v-1 (name not known at this station)", None, "watchlist match 90% · entry wl-1", None,
          "the photo could not be read")),
        ([K.photo("v-1", "abc"), K.screened("v-1", "e-1")],
         WATCHLIST, ("e-1",),
         ("visit v-1 (name not known at this station)", None, "watchlist match 90% · entry wl-1", None,
          "the photo could not be read")),
        # the station started after the check-in: it says so
        ([], WATCHLIST, ("e-1",),
         ("visitor not known at this station", None, "", None, NOT_AT_THIS_STATION)),
        ([K.checked_in("v-1", "Ada"), K.screened("v-1", "e-1")], WATCHLIST, ("e-9",),
         ("visitor not known at this station", None, "", None, NOT_AT_THIS_STATION)),
        # several causes: the newest one the station knows
        ([K.checked_in("v-1", "Ada"), K.screened("v-1", "e-1"), K.checked_in("v-2", "Bob"),
          K.screened("v-2", "e-2", 0.75)],
         WATCHLIST, ("e-1", "e-2", "e-unseen"), ("Bob", None, "watchlist match 75% · entry wl-1", None,
                                                 NOT_AT_THIS_STATION)),
        # another rule whose cause is a screening still names the visitor
        ([K.checked_in("v-1", "Ada"), K.screened("v-1", "e-1")], "door-forced", ("e-1",),
         ("Ada", None, "watchlist match 90% · entry wl-1", None, NOT_AT_THIS_STATION)),
    ],
)  # fmt: skip
def test_the_visitor_behind_an_alarm(
    events: list[Event],
    rule: str,
    cause: tuple[str, ...],
    expected: tuple[str, str | None, str, bytes | None, str],
) -> None:
    visitor = visits_of(*events).for_alarm(rule, cause)
    assert visitor is not None
    photo = visitor.photo.jpeg if visitor.photo else None
    assert (visitor.who, visitor.company, visitor.match, photo, visitor.photo_note) == expected


@pytest.mark.parametrize(
    ("rule", "cause"),
    [("door-forced", ("ev-1",)), ("door-forced", ()), ("device-offline", ("e-unknown",))],
)
def test_an_alarm_of_no_visitor_has_no_visitor(rule: str, cause: tuple[str, ...]) -> None:
    visits = visits_of(K.checked_in("v-1", "Ada"), K.photo("v-1", b64(JPEG)), K.screened("v-1", "e-1"))
    assert visits.for_alarm(rule, cause) is None


# the newest photo of a visit
@pytest.mark.parametrize(
    ("photos", "expected"),
    [
        ([(b64(JPEG), 10)], (JPEG, "taken")),
        ([(b64(JPEG), 10), (None, 20)], (None, "removed")),
        ([(b64(JPEG), 10), (None, 5)], (JPEG, "taken")),  # an older removal arrives late: ignored
        ([(None, 10), (b64(JPEG), 5)], (None, "removed")),  # an older photo arrives late: ignored
        ([(b64(JPEG + b"old"), 10), (b64(JPEG), 20)], (JPEG, "taken")),
        ([(b64(JPEG), 10), (b64(PNG), 20)], (None, "unreadable")),
    ],
)
def test_the_newest_photo_of_a_visit_is_kept(
    photos: list[tuple[str | None, int]], expected: tuple[bytes | None, str]
) -> None:
    kiosk = Kiosk()
    visits = visits_of(*(kiosk.photo("v-1", jpeg, at=at) for jpeg, at in photos))
    visit = visits.visit("v-1")
    assert visit is not None
    assert (visit.photo.jpeg if visit.photo else None, visit.photo_state) == expected


def test_a_photo_keeps_the_size_the_kiosk_gave() -> None:
    visit = visits_of(K.photo("v-1", b64(JPEG), (480, 360))).visit("v-1")
    assert visit is not None
    assert visit.photo == Photo(JPEG, 480, 360)


def test_a_check_in_after_the_photo_keeps_the_photo() -> None:
    kiosk = Kiosk()
    visits = visits_of(kiosk.photo("v-1", b64(JPEG)), kiosk.checked_in("v-1", "Ada", "Engines", photo=False))
    visit = visits.visit("v-1")
    assert visit is not None
    assert (visit.name, visit.company, visit.photo_state) == ("Ada", "Engines", "taken")


# bounded memory
@pytest.mark.parametrize(
    ("limit", "visits", "kept"),
    [(3, 5, ["v-3", "v-4", "v-5"]), (5, 2, ["v-1", "v-2"]), (1, 3, ["v-3"])],
)
def test_only_the_newest_visits_and_screenings_are_kept(limit: int, visits: int, kept: list[str]) -> None:
    kiosk = Kiosk()
    events = []
    for n in range(1, visits + 1):
        events += [kiosk.checked_in(f"v-{n}", f"visitor {n}"), kiosk.photo(f"v-{n}", b64(JPEG)),
                   kiosk.screened(f"v-{n}", f"e-{n}")]  # fmt: skip
    memory = visits_of(*events, limit=limit)
    assert len(memory) == len(kept)
    assert [v for n in range(1, visits + 1) if memory.visit(v := f"v-{n}") is not None] == kept
    assert [f"e-{n}" for n in range(1, visits + 1) if memory.screening(f"e-{n}")] == [
        f"e-{v.removeprefix('v-')}" for v in kept
    ]


def test_a_visit_touched_again_is_kept_longest() -> None:
    kiosk = Kiosk()
    memory = visits_of(
        kiosk.checked_in("v-1", "Ada"), kiosk.checked_in("v-2", "Bob"),
        kiosk.photo("v-1", b64(JPEG)), kiosk.checked_in("v-3", "Cy"), limit=2,
    )  # fmt: skip
    assert [v for v in ("v-1", "v-2", "v-3") if memory.visit(v)] == ["v-1", "v-3"]


@pytest.mark.parametrize("limit", [0, -1])
def test_the_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError, match="limit must be >= 1"):
        Visits(limit=limit)


def test_other_events_tell_nothing_about_visits() -> None:
    data = s.BadgeRead(credential="0A1B", reader=1)
    badge = make_event("lobby", "reader-1", "badge.read", 1, data, time=T0)
    visits = Visits()
    assert visits.on_event(badge) is False
    assert len(visits) == 0


# the view-model: its events feed the memory, the selected alarm asks it
def test_the_selected_watchlist_alarm_shows_the_sample_visitor_and_photo() -> None:
    vm = StationViewModel(tz=UTC)
    for event in [*sample_events(), *sample_watchlist_events()]:
        vm.on_event(event)
    for alarm in sample_alarms(T0):
        vm.alarms.on_alarm(alarm.id, alarm)
    assert vm.selected_visitor() is None  # nothing selected
    vm.alarms.select("a-1")
    assert vm.selected_visitor() is None  # a door alarm
    vm.alarms.select("a-2")
    visitor = vm.selected_visitor()
    assert visitor is not None
    assert (visitor.visit_id, visitor.who) == ("K7QX4M2P9A", "Ada Lovelace")
    assert visitor.company == "Analytical Engines Ltd"
    assert visitor.match == "watchlist match 93% · entry wl-0042"
    assert visitor.photo == Photo(sample_photo(), *PHOTO_SIZE)
    assert visitor.photo_note == ""


def test_a_station_started_after_the_check_in_says_the_photo_is_not_here() -> None:
    vm = StationViewModel(tz=UTC)
    alarm = next(a for a in sample_alarms(T0) if a.cause == (WATCHLIST_CAUSE,))
    vm.alarms.on_alarm(alarm.id, AlarmStatus.decode(alarm.encode()))
    vm.alarms.select(alarm.id)
    visitor = vm.selected_visitor()
    assert visitor is not None
    assert (visitor.who, visitor.photo, visitor.photo_note) == (
        "visitor not known at this station", None, "photo not available at this station"
    )


def test_the_view_model_bounds_its_visits_and_ignores_a_redelivered_photo() -> None:
    vm = StationViewModel(tz=UTC, visits=2)
    kiosk = Kiosk()
    removed = kiosk.photo("v-1", None, at=50)
    photo = kiosk.photo("v-1", b64(JPEG), at=60)
    for event in (removed, photo, removed, kiosk.checked_in("v-2", "Bob"), kiosk.checked_in("v-3", "Cy")):
        vm.on_event(event)
    assert [v for v in ("v-1", "v-2", "v-3") if vm.visits.visit(v)] == ["v-2", "v-3"]
    vm = StationViewModel(tz=UTC)
    for event in (removed, photo, removed):
        vm.on_event(event)
    visit = vm.visits.visit("v-1")
    assert visit is not None
    assert visit.photo == Photo(JPEG, *SIZE)
