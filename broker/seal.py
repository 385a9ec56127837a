"""Details sealed under a secret the reader must already hold, e.g. an invitation's code (pure).

The central service lists upcoming invitations for every kiosk's offline cache with the visitor's
name masked; the full name and company travel sealed under the invitation's code, so only a kiosk
shown that code (by the visitor's QR) can read them. AES-256-GCM from `cryptography`, its key
derived from the secret with HKDF-SHA256; the code carries 96 random bits, so a fast key derivation
is enough.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "s2"
NONCE_BYTES = 12
_INFO = b"gatehouse-seal/2"


def _key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret.strip().encode("utf-8")
    )


def seal(secret: str, doc: dict[str, Any]) -> str:
    """`doc` as JSON, encrypted and authenticated under `secret`: `s2.<base64url>`."""
    plain = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    nonce = secrets.token_bytes(NONCE_BYTES)
    box = nonce + AESGCM(_key(secret)).encrypt(nonce, plain, VERSION.encode())
    return f"{VERSION}.{base64.urlsafe_b64encode(box).decode('ascii')}"


def unseal(secret: str, sealed: str) -> dict[str, Any]:
    """The document sealed under `secret`; ValueError when the secret is wrong or the text was changed."""
    version, _, text = sealed.partition(".")
    if version != VERSION:
        raise ValueError(f"not a sealed document of version {VERSION}")
    try:
        box = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError("the sealed document is not base64") from None
    if len(box) <= NONCE_BYTES:
        raise ValueError("the sealed document is too short")
    try:
        plain = AESGCM(_key(secret)).decrypt(box[:NONCE_BYTES], box[NONCE_BYTES:], VERSION.encode())
    except InvalidTag:
        raise ValueError("the sealed document does not open with this secret") from None
    doc = json.loads(plain.decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("the sealed document is not a JSON object")
    return doc
