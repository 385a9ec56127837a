"""`gatehouse bench ingest` and `bench alarms` run end to end and print their figures (values not judged).

A bench that could not measure (too few samples, samples that never arrived) says so and fails.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from broker.embedded import EmbeddedBroker
from broker.local_mosquitto import MOSQUITTO_BIN
from gatehouse import bench_alarms
from gatehouse.bench_alarms import AlarmFigures, Spread
from gatehouse.bench_ingest import BenchError, latency_percentiles
from security.ingest.service import Stats
from tests.fixtures.required import unavailable


def test_ingest_latency_needs_every_sample_and_at_least_two() -> None:
    for timed, expected in (([], 0), ([0.01], 1), ([0.01, 0.02], 3)):
        with pytest.raises(BenchError, match=rf"could not measure the latency: {len(timed)} of {expected} "):
            latency_percentiles(timed, expected)
    p50, p99 = latency_percentiles([0.010, 0.020, 0.030], 3)
    assert 10.0 <= p50 <= p99 <= 30.0 + 1e-9


def test_alarms_with_samples_that_never_arrived_are_not_measured() -> None:
    spread = Spread(count=4, p50=1.0, p95=1.0, p99=1.0, max=1.0)  # fast: the 4 that came
    whole = AlarmFigures(5, 10.0, 0.0, 0.0, spread, spread, 0, 0, Stats())
    assert (whole.measured, whole.verdict()) == (True, "met")
    for missing, baseline_missing in ((1, 0), (0, 1)):
        part = replace(whole, missing=missing, baseline_missing=baseline_missing)
        assert not part.measured
        wanted = f"not measured: {missing} alarms and {baseline_missing} reads of 5 never arrived"
        assert part.verdict() == wanted


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
def test_bench_ingest_prints_its_figures(broker: str, tmp_path: Path) -> None:
    if broker == "mosquitto" and not MOSQUITTO_BIN.exists():
        unavailable(f"{MOSQUITTO_BIN} is not installed")
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


@pytest.mark.slow
@pytest.mark.slow
def test_bench_alarms_prints_its_figures_and_every_sample_arrives(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    figures = bench_alarms.run(embedded_broker.url, samples=5, rate=20.0, background=20.0, folder=tmp_path)
    out = io.StringIO()
    bench_alarms.report(figures, "the embedded broker", out)
    text = out.getvalue()
    assert (figures.missing, figures.baseline_missing) == (0, 0), text
    assert figures.measured
    assert figures.measured
    assert figures.alarm.count == figures.baseline.count == 5
    assert figures.service.stored > 5  # the reader's badges and the background events
    spread = r"\s+p50\s+\d+\.\d\d\s+p95\s+\d+\.\d\d\s+p99\s+\d+\.\d\d\s+max\s+\d+\.\d\d ms"
    for label in ("baseline: badge.read -> bare subscriber", "badge.read -> alarm.raised at the station"):
        assert re.search(re.escape(label) + spread, text), text
    assert re.search(r"ratio to the baseline\s+p50\s+\d+\.\d\d\s+p99\s+\d+\.\d\d", text), text
    assert re.search(r"background: \d+ events/s achieved of 20 asked", text), text
    assert "0 alarms, 0 reads, of 5" in text
    assert re.search(r"service: received \d+, stored \d+, duplicates \d+", text), text
    assert re.search(r"target p99 < 50 ms: (met|not met)$", text, re.MULTILINE), text
