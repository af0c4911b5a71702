"""SSH public keys as people paste them: checked strictly, because they end up in a VM's
cloud-init user-data and in chat replies. Only the ``type base64 [comment]`` form is accepted
(no ``authorized_keys`` options such as ``command=``), the blob must decode and name the same
type, and the comment is plain printable text."""

from __future__ import annotations

import base64
import binascii
import string

KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
MAX_KEY_CHARS = 4096  # an RSA 8192-bit key is about 1,400
MAX_COMMENT_CHARS = 100
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/=")
_COMMENT = frozenset(string.ascii_letters + string.digits + " .,:;_+=@/()[]{}<>!?#%&*'~^|-")


class BadKey(ValueError):
    """The text is not a public key we accept; the message says why, for the user."""


def parse_public_key(text: str) -> str:
    """The key as one normalised line ``type base64 [comment]``; ``BadKey`` otherwise."""
    text = text.strip().strip("`").strip()
    if "PRIVATE KEY" in text[:200].upper():
        raise BadKey(
            "That is a private key: never paste it anywhere. Give me the public one "
            "(the .pub file, e.g. ~/.ssh/id_ed25519.pub)."
        )
    if len(text) > MAX_KEY_CHARS:
        raise BadKey(f"That is too long for an SSH public key (over {MAX_KEY_CHARS} characters).")
    parts = text.split(maxsplit=2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise BadKey(
            "That does not look like an SSH public key: it should start with one of "
            + ", ".join(sorted(KEY_TYPES - {"sk-ecdsa-sha2-nistp256@openssh.com"}))
            + " (the one line in your ~/.ssh/id_ed25519.pub)."
        )
    kind, body = parts[0], parts[1]
    not_base64 = "The key's middle part is not valid base64; copy the whole line again."
    if not set(body) <= _BASE64 or body.rstrip("=").count("=") or len(body) % 4:
        raise BadKey(not_base64)
    try:
        blob = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise BadKey(not_base64) from None
    size = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if size != len(kind) or blob[4 : 4 + size] != kind.encode():
        raise BadKey(f"The key's data is not a {kind} key; copy the whole line again.")
    comment = " ".join(parts[2].split()) if len(parts) == 3 else ""
    if len(comment) > MAX_COMMENT_CHARS or not set(comment) <= _COMMENT:
        raise BadKey(
            f"The key's comment (after the key) may have up to {MAX_COMMENT_CHARS} plain "
            "characters; leave it out or shorten it."
        )
    return f"{kind} {body} {comment}".rstrip()


def fingerprint(key: str) -> str:
    """OpenSSH's ``SHA256:…`` fingerprint, to show a key without repeating all of it."""
    import hashlib

    blob = base64.b64decode(key.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"
