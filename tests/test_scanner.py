"""Serial barcode/QR scanner lines: golden lines, AIM ids, splits, garbage, and properties."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.framing import DecoderStats
from devices.lines import Terminator
from devices.scanner import (
    GS,
    Health,
    MalformedWatch,
    Scan,
    ScannerConfig,
    ScannerDecoder,
    WatchedDecoder,
    encode_scan,
    refusal,
    symbology_name,
)

QR = "GH-V-7f3a-2c91"
CR = ScannerConfig()


def decode_all(*chunks: bytes, config: ScannerConfig = CR) -> tuple[list[Scan], ScannerDecoder]:
    """Feed chunks in order; return every scan and the decoder."""
    decoder = ScannerDecoder(config)
    return [scan for chunk in chunks for scan in decoder.feed(chunk)], decoder


def accounted(decoder: ScannerDecoder) -> int:
    """Bytes the counters account for: lines, noise and the partial line buffered."""
    return decoder.stats.frame_bytes + decoder.stats.noise_bytes + decoder.pending


@pytest.mark.parametrize(
    ("aim_id", "name"),
    [("]Q1", "qr"), ("]Q3", "gs1-qr"), ("]C0", "code128"), ("]C1", "gs1-128"), ("]E0", "ean-upc"),
     ("]E4", "ean-8"), ("]d2", "gs1-datamatrix"), ("]d1", "datamatrix"), ("]A0", "code39"),
     ("]I1", "itf"), ("]z0", "aztec"), ("]L2", "pdf417"), ("]W0", None), ("Q1", None), ("]Q", None)],
)
def test_symbology_names(aim_id: str, name: str | None) -> None:
    assert symbology_name(aim_id) == name


SCAN_QR = Scan(QR, "qr", "]Q1")
GOLDEN: dict[str, tuple[list[bytes], list[Scan], tuple[int, int, int, int]]] = {
    # name: (chunks, scans, (frames, bad_frames, noise_bytes, pending))
    "plain": ([b"4006381333931\r"], [Scan("4006381333931")], (1, 0, 0, 0)),
    "aim-qr": ([b"]Q1" + QR.encode() + b"\r"], [SCAN_QR], (1, 0, 0, 0)),
    "aim-ean": ([b"]E04006381333931\r"], [Scan("4006381333931", "ean-upc", "]E0")], (1, 0, 0, 0)),
    "unknown-aim-letter-kept-as-id": ([b"]W0abc\r"], [Scan("abc", None, "]W0")], (1, 0, 0, 0)),
    "gs1-with-gs": ([b"]C1010123456789012815" + GS.encode() + b"10ABC\r"],
                    [Scan("010123456789012815\x1d10ABC", "gs1-128", "]C1")], (1, 0, 0, 0)),
    "utf-8-qr": (["]Q1Zoë Ørsted".encode() + b"\r"], [Scan("Zoë Ørsted", "qr", "]Q1")], (1, 0, 0, 0)),
    "split": ([b"]Q1GH-V", b"-7f3a-2c91", b"\r"], [SCAN_QR], (1, 0, 0, 0)),
    "concatenated": ([b"A\rB\rC\r"], [Scan("A"), Scan("B"), Scan("C")], (3, 0, 0, 0)),
    "empty-lines": ([b"\r\rA\r"], [Scan("A")], (1, 0, 2, 0)),
    "control-char": ([b"AB\x07C\rD\r"], [Scan("D")], (1, 1, 5, 0)),
    "not-utf-8": ([b"\xff\xfeA\rD\r"], [Scan("D")], (1, 1, 4, 0)),
    "aim-id-alone": ([b"]Q1\r"], [], (0, 1, 4, 0)),
    "lf-inside-a-cr-line": ([b"A\nB\r"], [], (0, 1, 4, 0)),
    "partial-waits": ([b"]Q1GH-V"], [], (0, 0, 0, 7)),
    "blank": ([b"   \rA\r"], [Scan("A")], (1, 1, 4, 0)),
    "padded": ([b" 4006381333931\r4006381333931 \r"], [], (0, 2, 30, 0)),
    "gs-only": ([GS.encode() * 3 + b"\r"], [], (0, 1, 4, 0)),
    "gs-at-the-end": ([b"0101" + GS.encode() + b"\r"], [], (0, 1, 6, 0)),
    "unreadable-mark": (["AB\ufffdC".encode() + b"\r"], [], (0, 1, 7, 0)),
    "invisible-format-char": (["AB\u202eC".encode() + b"\r"], [], (0, 1, 7, 0)),
}


@pytest.mark.parametrize(("chunks", "scans", "counts"), list(GOLDEN.values()), ids=list(GOLDEN))
def test_golden_streams(chunks: list[bytes], scans: list[Scan], counts: tuple[int, int, int, int]) -> None:
    got, decoder = decode_all(*chunks)
    s = decoder.stats
    assert got == scans
    assert (s.frames, s.bad_frames, s.noise_bytes, decoder.pending) == counts
    assert s.bad_checksum == 0
    assert accounted(decoder) == sum(map(len, chunks))


@pytest.mark.parametrize("terminator", list(Terminator))
def test_each_terminator(terminator: Terminator) -> None:
    config = ScannerConfig(terminator=terminator)
    data = encode_scan(QR, config, aim_id="]Q1") + encode_scan("12345", config)
    assert data.endswith(b"12345" + terminator.wire)
    scans, _ = decode_all(*(bytes([b]) for b in data), config=config)
    assert scans == [SCAN_QR, Scan("12345")]


def test_aim_ids_off_keeps_lines_verbatim() -> None:
    scans, _ = decode_all(b"]Q1abc\r", config=ScannerConfig(aim_ids=False))
    assert scans == [Scan("]Q1abc")]


def test_over_long_lines_are_refused_without_buffering() -> None:
    config = ScannerConfig(terminator=Terminator.CRLF, max_length=16)
    decoder = ScannerDecoder(config)
    assert decoder.feed(b"x" * 10_000) == []
    assert decoder.pending <= 16
    assert decoder.feed(b"x" * 100 + b"\r\nOK\r\n") == [Scan("OK")]
    s = decoder.stats
    assert (s.frames, s.bad_frames, s.noise_bytes) == (1, 1, 10_102)
    assert decoder.feed(b"y" * 16 + b"\r\n") == [Scan("y" * 16)]  # exactly the limit is fine
    assert decoder.feed(b"y" * 17 + b"\r\n") == []
    assert decoder.stats.bad_frames == 2


def test_crlf_split_between_cr_and_lf() -> None:
    decoder = ScannerDecoder(ScannerConfig(terminator=Terminator.CRLF, max_length=4))
    assert decoder.feed(b"ABCD\r") == []
    assert decoder.pending == 5
    assert decoder.feed(b"\n") == [Scan("ABCD")]


@pytest.mark.parametrize(
    ("code", "aim_id", "config"),
    [("", None, CR), ("a\rb", None, CR), ("ok", "]Q", CR), ("x" * 10, None, ScannerConfig(max_length=8))],
)
def test_encode_scan_refuses_what_no_scanner_sends(
    code: str, aim_id: str | None, config: ScannerConfig
) -> None:
    with pytest.raises(ValueError):
        encode_scan(code, config, aim_id=aim_id)


@pytest.mark.parametrize("max_length", [0, 513, 1.5])
def test_config_is_checked_up_front(max_length: int) -> None:
    with pytest.raises(ValueError, match="max_length"):
        ScannerConfig(max_length=max_length)


def test_reset_drops_the_partial_line() -> None:
    decoder = ScannerDecoder()
    decoder.feed(b"]Q1GH")
    decoder.reset()
    assert (decoder.pending, decoder.stats.noise_bytes) == (0, 5)
    assert decoder.feed(b"X\r") == [Scan("X")]


# --- properties -------------------------------------------------------------------------------

configs = st.builds(
    ScannerConfig,
    terminator=st.sampled_from(list(Terminator)),
    max_length=st.integers(4, 64),
    aim_ids=st.booleans(),
)
printable = st.characters(codec="utf-8", categories=["L", "N", "P", "S"], include_characters=" ")
codes = st.text(printable, min_size=1, max_size=20).filter(lambda code: refusal(code) is None)
aim_ids = st.none() | st.sampled_from(["]Q1", "]C0", "]E0", "]d2", "]X0"])
# Garbage lines are surely bad: a control character other than GS (never a terminator byte).
garbage = st.builds(
    lambda head, control, tail: (head + bytes([control]) + tail).translate(None, b"\r\n\t"),
    st.binary(max_size=10), st.sampled_from(b"\x00\x07\x1b\x7f"), st.binary(max_size=10),
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut `data` at the given positions (any order, duplicates allowed)."""
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in pairwise(points)]


