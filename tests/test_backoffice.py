"""The back office as a pure state machine: decisions, unlocks, visitors, alarm requests, the clock."""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.config import ConfigError
from broker.events import Event, make_event
from broker.messages import Status
from broker.schemas import (
    AccessDenied,
    AccessGranted,
    AlarmRequested,
    BadgeRead,
    Data,
    DoorChange,
    Priority,
    VisitorCheckedIn,
    VisitorCheckedOut,
)
from security.office.access import Credential, CredentialFormat, Directory, DoorGroup, Person, WeeklySchedule
from security.office.access.model import AccessRight
from security.office.alarms import AlarmState, RuleName
from security.office.config import OfficeConfig
from security.office.engine import BackOffice, Effects, alarm_status

SITE = "hq"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BADGE = "0A1B2C3D4E"
CONFIG = OfficeConfig.from_document({
    "access": {
        "readers": [{"device": "reader-1", "reader": 1, "door": "main-door", "unlock_s": 4},
                    {"device": "reader-1", "reader": 2, "door": "main-door", "direction": "out"}],
        "doors": {"main-door": "door-1"},
        "anti_passback": "hard",
    },
    "alarms": {"rules": {"repeated-denials": {"count": 3, "window_s": 30}}},
})


def directory() -> Directory:
    """One employee with one badge who may pass the main door at any hour."""
    return Directory(
        people=(Person("e-1", "Budi Santoso", groups=frozenset({"staff"})),),
        credentials=(Credential(BADGE, CredentialFormat.EM4100, "e-1"),),
        door_groups=(DoorGroup("lobby", frozenset({"main-door"})),),
        rights=(AccessRight("lobby", WeeklySchedule.all_hours(), group="staff"),),
    )


class Site:
    """A back office fed with events of named devices, its own events numbered like the service's."""

    def __init__(self) -> None:
        self.seqs = itertools.count(1)
        self.own = itertools.count(1)
        ids = itertools.count(1)
        self.office = BackOffice(CONFIG, self.emit, new_id=lambda: f"cmd-{next(ids)}")
        self.office.set_directory(directory())

    def emit(self, event_type: str, data: Data) -> Event:
        return make_event(SITE, "central", event_type, next(self.own), data)

    def event(self, device: str, event_type: str, data: Data, at: datetime = T0) -> Event:
        return make_event(SITE, device, event_type, next(self.seqs), data, time=at)

    def feed(self, device: str, event_type: str, data: Data, at: datetime = T0) -> Effects:
        return self.office.on_event(self.event(device, event_type, data, at), at)

    def read(self, credential: str = BADGE, reader: int = 1, at: datetime = T0) -> Effects:
        return self.feed("reader-1", "badge.read", BadgeRead(credential=credential, reader=reader), at)

    def station(self, name: str = "station-1") -> None:
        self.office.on_status(f"gatehouse/{SITE}/{name}", Status("online", kind="station"), T0)


def types(fx: Effects) -> list[str]:
    """The types of the events a step emitted, in order."""
    return [e.type for e in fx.events]


def test_a_granted_read_is_logged_with_its_reader_and_unlocks_the_door() -> None:
    site = Site()
    fx = site.read()
    assert types(fx) == ["access.granted"]
    data = fx.events[0].data
    assert isinstance(data, AccessGranted)
    assert (data.person_id, data.door, data.reader_device, data.reader, data.direction) == (
        "e-1", "main-door", "reader-1", 1, "in")
    [(device, command)] = fx.commands
    assert device == "door-1"
    assert command.name == "unlock"
    assert command.args == {"seconds": 4}
    assert command.expires == T0 + timedelta(seconds=CONFIG.access.unlock_deadline_s)


@pytest.mark.parametrize(("read_age_s", "unlocks"), [(0.0, 1), (2.9, 1), (3.1, 0), (600.0, 0)])
def test_a_read_that_arrives_late_is_decided_but_opens_nothing(read_age_s: float, unlocks: int) -> None:
    site = Site()
    event = site.event("reader-1", "badge.read", BadgeRead(credential=BADGE, reader=1), T0)
    fx = site.office.on_event(event, T0 + timedelta(seconds=read_age_s))
    assert types(fx) == ["access.granted"]
    assert len(fx.commands) == unlocks


def test_an_unknown_badge_is_denied_and_raises_an_alarm_once_then_counts() -> None:
    site = Site()
    first = site.read("FFFFFFFFFF")
    assert types(first) == ["access.denied", "alarm.raised"]
    assert not first.commands
    denied = first.events[0].data
    assert isinstance(denied, AccessDenied)
    assert denied.reason == "unknown_credential"
    again = site.read("FFFFFFFFFF", at=T0 + timedelta(seconds=5))
    assert types(again) == ["access.denied"]  # flood control: counted on the open alarm
    [alarm] = again.alarms.values()
    assert alarm.count == 2
    assert alarm_status(alarm, T0).count == 2


