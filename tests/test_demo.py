"""`gatehouse demo` headless: the whole site on embedded defaults, as a new user first sees it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from gatehouse.demo import SCENARIO_EVIDENCE, missing_evidence


def _demo(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KIVY_HOME": str(tmp_path / "kivy"),
           "SDL_VIDEODRIVER": "offscreen"}
    if "PYTHONPATH" in os.environ:  # a checkout run with PYTHONPATH (not installed) runs its own code
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [sys.executable, "-m", "gatehouse", "--data-dir", str(tmp_path / "data"), "demo", "--headless"],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path, check=False,
    )


def test_each_scripted_step_missing_from_the_log_is_named() -> None:
    everything = {(device, kind) for _step, device, kind in SCENARIO_EVIDENCE}
    assert missing_evidence(everything) == []
    assert missing_evidence(everything - {("kiosk-1", "visitor.checked_in")}) == ["the kiosk's check-in"]
    assert missing_evidence(set()) == [step for step, _device, _kind in SCENARIO_EVIDENCE]


@pytest.mark.ui
@pytest.mark.slow
def test_a_kiosk_that_fails_fails_the_demo_and_is_named(tmp_path: Path) -> None:
    shots = tmp_path / "data" / "screenshots"
    shots.mkdir(parents=True)
    (shots / "kiosk").write_text("a file where the kiosk's screenshot folder should be")
    done = _demo(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED: the kiosk: exited with code 1; see logs/kiosk.log" in done.stdout
    assert "the scenario: the kiosk's check-in: not in the central log" in done.stdout
    assert "every part worked" not in done.stdout


@pytest.mark.ui
@pytest.mark.slow
def test_demo_runs_the_whole_site(tmp_path: Path) -> None:
    done = _demo(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "every part worked and every step is in the log" in out
    for seen in ("credential 62E3086CED at reader 1", "credential 1293D8 at reader 2",
                 "qr GH-VISIT-2026-0042 at scanner scanner-1", "door.forced", "door.held_open",
                 "camera.tamper", "camera.person", "visitor.checked_in",
                 "credential 62E3086CED (e-1001) at door main-door in",
                 "credential 1293D8 at door main-door: unknown credential",
                 "HIGH Door main-door forced open", "open alarm(s)", "MUSTER LIST demo",
                 "reader-1/event/badge.read: id must be a non-empty string, got None"):
        assert seen in out, f"{seen!r} missing from the demo's output:\n{out}"
    shots = tmp_path / "data" / "screenshots"
    pngs = sorted(p.relative_to(shots).as_posix() for p in shots.rglob("*.png"))
    assert "station/station.png" in pngs
    assert "kiosk/01-welcome.png" in pngs
    assert any(p.endswith("-done.png") for p in pngs)
    for png in shots.rglob("*.png"):
        image = cv2.imread(str(png))
        assert image is not None
        assert float(image.std()) > 10, f"{png} looks blank"
    listing = subprocess.run(
        [sys.executable, "-m", "gatehouse", "--data-dir", str(tmp_path / "data"), "events", "--json"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=True,
    )
    types = {json.loads(line)["type"] for line in listing.stdout.splitlines()}
    assert {"badge.read", "visitor.checked_in", "code.scanned", "door.forced", "door.held_open",
            "camera.tamper", "camera.person", "camera.snapshot", "access.granted", "access.denied",
            "alarm.raised"} <= types