@given(config=configs, chunks=st.lists(st.binary(max_size=64), max_size=30))
def test_random_bytes_never_raise_and_every_byte_is_accounted(
    config: ScannerConfig, chunks: list[bytes]
) -> None:
    decoder = ScannerDecoder(config)
    for chunk in chunks:
        for scan in decoder.feed(chunk):
            assert scan.code
        assert decoder.pending < config.max_length + len(config.terminator.wire)
    assert accounted(decoder) == sum(map(len, chunks))


@given(
    config=configs,
    stream=st.lists(st.one_of(st.tuples(codes, aim_ids), garbage), max_size=15),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_codes_among_garbage_all_decode_and_garbage_is_counted(
    config: ScannerConfig, stream: list[tuple[str, str | None] | bytes], cuts: list[int]
) -> None:
    term = config.terminator.wire
    data, expected, bad = b"", [], 0
    for item in stream:
        if isinstance(item, bytes):
            data += item + term
            bad += 1
            continue
        code, aim_id = item
        line = ((aim_id or "") + code).encode()
        if len(line) > config.max_length:  # refused, counted as one bad frame
            data += line + term
            bad += 1
            continue
        if config.aim_ids and aim_id is None and line[:1] == b"]":
            continue  # a code that itself starts like an AIM id
        expected.append(code if config.aim_ids and aim_id else line.decode())
        data += line + term
    decoder = ScannerDecoder(config)
    scans = [scan for chunk in split(data, cuts) for scan in decoder.feed(chunk)]
    assert [scan.code for scan in scans] == expected
    assert decoder.stats.bad_frames == bad
    assert decoder.pending == 0
    assert accounted(decoder) == len(data)


@pytest.mark.parametrize(
    ("code", "why"),
    [("GH1:V-7f3a:secret", None), ("Zoë Ørsted", None), ("01" + GS + "10", None), ("A B", None),
     ("", "blank"), ("  ", "blank"), (GS, "blank"), (" A", "a space or GS at either end"),
     ("A" + GS, "a space or GS at either end"), ("A\x00B", "a control or invisible character"),
     ("A\u200bB", "a control or invisible character"),
     ("A\ufffd", "a character the scanner could not read (U+FFFD)")],
)
def test_what_a_well_formed_code_is(code: str, why: str | None) -> None:
    assert refusal(code) == why


def test_a_site_with_long_codes_refuses_short_noise() -> None:
    config = ScannerConfig(min_length=8)
    scans, decoder = decode_all(b"|9G\r", b"4006381333931\r", config=config)
    assert scans == [Scan("4006381333931")]
    assert (decoder.stats.bad_frames, decoder.last_refusal) == (1, "shorter than 8 characters")
    with pytest.raises(ValueError, match="min_length"):
        ScannerConfig(max_length=8, min_length=9)
    with pytest.raises(ValueError, match="well-formed"):
        encode_scan("abc", config)


@given(config=configs, chunks=st.lists(st.binary(max_size=64), max_size=30))
def test_nothing_random_bytes_make_is_an_ill_formed_code(config: ScannerConfig, chunks: list[bytes]) -> None:
    decoder = ScannerDecoder(config)
    for chunk in chunks:
        for scan in decoder.feed(chunk):
            assert refusal(scan.code, config.min_length) is None
            assert len(scan.code.encode()) <= config.max_length


def test_malformed_lines_are_logged_at_a_pace_and_a_run_of_them_is_a_fault_until_a_good_code() -> None:
    watch, stats = MalformedWatch(fault_after=3, log_every_s=60), DecoderStats()
    stats.bad_frames = 1
    assert watch.update(stats, 1, now=0.0) == [Health.LOG]
    assert watch.logged() == 1
    stats.bad_frames = 2
    assert watch.update(stats, 2, now=1.0) == []  # counted, not logged again within the minute
    stats.bad_frames = 3
    assert watch.update(stats, 3, now=2.0) == [Health.FAULT]
    stats.bad_frames = 9
    assert watch.update(stats, 9, now=61.0) == [Health.LOG]  # the fault is reported once
    assert watch.logged() == 8  # lines 2 to 9
    stats.frames = 1
    assert watch.update(stats, 0, now=62.0) == [Health.CLEARED]
    assert not watch.faulted
    stats.frames = 2
    assert watch.update(stats, 0, now=63.0) == []


def test_a_watched_decoder_tells_its_health_after_each_read_and_hands_on_only_good_codes() -> None:
    heard: list[list[Health]] = []
    decoder = WatchedDecoder(ScannerDecoder(), heard.append, clock=lambda: 0.0,
                             watch=MalformedWatch(fault_after=2))
    assert decoder.feed(b"\xff\xfe\r" + "\ufffd".encode() + b"\r") == []
    assert heard == [[Health.LOG, Health.FAULT]]
    assert decoder.inner.last_refusal == "a character the scanner could not read (U+FFFD)"
    assert decoder.feed(b"]Q1" + QR.encode() + b"\r") == [SCAN_QR]
    assert heard[-1] == [Health.CLEARED]
    assert (decoder.stats.frames, decoder.stats.bad_frames, decoder.pending) == (1, 2, 0)
