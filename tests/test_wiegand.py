"""Wiegand-26 converter lines: golden frames, parity, splits, noise, and properties."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.lines import Terminator
from devices.readers.wiegand import (
    ARDUINO_BITS,
    RAW_HEX,
    WIE232_HEX,
    WiegandCard,
    WiegandDecoder,
    WiegandEncoding,
    WiegandLineFormat,
    card_of,
    encode_line,
    encode_raw_line,
    frame_value,
    parity_ok,
)

# Facility 18, card 37848: data bits 00010010 1001001111011000.
# Bits 2-13 hold 4 ones -> even parity bit 0; bits 14-25 hold 6 ones -> odd parity bit 1.
CARD = WiegandCard(18, 37848)
BITS = b"0" + b"00010010" + b"1001001111011000" + b"1"
GOOD = BITS + b"\r\n"
FLIPPED = BITS[:-1] + b"0\r\n"  # odd parity broken
OTHER = WiegandCard(1, 1)  # 1 00000001 0000000000000001 0: 1 one in each half
FORMATS = {"bits-crlf": ARDUINO_BITS, "hex26-crlf": RAW_HEX, "hex24-cr": WIE232_HEX,
           "bits-tab": WiegandLineFormat(WiegandEncoding.BITS, Terminator.TAB),
           "hex26-lf": WiegandLineFormat(WiegandEncoding.HEX26, Terminator.LF)}


def decode_all(*chunks: bytes, line_format: WiegandLineFormat = ARDUINO_BITS) -> tuple[
        list[tuple[int, int]], WiegandDecoder]:  # fmt: skip
    """Feed chunks in order; return (facility, card) of every read and the decoder."""
    decoder = WiegandDecoder(line_format)
    reads = [(r.facility, r.card) for chunk in chunks for r in decoder.feed(chunk)]
    return reads, decoder


def accounted(decoder: WiegandDecoder) -> int:
    """Bytes the counters account for: frames, noise and the partial line buffered."""
    return decoder.stats.frame_bytes + decoder.stats.noise_bytes + decoder.pending


def test_golden_frame_bits_and_credential() -> None:
    assert encode_line(CARD) == GOOD
    assert frame_value(CARD) == int(BITS, 2)
    assert parity_ok(int(BITS, 2))
    assert card_of(int(BITS, 2)) == CARD
    assert CARD.credential == "1293D8"
    assert CARD.data == 0x1293D8
    assert encode_line(OTHER) == b"10000000100000000000000010\r\n"


def test_the_three_converter_formats() -> None:
    assert encode_line(CARD, RAW_HEX) == f"{int(BITS, 2):07X}\r\n".encode() == b"02527B1\r\n"
    assert encode_line(CARD, WIE232_HEX) == b"1293D8\r"
    for line_format in (ARDUINO_BITS, RAW_HEX, WIE232_HEX):
        reads, _ = decode_all(encode_line(CARD, line_format), line_format=line_format)
        assert reads == [(18, 37848)]
    assert decode_all(b"02527b1\r\n", line_format=RAW_HEX)[0] == [(18, 37848)]


@pytest.mark.parametrize(("facility", "card"), [(-1, 0), (256, 0), (0, -1), (0, 65536), (True, 1)])
def test_card_range_is_checked(facility: int, card: int) -> None:
    with pytest.raises(ValueError, match="Wiegand-26"):
        WiegandCard(facility, card)


def test_format_refuses_strings_and_raw_lines_need_parity_bits() -> None:
    with pytest.raises(TypeError, match="Terminator"):
        WiegandLineFormat(WiegandEncoding.BITS, "crlf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no parity"):
        encode_raw_line(0, WIE232_HEX)
    with pytest.raises(ValueError, match="26 bits"):
        encode_raw_line(1 << 26)


@pytest.mark.parametrize("bit", range(26))
def test_any_single_flipped_bit_fails_parity(bit: int) -> None:
    assert not parity_ok(frame_value(CARD) ^ (1 << bit))
    reads, decoder = decode_all(encode_raw_line(frame_value(CARD) ^ (1 << bit)))
    assert reads == []
    assert (decoder.stats.bad_checksum, decoder.stats.bad_frames) == (1, 0)


A, B = (18, 37848), (1, 1)
OTHER_LINE = encode_line(OTHER)
# name: (chunks, reads, (frames, bad_checksum, bad_frames, noise_bytes, pending))
GOLDEN: dict[str, tuple[list[bytes], list[tuple[int, int]], tuple[int, int, int, int, int]]] = {
    "good": ([GOOD], [A], (1, 0, 0, 0, 0)),
    "parity-error": ([FLIPPED], [], (0, 1, 0, 0, 0)),
    "both-parities-wrong": ([b"1" + BITS[1:-1] + b"0\r\n"], [], (0, 1, 0, 0, 0)),
    "concatenated": ([GOOD + OTHER_LINE + GOOD], [A, B, A], (3, 0, 0, 0, 0)),
    "split-in-terminator": ([GOOD[:27], GOOD[27:] + OTHER_LINE], [A, B], (2, 0, 0, 0, 0)),
    "noise-line-before": ([b"\xff\x00zz\r\n" + GOOD], [A], (1, 0, 1, 6, 0)),
    "empty-lines-are-noise": ([b"\r\n\r\n" + GOOD], [A], (1, 0, 0, 4, 0)),
    "short-line": ([BITS[:25] + b"\r\n" + GOOD], [A], (1, 0, 1, 27, 0)),
    "long-line": ([b"0" + GOOD + OTHER_LINE], [B], (1, 0, 1, 29, 0)),
    "foreign-char": ([BITS[:10] + b"2" + BITS[11:] + b"\r\n"], [], (0, 0, 1, 28, 0)),
    "bare-cr-is-not-a-terminator": ([BITS + b"\r" + GOOD], [], (0, 0, 1, 55, 0)),
    "truncated-waits": ([GOOD[:20]], [], (0, 0, 0, 0, 20)),
    "endless-garbage-bounded": ([b"0" * 1000], [], (0, 0, 1, 999, 1)),
    "garbage-then-good": ([b"x" * 1000 + b"\r\n" + GOOD], [A], (1, 0, 1, 1002, 0)),
}


@pytest.mark.parametrize(("chunks", "reads", "counts"), list(GOLDEN.values()), ids=list(GOLDEN))
def test_golden_streams(
    chunks: list[bytes], reads: list[tuple[int, int]], counts: tuple[int, int, int, int, int]
) -> None:
    got, decoder = decode_all(*chunks)
    s = decoder.stats
    assert got == reads
    assert (s.frames, s.bad_checksum, s.bad_frames, s.noise_bytes, decoder.pending) == counts
    assert accounted(decoder) == sum(map(len, chunks))


@pytest.mark.parametrize("cut", range(1, len(GOOD)))
def test_a_line_split_at_every_position(cut: int) -> None:
    decoder = WiegandDecoder()
    assert decoder.feed(GOOD[:cut]) == []
    assert decoder.pending == cut
    assert decoder.feed(GOOD[cut:]) == [CARD]
    assert decoder.pending == 0


def test_hex26_value_beyond_26_bits_is_malformed() -> None:
    reads, decoder = decode_all(b"FFFFFFF\r\n", line_format=RAW_HEX)
    assert reads == []
    assert decoder.stats.bad_frames == 1


def test_reset_drops_the_partial_line_as_noise() -> None:
    decoder = WiegandDecoder()
    decoder.feed(GOOD[:9])
    decoder.reset()
    assert (decoder.pending, decoder.stats.noise_bytes) == (0, 9)
    assert decoder.feed(GOOD[9:]) == []  # the rest is a short line now
    assert decoder.feed(GOOD) == [CARD]


# --- properties -------------------------------------------------------------------------------

cards = st.builds(WiegandCard, st.integers(0, 255), st.integers(0, 65535))
# Noise lines never hold a terminator byte; they may be empty (then they are only noise bytes).
noise_lines = st.binary(max_size=40).map(lambda b: b.translate(None, b"\r\n\t"))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut `data` at the given positions (any order, duplicates allowed)."""
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in pairwise(points)]


