"""Debouncer: one pass per presentation, with time given as plain numbers."""

from __future__ import annotations

import pytest

from devices.readers.debounce import Debouncer

# (tag, time) reads and whether each one passes, for hold_s = 1.0
CASES = {
    "first read passes": ([("A", 0.0)], [True]),
    "repeats while present are suppressed": (
        [("A", 0.0), ("A", 0.2), ("A", 0.4), ("A", 0.6)],
        [True, False, False, False],
    ),
    "held for long, still one read": (
        [("A", t / 5) for t in range(50)],
        [True] + [False] * 49,
    ),
    "absent for exactly hold_s passes again": ([("A", 0.0), ("A", 1.0)], [True, True]),
    "absent just under hold_s is a repeat": ([("A", 0.0), ("A", 0.99)], [True, False]),
    "hold counts from the last repeat, not the first read": (
        [("A", 0.0), ("A", 0.8), ("A", 1.5), ("A", 2.6)],
        [True, False, False, True],
    ),
    "another tag passes at once": ([("A", 0.0), ("B", 0.1), ("A", 0.2)], [True, True, False]),
    "tags are tracked independently": (
        [("A", 0.0), ("B", 0.5), ("A", 1.2), ("B", 1.2)],
        [True, True, True, False],
    ),
    "a clock step backwards does not re-pass": ([("A", 5.0), ("A", 4.0), ("A", 5.5)], [True, False, False]),
}


@pytest.mark.parametrize(("reads", "passed"), list(CASES.values()), ids=list(CASES))
def test_debounce_table(reads: list[tuple[str, float]], passed: list[bool]) -> None:
    debouncer: Debouncer[str] = Debouncer(1.0)
    assert [debouncer.accept(tag, now) for tag, now in reads] == passed


def test_zero_hold_passes_every_read() -> None:
    debouncer: Debouncer[str] = Debouncer(0)
    assert [debouncer.accept("A", 0.0) for _ in range(3)] == [True, True, True]


def test_negative_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="hold_s"):
        Debouncer(-1)


def test_forget_lets_the_next_read_pass() -> None:
    debouncer: Debouncer[str] = Debouncer(1.0)
    assert debouncer.accept("A", 0.0)
    debouncer.forget("A")
    debouncer.forget("never seen")
    assert debouncer.accept("A", 0.1)


def test_memory_is_bounded_by_tags_in_hold() -> None:
    debouncer: Debouncer[int] = Debouncer(1.0)
    for i in range(10_000):
        assert debouncer.accept(i, float(i))
    assert debouncer.tracking == 1
