"""The outbox with plain values: seq survives restarts, acknowledgement, and a full disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.events import make_event
from broker.outbox import Outbox, OutboxError
from broker.schemas import BadgeRead


def _append(outbox: Outbox) -> int:
    event, _payload = outbox.append(
        lambda seq: make_event("s", "reader-1", "badge.read", seq, BadgeRead(credential="0A", reader=1))
    )
    return event.seq


def test_seq_survives_restart_and_acknowledgement(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db")
    assert [_append(outbox) for _ in range(3)] == [1, 2, 3]
    assert outbox.acknowledge(3, outbox.incarnation) == 3
    outbox.close()
    again = Outbox(tmp_path / "o.db")
    assert again.count() == 0
    assert again.watermark == 3
    assert _append(again) == 4  # never reused, even with nothing left in the table
    assert [p.seq for p in again.pending()] == [4]
    assert again.incarnation == outbox.incarnation != ""  # made once, with the outbox
    assert again.acknowledge(2, again.incarnation) == 0  # an old watermark changes nothing


def test_full_disk_refuses_clearly_and_loses_nothing(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", synchronous="normal")
    _append(outbox)
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    def fill() -> None:
        for _ in range(10_000):
            _append(outbox)

    with pytest.raises(OutboxError, match=r"o\.db refused event: database or disk is full"):
        fill()
    stored = outbox.count()
    outbox._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    seq = _append(outbox)
    assert seq == stored + 1  # the refused event took no seq: no gap for the service to chase
    assert [p.seq for p in outbox.pending(limit=100_000)] == list(range(1, seq + 1))


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutboxError, match=r"cannot open outbox .*file/o\.db"):
        Outbox(blocker / "o.db")


def test_a_watermark_beyond_the_outbox_moves_seq_past_it(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db")  # a fresh outbox on a device the service already knows
    outbox.acknowledge(5, outbox.incarnation)
    assert _append(outbox) == 6  # never reuses a seq the service has stored


def test_a_new_outbox_ignores_the_watermark_of_the_one_it_replaced(tmp_path: Path) -> None:
    old = Outbox(tmp_path / "old.db")
    new = Outbox(tmp_path / "new.db")  # the device's outbox was wiped: a new incarnation
    assert new.incarnation != old.incarnation
    assert _append(new) == 1  # sent before the device heard any watermark
    assert new.acknowledge(500, old.incarnation) == 0  # the old outbox's retained ack arrives
    assert new.acknowledge(500, "") == 0  # and an ack from before incarnations
    assert [p.seq for p in new.pending()] == [1]  # the new event is not lost
    assert new.acknowledge(1, new.incarnation) == 1


def test_an_outbox_from_before_incarnations_keeps_counting_as_before(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db")
    _append(outbox)
    outbox._db.execute("DROP TABLE incarnation")  # as an older version left it
    outbox.close()
    again = Outbox(tmp_path / "o.db")
    assert again.incarnation == ""
    assert again.acknowledge(1, "") == 1
    assert _append(again) == 2
