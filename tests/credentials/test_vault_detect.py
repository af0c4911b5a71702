"""What counts as a secret in chat text, and what does not (false positives refuse messages)."""

from __future__ import annotations

import secrets

import pytest

from credentials import detect

GH = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
SECRETS = [
    ("my token is " + GH, "GitHub"),
    ("xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx", "Slack"),
    ("xapp-1-A0123456789-1234567890123-abcdef0123456789", "Slack app"),
    ("key AKIAIOSFODNN7EXAMPLE for aws", "AWS"),
    ("gAAAAABl" + "x7Yz_Qw-9" * 12, "OpenStack token"),
    (secrets.token_urlsafe(64), "application credential"),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THs",
        "JSON web token",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----",
        "private key",
    ),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA", "private key"),
    ("here's the api key: " + secrets.token_hex(20), "password or key"),
    ("password: Tr0ub4dor&3", "password or key"),
    ("secret = " + secrets.token_urlsafe(24), "password or key"),
]
HARMLESS = [
    "store my openstack token",
    "replace my aws key",
    "delete my github secret",
    "what is my password reset link",
    "my password is expired",
    "I need 5TB more on /scratch/group/neuro",
    "drain c[001-004] for maintenance",
    "token expired at 2026-11-22T10:00",
    "the key is 3f2a9c1e-1111-2222-3333-444455556666",
    "ssh key for jane.doe@example.org please",
    "please install gromacs 2023.3 on grace",
    "REQ-1234 extend my VM by 2 weeks",
]


@pytest.mark.parametrize(("text", "kind"), SECRETS)
def test_secrets_are_found_and_redacted(text: str, kind: str) -> None:
    found = detect.looks_secret(text)
    assert found is not None and kind.lower() in found.kind.lower()
    redacted = detect.redact(text)
    assert detect.REDACTED in redacted
    secret_part = text[found.start : found.end]
    assert secret_part not in redacted


@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_requests_are_left_alone(text: str) -> None:
    assert detect.looks_secret(text) is None
    assert detect.redact(text) == text


def test_remembered_values_are_masked_wherever_they_appear() -> None:
    value = "plainwordpassword"  # not random-looking: only remembering catches it
    assert detect.redact(f"login failed for {value}!") == f"login failed for {value}!"
    detect.remember(value)
    assert detect.redact(f"login failed for {value}!") == "login failed for [redacted]!"
    detect.remember("abc")  # too short to mask safely: ignored
    assert detect.redact("abc") == "abc"


def test_entropy_separates_random_from_words() -> None:
    assert detect.entropy(secrets.token_urlsafe(32)) > 4.0
    assert detect.entropy("aaaaaaaa") == 0.0


def test_only_the_value_right_after_the_keyword_counts() -> None:
    listing = "Reloaded 4 skill modules: admin, credentials, requests.\nqmt_56e2c5e4.greeter failed"
    assert detect.redact(listing) == listing
    assert detect.redact("api key=3f2ab4c5d6e7f8091a2b3c4d5e6f7081, ok") == "api key=[redacted], ok"


def test_ssh_public_keys_are_not_secrets_but_what_follows_them_still_is() -> None:
    """People paste public keys on purpose (``my ssh key is …``, docs/resources.md): refusing
    them would make VM logins impossible; a token next to one is still caught."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    for private in (
        ed25519.Ed25519PrivateKey.generate(),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP384R1()),
    ):
        key = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        for text in (f"my ssh key is {key} alice@lab", f"set my ssh key to {key}", key):
            assert detect.find_secrets(text) == [], text
        leaked = f"my ssh key is {key}, and my token is {GH}"
        assert [f.kind for f in detect.find_secrets(leaked)] == ["a GitHub token"]
    # the key type alone, without the key's data, is no exemption
    assert detect.find_secrets("my key is ssh-ed25519 Zm9vYmFyYmF6cXV4cXV1eDEyMw==")
    # but a help text that names the type before an elided key is no secret either
    assert detect.find_secrets("my ssh key is ssh-ed25519 AAAA…") == []