def test_repeated_denials_use_the_configured_threshold() -> None:
    site = Site()
    raised = [site.read("FFFFFFFFFF", at=T0 + timedelta(seconds=i)) for i in range(3)]
    rules = [a.rule for fx in raised for a in fx.alarms.values() if len(a.history) == 1]
    assert rules.count(RuleName.REPEATED_DENIALS) == 2  # the third denial: at the door and for the badge


def test_hard_anti_passback_refuses_a_second_entry_until_the_person_goes_out() -> None:
    site = Site()
    assert types(site.read()) == ["access.granted"]
    second = site.read(at=T0 + timedelta(seconds=10))
    assert isinstance(second.events[0].data, AccessDenied)
    assert second.events[0].data.reason == "anti_passback"
    assert types(site.read(reader=2, at=T0 + timedelta(seconds=20))) == ["access.granted"]
    assert types(site.read(at=T0 + timedelta(seconds=30))) == ["access.granted"]


def test_a_visitor_badge_works_from_check_in_and_is_revoked_at_check_out() -> None:
    site = Site()
    site.office.set_directory(Directory(
        people=(), credentials=(), door_groups=(DoorGroup("lobby", frozenset({"main-door"})),),
        rights=(AccessRight("lobby", WeeklySchedule.all_hours(), group="visitors"),)))
    visit = VisitorCheckedIn(visit_id="v-1", visitor_name="Ana Kowalska", visitor_type="guest", badge="A7F3")
    site.feed("kiosk-1", "visitor.checked_in", visit)
    assert types(site.read("A7F3", at=T0 + timedelta(minutes=1))) == ["access.granted"]
    site.feed("kiosk-1", "visitor.checked_out", VisitorCheckedOut(visit_id="v-1", method="qr"),
              T0 + timedelta(hours=1))
    after = site.read("A7F3", reader=2, at=T0 + timedelta(hours=1, minutes=1))
    assert types(after) == ["access.denied", "alarm.raised"]
    assert isinstance(after.events[0].data, AccessDenied)
    assert after.events[0].data.reason == "revoked"
    assert [a.rule for a in after.alarms.values()] == [RuleName.REVOKED_BADGE]


def test_a_directory_change_keeps_the_visitors_on_site() -> None:
    site = Site()
    site.feed("kiosk-1", "visitor.checked_in",
              VisitorCheckedIn(visit_id="v-1", visitor_name="Ana", visitor_type="guest", badge="A7F3"))
    site.office.set_directory(directory())
    assert site.office.directory().person("v-1") is not None
    assert site.office.directory().person("e-1") is not None


def test_a_reader_with_no_door_is_not_decided() -> None:
    site = Site()
    assert site.read(reader=9).events == []


def test_stations_acknowledge_by_request_and_a_second_acknowledgement_changes_nothing() -> None:
    site = Site()
    site.station("station-1")
    site.station("station-2")
    raised = site.feed("door-1", "door.forced", DoorChange(door="main-door"))
    [alarm_id] = raised.alarms
    ack = AlarmRequested(alarm_id=alarm_id, action="acknowledge", by="guard:maria")
    first = site.feed("station-1", "alarm.requested", ack)
    second = site.feed("station-2", "alarm.requested", ack.model_copy(update={"by": "guard:joe"}))
    assert types(first) == ["alarm.acknowledged"]
    assert first.alarms[alarm_id].state is AlarmState.ACKNOWLEDGED
    assert [r.action for r in first.audit] == ["alarm.acknowledge"]
    assert types(second) == []
    assert second.alarms == {}
    book_alarm = site.office.state.book.get(alarm_id)
    assert book_alarm is not None
    assert [t.by for t in book_alarm.history if t.action == "acknowledged"] == ["guard:maria"]


def test_only_stations_may_act_on_alarms_and_refusals_are_audited() -> None:
    site = Site()
    raised = site.feed("door-1", "door.forced", DoorChange(door="main-door"))
    [alarm_id] = raised.alarms
    fx = site.feed("reader-1", "alarm.requested",
                   AlarmRequested(alarm_id=alarm_id, action="resolve", by="guard:mallory", note="done"))
    assert types(fx) == []
    assert [(r.action, r.details["refused"]) for r in fx.audit] == [
        ("alarm.resolve_refused", "reader-1 is not a guard station")]
    site.station()
    fx = site.feed("station-1", "alarm.requested",
                   AlarmRequested(alarm_id="a-999", action="acknowledge", by="guard:maria"))
    assert [r.reason for r in fx.rejected] == ["no alarm a-999"]
    assert [r.action for r in fx.audit] == ["alarm.acknowledge_refused"]


