"""Relay boards: golden command bytes per model, and the board-side decoder over any stream."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.relay import (
    PRESETS,
    DiscardDecoder,
    RelayCommandDecoder,
    RelayModel,
    RelaySwitch,
    ascii_relay,
    encode_ascii,
    encode_kmtronic,
    encode_lc_technology,
    kmtronic,
    lc_technology,
    model_by_name,
)

# model: (on, off) as the boards' documentation prints them
GOLDEN = {
    "lc-technology-1": (lc_technology(1), "A0 01 01 A2", "A0 01 00 A1"),
    "lc-technology-2": (lc_technology(2), "A0 02 01 A3", "A0 02 00 A2"),
    "lc-technology-4": (lc_technology(4), "A0 04 01 A5", "A0 04 00 A4"),
    "kmtronic-1": (kmtronic(1), "FF 01 01", "FF 01 00"),
    "kmtronic-8": (kmtronic(8), "FF 08 01", "FF 08 00"),
    "ascii": (ascii_relay(), b"ON\n".hex(" "), b"OFF\n".hex(" ")),
    "numato-style": (ascii_relay("relay on 0", "relay off 0", b"\r"), b"relay on 0\r".hex(" "),
                     b"relay off 0\r".hex(" ")),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_command_bytes(name: str) -> None:
    model, on, off = GOLDEN[name]
    assert model.command(energize=True) == bytes.fromhex(on)
    assert model.command(energize=False) == bytes.fromhex(off)
    assert model.baudrate == 9600


def test_encoders() -> None:
    assert encode_lc_technology(1, energize=True) == b"\xa0\x01\x01\xa2"
    assert encode_kmtronic(3, energize=False) == b"\xff\x03\x00"
    assert encode_ascii("UNLOCK", b"\r\n") == b"UNLOCK\r\n"


@pytest.mark.parametrize("channel", [0, 9, -1, True, 1.0])
def test_channel_is_checked(channel: int) -> None:
    with pytest.raises(ValueError, match="channel"):
        lc_technology(channel)
    with pytest.raises(ValueError, match="channel"):
        encode_kmtronic(channel, energize=True)


@pytest.mark.parametrize("word", ["", "ÖN", "ON\n", "O\tN"])
def test_ascii_words_are_checked(word: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        encode_ascii(word)


@pytest.mark.parametrize(
    ("on", "off", "match"),
    [(b"", b"x", "empty"), (b"ON", b"ON", "prefix"), (b"ON", b"ONX", "prefix"), (b"A", b"", "empty")],
)
def test_model_refuses_ambiguous_commands(on: bytes, off: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RelayModel(on=on, off=off)


def test_presets_by_name() -> None:
    assert model_by_name("lc-technology", 2) == lc_technology(2)
    assert model_by_name("kmtronic") == kmtronic(1)
    assert model_by_name("ascii", 5) == ascii_relay()
    assert set(PRESETS) == {"lc-technology", "kmtronic", "ascii"}
    with pytest.raises(ValueError, match="known: ascii, kmtronic, lc-technology"):
        model_by_name("sainsmart")


ON, OFF = RelaySwitch.ON, RelaySwitch.OFF
LC = lc_technology(1)


@pytest.mark.parametrize(
    ("chunks", "switches", "noise", "pending"),
    [
        ([LC.on], [ON], 0, 0),
        ([LC.on + LC.off + LC.on], [ON, OFF, ON], 0, 0),
        ([LC.on[:2], LC.on[2:]], [ON], 0, 0),
        ([b"\x00\x01" + LC.off], [OFF], 2, 0),
        ([b"\xa0\x01"], [], 0, 2),  # could still become a command
        ([b"\xa0\x01\x02"], [], 3, 0),  # cannot
        ([b"\xa0\xa0\x01\x01\xa2"], [ON], 1, 0),
        ([lc_technology(2).on + LC.on], [ON], 4, 0),  # another channel's command is not ours
    ],
)
def test_board_side_decoder(
    chunks: list[bytes], switches: list[RelaySwitch], noise: int, pending: int
) -> None:
    decoder = RelayCommandDecoder(LC)
    got = [s for chunk in chunks for s in decoder.feed(chunk)]
    assert got == switches
    stats = decoder.stats
    assert (stats.frames, stats.noise_bytes, decoder.pending) == (len(switches), noise, pending)


MODELS = st.sampled_from([LC, kmtronic(2), ascii_relay(), ascii_relay("relay on 0", "relay off 0", b"\r")])


@given(model=MODELS, data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=10))
def test_board_side_decoder_never_raises_and_accounts_for_every_byte(
    model: RelayModel, data: bytes, cuts: list[int]
) -> None:
    whole = RelayCommandDecoder(model)
    expected = whole.feed(data)
    split = RelayCommandDecoder(model)
    got: list[RelaySwitch] = []
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    for start, end in pairwise(bounds):
        got += split.feed(data[start:end])
    assert got == expected
    longest = max(len(model.on), len(model.off))
    for dec in (whole, split):
        assert dec.stats.frame_bytes == sum(len(model.command(energize=s.value)) for s in expected)
        assert dec.stats.frame_bytes + dec.stats.noise_bytes + dec.pending == len(data)
        assert dec.pending < longest


@given(switches=st.lists(st.booleans(), max_size=20), model=MODELS)
def test_commands_round_trip(switches: list[bool], model: RelayModel) -> None:
    stream = b"".join(model.command(energize=on) for on in switches)
    assert [s.value for s in RelayCommandDecoder(model).feed(stream)] == switches


@given(st.binary(max_size=100))
def test_discard_decoder_counts_everything_as_noise(data: bytes) -> None:
    decoder = DiscardDecoder()
    assert decoder.feed(data) == []
    decoder.reset()
    assert (decoder.stats.noise_bytes, decoder.pending) == (len(data), 0)
