"""Per-source watermarks and lingering gaps, with plain values."""

from __future__ import annotations

from security.ingest.watermarks import Gap, Watermarks


def test_in_order_advances() -> None:
    marks: Watermarks[str] = Watermarks()
    assert marks.add("s", [1, 2, 3], now=0)
    assert marks.get("s") == 3
    assert not marks.add("s", [2, 3], now=1)  # duplicates change nothing


def test_out_of_order_waits_for_the_hole() -> None:
    marks = Watermarks({"s": 2})
    assert not marks.add("s", [5, 4], now=0)
    assert marks.get("s") == 2
    assert marks.add("s", [3], now=1)
    assert marks.get("s") == 5


def test_gap_reported_once_after_timeout() -> None:
    marks: Watermarks[str] = Watermarks()
    marks.add("s", [1, 2, 5, 6], now=10)
    assert marks.overdue(now=15, timeout=30) == []
    assert marks.overdue(now=40, timeout=30) == [Gap("s", 3, 4)]
    assert marks.overdue(now=90, timeout=30) == []
    marks.add("s", [3], now=91)  # a new, smaller gap starts its own clock
    assert marks.overdue(now=100, timeout=30) == []
    assert marks.overdue(now=121, timeout=30) == [Gap("s", 4, 4)]
    marks.add("s", [4], now=122)
    assert marks.get("s") == 6


def test_restore_after_restart() -> None:
    marks = Watermarks({"s": 10})
    marks.restore("s", [12, 13])
    assert marks.add("s", [11], now=0)
    assert marks.get("s") == 13
    assert "t" not in marks