def test_shelving_runs_out_on_the_clock_and_says_so() -> None:
    site = Site()
    site.station()
    [alarm_id] = site.feed("door-1", "door.forced", DoorChange(door="main-door")).alarms
    until = T0 + timedelta(minutes=15)
    fx = site.feed("station-1", "alarm.requested",
                   AlarmRequested(alarm_id=alarm_id, action="shelve", by="guard:maria", until=until))
    assert types(fx) == ["alarm.shelved"]
    assert types(site.office.tick(until - timedelta(seconds=1))) == []
    expired = site.office.tick(until)
    assert "alarm.unshelved" in types(expired)
    assert expired.alarms[alarm_id].state is AlarmState.UNACKNOWLEDGED


def test_an_unacknowledged_alarm_escalates_on_the_clock() -> None:
    site = Site()
    [alarm_id] = site.feed("door-1", "door.forced", DoorChange(door="main-door")).alarms  # high
    assert site.office.tick(T0 + timedelta(seconds=299)).escalations == []
    fx = site.office.tick(T0 + timedelta(seconds=300))
    assert types(fx) == ["alarm.escalated"]
    assert [(e.alarm_id, e.level, e.notify) for e in fx.escalations] == [(alarm_id, 1, ("supervisor",))]


def test_a_device_going_offline_raises_an_alarm() -> None:
    site = Site()
    source = f"gatehouse/{SITE}/door-1"
    site.office.on_status(source, Status("online", kind="door"), T0)
    fx = site.office.on_status(source, Status("offline", kind="door", detail="connection lost"), T0)
    assert types(fx) == ["alarm.raised"]
    [alarm] = fx.alarms.values()
    assert alarm.rule == RuleName.DEVICE_OFFLINE
    assert alarm.priority is Priority.MEDIUM


def test_replay_rebuilds_visits_and_positions_without_effects() -> None:
    site = Site()
    site.office.replay(site.event("kiosk-1", "visitor.checked_in", VisitorCheckedIn(
        visit_id="v-1", visitor_name="Ana", visitor_type="guest", badge="A7F3")))
    site.office.replay(make_event(SITE, "central", "access.granted", 1, AccessGranted(
        credential=BADGE, door="main-door", person_id="e-1", reader_device="reader-1", reader=1,
        direction="in"), time=T0))
    assert types(site.read("A7F3", at=T0 + timedelta(seconds=5))) == ["access.denied"]  # no visitor rights
    denied = site.read(at=T0 + timedelta(seconds=6))
    assert isinstance(denied.events[0].data, AccessDenied)
    assert denied.events[0].data.reason == "anti_passback"


