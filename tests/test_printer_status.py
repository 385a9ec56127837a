"""Printer status parsers (ZPL ~HS, ESC/POS DLE EOT, Brother QL) and the fault tracker."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.printers import brother, escpos, zpl
from devices.printers.status import Condition, FaultTracker, PrinterStatus

C = Condition


def hs(first: str, second: str, third: str = "1234,0") -> bytes:
    """A ~HS answer made of three strings."""
    return b"".join(b"\x02" + s.encode() + b"\x03\r\n" for s in (first, second, third))


READY_1, READY_2 = "030,0,0,0406,000,0,0,0,000,0,0,0", "001,0,0,0,0,2,6,0,00000000,1,000"


@pytest.mark.parametrize(("answer", "expected"), [
    (hs(READY_1, READY_2), set()),
    (hs("030,1,0,0406,000,0,0,0,000,0,0,0", READY_2), {C.PAPER_OUT}),
    (hs("030,0,1,0406,000,0,0,0,000,0,0,0", READY_2), {C.PAUSED}),
    (hs(READY_1, "001,0,1,0,0,2,6,0,00000000,1,000"), {C.HEAD_OPEN}),
    (hs(READY_1, "001,0,0,1,0,2,6,0,00000000,1,000"), {C.RIBBON_OUT}),
    (hs("030,1,1,0406,000,1,0,0,000,1,1,1", "001,0,1,1,0,2,6,0,00000000,1,000"),
     {C.PAPER_OUT, C.PAUSED, C.BUFFER_FULL, C.ERROR, C.UNDER_TEMPERATURE, C.OVER_TEMPERATURE,
      C.HEAD_OPEN, C.RIBBON_OUT}),
])
def test_zpl_host_status_table(answer: bytes, expected: set[Condition]) -> None:
    decoder = zpl.HostStatusDecoder()
    assert decoder.feed(answer) == [PrinterStatus(frozenset(expected))]
    assert decoder.stats.frames == 1
    assert decoder.stats.noise_bytes == 0
    assert decoder.pending == 0


@pytest.mark.parametrize("conditions", [set(), {C.PAPER_OUT}, {C.HEAD_OPEN, C.PAUSED}])
def test_zpl_simulator_answer_round_trips(conditions: set[Condition]) -> None:
    decoder = zpl.HostStatusDecoder()
    answer = zpl.host_status_reply(frozenset(conditions))
    got = [s for i in range(len(answer)) for s in decoder.feed(answer[i : i + 1])]  # byte by byte
    assert got == [PrinterStatus(frozenset(conditions))]


@pytest.mark.parametrize("answer", [
    hs("030,0,0", READY_2),  # too few fields
    hs(READY_1, READY_2, "12x4,0"),  # not digits
    b"\x02" + b"9" * 200 + b"\x03",  # over-long string
])
def test_zpl_malformed_answers_are_counted_not_returned(answer: bytes) -> None:
    decoder = zpl.HostStatusDecoder()
    assert decoder.feed(answer + hs(READY_1, READY_2)) == [PrinterStatus()]
    assert decoder.stats.bad_frames >= 1
    assert decoder.stats.noise_bytes > 0


@pytest.mark.parametrize(("request_n", "value", "expected"), [
    (1, 0x12, set()),
    (1, 0x1A, {C.OFFLINE}),
    (2, 0x12, set()),
    (2, 0x16, {C.HEAD_OPEN}),
    (2, 0x32, {C.PAPER_OUT}),
    (2, 0x52, {C.ERROR}),
    (3, 0x1A, {C.CUTTER_ERROR}),
    (3, 0x32, {C.ERROR}),
    (4, 0x12, set()),
    (4, 0x1E, {C.PAPER_LOW}),
    (4, 0x72, {C.PAPER_OUT}),
    (2, 0x00, set()),  # not a status byte: says nothing
    (2, 0xFF, set()),
])
def test_escpos_realtime_status_table(request_n: int, value: int, expected: set[Condition]) -> None:
    assert escpos.parse_status_byte(request_n, value) == expected


def test_escpos_paper_low_is_a_warning_not_a_fault() -> None:
    status = escpos.parse_status((4,), b"\x1e")
    assert status is not None
    assert status.conditions == {C.PAPER_LOW}
    assert status.ready


@pytest.mark.parametrize("conditions", [set(), {C.PAPER_OUT}, {C.HEAD_OPEN}, {C.PAPER_LOW}])
def test_escpos_simulator_answer_round_trips(conditions: set[Condition]) -> None:
    answer = bytes(escpos.status_byte(n, frozenset(conditions)) for n in escpos.STATUS_REQUESTS)
    status = escpos.RealtimeStatusDecoder().feed(b"\x00" + answer)
    offline = {C.OFFLINE} if conditions - {C.PAPER_LOW} else set()
    assert status == [PrinterStatus(frozenset(conditions | offline))]


@pytest.mark.parametrize("conditions", [set(), {C.PAPER_OUT}, {C.HEAD_OPEN}, {C.PAPER_OUT, C.HEAD_OPEN}])
def test_brother_status_round_trips(conditions: set[Condition]) -> None:
    decoder = brother.StatusDecoder()
    frame = brother.status_frame(frozenset(conditions))
    assert decoder.feed(b"\x00\x80" + frame[:5]) == []
    assert decoder.feed(frame[5:]) == [PrinterStatus(frozenset(conditions))]


def test_tracker_reports_each_fault_once_and_its_clearing() -> None:
    tracker = FaultTracker("desk-printer")
    assert tracker.update(PrinterStatus()) == []
    assert tracker.online
    began = tracker.update(PrinterStatus(frozenset({C.PAPER_OUT, C.PAUSED})))
    assert [(f.fault, f.cleared) for f in began] == [("paper_out", False), ("other", False)]
    assert tracker.update(PrinterStatus(frozenset({C.PAPER_OUT, C.PAUSED}))) == []
    assert [(f.fault, f.cleared) for f in tracker.update(None)] == [("no_answer", False)]
    assert tracker.faults == {C.PAPER_OUT, C.PAUSED, C.NO_ANSWER}  # unknown while silent: kept
    cleared = tracker.update(PrinterStatus())
    assert sorted((f.fault, f.cleared) for f in cleared) == [
        ("no_answer", True), ("other", True), ("paper_out", True)]
    assert tracker.online
    assert "desk-printer" in (began[0].detail or "")


@given(st.binary(max_size=512), st.integers(min_value=1, max_value=64))
def test_zpl_decoder_never_raises_and_accounts_for_every_byte(data: bytes, split: int) -> None:
    decoder = zpl.HostStatusDecoder()
    for i in range(0, len(data), split):
        decoder.feed(data[i : i + split])
    s = decoder.stats
    assert s.frame_bytes + s.noise_bytes + decoder.pending == len(data)


@given(st.lists(st.binary(max_size=80), max_size=4))
def test_zpl_parse_never_raises(strings: list[bytes]) -> None:
    zpl.parse_host_status(strings)


@given(st.binary(max_size=256), st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_escpos_decoder_and_parser_never_raise(data: bytes, requests: list[int]) -> None:
    decoder = escpos.RealtimeStatusDecoder(tuple(requests))
    decoder.feed(data)
    s = decoder.stats
    assert s.frame_bytes + s.noise_bytes + decoder.pending == len(data)
    escpos.parse_status(tuple(requests), data[: len(requests)])
    for value in data:
        escpos.parse_status_byte(requests[0], value)


@given(st.binary(max_size=512), st.integers(min_value=1, max_value=64))
def test_brother_decoder_never_raises_and_accounts_for_every_byte(data: bytes, split: int) -> None:
    decoder = brother.StatusDecoder()
    for i in range(0, len(data), split):
        decoder.feed(data[i : i + split])
    s = decoder.stats
    assert s.frame_bytes + s.noise_bytes + decoder.pending == len(data)
    brother.parse_status(data[:32])


@given(st.binary(max_size=300))
def test_raster_reader_raises_only_its_named_error(data: bytes) -> None:
    with contextlib.suppress(brother.RasterError):
        brother.read_raster(data)
