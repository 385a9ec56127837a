"""RDM6300 framing: golden frames, every split, noise, and properties over random streams."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.readers.rdm6300 import (
    ETX,
    FRAME_LEN,
    STX,
    Rdm6300Decoder,
    TagRead,
    checksum,
    encode_frame,
)

# The datasheet's example: data 62E3086CED, checksum 62^E3^08^6C^ED = 08.
GOLDEN = b"\x0262E3086CED08\x03"
GOLDEN_TAG = bytes.fromhex("62E3086CED")
OTHER = b"\x020A1B2C3D4E" + f"{0x0A ^ 0x1B ^ 0x2C ^ 0x3D ^ 0x4E:02X}".encode() + b"\x03"


def decode_all(*chunks: bytes) -> tuple[list[str], Rdm6300Decoder]:
    """Feed chunks in order; return the hex of every read and the decoder."""
    decoder = Rdm6300Decoder()
    reads = [read.hex for chunk in chunks for read in decoder.feed(chunk)]
    return reads, decoder


def accounted(decoder: Rdm6300Decoder) -> int:
    """Bytes the counters account for: whole frames, noise, and the partial frame buffered."""
    s = decoder.stats
    return FRAME_LEN * (s.frames + s.bad_checksum) + s.noise_bytes + decoder.pending


def test_encode_frame_matches_the_datasheet_example() -> None:
    assert encode_frame(GOLDEN_TAG) == GOLDEN
    assert encode_frame("62e3086ced") == GOLDEN
    assert checksum(GOLDEN_TAG) == 0x08


@pytest.mark.parametrize("tag", [b"", b"\x01\x02\x03\x04", b"\x00" * 6, "62E3086C", "zz" * 5])
def test_encode_frame_refuses_anything_but_five_bytes(tag: bytes | str) -> None:
    with pytest.raises(ValueError):
        encode_frame(tag)


def test_tag_read_parts() -> None:
    read = TagRead(GOLDEN_TAG)
    assert (read.hex, read.version, read.card_id) == ("62E3086CED", 0x62, 0xE3086CED)
    with pytest.raises(ValueError, match="5 bytes"):
        TagRead(b"\x01")


A, B = "62E3086CED", "0A1B2C3D4E"
# name: (chunks fed, reads, (frames, bad_checksum, bad_frames, noise_bytes, pending))
GOLDEN_STREAMS: dict[str, tuple[list[bytes], list[str], tuple[int, int, int, int, int]]] = {
    "good": ([GOLDEN], [A], (1, 0, 0, 0, 0)),
    "lower-case-hex": ([GOLDEN.lower()], [A], (1, 0, 0, 0, 0)),
    "bad-checksum": ([b"\x0262E3086CED09\x03"], [], (0, 1, 0, 0, 0)),
    "concatenated": ([GOLDEN + OTHER + GOLDEN], [A, B, A], (3, 0, 0, 0, 0)),
    "noise-before": ([b"\xff\x00garbage\r\n" + GOLDEN], [A], (1, 0, 0, 11, 0)),
    "noise-between": ([GOLDEN + b"\x03\x03zz" + OTHER], [A, B], (2, 0, 0, 4, 0)),
    "truncated-waits": ([GOLDEN[:9]], [], (0, 0, 0, 0, 9)),
    "truncated-then-good": ([GOLDEN[:9], GOLDEN], [A], (1, 0, 1, 9, 0)),
    "wrong-end-byte": ([GOLDEN[:13] + b"\x04" + GOLDEN], [A], (1, 0, 1, 14, 0)),
    "non-hex-inside": ([b"\x0262E3G86CED08\x03"], [], (0, 0, 1, 14, 0)),
    "repeated-stx": ([b"\x02" * 3 + GOLDEN], [A], (1, 0, 3, 3, 0)),
    "stx-in-place-of-etx": ([b"\x0262E3086CED08\x02"], [], (0, 0, 1, 13, 1)),
}


@pytest.mark.parametrize(
    ("chunks", "reads", "counts"), list(GOLDEN_STREAMS.values()), ids=list(GOLDEN_STREAMS)
)
def test_golden_streams(
    chunks: list[bytes], reads: list[str], counts: tuple[int, int, int, int, int]
) -> None:
    got, decoder = decode_all(*chunks)
    s = decoder.stats
    assert got == reads
    assert (s.frames, s.bad_checksum, s.bad_frames, s.noise_bytes, decoder.pending) == counts
    assert accounted(decoder) == sum(map(len, chunks))


@pytest.mark.parametrize("cut", range(1, FRAME_LEN))
def test_a_frame_split_at_every_position(cut: int) -> None:
    decoder = Rdm6300Decoder()
    assert decoder.feed(GOLDEN[:cut]) == []
    assert decoder.pending == cut
    assert [r.hex for r in decoder.feed(GOLDEN[cut:])] == ["62E3086CED"]
    assert decoder.pending == 0


def test_byte_by_byte_with_noise() -> None:
    stream = b"noise" + GOLDEN + b"\x00" + OTHER + GOLDEN[:5]
    reads, decoder = decode_all(*(bytes([b]) for b in stream))
    assert reads == ["62E3086CED", "0A1B2C3D4E"]
    assert decoder.pending == 5
    assert decoder.stats.noise_bytes == 6


def test_oversized_garbage_keeps_the_buffer_bounded() -> None:
    decoder = Rdm6300Decoder()
    for garbage in (bytes(range(256)) * 4096, b"\x02" + b"A" * 100_000, b"\x02" * 50_000):
        assert decoder.feed(garbage) == []
        assert decoder.pending < FRAME_LEN
    assert [r.hex for r in decoder.feed(GOLDEN)] == ["62E3086CED"]
    assert accounted(decoder) == 256 * 4096 + 100_001 + 50_000 + FRAME_LEN


def test_reset_drops_the_partial_frame_as_noise() -> None:
    decoder = Rdm6300Decoder()
    decoder.feed(GOLDEN[:7])
    decoder.reset()
    assert decoder.pending == 0
    assert decoder.stats.noise_bytes == 7
    assert decoder.feed(GOLDEN[7:]) == []


# --- properties -------------------------------------------------------------------------------

tags = st.binary(min_size=5, max_size=5)
# Noise without ETX can never complete a well-formed frame, so it must add no reads at all.
quiet_noise = st.binary(max_size=40).map(lambda b: b.replace(bytes([ETX]), b""))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut `data` at the given positions (any order, duplicates allowed)."""
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in pairwise(points)]


