"""Credential values, formats and matching across reader technologies (pure).

Normalisation: a credential is enrolled with its *full* value as upper-case hex and the
format it was issued as. An EM4100 tag is enrolled as its 10 hex digits (what an RDM6300 reads).
A Wiegand-26 reader sees only the tag's last 24 bits, published as 6 hex digits (facility byte,
then card number). So:

- a read first matches an enrolled credential with exactly the same value (any format);
- a `wiegand26` read (6 hex) otherwise matches an enrolled EM4100 credential whose last 6 hex
  digits equal it, provided the read's `facility` (when given) equals its first byte;
- an `rdm6300` read (10 hex) otherwise matches an enrolled Wiegand-26 credential equal to its
  last 6 hex digits (a card enrolled from a Wiegand reader, later shown at an RDM6300);
- OSDP and QR values match only exactly (their card data is not a truncation of anything).

Two enrolled EM4100 tags that share their last 24 bits cannot be told apart by a Wiegand reader:
such a read matches nothing (`unknown_credential`), never the wrong person;
`suffix_collisions` lists them so enrolment can warn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

_HEX = re.compile(r"^[0-9A-F]+$")
WIEGAND_HEX = 6
EM4100_HEX = 10


class CredentialFormat(StrEnum):
    """How a credential was issued, which fixes its length and how other readers see it."""

    EM4100 = "em4100"
    WIEGAND26 = "wiegand26"
    OSDP = "osdp"
    QR = "qr"


_LENGTHS: dict[CredentialFormat, tuple[int, int]] = {
    CredentialFormat.EM4100: (EM4100_HEX, EM4100_HEX),
    CredentialFormat.WIEGAND26: (WIEGAND_HEX, WIEGAND_HEX),
    CredentialFormat.OSDP: (2, 64),
    CredentialFormat.QR: (1, 64),
}


def normalise_hex(value: str, fmt: CredentialFormat) -> str:
    """The canonical form of a credential value: stripped, upper-case hex of the format's length."""
    text = value.strip().replace(" ", "").replace(":", "").upper()
    if text.startswith("0X"):
        text = text[2:]
    if not _HEX.fullmatch(text):
        raise ValueError(f"{value!r} is not hexadecimal")
    low, high = _LENGTHS[fmt]
    if not low <= len(text) <= high:
        size = str(low) if low == high else f"{low}-{high}"
        raise ValueError(f"a {fmt} credential is {size} hex digits, got {len(text)}")
    return text


def wiegand_suffix(value: str, fmt: CredentialFormat) -> str | None:
    """The 6 hex digits a Wiegand-26 reader would report for this credential, if it can read it."""
    if fmt in (CredentialFormat.EM4100, CredentialFormat.WIEGAND26) and len(value) >= WIEGAND_HEX:
        return value[-WIEGAND_HEX:]
    return None


def facility_matches(read_value: str, facility: int | None) -> bool:
    """Whether a Wiegand read's facility code (if given) agrees with its first byte."""
    return facility is None or int(read_value[:2], 16) == facility


def suffix_collisions(values: Iterable[tuple[str, CredentialFormat]]) -> dict[str, tuple[str, ...]]:
    """Wiegand suffixes shared by more than one enrolled value, mapped to those values (sorted)."""
    seen: dict[str, set[str]] = {}
    for value, fmt in values:
        suffix = wiegand_suffix(value, fmt)
        if suffix is not None:
            seen.setdefault(suffix, set()).add(value)
    return {key: tuple(sorted(found)) for key, found in sorted(seen.items()) if len(found) > 1}
