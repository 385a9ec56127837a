"""Camera capture: naming sources, missing cameras, pacing, reconnecting, snapshots, the agent loop."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from cv2.typing import MatLike

from broker.events import Event
from broker.schemas import Data, DeviceFault
from devices.camera.agent import CameraAgent
from devices.camera.analysis import CameraAnalyzer
from devices.camera.capture import (
    CameraNotFoundError,
    Capture,
    FrameSource,
    SnapshotWriter,
    Source,
    describe,
    is_live,
    open_capture,
    parse_source,
)
from devices.camera.synthetic import scenario
from devices.serial_port import Backoff
from tests.support import RecordingEmitter

FAST = Backoff(initial=0.01, maximum=0.02)


def test_sources_are_named_without_credentials() -> None:
    assert parse_source("0") == 0
    assert parse_source(" 2 ") == 2
    assert parse_source(1) == 1
    assert parse_source("/tmp/a.avi") == "/tmp/a.avi"
    assert describe(0) == "camera device 0 (/dev/video0)"
    assert describe("rtsp://admin:s3cret@10.0.0.5:554/stream1") == "camera stream rtsp://***@10.0.0.5:554/stream1"
    assert describe("lobby.avi") == "camera file lobby.avi"
    assert is_live(0)
    assert is_live("http://cam/mjpg")
    assert not is_live("lobby.avi")


@pytest.mark.parametrize(("source", "named"), [
    ("/nonexistent/lobby.avi", "camera file /nonexistent/lobby.avi does not exist"),
    (99, "camera device 99 (/dev/video99) cannot be opened"),
    ("rtsp://admin:pw@127.0.0.1:1/stream", "camera stream rtsp://***@127.0.0.1:1/stream cannot be opened"),
])
def test_a_missing_camera_is_a_clear_error_naming_it(source: Source, named: str) -> None:
    with pytest.raises(CameraNotFoundError) as caught:
        open_capture(source)
    assert str(caught.value) == named


def camera_faults(emitter: RecordingEmitter) -> list[DeviceFault]:
    """The device.fault events an agent emitted, in order."""
    return [data for kind, data in emitter.calls if kind == "device.fault" and isinstance(data, DeviceFault)]


def test_an_agent_that_requires_its_camera_fails_at_start_naming_it_and_reports_the_fault(
    tmp_path: Path,
) -> None:
    emitter = RecordingEmitter("lobby", "cam-1")
    agent = CameraAgent(CameraAnalyzer("cam-1"), emitter, source=FrameSource(str(tmp_path / "gone.avi")))
    with pytest.raises(CameraNotFoundError, match=r"gone\.avi does not exist"):
        agent.start(require_camera=True)
    assert camera_faults(emitter) == [
        DeviceFault(fault="camera_lost", detail=f"camera file {tmp_path / 'gone.avi'} does not exist")]


def test_a_missing_file_stops_its_agent_with_one_clear_line_and_one_device_fault(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emitter = RecordingEmitter("lobby", "cam-1")
    agent = CameraAgent(CameraAnalyzer("cam-1"), emitter, source=FrameSource(str(tmp_path / "gone.avi")))
    agent.start()
    assert agent.join(timeout=5)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    gone = tmp_path / "gone.avi"
    assert [r.getMessage() for r in errors] == [f"camera cam-1 stopped: camera file {gone} does not exist"]
    assert errors[0].exc_info is None
    assert emitter.calls == [
        ("device.fault", DeviceFault(fault="camera_lost", detail=f"camera file {gone} does not exist"))]


def test_a_camera_file_that_is_there_reports_no_fault_and_an_unreadable_one_does(tmp_path: Path) -> None:
    video = scenario("static", width=160, height=90, fps=15.0).write(tmp_path / "lobby.avi")
    present = RecordingEmitter("lobby", "cam-1")
    agent = CameraAgent(CameraAnalyzer("cam-1"), present, source=FrameSource(str(video), fps=5.0))
    agent.start(require_camera=True)
    assert agent.join(timeout=30)
    assert agent.frames > 0
    assert camera_faults(present) == []
    broken = tmp_path / "broken.avi"
    broken.write_bytes(video.read_bytes()[:64])  # the synthetic video, cut to its first bytes
    unreadable = RecordingEmitter("lobby", "cam-1")
    agent = CameraAgent(CameraAnalyzer("cam-1"), unreadable, source=FrameSource(str(broken)))
    agent.start()
    assert agent.join(timeout=5)
    assert camera_faults(unreadable) == [
        DeviceFault(fault="camera_lost", detail=f"camera file {broken} cannot be opened")]


def test_a_file_is_analysed_at_5_fps_on_its_own_clock(tmp_path: Path) -> None:
    sc = scenario("static", width=160, height=90, fps=15.0)
    video = sc.write(tmp_path / "fast.avi")
    times = [t for t, _ in FrameSource(str(video), fps=5.0).frames(threading.Event())]
    assert len(times) == 50
    assert times[:3] == pytest.approx([0.0, 0.2, 0.4])


class FlakyCapture:
    """A capture that yields `frames` frames and then drops."""

    def __init__(self, frames: int) -> None:
        """Hold `frames` grey frames."""
        self.left = frames
        self.released = False

    def grab(self) -> bool:
        """One more frame while any are left."""
        self.left -= 1
        return self.left >= 0

    def retrieve(self) -> tuple[bool, MatLike]:
        """A small frame."""
        return True, np.full((90, 160, 3), 120, np.uint8)

    def get(self, prop_id: int) -> float:
        """No properties."""
        return 0.0

    def release(self) -> None:
        """Remember the release."""
        self.released = True


def test_a_lost_stream_reconnects_with_backoff_and_is_reported_once(tmp_path: Path) -> None:
    attempts: list[str] = []
    script = ["ok", "fail", "fail", "fail", "ok"]

    def opener(source: Source) -> Capture:
        """Open, fail three times, then open again; then fail forever."""
        step = script[len(attempts)] if len(attempts) < len(script) else "fail"
        attempts.append(step)
        if step == "fail":
            raise CameraNotFoundError(f"{describe(source)} cannot be opened")
        return FlakyCapture(5)

    emitter = RecordingEmitter("lobby", "cam-1")
    ticks = itertools.count()
    source = FrameSource("rtsp://u:p@cam.local/live", fps=5.0, backoff=FAST, opener=opener,
                         clock=lambda: next(ticks) * 0.2)
    agent = CameraAgent(CameraAnalyzer("cam-1"), emitter, source=source)
    agent.start()
    deadline = time.monotonic() + 30  # returns as soon as the third fault is in
    while len(emitter.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    agent.stop()
    faults = [d for t, d in emitter.calls if isinstance(d, DeviceFault)]
    assert [(f.fault, f.cleared) for f in faults[:3]] == [
        ("camera_lost", False), ("camera_lost", True), ("camera_lost", False)]
    assert faults[0].detail == "no frame received"
    assert faults[1].detail == "camera stream rtsp://***@cam.local/live"
    assert attempts[:5] == script, "failed attempts in between were retried, not reported"
    assert agent.frames == 10


class FailingEmitter:
    """An emitter whose store is down."""

    def emit(self, event_type: str, data: Data) -> Event:
        """Always fail."""
        raise OSError("store down")


def test_a_failing_emitter_does_not_stop_the_camera(tmp_path: Path) -> None:
    sc = scenario("covered", width=160, height=90)
    agent = CameraAgent(CameraAnalyzer("cam-1"), FailingEmitter(),
                        source=FrameSource(str(sc.write(tmp_path / "c.avi"))))
    agent.start()
    assert agent.join(timeout=20)
    assert agent.frames == sc.count


def test_snapshots_are_whole_jpegs_with_boxes_drawn(tmp_path: Path) -> None:
    from broker.schemas import Box

    writer = SnapshotWriter(tmp_path / "snaps", quality=80)
    frame = np.full((120, 160, 3), 90, np.uint8)
    path = writer.write("cam-1-000001-abc", frame, [Box(x=0.25, y=0.25, w=0.5, h=0.5)])
    assert path == tmp_path / "snaps" / "cam-1-000001-abc.jpg"
    assert list(path.parent.iterdir()) == [path]
    image = cv2.imread(str(path))
    assert image is not None
    assert image.shape == frame.shape
    assert image[30, 80, 2] > 200, "the box is outlined in red"
    assert abs(int(image[60, 80, 0]) - 90) < 10, "the frame itself is untouched"
    with pytest.raises(ValueError, match="quality"):
        SnapshotWriter(tmp_path, quality=0)
