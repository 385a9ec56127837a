"""Details sealed under a secret the reader must already hold, e.g. an invitation's code (pure).

The central service lists upcoming invitations for every kiosk's offline cache with the visitor's
name masked; the full name and company travel sealed under the invitation's code, so only a kiosk
shown that code (by the visitor's QR) can read them. Standard library only: HMAC-SHA256 as the
pseudo-random function of a counter-mode stream, then an HMAC tag over nonce and ciphertext
(encrypt-then-MAC), keys derived from the secret with HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

VERSION = "s1"
NONCE_BYTES = 16
TAG_BYTES = 16


def _key(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.strip().encode("utf-8"), b"gatehouse-seal/1 " + purpose, hashlib.sha256).digest()


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest()
              for i in range((length + 31) // 32))
    return b"".join(blocks)[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def seal(secret: str, doc: dict[str, Any]) -> str:
    """`doc` as JSON, encrypted and authenticated under `secret`: `s1.<base64url>`."""
    plain = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    nonce = secrets.token_bytes(NONCE_BYTES)
    box = nonce + _xor(plain, _stream(_key(secret, b"encrypt"), nonce, len(plain)))
    tag = hmac.new(_key(secret, b"authenticate"), box, hashlib.sha256).digest()[:TAG_BYTES]
    return f"{VERSION}.{base64.urlsafe_b64encode(box + tag).decode('ascii')}"


def unseal(secret: str, sealed: str) -> dict[str, Any]:
    """The document sealed under `secret`; ValueError when the secret is wrong or the text was changed."""
    version, _, text = sealed.partition(".")
    if version != VERSION:
        raise ValueError(f"not a sealed document of version {VERSION}")
    try:
        raw = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (UnicodeEncodeError, ValueError):
        raise ValueError("the sealed document is not base64") from None
    box, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if len(box) < NONCE_BYTES:
        raise ValueError("the sealed document is too short")
    expected = hmac.new(_key(secret, b"authenticate"), box, hashlib.sha256).digest()[:TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        raise ValueError("the sealed document does not open with this secret")
    nonce, cipher = box[:NONCE_BYTES], box[NONCE_BYTES:]
    doc = json.loads(_xor(cipher, _stream(_key(secret, b"encrypt"), nonce, len(cipher))).decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("the sealed document is not a JSON object")
    return doc