@given(chunks=st.lists(st.binary(max_size=64), max_size=30))
def test_random_bytes_never_raise_and_every_byte_is_accounted(chunks: list[bytes]) -> None:
    decoder = Rdm6300Decoder()
    for chunk in chunks:
        for read in decoder.feed(chunk):
            assert encode_frame(read.tag) in b"".join(chunks)
        assert decoder.pending < FRAME_LEN
    assert accounted(decoder) == sum(map(len, chunks))


@given(
    parts=st.lists(st.tuples(quiet_noise, tags), max_size=10),
    tail=quiet_noise,
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_frames_among_quiet_noise_all_decode_in_order(
    parts: list[tuple[bytes, bytes]], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(noise + encode_frame(tag) for noise, tag in parts) + tail
    reads, decoder = decode_all(*split(stream, cuts))
    assert reads == [tag.hex().upper() for _, tag in parts]
    assert decoder.stats.bad_checksum == 0
    assert decoder.stats.noise_bytes + decoder.pending == sum(len(n) for n, _ in parts) + len(tail)


@given(
    parts=st.lists(st.tuples(st.binary(max_size=40), tags), max_size=10),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_any_noise_never_hides_a_valid_frame(parts: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    stream = b"".join(noise + encode_frame(tag) for noise, tag in parts)
    reads, _ = decode_all(*split(stream, cuts))
    expected = iter(reads)
    # Noise may itself contain a valid frame; every frame we put in must still come out, in order.
    assert all(tag.hex().upper() in expected for _, tag in parts)


def test_stx_and_etx_are_the_protocol_bytes() -> None:
    assert (STX, ETX, GOLDEN[0], GOLDEN[-1]) == (0x02, 0x03, 0x02, 0x03)
