"""Who holds which role: grants in the database, mirrored in memory for the message path."""

from __future__ import annotations

import logging
from collections import defaultdict

from bot.config import RolesSettings
from bot.errors import UserError

log = logging.getLogger(__name__)


def normalise_subject(subject: str) -> str:
    """``alice`` means the shell user alice; anything else must be ``platform:id``."""
    subject = subject.strip()
    if not subject:
        raise UserError("Give a user as platform:id, for example slack:U024BE7LH or shell:alice.")
    return subject if ":" in subject else f"shell:{subject}"


class RoleService:
    def __init__(self, settings: RolesSettings) -> None:
        self.default = settings.default
        self.known = list(settings.known)
        self.groups = {name: tuple(roles) for name, roles in settings.groups.items()}
        self._grants: dict[str, set[str]] = defaultdict(set)
        self._aliases: dict[str, str] = {}  # user key -> person key (cross-platform identity)
        self._accounts: dict[str, list[str]] = defaultdict(list)  # person -> accounts, in order

    def check_role(self, role: str) -> str:
        role = role.strip().lower()
        if role not in self.known:
            raise UserError(f"There is no role {role!r}. Known roles: {', '.join(self.known)}.")
        return role

    def link(self, user_key: str, person: str) -> None:
        """Treat ``user_key`` as the person ``person``: a role granted to ``person:NAME`` or to
        any of that person's accounts holds on all of them."""
        key = f"person:{person}"
        self._aliases[user_key] = key
        if user_key not in self._accounts[key]:
            self._accounts[key].append(user_key)

    def person_of(self, user_key: str) -> str | None:
        return self._aliases.get(user_key)

    def accounts_of(self, person_key: str) -> list[str]:
        """The person's accounts in the order the configuration lists them."""
        return list(self._accounts.get(person_key, ()))

    def roles_of(self, user_key: str) -> frozenset[str]:
        roles = {self.default} | self._grants.get(user_key, set())
        person = self._aliases.get(user_key)
        if person:
            roles |= self._grants.get(person, set())
            for account in self._accounts[person]:
                roles |= self._grants.get(account, set())
        return frozenset(roles)

    def has(self, user_key: str, role: str | None) -> bool:
        if role is None or role == self.default:
            return True
        roles = self.roles_of(user_key)
        return role in roles or "admin" in roles

    def group(self, name: str) -> tuple[str, ...]:
        """The roles of the configured group ``name``; an unknown group has none (admins only)."""
        roles = self.groups.get(name)
        if roles is None:
            log.warning("no role group %r is configured (roles.groups); only admins pass", name)
            return ()
        return roles

    def in_group(self, user_key: str, name: str) -> bool:
        roles = self.roles_of(user_key)
        return "admin" in roles or any(role in roles for role in self.group(name))

    def holders(self, role: str) -> list[str]:
        return sorted(s for s, roles in self._grants.items() if role in roles)

    async def load(self) -> None:
        from bot.storage.models import RoleGrant

        self._grants.clear()
        for grant in await RoleGrant.all():
            self._grants[grant.subject].add(grant.role)

    async def seed(self, grants: dict[str, list[str]]) -> None:
        """Grants written in the config file; granting twice is harmless."""
        for role, subjects in grants.items():
            for subject in subjects:
                await self.grant(normalise_subject(subject), role, by="config", source="config")

    async def grant(self, subject: str, role: str, *, by: str, source: str = "chat") -> bool:
        """Returns False when the subject already had the role."""
        from bot.storage.models import RoleGrant

        role = self.check_role(role)
        _, created = await RoleGrant.get_or_create(
            subject=subject, role=role, defaults={"granted_by": by, "source": source}
        )
        self._grants[subject].add(role)
        return created

    async def revoke(self, subject: str, role: str) -> bool:
        from bot.storage.models import RoleGrant

        role = self.check_role(role)
        deleted = await RoleGrant.filter(subject=subject, role=role).delete()
        self._grants.get(subject, set()).discard(role)
        return bool(deleted)

    def listing(self) -> dict[str, list[str]]:
        return {s: sorted(r) for s, r in sorted(self._grants.items()) if r}
