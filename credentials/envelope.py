"""AEAD sealing (AES-256-GCM) with associated data that pins a ciphertext to where it belongs.

A secret is sealed with its owner's data key and ``(owner, name, provider, version, key version)``
as associated data; a data key is wrapped by a master key with ``(owner, version, master key id)``.
Moving a ciphertext to another user, name or version, or flipping any byte of it, makes ``open``
fail with ``SealError`` -- AES-GCM authenticates the associated data, so no extra MAC is needed.
"""

from __future__ import annotations

import json
import os

# ``cryptography`` is imported where a key is made or a blob sealed/opened, not here: loading the
# vault at start-up only reads the key file, and the import costs ~10 ms of every start.

KEY_BYTES = 32
NONCE_BYTES = 12
_FORMAT = b"\x01"  # leading byte of every sealed blob: the format version


class SealError(Exception):
    """A sealed blob does not open: wrong key, tampered bytes, or moved to another place."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM.generate_key(bit_length=256)


def associated_data(purpose: str, *parts: str | int) -> bytes:
    """An unambiguous encoding of the context a blob is bound to (JSON list, so no delimiters)."""
    return json.dumps([purpose, *parts], separators=(",", ":"), ensure_ascii=True).encode()


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``format || nonce || ciphertext+tag``; a random 96-bit nonce per seal."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return _FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """The plaintext of ``blob``, or ``SealError`` (never a cryptography exception chain)."""
    if len(key) != KEY_BYTES:
        raise SealError("wrong key length")
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != _FORMAT:
        raise SealError("not a sealed blob of a known format")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise SealError("authentication failed") from None
