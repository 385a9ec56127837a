"""Render the kiosk and the guard station offscreen, each in its own process, and check the PNGs.

One Kivy window per process: every test starts `python -m ...` with SDL's offscreen driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from broker import topics
from broker.config import MqttUrl
from broker.events import decode
from broker.messages import AlarmStatus, AlarmStep
from broker.schemas import AlarmRequested
from tests.fixtures.mqtt import MqttClientFactory
from tests.support import unique_site

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        KIVY_NO_ARGS="1",
        KIVY_NO_CONSOLELOG="1",
        KIVY_NO_FILELOG="1",
        KIVY_HOME=str(home),
        SDL_VIDEODRIVER="offscreen",
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def load_rendered(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Read a PNG and check it is a fully drawn, non-blank picture of the whole window."""
    assert path.is_file(), f"{path.name} was not saved"
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"{path.name} is not a readable PNG"
    assert (image.shape[1], image.shape[0]) == size
    if image.shape[2] == 4:
        assert image[:, :, 3].min() == 255, f"{path.name} has undrawn (transparent) areas"
        image = image[:, :, :3]
    assert image.std() > 20, f"{path.name} is nearly blank"
    colours = np.unique(image.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 20, f"{path.name} has too few colours to hold text"
    return image


def pixels_near(image: np.ndarray, bgr: tuple[int, int, int], tol: int = 12) -> int:
    diff = np.abs(image.astype(int) - np.array(bgr)).max(axis=2)
    return int((diff <= tol).sum())


KIOSK_TOUR_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from kivy.core.window import Window
    from kivy.metrics import mm
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput
    from kiosk.app import KioskApp
    from kiosk.autopilot import ManualClock, Pilot, tour
    from kiosk.demo_ports import demo_site
    from kiosk.i18n import LANGUAGES
    from kiosk.viewmodel import KioskViewModel
    from kiosk.widgets import SignaturePad

    folder, size = Path(sys.argv[1]), tuple(int(n) for n in sys.argv[2].split("x"))
    site, clock = demo_site(), ManualClock()
    app = KioskApp(KioskViewModel(lambda *_a: None, site.ports, clock=clock), camera=site.camera, size=size)
    report = {"target": mm(12), "shots": {}}

    def seen(path):
        screen = app.manager.current_screen
        targets, texts, fonts = [], [], [0]
        for w in screen.walk(restrict=True):
            if w.opacity == 0 or w.width == 0 or w.get_root_window() is None:
                continue
            if isinstance(w, (ButtonBehavior, TextInput, SignaturePad)):
                targets.append([type(w).__name__, getattr(w, "text", ""), w.width, w.height])
            if isinstance(w, Label) and w.text:
                texts.append(w.text)
                fonts.append(w.font_size)
            inside = w.x >= -1 and w.right <= Window.width + 1 and w.y >= -1 and w.top <= Window.height + 1
            if not inside and getattr(w, "text", ""):
                report.setdefault("outside", []).append([str(path), w.text])
        report["shots"][f"{path.parent.name}/{path.stem}"] = {
            "screen": screen.name, "targets": targets, "texts": texts,
            "largest_font": max(fonts),
        }

    pilot = Pilot(app, tour(app, clock, folder, LANGUAGES, "pl", on_shot=seen))
    app.bind(on_start=lambda _app: pilot.begin())
    app.run()
    report["failure"] = str(pilot.failure) if pilot.failure else None
    print(json.dumps(report))
    """
)

STEPS = {
    "welcome", "scan", "name", "company", "host", "visitor_type", "photo", "agreement", "summary",
    "invitation", "returning", "check_out", "check_out_confirm", "feedback", "done", "seat", "goodbye",
}  # fmt: skip


def english_only_words() -> set[str]:
    """Every English text of the kiosk whose Polish translation differs from it."""
    from kiosk.flow import texts as t
    from kiosk.i18n import translator

    english = {text for pair in t.TITLES.values() for text in pair}
    english |= set(t.BUTTONS.values()) | set(t.FIELDS.values()) | set(t.PROBLEMS.values())
    english |= {c.label for c in t.VISITOR_TYPES} | {c.hint for c in t.VISITOR_TYPES}
    english |= set(t.RATING_LABELS.values()) | {t.COMMENT_HINT}
    polish = translator("pl").gettext
    return {text for text in english if polish(text) != text}


@pytest.mark.parametrize("label", ["1080x1920", "1280x800"])
def test_every_kiosk_screen_renders_in_every_language_with_large_touch_targets(
    tmp_path: Path, label: str
) -> None:
    width, height = (int(n) for n in label.split("x"))
    shots = tmp_path / "shots"
    done = run(["-c", KIOSK_TOUR_SCRIPT, str(shots), label], tmp_path / "kivy", timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failure"] is None
    assert report.get("outside") is None, "text drawn outside the window"
    by_language: dict[str, set[str]] = {}
    for name, shot in report["shots"].items():
        by_language.setdefault(name.split("/")[0], set()).add(shot["screen"])
    assert by_language == dict.fromkeys(("en", "id", "pl", "pl-large"), STEPS)
    target = report["target"]
    assert target >= 40  # 12 mm at no less than 85 dpi
    for name, shot in report["shots"].items():
        small = [t for t in shot["targets"] if min(t[2], t[3]) < target]
        assert not small, f"{name}: touch targets under 12 mm: {small}"
    english = english_only_words()
    for name, shot in report["shots"].items():
        if name.startswith("pl"):
            assert not english & set(shot["texts"]), f"{name} shows English: {english & set(shot['texts'])}"
    for name in report["shots"]:
        image = load_rendered(shots / f"{name}.png", (width, height))
        if name.startswith("pl-large/"):
            assert pixels_near(image, (0, 0, 0), tol=2) > image.shape[0] * image.shape[1] // 3, name
    normal, large = report["shots"]["pl/01-welcome"], report["shots"]["pl-large/01-welcome"]
    assert large["largest_font"] == pytest.approx(1.4 * normal["largest_font"])


def test_station_shows_events_posted_from_another_thread(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    done = run(
        ["-m", "security.station", "--sample", "--headless", "--run-for", "1.0",
         "--screenshots", str(shots)],
        tmp_path / "kivy",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in shots.iterdir()] == ["station.png"]
    image = load_rendered(shots / "station.png", (1280, 800))
    assert pixels_near(image, (23, 18, 84), tol=4) > 5000, "no alert rows (red)"
    assert pixels_near(image, (10, 51, 69), tol=4) > 5000, "no warning rows (amber)"
    assert pixels_near(image, (132, 220, 61), tol=8) > 300, "no online dots (green)"


STATION_ALARMS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from kivy.clock import Clock
    from kivy.tests.common import UnitTestTouch
    from security.station.app import StationApp, run_station
    from security.station.samples import sample_alarms, sample_events, sample_statuses
    from security.station.viewmodel import StationViewModel

    sent = []

    def outbox(request):  # a station whose outbox cannot take a resolve (a full disk, say)
        if request.action == "resolve":
            raise OSError("disk full")
        sent.append(request)

    app = StationApp(StationViewModel(), site="lobby", operator="guard:ada", on_request=outbox)
    for device, status in sample_statuses():
        app.post_status(device, status)
    for event in sample_events():
        app.post_event(event)
    for alarm in sample_alarms(datetime.now(UTC)):
        app.post_alarm(alarm.id, alarm)
    report = {"steps": []}

    def ids():
        return app.root.ids

    def row(alarm_id):
        return next(w for w in ids().alarms.children[0].children if w.alarm_id == alarm_id)

    def tap(widget):
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def seen(label):
        report["steps"].append({
            "label": label, "error": app.alarm_error, "sent": [r.model_dump(mode="json") for r in sent],
            "selected": app.vm.alarms.selected, "note": ids().alarm_note.text,
            "buttons": [(b.text, b.disabled, b.height) for b in
                        (ids().ack_button, ids().shelve_button, ids().resolve_button)],
            "rows": [{"alarm_id": w.alarm_id, "priority": w.priority_label, "summary": w.summary,
                      "count": w.count, "status_line": w.status_line, "age": w.age, "silent": w.silent,
                      "selected": w.selected, "height": w.height}
                     for w in sorted(ids().alarms.children[0].children, key=lambda w: -w.y)],
        })

    def type_note():
        ids().alarm_note.text = "on my way"

    steps = [
        lambda: seen("start"),
        lambda: tap(row("a-1")), lambda: tap(ids().ack_button), lambda: seen("ack acknowledged"),
        lambda: tap(row("a-5")), type_note, lambda: tap(ids().ack_button), lambda: seen("ack a-5"),
        lambda: tap(row("a-3")), lambda: seen("shelved selected"),
        lambda: tap(ids().shelve_button), lambda: seen("unshelve a-3"),
        lambda: tap(row("a-4")), type_note,
        lambda: tap(ids().resolve_button), lambda: seen("resolve not sent"),
        app.stop,
    ]

    def play(_dt):
        if len(app.vm.alarms.rows) < 5 or not ids().alarms.children[0].children:
            Clock.schedule_once(play, 0.05)  # not drawn yet
            return
        step = steps.pop(0)
        step()
        if steps:  # a tap on a list row reaches the row once the list knows it is no scroll (0.2 s)
            Clock.schedule_once(play, 0.4)

    app.bind(on_start=lambda _app: Clock.schedule_once(play, 0.2))
    run_station(app, screenshot_dir=Path(sys.argv[1]))
    print(json.dumps(report))
    """
)


