"""A device of `gatehouse bench soak`, in its own process: emits at a steady rate through a real outbox.

`python -m gatehouse.soak_device URL SITE DEVICE FOLDER RATE` prints `seq id monotonic-time` for
each event it emitted until SIGTERM; with `--drain` it emits nothing and exits 0 once its outbox
is empty (1 if that takes longer than DRAIN_TIMEOUT_S).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.schemas import CameraMotion

DRAIN_TIMEOUT_S = 300.0


def device_main(argv: list[str]) -> int:
    """A soak device: emit at a steady rate until SIGTERM (or, with --drain, empty the outbox)."""
    parser = argparse.ArgumentParser(prog="gatehouse.soak_device")
    parser.add_argument("url")
    parser.add_argument("site")
    parser.add_argument("device")
    parser.add_argument("folder", type=Path)
    parser.add_argument("rate", type=float)
    parser.add_argument("--drain", action="store_true")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    link = DeviceLink(MqttUrl.parse(args.url), site=args.site, device=args.device, kind="camera",
                      outbox_dir=args.folder)
    with link:
        if args.drain:
            return 0 if link.drain(DRAIN_TIMEOUT_S) else 1
        data = CameraMotion(camera=args.device, score=0.5)
        start, n = time.monotonic(), 0
        while not stop.wait(max(0.0, start + n / args.rate - time.monotonic())):
            event = link.source.emit("camera.motion", data)
            print(f"{event.seq} {event.id} {time.monotonic():.6f}", flush=True)
            n += 1
    return 0


if __name__ == "__main__":
    sys.exit(device_main(sys.argv[1:]))
