"""The kiosk's UI thread never waits on the network or the disk: real screens, a slow and a down service.

Each test runs the real Kivy screens offscreen in a process of its own (one window per process),
wired as `gatehouse kiosk` wires them (`kiosk.runner.kiosk_viewmodel`), with the central service's
real HTTP client against a local HTTP server that holds every answer until the script releases it
(`gatehouse.bench_kiosk.SlowApi`), or against a closed port. Touches go through the window. The
proof is causal, not a stopwatch: frames are drawn and keys are typed while the server still holds
the search, and a search's answer reaches the screen only through the worker's callback (never
inside the touch that asked). The outbox write of a check-in waits on a gate (a slow disk) while
frames go on. A watchdog answers everything after 20 s, so a kiosk that blocks shows up as a
failed assertion rather than a hung test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from dataclasses import replace
    from pathlib import Path
    from kiosk.kivy_env import kivy_environment
    from kiosk.runner import Adapters, kiosk_viewmodel, stop_workers

    kivy_environment(headless=True)
    from kivy.clock import Clock
    from broker.config import MqttUrl
    from broker.device_link import DeviceLink
    from gatehouse.bench_kiosk import BENCH_HOSTS, SlowApi
    from kiosk.app import KioskApp
    from kiosk.autopilot import Pilot, Until, on_screen, result_row, screen_ids, sign, tap, type_text
    from kiosk.cache import JsonCache
    from kiosk.central_client import HOSTS, CentralApi, CentralClient
    from kiosk.demo_ports import demo_site

    args = json.loads(sys.argv[1])
    data, down = Path(args["data"]), args["mode"] == "down"
    report = {"shown": [], "emitted": []}
    api = SlowApi(delay_s=60).__enter__()
    watchdog = threading.Timer(20, api.release)
    watchdog.daemon = True
    watchdog.start()
    url = f"http://127.0.0.1:{args['closed_port']}" if down else api.url
    client = CentralClient(CentralApi(url, "kiosk-token", timeout=90), JsonCache(data / "cache"))
    client.cache.write(HOSTS, list(BENCH_HOSTS))  # what the last refresh left, for the down service
    link = DeviceLink(MqttUrl("127.0.0.1", args["closed_port"]), site="lobby", device="kiosk-1",
                      kind="kiosk", outbox_dir=data / "outbox")
    disk, writing = threading.Event(), threading.Event()

    def slow_disk(kind, event):
        report["emitted"].append([kind, threading.current_thread().name])
        writing.set()
        if not disk.wait(60):
            raise OSError("the test never opened the disk")
        return link.source.emit(kind, event)

    site = demo_site()
    ports = replace(site.ports, directory=client.hosts)
    adapters = Adapters(ports, site.visits, online=lambda: client.online)
    vm = kiosk_viewmodel(slow_disk, adapters, None)
    app = KioskApp(vm, online=lambda: client.online, size=(1280, 800))
    vm.listen(lambda: report["shown"].append([r.label for r in vm.view.results]))

    def frames_go_on(what, held):
        mark = Clock.frames_displayed
        yield Until(lambda: Clock.frames_displayed >= mark + 5, "five frames " + what, 30)
        report[what] = held()

    def script():
        yield on_screen(app, "welcome")
        tap(screen_ids(app, "welcome").walk_in, "Check in")
        yield on_screen(app, "name")
        type_text(screen_ids(app, "name").keyboard, "Ada")
        tap(screen_ids(app, "name").next, "Next")
        yield on_screen(app, "company")
        tap(screen_ids(app, "company").skip, "Skip")
        yield on_screen(app, "host")
        ids = screen_ids(app, "host")
        type_text(ids.keyboard, "Gr")
        report["rows_inside_the_touch"] = len(ids.results.children)
        report["vm_results_inside_the_touch"] = len(vm.view.results)
        if not down:
            yield Until(lambda: api.holding == 1, "the search held by the service")
            type_text(ids.keyboard, "a")  # a touch answered while the service holds the search
            report["typed_while_held"] = ids.field.text
            yield from frames_go_on("while the search is held", lambda: api.holding >= 1)
            api.release()
        yield Until(lambda: [r.label for r in reversed(ids.results.children)] == (
            ["Grace Hopper", "Greg House"] if down else ["Grace Hopper"]), "the hosts found", 30)
        report["asked"] = list(api.asked)
        tap(result_row(app, "host", "Grace Hopper"), "Grace Hopper")
        yield on_screen(app, "visitor_type")
        tap(next(b for b in screen_ids(app, "visitor_type").choices.children if b.value == "guest"), "guest")
        yield on_screen(app, "agreement")
        sign(screen_ids(app, "agreement").pad)
        yield Until(lambda: not screen_ids(app, "agreement").accept.disabled, "Accept enabled")
        tap(screen_ids(app, "agreement").accept, "Accept")
        yield on_screen(app, "summary")
        confirm = screen_ids(app, "summary").confirm
        tap(confirm, "Check in")
        yield Until(writing.is_set, "the check-in being written", 30)
        tap(confirm, "Check in")  # tapped again while the disk is slow
        yield from frames_go_on("while the outbox write waits", lambda: not disk.is_set())
        report["screen_while_writing"] = app.manager.current
        disk.set()
        yield on_screen(app, "done", 30)
        report["offline_dot"] = app.offline

    pilot = Pilot(app, script())
    app.bind(on_start=lambda _app: pilot.begin())
    try:
        app.run()
    finally:
        stop_workers(adapters)
        api.__exit__(None, None, None)
    report["pending"] = link.source.pending()
    report["failure"] = str(pilot.failure) if pilot.failure else None
    print(json.dumps(report), flush=True)
    """
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_kiosk(tmp_path: Path, mode: str) -> dict[str, Any]:
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
               KIVY_HOME=str(tmp_path / "kivy"), SDL_VIDEODRIVER="offscreen")
    args = {"data": str(tmp_path), "mode": mode, "closed_port": closed_port()}
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failure"] is None, done.stderr[-3000:]
    return report


def check_the_outbox_write(report: dict[str, Any]) -> None:
    assert report["while the outbox write waits"] is True, "no frame was drawn while the outbox was written"
    assert report["screen_while_writing"] == "summary"
    kinds = [kind for kind, _ in report["emitted"]]
    assert kinds.count("visitor.checked_in") == 1  # the second tap made no second check-in
    assert {thread for _, thread in report["emitted"]} == {"kiosk-records"}
    assert report["pending"] == len(kinds)  # all of them in the real outbox


def test_a_slow_service_never_freezes_the_kiosk_and_a_stale_answer_is_dropped(tmp_path: Path) -> None:
    report = run_kiosk(tmp_path, "slow")
    assert report["rows_inside_the_touch"] == 0
    assert report["vm_results_inside_the_touch"] == 0
    assert report["while the search is held"] is True, "no frame was drawn while the search was held"
    assert report["typed_while_held"].casefold() == "gra"
    assert [q.casefold() for q in report["asked"]] == ["gr", "gra"]
    assert all("Greg House" not in shown for shown in report["shown"])  # "gr"'s late answer: dropped
    check_the_outbox_write(report)


def test_a_down_service_answers_from_the_cache_through_the_worker(tmp_path: Path) -> None:
    report = run_kiosk(tmp_path, "down")
    assert report["rows_inside_the_touch"] == 0  # the answer came back later, through the callback
    assert report["vm_results_inside_the_touch"] == 0
    assert report["asked"] == []
    assert report["offline_dot"] is True
    check_the_outbox_write(report)
