"""Telling requesters what happened: a chat DM and, when configured, an e-mail (aiosmtplib).

A failed e-mail never undoes a transition (it is already recorded); it is logged and audited
without the SMTP password, and the chat DM still goes out. ``tell_later`` hands both to the
application's background work (``app.background``), so the user who moved a request gets their
answer first and a failing DM or e-mail is retried instead of lost.
"""

from __future__ import annotations

import logging
import os
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from bot.errors import ConfigError
from bot.storage.models import User

if TYPE_CHECKING:
    from bot.app import Application
    from bot.storage.models import Request
    from bot.workflow.engine import Workflows
    from bot.workflow.spec import RequestType

log = logging.getLogger(__name__)


class EmailSettings(BaseModel):
    """The ``email:`` section of quartermaster.yml."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    enabled: bool = False
    host: str | None = None
    port: int = Field(25, ge=1, le=65535)
    from_addr: str | None = Field(None, alias="from")
    starttls: bool = False
    use_tls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = Field(None, description="environment variable with the password")
    timeout: float = Field(10.0, gt=0)
    subject_prefix: str = "[Quartermaster]"

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if self.enabled:
            if not self.host:
                raise ValueError("host: required when e-mail is enabled")
            if not self.from_addr or "@" not in self.from_addr:
                raise ValueError("from: required when e-mail is enabled (an address)")
        if self.password_env and self.password is None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(
                    f"password_env: environment variable {self.password_env} is not set"
                )
            self.password = SecretStr(value)
        if self.starttls and self.use_tls:
            raise ValueError("starttls and use_tls exclude each other")
        return self

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], source: str = "quartermaster.yml") -> EmailSettings:
        try:
            return cls.model_validate(raw or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{source}: email{'.' + loc if loc else ''}: {msg}") from None


class EmailFailed(Exception):
    """An e-mail could not be sent (the SMTP error's type only: no addresses or passwords)."""


class Notifier:
    def __init__(self, app: Application) -> None:
        self.app = app
        self.email = EmailSettings.from_mapping(app.settings.email, app.settings.source)
        self.sent_emails = 0

    def dm_later(self, user_key: str, text: str, *, key: str | None = None) -> None:
        """DM ``user_key`` after the current turn, retried on failure."""

        async def dm() -> None:
            await self.app.notify(user_key, text)  # None: their platform is not connected

        self.app.background.submit(f"DM to {user_key}", dm, key=key)

    def tell_later(self, user: User, subject: str, text: str, *, key: str | None = None) -> None:
        """``tell``, after the current turn: the DM and the e-mail are separate background jobs,
        each retried on failure (``key`` keeps one request's messages in order)."""

        async def mail() -> None:
            if not self.email.enabled:
                return
            address = user.email or await self._lookup_email(user)
            if address:
                await self.send_email(address, subject, text, raise_errors=True)

        self.dm_later(user.key, text, key=key)
        if self.email.enabled:
            self.app.background.submit(f"{subject}: e-mail to {user.key}", mail, key=key)

    def tell_key_later(
        self, user_key: str, subject: str, text: str, *, key: str | None = None
    ) -> None:
        """``tell_later`` for someone known by ``platform:id`` (role holders, tagged people):
        the DM goes at once; the e-mail needs their user row, looked up when it is sent."""

        async def mail() -> None:
            from bot.storage.models import User

            platform, _, platform_id = user_key.partition(":")
            user = await User.get_or_none(platform=platform, platform_id=platform_id)
            address = user.email or await self._lookup_email(user) if user is not None else None
            if address:
                await self.send_email(address, subject, text, raise_errors=True)

        self.dm_later(user_key, text, key=key)
        if self.email.enabled:
            self.app.background.submit(f"{subject}: e-mail to {user_key}", mail, key=key)

    async def tell(self, user: User, subject: str, text: str) -> None:
        """DM the user, then e-mail them if we know their address and e-mail is on."""
        try:
            await self.app.notify(user.key, text)
        except Exception:
            log.warning("could not DM %s about %s", user.key, subject, exc_info=True)
        address = user.email or await self._lookup_email(user)
        if address and self.email.enabled:
            await self.send_email(address, subject, text)

    async def _lookup_email(self, user: User) -> str | None:
        adapter = self.app.adapters.get(user.platform)
        if adapter is None:
            return None
        try:
            info = await adapter.user_info(user.platform_id)
        except Exception:
            return None
        if info.email:
            user.email = info.email
            await user.save(update_fields=["email"])
        return info.email

    async def send_email(
        self, to: str, subject: str, text: str, *, raise_errors: bool = False
    ) -> bool:
        """Send one e-mail; a failure is logged and audited (never the password), and raised
        again with ``raise_errors`` so background work retries it."""
        import aiosmtplib

        cfg = self.email
        msg = EmailMessage()
        msg["From"] = cfg.from_addr
        msg["To"] = to
        msg["Subject"] = f"{cfg.subject_prefix} {subject}".strip()
        msg.set_content(self.app.outbound(_plain(text)))
        try:
            await aiosmtplib.send(
                msg,
                hostname=cfg.host,
                port=cfg.port,
                start_tls=cfg.starttls,
                use_tls=cfg.use_tls,
                username=cfg.username,
                password=cfg.password.get_secret_value() if cfg.password else None,
                timeout=cfg.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("e-mail to %s failed: %s", to, type(exc).__name__)
            self.app.audit.record("workflow", "email", to, "error", error=type(exc).__name__)
            if raise_errors:
                raise EmailFailed(f"e-mail failed: {type(exc).__name__}") from None
            return False
        self.sent_emails += 1
        self.app.audit.record("workflow", "email", to, "ok", subject=subject)
        return True


def _plain(text: str) -> str:
    """Chat markup stripped for e-mail bodies."""
    return text.replace("*", "").replace("`", "")


def announce_arrival(wf: Workflows, req: Request, spec: RequestType, filer: User) -> None:
    """Whoever can act on a new request's first step hears of it at once (DM, e-mail)."""
    requester = req.requester
    assert isinstance(requester, User)
    text = (
        f"New request {req.ref} ({wf.describe(req, spec)}) from {requester.name} "
        f"waits for you: say `status of {req.ref}`, or use its buttons in #{spec.channel}."
    )
    for key in wf.responsible(req, spec):
        if key not in (filer.key, requester.key):
            wf.notifier.tell_key_later(key, f"New request {req.ref}", text, key=req.ref)
