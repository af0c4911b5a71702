"""Logging with redaction: registered secrets and secret-looking strings never reach a log."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from bot.private import private_file

Redactor = Callable[[str], str]

_redactors: list[Redactor] = []


def add_redactor(func: Redactor) -> None:
    """Register a text filter applied to every log record and every outgoing chat message."""
    if func not in _redactors:
        _redactors.append(func)


def redact(text: str) -> str:
    for func in _redactors:
        text = func(text)
    return text


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@/\s]+)(@)")
_TOKENS = re.compile(
    r"\b(xox[abposr]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}|"
    r"gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|glpat-[A-Za-z0-9_-]{20,})"
)


def redact_url(text: str) -> str:
    """Passwords in URLs (``scheme://user:PASSWORD@host``) become ``***``."""
    return _URL_PASSWORD.sub(r"\1***\3", text) if "://" in text else text


def _builtin_redactor(text: str) -> str:
    return _TOKENS.sub("[redacted]", redact_url(text))


add_redactor(_builtin_redactor)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _redactors:
            message = record.getMessage()
            cleaned = redact(message)
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            if cleaned != message or record.args:
                record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str = "INFO", file: Path | None = None, *, stream: bool = True) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_quartermaster", False):
            root.removeHandler(handler)
    handlers: list[logging.Handler] = []
    if file is not None:
        private_file(file)  # conversations and names end up in the log: 0600 in a 0700 folder
        handlers.append(logging.FileHandler(file, encoding="utf-8"))
    elif stream:
        handlers.append(logging.StreamHandler())
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(RedactingFilter())
        handler._quartermaster = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in (
        "tortoise",
        "aiosqlite",
        "asyncio",
        "apscheduler",
        "slack_bolt",
        "urllib3",
        "httpx",
        "websockets",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
