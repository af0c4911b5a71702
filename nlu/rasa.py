"""Client for a Rasa server's ``POST /model/parse``, read into our :class:`ParseResult`.

Rasa's entity values are raw strings; structured ones (sizes, dates, hostlists, …) are normalised
with our own parsers from the span text so skills see the same values whichever backend answers.
Any failure to get an answer (timeout, refused connection, HTTP error, bad JSON) becomes
:class:`NLUUnavailable` with a message that names the host but never credentials or tokens.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nlu.entities import EntityContext, normalise
from nlu.errors import NLUUnavailable
from nlu.result import FALLBACK, Entity, IntentScore, ParseResult

_OUT_OF_SCOPE = {"out_of_scope", FALLBACK}
_STRUCTURED = {
    "size",
    "file_count",
    "count",
    "duration",
    "date",
    "node",
    "request_id",
    "job_id",
    "action",
    "flavor",
    "provider",
}


def public_url(url: str) -> str:
    """``scheme://host:port`` of ``url``: what may appear in messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def parse_endpoint(url: str) -> str:
    """``{url}/model/parse``, keeping a query string such as Rasa's ``?token=...``."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/model/parse"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class RasaParser:
    """Asks a Rasa server; one aiohttp session, created on first use inside the running loop."""

    def __init__(
        self,
        url: str,
        timeout: float = 3.0,
        threshold: float | None = None,
        clusters: list[str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.endpoint = parse_endpoint(url)
        self.timeout = timeout
        self.threshold = threshold
        self.clusters = list(clusters or [])
        self._session: Any = None

    async def _post(self, text: str) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        where = public_url(self.url)
        try:
            async with self._session.post(self.endpoint, json={"text": text}) as resp:
                if resp.status >= 400:
                    raise NLUUnavailable(f"the Rasa server at {where} answered HTTP {resp.status}")
                return await resp.json(content_type=None)
        except TimeoutError:
            raise NLUUnavailable(
                f"the Rasa server at {where} did not answer within {self.timeout:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise NLUUnavailable(
                f"cannot reach the Rasa server at {where} ({type(exc).__name__})"
            ) from None
        except ValueError:
            raise NLUUnavailable(
                f"the Rasa server at {where} sent a reply that is not JSON"
            ) from None

    async def parse(self, text: str, now: datetime | None = None) -> ParseResult:
        reply = await self._post(text)
        if not isinstance(reply, dict):
            raise NLUUnavailable(
                f"the Rasa server at {public_url(self.url)} sent an unexpected reply"
            )
        return map_reply(text, reply, now or datetime.now(), self.clusters, self.threshold)

    def parse_sync(self, text: str, now: datetime | None = None) -> ParseResult:
        raise NotImplementedError("the Rasa backend is asynchronous; use 'await parser.parse()'")

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)


def _intent(raw: Any) -> tuple[str, float]:
    if not isinstance(raw, dict):
        return FALLBACK, 0.0
    name = raw.get("name")
    try:
        confidence = float(raw.get("confidence") or 0.0)
    except (TypeError, ValueError):
        confidence = 0.0
    if not isinstance(name, str) or not name or name in _OUT_OF_SCOPE:
        return FALLBACK, confidence
    return name, confidence


def map_reply(
    text: str, reply: dict[str, Any], now: datetime, clusters: list[str], threshold: float | None
) -> ParseResult:
    """Our parse result from a Rasa ``/model/parse`` reply: out-of-scope intents become the
    fallback, entities with a bad span are dropped, structured values are normalised."""
    name, confidence = _intent(reply.get("intent"))
    ranking = []
    for item in reply.get("intent_ranking") or []:
        item_name, item_conf = _intent(item)
        if item_name != FALLBACK:
            ranking.append(IntentScore(item_name, round(item_conf, 4)))
    if name != FALLBACK and threshold is not None and confidence < threshold:
        name, confidence = FALLBACK, 1.0 - confidence
    intent = IntentScore(name, round(confidence, 4))
    if name == FALLBACK:
        ranking.insert(0, intent)
    context = EntityContext({}, clusters, now, EntityContext.cluster_pattern(clusters))
    entities = []
    for raw in reply.get("entities") or []:
        try:
            ent = Entity.from_rasa(raw)
        except ValueError:
            continue
        if not 0 <= ent.start < ent.end <= len(text):
            continue
        if ent.entity in _STRUCTURED or ent.entity == "cluster":
            value = normalise(ent.entity, text[ent.start : ent.end], context)
            ent = replace(ent, value=value or ent.value)
        entities.append(ent)
    return ParseResult(text, intent, tuple(ranking), tuple(entities))
