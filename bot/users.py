"""The user directory: platform users as database rows, created lazily and cached."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.storage.models import User


class UserDirectory:
    def __init__(self) -> None:
        self._cache: dict[str, User] = {}

    async def ensure(
        self, platform: str, platform_id: str, name: str = "", email: str | None = None
    ) -> User:
        from bot.storage.models import User

        key = f"{platform}:{platform_id}"
        user = self._cache.get(key)
        if user is not None and (not name or user.name == name):
            return user
        user, created = await User.get_or_create(
            platform=platform,
            platform_id=platform_id,
            defaults={"name": name or platform_id, "email": email, "last_seen": datetime.now(UTC)},
        )
        if not created and name and user.name != name:
            user.name = name
            await user.save(update_fields=["name"])
        self._cache[key] = user
        return user

    async def by_key(self, key: str) -> User | None:
        from bot.storage.models import User

        if key in self._cache:
            return self._cache[key]
        platform, _, platform_id = key.partition(":")
        user = await User.get_or_none(platform=platform, platform_id=platform_id)
        if user is not None:
            self._cache[key] = user
        return user

    def forget(self) -> None:
        self._cache.clear()