@pytest.mark.parametrize(("doc", "message"), [
    ({"alarms": {"rules": {"no-such-rule": {}}}}, "unknown rule 'no-such-rule'"),
    ({"alarms": {"rules": {"door-forced": {"colour": "red"}}}}, "unknown setting 'colour'"),
    ({"alarms": {"rules": {"repeated-denials": {"count": "many"}}}}, "count: expected a number"),
    ({"alarms": {"rules": {"door-forced": {"priority": "urgent"}}}}, "'urgent' is not a valid Priority"),
    ({"alarms": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
    ({"access": {"readers": [{"device": "Reader 1", "door": "x"}]}}, "must be 1-64 characters"),
    ({"access": {"readers": [{"device": "r", "door": "d"}, {"device": "r", "door": "e"}]}}, "listed twice"),
    ({"access": {"anti_passback": "sometimes"}}, "anti_passback"),
])
def test_bad_settings_are_refused_with_what_is_wrong(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OfficeConfig.from_document(doc)


def test_rule_settings_from_the_file_reach_the_rules() -> None:
    config = OfficeConfig.from_document({"alarms": {"timezone": "Asia/Jakarta", "rules": {
        "zone-after-hours": {"zones": [{"zone": "yard", "opens": "06:00", "closes": "18:00"}]},
        "camera-tamper": {"kinds": ["covered"], "priority": "critical"},
        "visitor-after-closing": {"closing": "20:00"},
    }}})
    rules = config.alarms.rules_config()
    [zone] = rules.zone_hours.zones
    assert (zone.zone, zone.opens.hour, str(zone.tz)) == ("yard", 6, "Asia/Jakarta")
    assert rules.camera_tamper.kinds == {"covered"}
    assert rules.camera_tamper.priority is Priority.CRITICAL
    assert str(rules.visitor_after_closing.tz) == "Asia/Jakarta"
    assert rules.visitor_after_closing.closing.hour == 20


def test_the_settings_example_in_docs_alarms_md_is_valid() -> None:
    """The `[access]`/`[alarms]` example a reader copies from docs/alarms.md loads as written."""
    text = (Path(__file__).parents[1] / "docs" / "alarms.md").read_text()
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if b.startswith("[access]")]
    assert len(blocks) == 1
    config = OfficeConfig.from_document(tomllib.loads(blocks[0]))
    assert config.access.reader_points()[("reader-1", 1)].door == "main-door"
    assert config.alarms.rules_config().repeated_denials.count == 3
    assert config.alarms.book_config().escalation[Priority.CRITICAL][1].notify == ("manager",)


def test_a_visitor_badge_the_contract_allows_but_no_credential_can_be_is_skipped() -> None:
    """A 4-digit 'em4100' badge is valid in the contract, not as a credential: logged, no door, no crash."""
    site = Site()
    visit = VisitorCheckedIn(visit_id="v-9", visitor_name="Ana", visitor_type="guest", badge="0A1B",
                             badge_format="em4100")
    assert site.feed("kiosk-1", "visitor.checked_in", visit).events == []
    assert site.office.directory().person("v-9") is None
    assert types(site.read()) == ["access.granted"]  # the office goes on deciding


def test_with_known_stations_a_device_cannot_make_itself_one() -> None:
    """Only devices with station credentials may act on alarms; a kiosk saying 'station' is not one."""
    emit = Site().emit
    office = BackOffice(CONFIG, emit, stations=frozenset({"station-1"}))
    office.set_directory(directory())
    for device in ("station-1", "kiosk-1"):
        office.on_status(f"gatehouse/{SITE}/{device}", Status("online", kind="station"), T0)
    forced = make_event(SITE, "door-1", "door.forced", 1, DoorChange(door="main-door"), time=T0)
    [alarm_id] = office.on_event(forced, T0).alarms
    resolve = AlarmRequested(alarm_id=alarm_id, action="resolve", by="guard:mallory", note="done")
    refused = office.on_event(make_event(SITE, "kiosk-1", "alarm.requested", 1, resolve, time=T0), T0)
    assert types(refused) == []
    assert refused.audit[0].details["refused"] == "kiosk-1 is not a guard station"
    obeyed = office.on_event(make_event(SITE, "station-1", "alarm.requested", 1, resolve, time=T0), T0)
    assert types(obeyed) == ["alarm.resolved"]
    # the impostor's own Last Will is not muted as a station's would be
    gone = office.on_status(f"gatehouse/{SITE}/kiosk-1", Status("offline", kind="station"), T0)
    assert [a.rule for a in gone.alarms.values()] == [RuleName.DEVICE_OFFLINE]


def test_a_stored_status_claiming_station_is_not_trusted_at_start_either() -> None:
    """Rebuilding from stored statuses applies the same rule: the impostor's Last Will still raises."""
    office = BackOffice(CONFIG, Site().emit, stations=frozenset({"station-1"}))
    office.learn_status(f"gatehouse/{SITE}/door-9", Status("online", kind="station"), T0)
    gone = office.on_status(f"gatehouse/{SITE}/door-9", Status("offline", kind="station"), T0)
    assert [a.rule for a in gone.alarms.values()] == [RuleName.DEVICE_OFFLINE]


def test_a_reader_whose_clock_runs_behind_cannot_reopen_a_revoked_visitor_badge() -> None:
    """Decisions go by the service's receive time: a read backdated to before the check-out is denied."""
    site = Site()
    site.office.set_directory(Directory(
        people=(), credentials=(), door_groups=(DoorGroup("lobby", frozenset({"main-door"})),),
        rights=(AccessRight("lobby", WeeklySchedule.all_hours(), group="visitors"),)))
    visit = VisitorCheckedIn(visit_id="v-1", visitor_name="Ana Kowalska", visitor_type="guest", badge="A7F3")
    site.feed("kiosk-1", "visitor.checked_in", visit)
    site.feed("kiosk-1", "visitor.checked_out", VisitorCheckedOut(visit_id="v-1", method="qr"),
              T0 + timedelta(hours=1))
    now = T0 + timedelta(hours=1, minutes=1)
    backdated = replace(site.event("reader-1", "badge.read", BadgeRead(credential="A7F3", reader=2),
                                   T0 + timedelta(minutes=30)), received_at=now)
    fx = site.office.on_event(backdated, now)
    assert types(fx)[0] == "access.denied"
    assert isinstance(fx.events[0].data, AccessDenied)
    assert fx.events[0].data.reason == "revoked"
