"""The kiosk camera: preview and small snapshots from a synthetic video, QR reading, a missing camera."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import qrcode  # type: ignore[import-untyped]

from broker.schemas import VisitorPhoto
from devices.camera.capture import Capture, Source, open_capture
from devices.camera.frame import Frame
from devices.camera.synthetic import scenario
from devices.serial_port import Backoff
from kiosk.camera import MAX_JPEG_BYTES, KioskCamera, encode_photo, read_qr
from tests.support import wait_until

CODE = "GH1:V7F3A2K9QX:abcdefgh12345678"


def qr_frame(text: str, width: int = 640, height: int = 480) -> Frame:
    """A camera frame of a grey room with a QR code held up in it."""
    code = qrcode.QRCode(border=4, box_size=1)
    code.add_data(text)
    code.make(fit=True)
    matrix = np.array(code.get_matrix(), dtype=bool)
    modules = np.where(matrix, 0, 255).astype(np.uint8)
    scale = 260 // len(matrix)
    big = np.kron(modules, np.ones((scale, scale), np.uint8))
    frame = np.full((height, width, 3), 120, np.uint8)
    top, left = (height - big.shape[0]) // 2, (width - big.shape[1]) // 2
    frame[top : top + big.shape[0], left : left + big.shape[1]] = big[:, :, None]
    return frame


def write_video(path: Path, frames: list[Frame], fps: float = 10.0) -> Path:
    """The frames as an MJPG .avi file."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.parametrize(("width", "height", "size"), [(640, 360, (480, 270)), (320, 240, (320, 240))])
def test_preview_and_snapshot_from_a_synthetic_video(
    tmp_path: Path, width: int, height: int, size: tuple[int, int]
) -> None:
    video = scenario("person", width=width, height=height).write(tmp_path / "lobby.avi")
    camera = KioskCamera(str(video), fps=30)
    camera.start()
    try:
        assert camera.wait_available(10)
        frame = camera.preview()
        assert frame is not None
        assert frame.shape == (height, width, 3)
        snap = camera.snapshot()
        photo = camera.photo()
    finally:
        camera.stop()
    assert snap is not None
    jpeg, w, h = snap
    assert (w, h) == size
    assert photo is not None
    assert (photo.width, photo.height) == size
    assert photo.jpeg[:2] == b"\xff\xd8"  # a JPEG
    assert len(jpeg) <= MAX_JPEG_BYTES
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == (h, w, 3)
    photo_event = VisitorPhoto(visit_id="V1", jpeg=base64.b64encode(jpeg).decode(), width=w, height=h)
    assert photo_event.jpeg is not None
    assert len(photo_event.jpeg) <= 180_000
    assert not camera.available
    assert camera.preview() is None
    assert camera.photo() is None


def test_a_video_file_loops_so_the_preview_goes_on(tmp_path: Path) -> None:
    frames = [np.full((120, 160, 3), 10 * i, np.uint8) for i in range(5)]
    camera = KioskCamera(str(write_video(tmp_path / "short.avi", frames, fps=5)), fps=50)
    seen: set[int] = set()

    def brightness() -> bool:
        frame = camera.preview()
        if frame is not None:
            seen.add(round(float(frame.mean()) / 10))
        return len(seen) == 5 and frame is not None and round(float(frame.mean()) / 10) == 0

    camera.start()
    try:
        wait_until(brightness, 10, "every frame of the video, then the first again")
    finally:
        camera.stop()


def test_a_noisy_big_frame_is_made_small_enough() -> None:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    jpeg, w, h = encode_photo(noise, max_bytes=20_000)
    assert len(jpeg) <= 20_000
    assert 16 < w <= 480
    assert h / w == pytest.approx(1080 / 1920, abs=0.01)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == (h, w, 3)


def test_read_qr_from_a_frame_and_through_the_camera(tmp_path: Path) -> None:
    assert read_qr(qr_frame(CODE)) == CODE
    assert read_qr(scenario("static").render(0)) is None
    assert read_qr(np.zeros((4, 4, 3), np.uint8)) is None
    camera = KioskCamera(str(write_video(tmp_path / "held-up.avi", [qr_frame(CODE)] * 4)), fps=20)
    camera.start()
    try:
        assert camera.wait_available(10)
        frame = camera.preview()
        assert frame is not None
        assert read_qr(frame) == CODE
    finally:
        camera.stop()


def test_a_missing_video_file_is_reported_once_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    camera = KioskCamera(str(tmp_path / "none.avi"))
    camera.start()
    try:
        assert not camera.wait_available(5)
        assert camera.preview() is None
        assert camera.snapshot() is None
    finally:
        camera.stop()
    warnings = [r for r in caplog.records if "none.avi" in r.getMessage()]
    assert len(warnings) == 1
    assert "does not exist" in warnings[0].getMessage()


def test_a_missing_camera_device_is_reported_once_while_it_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    attempts: list[Source] = []

    def counting_opener(source: Source) -> Capture:
        attempts.append(source)
        return open_capture(source)

    camera = KioskCamera("/dev/video9", backoff=Backoff(initial=0.01, maximum=0.02), opener=counting_opener)
    assert camera.name.startswith("camera device 9")
    camera.start()
    try:
        wait_until(lambda: len(attempts) >= 3, 20, "three attempts to open the camera")
        assert not camera.available
        assert camera.preview() is None
    finally:
        camera.stop()
    assert set(attempts) == {9}
    warnings = [r for r in caplog.records if "camera device 9" in r.getMessage()]
    assert len(warnings) == 1
