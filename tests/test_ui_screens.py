"""Render the kiosk and the guard station offscreen, each in its own process, and check the PNGs.

One Kivy window per process: every test starts `python -m ...` with SDL's offscreen driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parent.parent
KIOSK_SHOTS = [
    "01-welcome", "02-name", "03-name", "04-company",
    "05-visitor_type", "06-host", "07-confirm", "08-done",
]  # fmt: skip


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


@pytest.mark.parametrize("label", ["1080x1920", "1280x800"])
def test_kiosk_walk_in_plays_through_the_real_screens(tmp_path: Path, label: str) -> None:
    width, height = (int(n) for n in label.split("x"))
    size = (width, height)
    shots, record = tmp_path / "shots", tmp_path / "check-ins.jsonl"
    done = run(
        ["-m", "kiosk", "--demo", "--headless", "--size", label, "--step-delay", "0.1",
         "--screenshots", str(shots), "--record", str(record)],
        tmp_path / "kivy",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.stem for p in shots.glob("*.png")) == KIOSK_SHOTS
    images = {name: load_rendered(shots / f"{name}.png", size) for name in KIOSK_SHOTS}
    assert pixels_near(images["03-name"], (32, 0, 176)) > 200, "the error text is not shown"
    assert pixels_near(images["08-done"], (59, 127, 27)) > 2000, "no green check mark"
    visits = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(visits) == 1
    visit = visits[0]
    assert len(visit.pop("visit_id")) == 10
    assert visit == {
        "visitor_name": "Ada Lovelace",
        "visitor_type": "contractor",
        "company": "Analytical Engines Ltd",
        "host_name": "Grace Hopper",
        "invited": False,
    }


SCRIPT_THAT_BREAKS = textwrap.dedent(
    """
    import json, sys
    from kiosk.app import LANDSCAPE, run_kiosk
    from kiosk.autopilot import ScriptError
    from kiosk.viewmodel import KioskViewModel
    from kiosk.walkin import Back, Cancel, Choose, Enter, Skip, Start

    visits = []
    vm = KioskViewModel(visits.append)
    seen = []
    vm.listen(lambda: seen.append((vm.screen, vm.field_text)))
    script = [Start(), Enter("Ada"), Skip(), Back(), Back(), Cancel(), Choose("guest")]
    try:
        run_kiosk(vm, script=script, step_delay=0.05, size=LANDSCAPE)
    except ScriptError as exc:
        print(json.dumps({"error": str(exc), "seen": seen, "visits": len(visits)}))
        sys.exit(3)
    """
)


def test_kiosk_back_cancel_and_an_impossible_step(tmp_path: Path) -> None:
    done = run(["-c", SCRIPT_THAT_BREAKS], tmp_path / "kivy")
    assert done.returncode == 3, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] == "Choose(value='guest') cannot be played on screen 'welcome'"
    assert [screen for screen, _ in result["seen"]] == [
        "name", "company", "visitor_type", "company", "name", "welcome",
    ]  # fmt: skip
    assert result["seen"][4] == ["name", "Ada"]
    assert result["visits"] == 0


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
