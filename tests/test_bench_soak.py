"""`gatehouse bench soak` for a few seconds: kill -9s and broker restarts, then nothing lost or duplicated."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gatehouse.bench_soak import Tally, p99_ms, tally

SRC = "gatehouse/s/cam"


def test_tally_counts_what_is_missing_twice_or_changed() -> None:
    ids = {(SRC, 1): "a", (SRC, 2): "b", (SRC, 3): "c"}
    assert tally({SRC: 3}, {SRC: [(1, "a"), (2, "b"), (3, "c")]}, ids) == Tally(3, 3, 0, 0)
    assert tally({SRC: 3}, {SRC: [(1, "a"), (3, "c")]}, ids) == Tally(3, 2, 1, 0)
    assert tally({SRC: 3}, {SRC: [(1, "a"), (1, "a2"), (2, "b"), (3, "c")]}, ids).duplicated == 2
    changed = tally({SRC: 3}, {SRC: [(1, "a"), (2, "x"), (3, "c")]}, ids)
    assert (changed.lost, changed.duplicated, changed.wrong_id) == (0, 1, 1)
    assert tally({SRC: 2}, {}, {}).line == "sent 2 stored 0 lost 2 duplicated 0"


def test_p99_of_nothing_is_not_zero() -> None:
    assert p99_ms([]) is None
    assert p99_ms([0.001] * 99 + [1.0]) == pytest.approx(1.0)


@pytest.mark.slow
def test_a_short_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gatehouse", "--data-dir", str(tmp_path), "bench", "soak", "--seconds", "12",
         "--fault-every", "2.5", "--seed", "7", "--rate", "100"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    closing = out.strip().splitlines()[-1]
    match = re.fullmatch(r"sent (\d+) stored (\d+) lost 0 duplicated 0", closing)
    assert match, out
    assert int(match[1]) == int(match[2]) > 0, out
    faults = re.search(r"^faults: (\d+) \(", out, re.MULTILINE)
    assert faults, out
    assert int(faults[1]) >= 2, out
    assert re.search(r"service RSS: start \d+\.\d MB, end \d+\.\d MB", out), out
    assert re.search(r"p99 emit -> stored per period: \d+\.\d to \d+\.\d ms", out), out
