"""E-mail addresses people give: checked for form (never for deliverability: no DNS look-ups on
the message path) and normalised, so notices go where people meant."""

from __future__ import annotations

import re

from bot.errors import UserError

#: Slack sends a typed address as ``<mailto:a@b.org|a@b.org>``
_MAILTO = re.compile(r"<mailto:([^|>\s]{1,320})(?:\|[^>]{0,320})?>")


def normalise_email(text: str) -> str:
    """The address in ``text`` in its normal form; ``UserError`` saying what is wrong if none."""
    raw = text.strip().rstrip(".")
    found = _MAILTO.fullmatch(raw)
    if found:
        raw = found.group(1)
    if len(raw) > 254:
        raise UserError("That e-mail address is too long (254 characters at most).")
    # imported on first use: its module-level patterns take ~20 ms to compile, paid at every
    # start by a bot in which nobody may give an address that day
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise UserError(f"{raw[:80]!r} isn't an e-mail address I can use: {exc}") from None
