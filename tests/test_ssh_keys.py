"""SSH public keys as people paste them, and the cloud-init user-data made from them: only
``type base64 [comment]`` passes, and what passes can never become configuration."""

from __future__ import annotations

import base64

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from skills._providers.cloud_init import read_seed, seed_iso, user_data
from skills._providers.ssh_keys import BadKey, fingerprint, parse_public_key


def line(private: object) -> str:
    return private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()  # type: ignore[attr-defined]


KEYS = {
    "ed25519": line(ed25519.Ed25519PrivateKey.generate()),
    "rsa": line(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "ecdsa": line(ec.generate_private_key(ec.SECP256R1())),
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_real_keys_pass_normalised_with_their_comment(kind: str) -> None:
    key = KEYS[kind]
    assert parse_public_key(f"  `{key}   alice@lab  laptop`\n") == f"{key} alice@lab laptop"
    assert parse_public_key(key) == key


def test_the_fingerprint_is_openssh_s() -> None:
    blob = base64.b64decode(KEYS["ed25519"].split()[1])
    import hashlib

    expected = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert fingerprint(KEYS["ed25519"]) == f"SHA256:{expected}"


def test_what_is_not_a_plain_public_key_is_refused_with_a_reason() -> None:
    ed = KEYS["ed25519"]
    kind, body = ed.split()
    private = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
        .decode()
    )
    cases = {
        private: "private key",
        f'command="rm -rf /" {ed}': "does not look like an SSH public key",
        f"ssh-dss {body}": "does not look like",
        f"{kind} {body[:-4]}!!!!": "not valid base64",
        f"{kind} {body[:-1]}": "not valid base64",
        f"ssh-rsa {body}": "not a ssh-rsa key",  # the blob says ed25519
        f"{ed} $(reboot)": "comment",
        f"{ed} {'x' * 101}": "comment",
        f"{kind} {'A' * 5000}": "too long",
        "": "does not look like",
    }
    for text, reason in cases.items():
        with pytest.raises(BadKey, match=reason):
            parse_public_key(text)


def test_user_data_is_yaml_data_so_a_comment_cannot_add_configuration() -> None:
    hostile = f"{KEYS['ed25519']} x runcmd: [reboot] #"
    text = user_data("debian", [hostile, KEYS["rsa"]])
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    assert set(config) == {"users", "ssh_pwauth", "disable_root"}
    (user,) = config["users"]
    assert user["name"] == "debian"
    assert user["ssh_authorized_keys"] == [hostile, KEYS["rsa"]]
    with pytest.raises(BadKey):
        user_data("debian", ["ssh-ed25519 AAAA\nruncmd: [reboot]"])
    assert "ssh_authorized_keys" not in yaml.safe_load(user_data("ubuntu", []))["users"][0]


def test_the_seed_iso_reads_back_with_its_label_and_files() -> None:
    iso = seed_iso(
        instance_id="3f1c", hostname="vm-7", login_user="rocky", ssh_keys=[KEYS["ecdsa"]]
    )
    label, files = read_seed(iso)
    assert label == "cidata" and set(files) == {"meta-data", "user-data"}
    assert yaml.safe_load(files["meta-data"]) == {"instance-id": "3f1c", "local-hostname": "vm-7"}
    assert yaml.safe_load(files["user-data"])["users"][0]["ssh_authorized_keys"] == [KEYS["ecdsa"]]
