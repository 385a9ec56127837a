"""Procedures per rule and cameras per door or zone: settings, what an alarm carries, the wire."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from broker.config import ConfigError
from broker.events import ContractError
from broker.messages import AlarmStatus, AlarmStep
from broker.schemas import Priority
from security.office.alarms import AlarmBook, Condition, RuleName
from security.office.alarms.guidance import DEFAULT_PROCEDURES, AlarmGuidance, place_of
from security.office.config import OfficeConfig
from security.office.engine import alarm_status

T0 = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)
SETTINGS = {"alarms": {
    "procedures": {"door-forced": "  Call the night supervisor on 4411, then look at the camera.  ",
                   "printer-fault": ""},
    "cameras": {"main-door": ["cam-lobby", "cam-street"], "yard": ["cam-yard"]},
}}


@pytest.mark.parametrize(("rule", "key", "place"), [
    (RuleName.DOOR_FORCED, "door-forced:main-door", "main-door"),
    (RuleName.DOOR_HELD_OPEN, "door-held-open:dock", "dock"),
    (RuleName.ZONE_AFTER_HOURS, "zone-after-hours:yard", "yard"),
    (RuleName.REPEATED_DENIALS, "repeated-denials:door:main-door", "main-door"),
    (RuleName.REPEATED_DENIALS, "repeated-denials:credential:0A1B", None),
    (RuleName.UNKNOWN_CREDENTIAL, "unknown-credential:0A1B", None),
    (RuleName.DOOR_FORCED, "door-forced:", None),
])  # fmt: skip
def test_the_place_of_an_alarm_is_read_from_its_key(rule: str, key: str, place: str | None) -> None:
    assert place_of(rule, key) == place


def test_the_site_file_sets_procedures_over_the_defaults_and_cameras_per_place() -> None:
    guidance = OfficeConfig.from_document(SETTINGS).alarms.guidance()
    assert guidance.procedure("door-forced") == "Call the night supervisor on 4411, then look at the camera."
    assert guidance.procedure("door-held-open") == DEFAULT_PROCEDURES[RuleName.DOOR_HELD_OPEN]
    assert guidance.procedure("printer-fault") is None  # written empty: the site has none
    assert guidance.procedure("delivery-gap") is None
    assert guidance.cameras_for("door-forced", "door-forced:main-door") == ("cam-lobby", "cam-street")
    assert guidance.cameras_for("zone-after-hours", "zone-after-hours:yard") == ("cam-yard",)
    assert guidance.cameras_for("door-held-open", "door-held-open:dock") == ()
    assert guidance.cameras_for("device-offline", "device-offline:gatehouse/s/cam-yard") == ()


def test_without_settings_the_built_in_rules_have_a_procedure() -> None:
    guidance = OfficeConfig().alarms.guidance()
    assert (guidance.procedure("door-forced") or "").startswith("Look at the door's camera")
    assert all(0 < len(text) <= 1000 for text in DEFAULT_PROCEDURES.values())
    assert set(DEFAULT_PROCEDURES) <= {str(r) for r in RuleName}


@pytest.mark.parametrize(("alarms", "message"), [
    ({"procedures": {"door-smashed": "run"}}, r"\[alarms.procedures\] unknown rule 'door-smashed'; known: "),
    ({"procedures": {"door-forced": "x" * 1001}},
     r"\[alarms.procedures\] door-forced: 1001 characters; at most 1000"),
    ({"procedures": {"door-forced": 12}}, "procedures.door-forced: Input should be a valid string"),
    ({"cameras": {"main-door": []}}, r"\[alarms.cameras\] main-door: 1 to 8 different cameras"),
    ({"cameras": {"main-door": ["cam-1", "cam-1"]}}, "1 to 8 different cameras"),
    ({"cameras": {"main-door": ["Cam 1"]}}, r"\[alarms.cameras\] 'main-door': .*1-64 characters"),
    ({"cameras": {"main-door": "cam-1"}}, "cameras.main-door: Input should be a valid list"),
])  # fmt: skip
def test_bad_procedures_or_cameras_are_refused(alarms: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OfficeConfig.from_document({"alarms": alarms})


def test_the_retained_alarm_carries_procedure_cameras_and_count() -> None:
    guidance = OfficeConfig.from_document(SETTINGS).alarms.guidance()
    forced = Condition(RuleName.DOOR_FORCED, "door-forced:main-door", Priority.HIGH, "Door forced open")
    book, _ = AlarmBook().apply(forced, T0)
    book, _ = book.apply(forced, T0)
    status = alarm_status(book.alarms["a-1"], T0, guidance)
    assert status.procedure == "Call the night supervisor on 4411, then look at the camera."
    assert (status.cameras, status.count, status.normal) == (("cam-lobby", "cam-street"), 2, False)
    assert alarm_status(book.alarms["a-1"], T0, AlarmGuidance({}, {})).procedure is None


def test_the_new_fields_survive_the_wire_and_an_older_payload_still_decodes() -> None:
    status = AlarmStatus(
        id="a-7", rule="door-held-open", priority="medium", summary="Door held", state="unacknowledged",
        raised_at=T0, updated_at=T0, count=3, history=(AlarmStep("raised", "system", T0),),
        procedure="Close it.", cameras=("cam-dock",), normal=True,
    )
    assert AlarmStatus.decode(status.encode()) == status
    old = {"id": "a-7", "rule": "door-held-open", "priority": "medium", "summary": "s",
           "state": "acknowledged", "raised_at": "2026-12-05T21:30:00Z", "updated_at": "2026-12-05T21:30:00Z"}
    decoded = AlarmStatus.decode(json.dumps(old).encode())
    assert (decoded.procedure, decoded.cameras, decoded.normal) == (None, (), False)
    assert "procedure" not in json.loads(AlarmStatus.decode(json.dumps(old).encode()).encode())
    for bad, message in (({"cameras": 5}, "cameras must be a list"), ({"cameras": "cam-1"}, "cameras must"),
                         ({"procedure": 7}, "procedure must be text")):
        with pytest.raises(ContractError, match=message):
            AlarmStatus.decode(json.dumps({**old, **bad}).encode())
