"""The door contact line protocol: golden lines, splits, noise, and random streams."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.door_contact import ContactDecoder, ContactProtocol, ContactReading, encode_contact
from devices.lines import Terminator

OPEN = ContactReading(is_open=True)


def decode(*chunks: bytes, protocol: ContactProtocol | None = None) -> tuple[list[bool], ContactDecoder]:
    """Feed chunks in order; return the states read and the decoder."""
    decoder = ContactDecoder(protocol)
    return [r.is_open for chunk in chunks for r in decoder.feed(chunk)], decoder


def accounted(decoder: ContactDecoder) -> int:
    """Bytes the counters account for."""
    return decoder.stats.frame_bytes + decoder.stats.noise_bytes + decoder.pending


# name: (chunks, states, (frames, bad_frames, noise_bytes, pending))
CASES: dict[str, tuple[list[bytes], list[bool], tuple[int, int, int, int]]] = {
    "open LF": ([b"OPEN\n"], [True], (1, 0, 0, 0)),
    "closed CRLF, as Arduino println sends": ([b"CLOSED\r\n"], [False], (1, 0, 0, 0)),
    "lower case and spaces": ([b"  open \n closed\n"], [True, False], (2, 0, 0, 0)),
    "split anywhere": ([b"OP", b"EN", b"\r", b"\nCLO", b"SED\n"], [True, False], (2, 0, 0, 0)),
    "partial line waits": ([b"CLOS"], [], (0, 0, 0, 4)),
    "unknown line is a bad frame": ([b"AJAR\nOPEN\n"], [True], (1, 1, 5, 0)),
    "binary garbage": ([b"\x00\xff\x02OPEN\n"], [], (0, 1, 8, 0)),
    "empty lines are noise": ([b"\n\nOPEN\n\n"], [True], (1, 0, 3, 0)),
    "a bare CRLF is a bad frame": ([b"\r\nOPEN\n"], [True], (1, 1, 2, 0)),
    "heartbeat repeats": ([b"CLOSED\n" * 3], [False, False, False], (3, 0, 0, 0)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_contact_lines(name: str) -> None:
    chunks, states, (frames, bad, noise, pending) = CASES[name]
    got, decoder = decode(*chunks)
    assert got == states
    s = decoder.stats
    assert (s.frames, s.bad_frames, s.noise_bytes, decoder.pending) == (frames, bad, noise, pending)
    assert accounted(decoder) == sum(map(len, chunks))


def test_an_overlong_line_is_skipped_to_its_end() -> None:
    got, decoder = decode(b"X" * 100, b"YY\nOPEN\n")
    assert got == [True]
    assert (decoder.stats.bad_frames, decoder.stats.noise_bytes, decoder.pending) == (1, 103, 0)


def test_reset_drops_a_partial_line() -> None:
    decoder = ContactDecoder()
    decoder.feed(b"OPE")
    decoder.reset()
    assert decoder.feed(b"N\nOPEN\n") == [OPEN]
    assert decoder.stats.noise_bytes == 3 + 2  # 'OPE', then 'N' + its line end
    assert decoder.stats.bad_frames == 1


def test_a_configured_protocol() -> None:
    proto = ContactProtocol(open_word=b"D1=1", closed_word=b"D1=0", exact_case=True,
                            terminator=Terminator.CRLF)
    assert encode_contact(True, proto) == b"D1=1\r\n"
    assert decode(b"D1=0\r\nd1=1\r\nD1=1\r\n", protocol=proto)[0] == [False, True]


def test_a_cr_terminated_contact() -> None:
    proto = ContactProtocol(terminator=Terminator.CR)
    assert decode(b"OPEN\rCLOSED\r", protocol=proto)[0] == [True, False]


def test_encoder_round_trips_default_protocol() -> None:
    assert encode_contact(True) == b"OPEN\n"
    assert encode_contact(False) == b"CLOSED\n"
    assert decode(encode_contact(True) + encode_contact(False))[0] == [True, False]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"open_word": b""},
        {"open_word": b"OPEN\n"},
        {"open_word": b" OPEN"},
        {"open_word": b"OP EN"},
        {"closed_word": b"open"},
        {"max_line": 3},
        {"open_word": "ÖFFEN".encode()},
    ],
)
def test_protocol_is_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ContactProtocol(**kwargs)  # type: ignore[arg-type]


def test_terminator_must_be_named() -> None:
    with pytest.raises(TypeError, match="Terminator"):
        ContactProtocol(terminator=b";")  # type: ignore[arg-type]


@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=10))
def test_random_bytes_never_raise_and_splits_do_not_matter(data: bytes, cuts: list[int]) -> None:
    expected, whole = decode(data)
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    got, split = decode(*(data[a:b] for a, b in pairwise(bounds)))
    assert got == expected
    for dec in (whole, split):
        assert accounted(dec) == len(data)
        assert dec.pending <= dec.protocol.max_line


LINES = st.sampled_from([b"OPEN", b"CLOSED", b"open", b" Closed ", b"", b"AJAR", b"\x00", b"X" * 70])
ENDS = st.sampled_from([b"\n", b"\r\n"])


@given(st.lists(st.tuples(LINES, ENDS), max_size=30))
def test_every_line_is_a_reading_or_counted_bad(lines: list[tuple[bytes, bytes]]) -> None:
    stream = b"".join(line + end for line, end in lines)
    got, decoder = decode(stream)
    contents = [line + end[:-1] for line, end in lines if line + end[:-1]]
    words = [c.strip().upper() for c in contents]
    assert got == [w == b"OPEN" for w in words if w in (b"OPEN", b"CLOSED")]
    assert decoder.stats.frames + decoder.stats.bad_frames == len(contents)
    assert accounted(decoder) == len(stream)
