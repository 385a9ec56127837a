"""Camera analysis pieces on their own: decision rules, geometry, motion, people regions, QR."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from broker.schemas import Box
from devices.camera.decide import Change, Cooldown, Episode, RateLimiter
from devices.camera.frame import Frame, u8
from devices.camera.geometry import Polygon, Zone, keep_mask, pixel_rect, relative_box, zones_of
from devices.camera.motion import MotionDetector
from devices.camera.person import WINDOW, PersonDetector, confidence
from devices.camera.qr import QrReader
from devices.camera.synthetic import camera_frame, textured_scene
from devices.camera.tamper import sharpness


def test_an_episode_starts_and_ends_once_and_ignores_flicker() -> None:
    episode = Episode(on_s=1.0, off_s=2.0)
    seen = [(0.0, True), (0.5, False), (0.6, True), (1.0, True), (1.6, True), (2.0, True), (3.0, False),
            (3.5, True), (4.0, False), (5.9, False), (6.0, False), (7.0, False)]
    changes = [(t, episode.update(s, t)) for t, s in seen]
    assert [(t, c) for t, c in changes if c] == [(1.6, Change.STARTED), (6.0, Change.ENDED)]


def test_a_cooldown_allows_one_action_per_period_per_key() -> None:
    cooldown = Cooldown(10.0)
    assert cooldown.ready("a", 0.0)
    assert cooldown.ready("b", 1.0)
    assert not cooldown.ready("a", 9.9)
    assert cooldown.ready("a", 10.0)


def test_the_rate_limiter_keeps_every_third_frame_of_15_fps_at_5_fps() -> None:
    limiter = RateLimiter(5.0)
    kept = [i for i in range(30) if limiter.due(i / 15)]
    assert kept == list(range(0, 30, 3))
    assert limiter.due(100.0)
    assert not limiter.due(100.1), "after a pause the cadence restarts, with no burst to catch up"
    with pytest.raises(ValueError, match="fps"):
        RateLimiter(0)


def test_polygons_zones_and_masks_use_relative_coordinates() -> None:
    square = Polygon.of([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])
    assert square.contains(0.5, 0.5)
    assert not square.contains(0.1, 0.5)
    assert square.contains(0.25, 0.5), "an edge counts as inside"
    with pytest.raises(ValueError, match="at least 3"):
        Polygon(((0.0, 0.0), (1.0, 1.0)))
    with pytest.raises(ValueError, match="outside"):
        Polygon.of([(0, 0), (1.5, 0), (1, 1)])
    zone = Zone("desk", square)
    feet_inside = Box(x=0.4, y=0.1, w=0.2, h=0.5)  # bottom centre (0.5, 0.6)
    head_only = Box(x=0.4, y=0.5, w=0.2, h=0.4)  # bottom centre (0.5, 0.9)
    assert zone.holds(feet_inside)
    assert not zone.holds(head_only)
    assert zones_of(feet_inside, [zone, Zone("all", Polygon.of([(0, 0), (1, 0), (1, 1), (0, 1)]))]) == [
        "desk", "all"]
    keep = keep_mask([square], 100, 100)
    assert keep is not None
    assert keep[50, 50] == 0
    assert keep[5, 5] == 255
    assert keep_mask([], 100, 100) is None


def test_boxes_convert_between_pixels_and_relative_coordinates() -> None:
    box = relative_box((-10.0, 20.0, 60.0, 500.0), 200, 100)
    assert box == Box(x=0.0, y=0.2, w=0.25, h=0.8)
    assert pixel_rect(box, 200, 100) == (0, 20, 50, 80)


def _frames(count: int, block_at: int | None = None, *, light: float = 1.0) -> list[Frame]:
    """Noisy frames of a textured scene, a dark block in the top-left area from `block_at` on."""
    scene = textured_scene(320, 180)
    out = []
    for i in range(count):
        image = scene * light if block_at is None or i < block_at else scene.copy()
        if block_at is not None and i >= block_at:
            x = 20 + 8 * (i - block_at)
            cv2.rectangle(image, (x, 20), (x + 30, 50), 10.0, -1)
        out.append(camera_frame(image, np.random.default_rng(i), 5.0))
    return out


def test_motion_in_a_masked_area_is_never_reported() -> None:
    frames = _frames(20, block_at=10)
    plain = MotionDetector()
    masked = MotionDetector(masks=[Polygon.of([(0, 0), (0.6, 0), (0.6, 0.4), (0, 0.4)])])
    plain_seen = [plain.detect(f).seen for f in frames]
    masked_seen = [masked.detect(f).seen for f in frames]
    assert not any(plain_seen[:10])
    assert all(plain_seen[10:])
    assert not any(masked_seen)


def test_lights_switched_recalibrate_instead_of_alarming() -> None:
    detector = MotionDetector()
    before = _frames(10)
    after = _frames(10, light=0.5)
    results = [detector.detect(f) for f in before + after]
    assert not any(r.seen for r in results)
    assert results[10].recalibrated, "the whole-frame change made a new background"


def test_sharpness_collapses_when_defocused_and_ignores_gain() -> None:
    scene = textured_scene(320, 180)
    sharp = sharpness(camera_frame(scene, np.random.default_rng(1), 5.0)[:, :, 0])
    darker = sharpness(camera_frame(scene * 0.6, np.random.default_rng(1), 5.0)[:, :, 0])
    blur = np.asarray(cv2.GaussianBlur(scene, (0, 0), 3), np.float32)
    blurred = sharpness(camera_frame(blur, np.random.default_rng(1), 5.0)[:, :, 0])
    assert blurred < 0.5 * sharp
    assert darker > 0.7 * sharp


def test_people_regions_are_padded_to_the_window_and_merged() -> None:
    detector = PersonDetector()
    small = Box(x=0.5, y=0.5, w=0.01, h=0.01)
    regions = detector.regions([small], 640, 360)
    assert len(regions) == 1
    assert regions[0][2] >= WINDOW[0]
    assert regions[0][3] >= WINDOW[1]
    overlapping = [Box(x=0.2, y=0.2, w=0.1, h=0.3), Box(x=0.25, y=0.3, w=0.1, h=0.3)]
    assert len(detector.regions(overlapping, 640, 360)) == 1
    apart = [Box(x=0.0, y=0.0, w=0.1, h=0.1), Box(x=0.85, y=0.6, w=0.1, h=0.1)]
    assert len(detector.regions(apart, 1280, 720)) == 2
    assert detector.detect(np.zeros((360, 640, 3), np.uint8), []) == [], "no motion: HOG is not run"


def test_confidence_maps_the_svm_margin_to_0_1() -> None:
    assert confidence(-1.0) == 0.0
    assert 0.39 < confidence(0.5) < 0.4
    assert confidence(1.0) < confidence(2.0) < 1.0


def test_a_rotated_noisy_qr_code_is_read_and_a_blank_frame_is_not() -> None:
    code = cv2.QRCodeEncoder.create().encode("gatehouse:visit:V-1234")
    code = cv2.resize(code, (code.shape[1] * 6, code.shape[0] * 6), interpolation=cv2.INTER_NEAREST)
    frame = np.full((480, 640), 200, np.uint8)
    frame[100 : 100 + code.shape[0], 200 : 200 + code.shape[1]] = code
    rotation = cv2.getRotationMatrix2D((320, 240), 12, 1.0)
    frame = u8(cv2.warpAffine(frame, rotation, (640, 480), borderValue=200))
    noisy = np.clip(frame + np.random.default_rng(3).normal(0, 8, frame.shape), 0, 255).astype(np.uint8)
    reader = QrReader()
    assert reader.read(u8(cv2.cvtColor(noisy, cv2.COLOR_GRAY2BGR))) == "gatehouse:visit:V-1234"
    assert reader.read(np.full((480, 640, 3), 128, np.uint8)) is None
