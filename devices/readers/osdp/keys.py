"""Secure channel base keys (SCBK): parse a configured site key and refuse the install key."""

from __future__ import annotations

from devices.readers.osdp._lib import SCBK_DEFAULT


class OsdpKeyError(ValueError):
    """A secure channel key that is missing, malformed or the well-known install key (SCBK-D)."""


def parse_scbk(key: bytes | str, *, address: int) -> bytes:
    """A 16-byte SCBK from bytes or 32 hex digits; OsdpKeyError naming the reader otherwise."""
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key.strip())
        except ValueError:
            raise OsdpKeyError(f"SCBK of OSDP reader {address} is not hex digits") from None
    if len(key) != 16:
        raise OsdpKeyError(f"SCBK of OSDP reader {address} must be 16 bytes (32 hex digits), got {len(key)}")
    return key


def check_site_key(key: bytes | str | None, *, address: int, allow_install_key: bool) -> bytes | None:
    """The site key to use for the reader at `address`, refusing no key or SCBK-D unless commissioning.

    With `allow_install_key` (commissioning only) a missing key or SCBK-D is accepted: libosdp
    then opens the secure channel with SCBK-D and, if a site key is given, installs it on the
    reader. Outside commissioning anyone who knows SCBK-D (it is in the standard) could read and
    forge the line, so the agent refuses to start.
    """
    parsed = None if key is None else parse_scbk(key, address=address)
    if allow_install_key:
        return None if parsed == SCBK_DEFAULT else parsed
    if parsed is None:
        raise OsdpKeyError(
            f"refusing to start: OSDP reader {address} has no secure channel key (SCBK); "
            "configure the site key, or allow the install key for commissioning only"
        )
    if parsed == SCBK_DEFAULT:
        raise OsdpKeyError(
            f"refusing to start: the SCBK of OSDP reader {address} is the default install key "
            "(SCBK-D), which every OSDP device knows; configure a site key"
        )
    return parsed
