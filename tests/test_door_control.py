"""Guards' door commands in the back office, with plain values: unlock-until, back to schedule,
a door group's lockdown refusing badges until its release, each sent with an expiry and audited."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from broker.events import Event, make_event
from broker.messages import Command
from broker.schemas import AccessDenied, AccessGranted, BadgeRead, CommandSent, Data, DenyReason
from security.office.access import Credential, CredentialFormat, Directory, DoorGroup, Person, WeeklySchedule
from security.office.access.model import AccessRight
from security.office.config import OfficeConfig
from security.office.door_control import CommandRequest
from security.office.engine import BackOffice, Effects

SITE = "hq"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
BADGE = "0A1B2C3D4E"
CONFIG = OfficeConfig.from_document({"access": {
    "readers": [{"device": "reader-1", "reader": 1, "door": "main-door"},
                {"device": "reader-2", "reader": 1, "door": "side-door", "area": "annex"}],
    "doors": {"main-door": "door-1", "side-door": "door-2", "yard-gate": "door-3"},
    "unlock_deadline_s": 3.0,
}})
DIRECTORY = Directory(
    people=(Person("e-1", "Budi Santoso", groups=frozenset({"staff"})),),
    credentials=(Credential(BADGE, CredentialFormat.EM4100, "e-1"),),
    door_groups=(DoorGroup("ground", frozenset({"main-door", "side-door", "loading-bay"})),
                 DoorGroup("outside", frozenset({"yard-gate"}))),
    rights=(AccessRight("ground", WeeklySchedule.all_hours(), group="staff"),
            AccessRight("outside", WeeklySchedule.all_hours(), group="staff")),
)


class Office:
    """A pure back office knowing one employee who may pass every door."""

    def __init__(self) -> None:
        self.own, self.seqs, ids = itertools.count(1), itertools.count(1), itertools.count(1)
        self.office = BackOffice(CONFIG, self.emit, new_id=lambda: f"cmd-{next(ids)}")
        self.office.set_directory(DIRECTORY)

    def emit(self, event_type: str, data: Data) -> Event:
        return make_event(SITE, "central", event_type, next(self.own), data)

    def ask(self, request: CommandRequest, now: datetime = T0) -> Effects:
        return self.office.command(request, now, origin="api")

    def badge(self, reader: str, now: datetime = T0) -> Effects:
        read = make_event(SITE, reader, "badge.read", next(self.seqs), BadgeRead(credential=BADGE, reader=1),
                          time=now)
        return self.office.on_event(read, now)


def lockdown(group: str = "ground", command: str = "lock") -> CommandRequest:
    return CommandRequest("", command, "api:maria", group=group, note="intruder report")


def test_an_unlock_until_is_sent_with_an_expiry_recorded_and_audited() -> None:
    until = T0 + timedelta(hours=8)
    fx = Office().ask(CommandRequest("door-1", "unlock", "api:maria", until=until, note="open day"))
    expires = T0 + timedelta(seconds=3)
    assert fx.commands == [("door-1", Command("cmd-1", "unlock", expires, {"until": "2026-12-04T17:00:00Z"}))]
    [sent] = fx.events
    assert sent.data == CommandSent(device="door-1", command="unlock", command_id="cmd-1", by="api:maria",
                                    origin="api", expires=expires, door="main-door", note="open day",
                                    until=until)
    [record] = fx.audit
    assert (record.action, record.subject) == ("command.unlock", "device:door-1")
    assert record.details["until"] == until.isoformat()
    assert record.details["command_id"] == "cmd-1"


@pytest.mark.parametrize(("request_", "reason"), [
    (CommandRequest("door-1", "unlock", "g", until=T0 + timedelta(hours=12, seconds=1)), "within the next"),
    (CommandRequest("door-1", "unlock", "g", until=T0), "not within the next 12 h"),
    (CommandRequest("door-1", "unlock", "g", seconds=5, until=T0 + timedelta(hours=1)), "not both"),
    (CommandRequest("reader-1", "schedule", "g"), "reader-1 is not a door device"),
    (CommandRequest("door-1", "lock", "g"), "lock names a door group"),
    (CommandRequest("door-1", "unlock", "g", group="ground"), "names a door device, not a door group"),
    (CommandRequest("", "lock", "g", group="roof"), "no door group 'roof'"),
    (CommandRequest("door-1", "print", "g"), "the service sends no 'print' command"),
], ids=lambda v: v if isinstance(v, str) else v.command)
def test_requests_the_service_refuses_send_nothing_and_are_audited(
    request_: CommandRequest, reason: str
) -> None:
    fx = Office().ask(request_)
    assert (fx.commands, fx.events) == ([], [])
    [why] = fx.refused
    assert reason in why
    [record] = fx.audit
    assert record.action == f"command.{request_.command}_refused"
    assert record.details["refused"] == why


def test_back_to_schedule_is_sent_to_the_door() -> None:
    fx = Office().ask(CommandRequest("door-2", "schedule", "api:maria"))
    assert [(d, c.name, c.args) for d, c in fx.commands] == [("door-2", "schedule", {})]
    assert fx.events[0].data.door == "side-door"  # type: ignore[attr-defined]


def test_a_lockdown_goes_to_every_door_of_the_group_and_refuses_badges_until_release() -> None:
    site = Office()
    assert isinstance(site.badge("reader-1").events[0].data, AccessGranted)
    fx = site.ask(lockdown())
    # loading-bay has no door device: it is marked, nothing is sent to it
    assert [(d, c.name, c.args, c.expires) for d, c in fx.commands] == [
        ("door-1", "lock", {"lockdown": True}, T0 + timedelta(seconds=3)),
        ("door-2", "lock", {"lockdown": True}, T0 + timedelta(seconds=3))]
    assert [(e.type, e.data.door, e.data.group) for e in fx.events] == [  # type: ignore[attr-defined]
        ("command.sent", "main-door", "ground"), ("command.sent", "side-door", "ground")]
    [record] = fx.audit
    assert (record.action, record.subject, record.details["command_ids"]) == (
        "command.lock", "door-group:ground", ["cmd-2", "cmd-3"])  # cmd-1 opened for the badge
    assert site.office.state.lockdown == {"main-door", "side-door", "loading-bay"}

    later = T0 + timedelta(minutes=1)
    denied = site.badge("reader-2", later)
    assert denied.commands == []
    [access] = denied.events
    assert access.type == "access.denied"
    assert access.data == AccessDenied(credential=BADGE, door="side-door", reason=DenyReason.LOCKDOWN,
                                       person_id="e-1", reader_device="reader-2", reader=1, direction="in")
    refused = site.ask(CommandRequest("door-1", "unlock", "api:maria", seconds=5), later)
    assert refused.commands == []
    assert "in lockdown" in refused.refused[0]
    assert site.ask(CommandRequest("door-3", "unlock", "api:maria"), later).commands  # another group's door

    released = site.ask(lockdown(command="release"), later)
    assert [(d, c.name, c.args) for d, c in released.commands] == [
        ("door-1", "release", {}), ("door-2", "release", {})]
    assert site.office.state.lockdown == frozenset()
    granted = site.badge("reader-2", later)
    assert isinstance(granted.events[0].data, AccessGranted)
    assert [d for d, _ in granted.commands] == ["door-2"]


def test_a_lockdown_is_learnt_again_from_the_recorded_commands_at_start_up() -> None:
    before = Office()
    sent = before.ask(lockdown()).events
    after = Office()
    for event in sent:
        after.office.replay(event)
    assert after.office.state.lockdown == {"main-door", "side-door"}  # a door without a device sends nothing
    denied = after.badge("reader-1").events[0].data
    assert isinstance(denied, AccessDenied)
    assert denied.reason == DenyReason.LOCKDOWN
    for event in before.ask(lockdown(command="release")).events:
        after.office.replay(event)
    assert after.office.state.lockdown == frozenset()
