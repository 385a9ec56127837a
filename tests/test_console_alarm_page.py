"""One alarm's page: its life-cycle lines from plain values, and the page and its snapshot over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from broker.schemas import CameraSnapshot, CameraTamper, DoorChange, Priority
from security.console.alarm_page import Step, elapsed, life_steps
from security.office.alarms.conditions import RuleName
from security.office.alarms.kpis import life_of
from security.office.alarms.lifecycle import Alarm, AlarmState, Transition
from security.office.snapshot_files import snapshot_folder
from security.storage.alarm_store import list_alarms
from security.storage.people import Change
from security.storage.tokens import create_token
from tests.fixtures.console import ConsoleSite, Session
from tests.support import http, wait_until

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_life_cycle_numbers_activations_and_keeps_who_when_until_and_notes() -> None:
    history = (Transition("raised", "system", at(0)), Transition("repeated", "system", at(20)),
               Transition("acknowledged", "guard:gus", at(95), "on my way"),
               Transition("shelved", "guard:gus", at(120), "painters", at(3720)),
               Transition("unshelved", "system", at(3720), "shelve expired"),
               Transition("repeated", "system", at(3800)), Transition("resolved", "guard:gus", at(4000)))
    alarm = Alarm("a-7", RuleName.DOOR_FORCED, "door-forced:server-room", Priority.HIGH, "Door forced",
                  ("ev-1",), False, at(0), AlarmState.RESOLVED, 3, history=history)
    assert life_steps(life_of(alarm, 7)) == [
        Step(at(0), "raised", "system", None, 0.0, None, 1),
        Step(at(20), "repeated", "system", None, 20.0, None, 2),
        Step(at(95), "acknowledged", "guard:gus", "on my way", 95.0),
        Step(at(120), "shelved", "guard:gus", "painters", 120.0, at(3720)),
        Step(at(3720), "unshelved", "system", "shelve expired", 3720.0),
        Step(at(3800), "repeated", "system", None, 3800.0, None, 3),
        Step(at(4000), "resolved", "guard:gus", None, 4000.0),
    ]


def test_time_since_the_raise_reads_in_seconds_minutes_or_hours() -> None:
    assert [elapsed(s) for s in (0, 12.4, 95, 3600, 7500)] == ["+0 s", "+12 s", "+1 min 35 s", "+1 h 0 min",
                                                               "+2 h 5 min"]


def _alarm_of(site: ConsoleSite, rule: str, state: str = "unacknowledged") -> str:
    """The id of the stored alarm of `rule` once it is in `state`."""
    found: list[str] = []

    def stored() -> bool:
        with site.store.engine.connect() as conn:
            found[:] = [a.id for a in list_alarms(conn) if a.rule == rule and a.state == state]
        return bool(found)
    wait_until(stored, 15, f"a {state} {rule} alarm stored")
    return found[0]


def _rows(page: str, table: str) -> list[str]:
    """The text of each row of one table of a page, tags dropped."""
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"<[^>]+>", " ", row) for row in body.split("<tr")[2:]]


def test_a_door_forced_alarm_s_page_shows_its_life_cycle_after_a_guard_acts_through_the_api(
    console_site: ConsoleSite,
) -> None:
    folder = snapshot_folder(console_site.central.settings.data_dir) / "camera-1"
    folder.mkdir(parents=True, exist_ok=True)
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    (folder / "room.jpg").write_bytes(jpeg.tobytes())
    camera = console_site.device("camera-1", "camera")  # the server room's camera ([alarms.cameras])
    snap = camera.source.emit("camera.snapshot",
                              CameraSnapshot(camera="camera-1", path=str(folder / "room.jpg")))
    wait_until(lambda: console_site.store.query_events(types=["camera.snapshot"]) != [], 15,
               "snapshot stored")
    door = console_site.device("door-1", "door")
    door.source.emit("door.forced", DoorChange(door="server-room"))
    alarm_id = _alarm_of(console_site, RuleName.DOOR_FORCED)
    _info, token = create_token(console_site.store.engine, "gus", "guard",
                                Change("test", datetime.now(UTC), console_site.central.audit_key))
    api = console_site.base + f"/api/alarms/{alarm_id}"
    assert http("POST", api + "/acknowledge", token=token, body={"note": "on my way"}).status == 200
    assert http("POST", api + "/shelve", token=token, body={"minutes": 30, "note": "painters"}).status == 200
    _alarm_of(console_site, RuleName.DOOR_FORCED, "shelved")
    door.source.emit("door.closed", DoorChange(door="server-room"))

    def returned() -> bool:
        with console_site.store.engine.connect() as conn:
            return any(a.normal for a in list_alarms(conn) if a.id == alarm_id)
    wait_until(returned, 15, "the alarm returned to normal")
    opened = http("POST", console_site.base + "/api/incidents", token=token,
                  body={"title": "Server room door forced", "alarm_ids": [alarm_id]})
    assert opened.status == 201

    manager = Session(console_site.base)
    assert manager.login("max") == 303
    status, headers, page = manager.request("GET", f"/console/alarms/{alarm_id}")
    assert status == 200, page
    assert headers["content-security-policy"].startswith("default-src 'self'")
    life = _rows(page, "life")
    body = page.split('id="life"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<tr class="(\w+)"', body) == ["raised", "acknowledged", "shelved", "returned"]
    assert "door server-room closed" in life[3]
    assert "· returned to normal</small></h1>" in page
    procedure = page.split('id="procedure"', 1)[1].split("</section>", 1)[0]
    assert "Send the nearest guard to the door" in procedure  # the built-in rule's procedure
    assert all(word in life[1] for word in ("api:gus", "on my way"))
    assert all(word in life[2] for word in ("api:gus", "until", "painters"))
    [cause] = _rows(page, "causes")
    assert all(word in cause for word in ("door.forced", "door-1", "server-room"))
    incident = opened.json["id"]
    assert f'<a href="/console/incidents/{incident}">{incident}</a> Server room door forced' in page
    assert 'id="latest"' in page
    image = f"/console/alarms/{alarm_id}/snapshots/{snap.id}"  # the latest of the room's camera
    assert f'src="{image}"' in page.split('id="latest"', 1)[1]
    status, headers, _jpeg = manager.request("GET", image)
    assert (status, headers["content-type"]) == (200, "image/jpeg")

    _status, _headers, history = manager.request("GET", "/console/alarms")
    assert f'href="/console/alarms/{alarm_id}"' in history
    [row] = [r for r in _rows(history, "history") if alarm_id in r]
    assert (row.count("api:gus"), "→" in row) == (2, True)  # acknowledged by gus; shelved by gus, until when
    _status, _headers, today = manager.request("GET", "/console/")
    assert f'href="/console/alarms/{alarm_id}"' in today


def test_a_camera_alarm_s_page_shows_its_snapshot_served_as_a_jpeg(console_site: ConsoleSite) -> None:
    folder = snapshot_folder(console_site.central.settings.data_dir) / "camera-1"
    folder.mkdir(parents=True, exist_ok=True)
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    (folder / "tamper.jpg").write_bytes(jpeg.tobytes())
    camera = console_site.device("camera-1", "camera")
    tamper = camera.source.emit("camera.tamper", CameraTamper(camera="camera-1", kind="covered"))
    snap = camera.source.emit("camera.snapshot", CameraSnapshot(
        camera="camera-1", path=str(folder / "tamper.jpg"), for_event=tamper.id))
    alarm_id = _alarm_of(console_site, RuleName.CAMERA_TAMPER)
    wait_until(lambda: console_site.store.query_events(types=["camera.snapshot"]) != [], 15,
               "the snapshot stored")

    guard = Session(console_site.base)
    assert guard.login("gus") == 303
    status, _headers, page = guard.request("GET", f"/console/alarms/{alarm_id}")
    assert status == 200, page
    image = f"/console/alarms/{alarm_id}/snapshots/{snap.id}"
    assert f'src="{image}"' in page
    status, headers, _body = guard.request("GET", image)
    assert (status, headers["content-type"]) == (200, "image/jpeg")
    not_a_snapshot = f"/console/alarms/{alarm_id}/snapshots/{tamper.id}"
    assert guard.request("GET", not_a_snapshot)[0] == 404
    assert guard.request("GET", f"/console/alarms/{alarm_id}{'0' * 70}")[0] == 404  # an over-long id
    host = Session(console_site.base)
    assert host.login("hana") == 303
    assert host.request("GET", image)[0] == 403
