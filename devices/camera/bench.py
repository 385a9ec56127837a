"""Measure camera analysis CPU per stream: 1280x720 frames analysed at 5 fps (decode not included)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2

from devices.camera.analysis import CameraAnalyzer
from devices.camera.geometry import Zone
from devices.camera.synthetic import PERSON_ZONE, scenario

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class CameraBench:
    """CPU milliseconds per analysed frame, and the share of one core a stream needs at `fps`."""

    width: int
    height: int
    fps: float
    quiet_ms: float  # a static scene: motion and tamper checks only
    busy_ms: float  # a person walking through: motion on every frame, HOG on its regions
    decode_ms: float  # decoding one MJPG/JPEG frame (what a capture costs on top), for reference

    def core_share(self, ms: float) -> float:
        """The fraction of one core that `ms` per frame takes at this frame rate."""
        return ms * self.fps / 1000.0

    def lines(self) -> list[str]:
        """The figures as printable lines."""
        rows = [("quiet scene", self.quiet_ms), ("person walking", self.busy_ms),
                ("JPEG decode", self.decode_ms)]
        return [
            f"camera analysis, {self.width}x{self.height} at {self.fps:g} fps, CPU per stream:",
            *(f"  {label:<16} {ms:6.2f} ms/frame  {100 * self.core_share(ms):5.2f}% of a core"
              for label, ms in rows),
            f"  streams per core {1 / max(self.core_share(self.quiet_ms), 1e-9):6.0f} quiet, "
            f"{1 / max(self.core_share(self.busy_ms), 1e-9):.0f} busy (analysis only, decode excluded)",
        ]


def _cpu_ms_per_frame(name: str, width: int, height: int, fps: float, frames: range) -> float:
    """Analyse `frames` of scenario `name` in one analyzer; CPU ms (all threads) per analysed frame."""
    sc = scenario(name, width=width, height=height, fps=fps)
    analyzer = CameraAnalyzer("bench", zones=[Zone("door", PERSON_ZONE)])
    spent = 0.0
    counted = 0
    for i in range(sc.count):
        frame = sc.render(i)  # rendering is not analysis: outside the clock
        start = time.process_time()
        analyzer.analyse(frame, i / fps)
        if i in frames:
            spent += time.process_time() - start
            counted += 1
    return 1000.0 * spent / max(counted, 1)


def _decode_ms(width: int, height: int, repeat: int = 20) -> float:
    """CPU ms to decode one JPEG of the scene at quality 85."""
    frame = scenario("static", width=width, height=height).render(0)
    jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
    start = time.process_time()
    for _ in range(repeat):
        cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    return 1000.0 * (time.process_time() - start) / repeat


def bench_camera(width: int = 1280, height: int = 720, fps: float = 5.0, *, threads: int = 1) -> CameraBench:
    """Measure analysis CPU per frame on synthetic scenes; OpenCV limited to `threads` threads."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        quiet = _cpu_ms_per_frame("static", width, height, fps, range(10, 150))
        busy = _cpu_ms_per_frame("person", width, height, fps, range(20, 80))
        decode = _decode_ms(width, height)
    finally:
        cv2.setNumThreads(previous)
    result = CameraBench(width, height, fps, quiet, busy, decode)
    log.info("camera bench: %s", result)
    return result


if __name__ == "__main__":
    print("\n".join(bench_camera().lines()))
