"""Reading a person's vaulted OpenStack application credential, in the shapes people paste.

Accepted: ``<id>:<secret>``; the JSON that ``openstack application credential create -f json``
prints (``id``, ``secret``); a clouds.yaml snippet or any YAML/JSON mapping holding
``application_credential_id`` and ``application_credential_secret`` (at the top, under
``auth:``, or under ``clouds: {<name>: {auth: …}}``); the ``OS_APPLICATION_CREDENTIAL_ID`` /
``OS_APPLICATION_CREDENTIAL_SECRET`` lines of an openrc file. Errors name what is wrong and
never quote the value: a parser's own message would echo the text, so none is passed on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.providers import Credential, CredentialRequired

MAX_CHARS = 16_384  # a clouds.yaml snippet is well under this
STORE_HINT = "store it with “store my openstack token” in a direct message to me"
REPLACE_HINT = "say “replace my openstack token” in a direct message to me and paste it"
NONE_STORED = (
    "OpenStack works with your own application credential and you have none stored: create "
    "one (`openstack application credential create quartermaster`) and " + STORE_HINT + "."
)
UNUSABLE = (
    "Your stored OpenStack credential is not in a form I can use ({why}). It should be "
    "`<id>:<secret>`, or the application_credential_id and application_credential_secret of "
    "a clouds.yaml or openrc: " + REPLACE_HINT + "."
)
_OPENRC = {
    "OS_APPLICATION_CREDENTIAL_ID": "application_credential_id",
    "OS_APPLICATION_CREDENTIAL_SECRET": "application_credential_secret",
}


@dataclass(frozen=True, slots=True)
class ApplicationCredential:
    id: str
    secret: str = field(repr=False)

    def __str__(self) -> str:
        return f"application credential {self.id[:8]}…"


def parse_credential(credential: Credential | None) -> ApplicationCredential:
    """The id and secret in a vaulted value; ``CredentialRequired`` (no secret in its text)
    when there is none or it is unusable."""
    if credential is None:
        raise CredentialRequired(NONE_STORED)
    text = credential.reveal().strip()
    if not text:
        raise CredentialRequired(NONE_STORED)
    if len(text) > MAX_CHARS:
        raise CredentialRequired(UNUSABLE.format(why="it is far too long"))
    found = _from_openrc(text) or _from_pair(text) or _from_mapping(text)
    if found is None:
        raise CredentialRequired(UNUSABLE.format(why="no application credential id and secret"))
    cred_id, secret = found
    if not cred_id or not secret:
        missing = "the id" if not cred_id else "the secret"
        raise CredentialRequired(UNUSABLE.format(why=f"{missing} is empty"))
    if any(c.isspace() for c in cred_id) or len(cred_id) > 255:
        raise CredentialRequired(UNUSABLE.format(why="the id is not an id"))
    return ApplicationCredential(cred_id, secret)


def _from_pair(text: str) -> tuple[str, str] | None:
    """``<id>:<secret>`` — one token, no spaces, not a mapping."""
    if any(c.isspace() for c in text) or text.startswith(("{", "[")) or ":" not in text:
        return None
    cred_id, _, secret = text.partition(":")
    return cred_id, secret


def _from_openrc(text: str) -> tuple[str, str] | None:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if sep and name.strip() in _OPENRC:
            values[_OPENRC[name.strip()]] = value.strip().strip("'\"")
    if not values:
        return None
    return values.get("application_credential_id", ""), values.get(
        "application_credential_secret", ""
    )


def _from_mapping(text: str) -> tuple[str, str] | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None  # the error's text would quote the value
    if not isinstance(data, Mapping):
        return None
    for candidate in _candidates(data):
        cred_id = candidate.get("application_credential_id", candidate.get("id"))
        secret = candidate.get("application_credential_secret", candidate.get("secret"))
        if cred_id is not None or secret is not None:
            return str(cred_id or ""), str(secret or "")
    return None


def _candidates(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Where the keys may sit: the top, ``auth:``, or each cloud's ``auth:``."""
    found: list[Mapping[str, Any]] = [data]
    if isinstance(data.get("auth"), Mapping):
        found.append(data["auth"])
    clouds = data.get("clouds")
    if isinstance(clouds, Mapping):
        for cloud in clouds.values():
            if isinstance(cloud, Mapping) and isinstance(cloud.get("auth"), Mapping):
                found.append(cloud["auth"])
    return found
