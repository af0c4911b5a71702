"""Telling requesters what happened: a chat DM and, when configured, an e-mail (aiosmtplib).

A failed e-mail never undoes a transition (it is already recorded); it is logged and audited
without the SMTP password, and the chat DM still goes out. ``tell`` and ``dm`` write outbox rows
(``bot.deliveries``) in the transaction of the change they report, so the user who moved a
request gets their answer first, a crash loses nothing, and a failing DM or e-mail is retried.
"""

from __future__ import annotations

import logging
import os
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from bot.deliveries import EMAIL
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
        app.deliveries.register(EMAIL, self._send_mail, accepts=lambda: self.email.enabled)

    async def dm(self, user_key: str, text: str, *, key: str = "") -> None:
        """DM ``user_key`` once the change being recorded has committed (an outbox row: call it
        inside ``app.deliveries.recording()``; ``key`` keeps one request's messages in order)."""
        await self.app.dm_later(user_key, text, key=key)

    async def tell(self, user_key: str, subject: str, text: str, *, key: str = "") -> None:
        """``dm``, and an e-mail when e-mail is on (its address is looked up when it is sent)."""
        await self.dm(user_key, text, key=key)
        if self.email.enabled:
            payload = {"to": user_key, "subject": subject, "text": text}
            await self.app.deliveries.add(EMAIL, payload, key=key)

    async def _send_mail(self, payload: dict[str, Any]) -> None:
        if not self.email.enabled:
            return
        platform, _, platform_id = str(payload["to"]).partition(":")
        user = await User.get_or_none(platform=platform, platform_id=platform_id)
        address = (user.email or await self._lookup_email(user)) if user is not None else None
        if address:
            await self.send_email(
                address, str(payload["subject"]), str(payload["text"]), raise_errors=True
            )

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


async def announce_arrival(wf: Workflows, req: Request, spec: RequestType, filer: User) -> None:
    """Whoever can act on a new request's first step hears of it at once (DM, e-mail; outbox
    rows written with the filing)."""
    requester = req.requester
    assert isinstance(requester, User)
    text = (
        f"New request {req.ref} ({wf.describe(req, spec)}) from {requester.name} "
        f"waits for you: say `status of {req.ref}`, or use its buttons in #{spec.channel}."
    )
    for key in wf.responsible(req, spec):
        if key not in (filer.key, requester.key):
            await wf.notifier.tell(key, f"New request {req.ref}", text, key=req.ref)
