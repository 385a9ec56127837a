"""`gatehouse bench ingest` runs end to end and prints its figures (their values are not judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from broker.local_mosquitto import MOSQUITTO_BIN

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
def test_bench_ingest_prints_its_figures(broker: str, tmp_path: Path) -> None:
    if broker == "mosquitto" and not MOSQUITTO_BIN.exists():
        pytest.skip(f"{MOSQUITTO_BIN} is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "gatehouse", "--data-dir", str(tmp_path), "bench", "ingest",
         "--broker", broker, "--events", "1000", "--rate", "200", "--seconds", "1"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for label in ("bare paho subscriber (ceiling)", "persisted end to end"):
        assert re.search(rf"{re.escape(label)}\s+\d+ events/s", out), out
    assert re.search(r"ratio persisted / ceiling\s+\d+\.\d\d", out), out
    assert re.search(r"at 200 events/s: p50 \d+\.\d ms, p99 \d+\.\d ms", out), out