def could_be_a_frame(line: bytes, line_format: WiegandLineFormat) -> bool:
    """True if `line` has the length and alphabet of a frame (so it is not surely a bad one)."""
    digits = b"01" if line_format.encoding is WiegandEncoding.BITS else b"0123456789ABCDEFabcdef"
    return len(line) == line_format.encoding.length and all(b in digits for b in line)


@pytest.mark.parametrize("line_format", FORMATS.values(), ids=FORMATS.keys())
@given(chunks=st.lists(st.binary(max_size=64), max_size=30))
def test_random_bytes_never_raise_and_every_byte_is_accounted(
    line_format: WiegandLineFormat, chunks: list[bytes]
) -> None:
    decoder = WiegandDecoder(line_format)
    for chunk in chunks:
        decoder.feed(chunk)
        assert decoder.pending < line_format.encoding.length + len(line_format.terminator.wire)
    assert accounted(decoder) == sum(map(len, chunks))


Item = tuple[str, WiegandCard | bytes]
items = st.one_of(
    st.tuples(st.just("good"), cards),
    st.tuples(st.just("parity"), cards),
    st.tuples(st.just("noise"), noise_lines),
)


@pytest.mark.parametrize("line_format", FORMATS.values(), ids=FORMATS.keys())
@given(stream=st.lists(items, max_size=20), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_frames_parity_errors_and_noise_are_each_counted(
    line_format: WiegandLineFormat, stream: list[Item], cuts: list[int]
) -> None:
    term = line_format.terminator.wire
    data, good, parity, noise = b"", [], 0, []
    for kind, value in stream:
        if kind == "noise":
            assert isinstance(value, bytes)
            if could_be_a_frame(value, line_format):
                continue
            data += value + term
            noise.append(value)
        elif isinstance(value, WiegandCard):
            if kind == "parity" and line_format.encoding.has_parity:
                data += encode_raw_line(frame_value(value) ^ (1 << 25), line_format)
                parity += 1
            else:
                data += encode_line(value, line_format)
                good.append(value)
    decoder = WiegandDecoder(line_format)
    reads = [read for chunk in split(data, cuts) for read in decoder.feed(chunk)]
    s = decoder.stats
    assert reads == good
    assert (s.frames, s.bad_checksum, s.bad_frames) == (len(good), parity, sum(1 for n in noise if n))
    assert s.noise_bytes == sum(len(n) + len(term) for n in noise)
    assert decoder.pending == 0


@pytest.mark.parametrize("line_format", FORMATS.values(), ids=FORMATS.keys())
@given(parts=st.lists(st.tuples(st.binary(max_size=80), cards), max_size=10))
def test_any_noise_ended_by_a_terminator_never_hides_the_next_frame(
    line_format: WiegandLineFormat, parts: list[tuple[bytes, WiegandCard]]
) -> None:
    term = line_format.terminator.wire
    data = b"".join(noise + term + encode_line(card, line_format) for noise, card in parts)
    decoder = WiegandDecoder(line_format)
    expected = iter(decoder.feed(data))
    # Noise may itself hold a valid line; every card put in must still come out, in order.
    assert all(card in expected for _, card in parts)