def test_station_alarm_queue_shows_rows_and_a_touch_on_acknowledge_sends_a_request(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    done = run(["-c", STATION_ALARMS_SCRIPT, str(shots)], tmp_path / "kivy")
    assert done.returncode == 0, done.stderr[-3000:]
    steps = {step["label"]: step for step in json.loads(done.stdout.strip().splitlines()[-1])["steps"]}

    start = steps["start"]
    assert [(r["alarm_id"], r["priority"]) for r in start["rows"]] == [
        ("a-2", "CRITICAL"), ("a-1", "HIGH"), ("a-5", "HIGH"), ("a-3", "MEDIUM"), ("a-4", "LOW"),
    ]  # fmt: skip
    first = start["rows"][0]
    assert first["status_line"] == "unacknowledged · escalated to level 1"
    assert (first["silent"], first["age"], first["selected"]) == ("silent", "6 min", False)
    assert start["rows"][1]["count"] == "\N{MULTIPLICATION SIGN}3"
    assert start["rows"][1]["status_line"] == "acknowledged by guard:maria"
    assert all(r["height"] >= 48 for r in start["rows"]), "alarm rows too small to tap"
    assert [(text, disabled) for text, disabled, _h in start["buttons"]] == [
        ("Acknowledge", True), ("Shelve 15 min", True), ("Resolve", True),
    ]  # fmt: skip
    assert all(height >= 48 for _t, _d, height in start["buttons"]), "buttons too small to tap"

    refused = steps["ack acknowledged"]
    assert refused["selected"] == "a-1"
    assert refused["error"] == "alarm a-1 is already acknowledged"
    assert refused["sent"] == []
    assert [r["alarm_id"] for r in refused["rows"] if r["selected"]] == ["a-1"]

    acked = steps["ack a-5"]
    assert acked["sent"] == [
        {"alarm_id": "a-5", "action": "acknowledge", "by": "guard:ada", "note": "on my way", "until": None}
    ]
    assert acked["error"] == ""
    assert acked["note"] == ""
    a5 = next(r for r in acked["rows"] if r["alarm_id"] == "a-5")
    assert a5["status_line"] == "unacknowledged · acknowledge requested…"  # pending, not changed

    assert steps["shelved selected"]["buttons"][1][:2] == ["Unshelve", False]
    unshelved = steps["unshelve a-3"]
    assert unshelved["sent"][-1]["action"] == "unshelve"
    assert unshelved["sent"][-1]["alarm_id"] == "a-3"

    not_sent = steps["resolve not sent"]
    assert not_sent["error"] == "could not send the request: disk full"
    assert len(not_sent["sent"]) == 2
    assert next(r for r in not_sent["rows"] if r["alarm_id"] == "a-4")["status_line"] == "unacknowledged"

    image = load_rendered(shots / "station.png", (1280, 800))
    assert pixels_near(image, (20, 15, 97), tol=4) > 5000, "no critical alarm row (dark red)"
    assert pixels_near(image, (10, 48, 64), tol=4) > 5000, "no medium alarm row (amber)"


STATION_WATCHLIST_SCRIPT = textwrap.dedent(
    """
    import base64, json, sys
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from kivy.clock import Clock
    from kivy.tests.common import UnitTestTouch
    from security.station.app import StationApp, run_station
    from security.station.samples import sample_alarms, sample_events, sample_statuses
    from security.station.samples import sample_watchlist_events
    from security.station.viewmodel import StationViewModel

    app = StationApp(StationViewModel(), site="lobby", operator="guard:ada", on_request=lambda _r: None)
    for device, status in sample_statuses():
        app.post_status(device, status)
    for event in sample_events():  # the check-in, but not its photo nor its screening
        app.post_event(event)
    for alarm in sample_alarms(datetime.now(UTC)):
        app.post_alarm(alarm.id, alarm)
    report = {"steps": {}}

    def ids():
        return app.root.ids

    def tap(alarm_id):
        row = next(w for w in ids().alarms.children[0].children if w.alarm_id == alarm_id)
        touch = UnitTestTouch(*row.to_window(*row.center))
        touch.touch_down()
        touch.touch_up()

    def seen(label):
        box, image = ids().visitor_box, ids().visitor_photo
        texture = image.texture if image.opacity else None
        x, y = box.to_window(*box.pos)
        report["steps"][label] = {
            "selected": app.vm.alarms.selected, "title": app.alarm_title,
            "name": ids().visitor_name.text,
            "line": [ids().visitor_company.text, ids().visitor_match.text],
            "note": ids().photo_note.text, "box": [x, y, box.width, box.height, box.opacity],
            "texture": list(texture.size) if texture is not None else None,
            "drawn": list(image.norm_image_size), "note_input_top": ids().alarm_note.top,
        }

    def post_a_broken_photo():  # a JPEG's first bytes, then nothing Kivy can decode
        photo, screened = sample_watchlist_events()
        broken = photo.data.model_copy(update={"jpeg": base64.b64encode(b"\\xff\\xd8 cut off").decode()})
        app.post_event(replace(photo, id="ev-100", time=photo.time - timedelta(seconds=30), data=broken))
        app.post_event(screened)

    def post_the_photo():  # newer than the broken one; the screening again is a repeat
        for event in sample_watchlist_events():
            app.post_event(event)

    steps = [
        lambda: tap("a-2"), lambda: seen("photo not seen"),
        post_a_broken_photo, lambda: seen("broken photo"),
        post_the_photo, lambda: seen("photo"),
        lambda: tap("a-1"), lambda: seen("door alarm"),
        lambda: tap("a-2"), lambda: seen("photo again"),
        app.stop,
    ]

    def play(_dt):
        if len(app.vm.alarms.rows) < 5 or not ids().alarms.children[0].children or not app.settled:
            Clock.schedule_once(play, 0.05)  # not drawn yet
            return
        steps.pop(0)()
        if steps:  # a tap on a list row reaches the row once the list knows it is no scroll (0.2 s)
            Clock.schedule_once(play, 0.4)

    app.bind(on_start=lambda _app: Clock.schedule_once(play, 0.2))
    run_station(app, screenshot_dir=Path(sys.argv[1]))
    print(json.dumps(report))
    """
)


def test_station_shows_the_photo_of_a_watchlist_alarm_once_it_has_seen_it(tmp_path: Path) -> None:
    from security.station.samples import PHOTO_SIZE

    shots = tmp_path / "shots"
    done = run(["-c", STATION_WATCHLIST_SCRIPT, str(shots)], tmp_path / "kivy")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    steps = report["steps"]

    unseen = steps["photo not seen"]
    assert unseen["selected"] == "a-2"
    assert (unseen["name"], unseen["line"]) == ("visitor not known at this station", ["", ""])
    assert unseen["note"] == "photo not available at this station"
    assert unseen["texture"] is None
    assert unseen["box"][2:] == [120, 160, 1]  # the frame that says so

    broken = steps["broken photo"]
    assert (broken["name"], broken["line"]) == (
        "Ada Lovelace", ["Analytical Engines Ltd", "watchlist match 93% · entry wl-0042"]
    )
    assert (broken["note"], broken["texture"]) == ("the photo could not be shown", None)
    assert broken["box"][2:] == [120, 160, 1]

    for label in ("photo", "photo again"):
        shown = steps[label]
        assert shown["selected"] == "a-2", label
        assert shown["name"] == "Ada Lovelace", label
        assert shown["line"] == ["Analytical Engines Ltd", "watchlist match 93% · entry wl-0042"], label
        assert shown["note"] == "", label
        assert shown["texture"] == list(PHOTO_SIZE), label
        x, y, width, height, opacity = shown["box"]
        assert (round(width), height, opacity) == (213, 160, 1), label  # 4:3, 160 px tall
        assert shown["drawn"] == [pytest.approx(213, abs=1), pytest.approx(160, abs=1)], label
        assert y >= shown["note_input_top"], f"{label}: the photo covers the note field"

    door = steps["door alarm"]
    assert door["selected"] == "a-1"
    assert (door["name"], door["line"], door["note"], door["texture"]) == ("", ["", ""], "", None)
    assert door["box"][2::2] == [0, 0]  # no photo area for a door alarm

    image = load_rendered(shots / "station.png", (1280, 800))
    x, y, width, height, _ = (round(n) for n in steps["photo again"]["box"])
    top = image.shape[0] - (y + height)
    photo = image[top : top + height, x : x + width]
    assert pixels_near(photo, (135, 175, 220), tol=14) > 2000, "no face drawn in the details panel"
    assert pixels_near(photo, (105, 70, 40), tol=14) > 2000, "no jacket drawn in the details panel"


STATION_ON_BROKER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.tests.common import UnitTestTouch
    from broker.config import MqttUrl
    from security.station.runner import run

    url, site, data = MqttUrl(**json.loads(sys.argv[1])), sys.argv[2], Path(sys.argv[3])
    report = {"step": "waiting for a-1", "pending": None, "rows": None}
    deadline = time.monotonic() + 45

    def tap(widget):
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def drive(_dt):
        app = App.get_running_app()
        if app is None or app.root is None:
            return
        alarms, ids = app.vm.alarms, app.root.ids
        drawn = {w.alarm_id: w for w in ids.alarms.children[0].children}
        step = report["step"]
        if time.monotonic() > deadline:
            report["rows"] = [row.text for row in alarms.rows]
            app.stop()
        elif step == "waiting for a-1" and "a-1" in drawn and "a-2" in drawn:
            tap(drawn["a-1"])
            report["step"] = "selecting"
        elif step == "selecting" and alarms.selected == "a-1":
            ids.alarm_note.text = "on my way"
            tap(ids.ack_button)  # a button outside a list reacts at once
            report["pending"] = alarms.row("a-1").status_line
            report["step"] = "waiting for the answer"
        elif step == "waiting for the answer" and alarms.row("a-1").state == "acknowledged" \\
                and alarms.row("a-2") is None:
            report["rows"] = [row.text for row in alarms.rows]
            report["step"] = "done"
            app.stop()

    Clock.schedule_interval(drive, 0.1)
    code = run(url, site=site, device="station-1", data_dir=data, headless=True, operator="guard:ada")
    print(json.dumps(report))
    sys.exit(code)
    """
)


def test_station_acknowledges_a_retained_alarm_on_mosquitto(
    tmp_path: Path, mosquitto_url: MqttUrl, mqtt_client: MqttClientFactory
) -> None:
    site = unique_site()
    requested = topics.event(site, "station-1", "alarm.requested")
    probe = mqtt_client(mosquitto_url)
    probe.subscribe(requested)
    now = datetime.now(UTC).replace(microsecond=0)
    raised = AlarmStep("raised", "system", now - timedelta(minutes=3))
    door = AlarmStatus(
        id="a-1", rule="door-forced", priority="high", summary="Side door forced open",
        state="unacknowledged", raised_at=raised.at, updated_at=raised.at, history=(raised,),
    )  # fmt: skip
    camera = replace(door, id="a-2", rule="camera-offline", priority="low", summary="cam-lobby: no answer")
    for alarm in (door, camera):
        probe.publish(topics.alarm(site, alarm.id), alarm.encode(), retain=True)
    args = ["-c", STATION_ON_BROKER_SCRIPT, json.dumps(asdict(mosquitto_url)), site, str(tmp_path / "data")]
    try:
        with ThreadPoolExecutor(1) as pool:
            station = pool.submit(run, args, tmp_path / "kivy", 120)
            got = probe.expect(requested, timeout=60)
            event = decode(got.payload, got.topic)
            assert event.data == AlarmRequested(
                alarm_id="a-1", action="acknowledge", by="guard:ada", note="on my way"
            )
            # the central service's answer: the retained state changes, the other alarm is resolved
            step = AlarmStep("acknowledged", "guard:ada", now, "on my way")
            acked = replace(door, state="acknowledged", updated_at=now, history=(raised, step))
            probe.publish(topics.alarm(site, "a-1"), acked.encode(), retain=True)
            probe.publish(topics.alarm(site, "a-2"), b"", retain=True)
            done = station.result()
    finally:  # leave nothing retained on the shared broker
        for topic in (topics.alarm(site, "a-1"), topics.alarm(site, "a-2"), topics.status(site, "station-1")):
            probe.publish(topic, b"", retain=True)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["step"] == "done", report
    assert report["pending"] == "unacknowledged · acknowledge requested…"
    assert report["rows"] == ["HIGH  Side door forced open  acknowledged by guard:ada  3 min"]
