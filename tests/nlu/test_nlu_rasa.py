"""The Rasa backend against a real local HTTP server that plays Rasa's ``/model/parse``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web

from nlu import IntentScore, NLUSettings, NLUUnavailable, Parser, load_parser
from nlu.rasa import RasaParser, public_url

NOW = datetime(2026, 11, 18, 10, 0)
TEXT = "drain [c[001-003]] and extend vm-12 until next friday, 5TB"

RASA_REPLY: dict[str, Any] = {
    "text": TEXT,
    "intent": {"name": "node_action", "confidence": 0.91, "id": 1},
    "intent_ranking": [
        {"name": "node_action", "confidence": 0.91, "id": 1},
        {"name": "out_of_scope", "confidence": 0.05, "id": 2},
        {"name": "extend_loan", "confidence": 0.04, "id": 3},
    ],
    "entities": [
        {
            "entity": "action",
            "start": 0,
            "end": 5,
            "value": "drain",
            "extractor": "DIETClassifier",
            "confidence_entity": 0.99,
        },
        {
            "entity": "node",
            "start": 7,
            "end": 17,
            "value": "c[001-003]",
            "extractor": "DIETClassifier",
        },
        {
            "entity": "date",
            "start": TEXT.index("next"),
            "end": TEXT.index(","),
            "value": "next friday",
            "extractor": "DIETClassifier",
        },
        {
            "entity": "size",
            "start": len(TEXT) - 3,
            "end": len(TEXT),
            "value": "5TB",
            "extractor": "DIETClassifier",
        },
        {"entity": "bogus", "start": 500, "end": 600, "value": "x"},
    ],
}

Handler = Callable[[web.Request], Any]


@pytest.fixture
async def rasa_server() -> AsyncIterator[Callable[[Handler], Any]]:
    """Start a fake Rasa on 127.0.0.1 with the given handler; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/model/parse", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_reply_is_mapped_and_normalised(rasa_server: Callable[[Handler], Any]) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response(RASA_REPLY)

    url = await rasa_server(handler)
    parser = load_parser(NLUSettings(backend="rasa", rasa_url=url))
    assert isinstance(parser, Parser) and isinstance(parser, RasaParser)
    try:
        result = await parser.parse(TEXT, NOW)
    finally:
        await parser.close()
    assert seen == [{"text": TEXT}]
    assert result.intent == IntentScore("node_action", 0.91)
    assert [r.name for r in result.intent_ranking] == ["node_action", "extend_loan"]
    values = {e.entity: e.value for e in result.entities}
    assert values == {
        "action": "drain",
        "node": ["c001", "c002", "c003"],
        "date": "2026-11-20",
        "size": 5 * 10**12,
    }
    for ent in result.entities:
        assert list(ent.to_rasa()) == ["entity", "start", "end", "value", "extractor"]


async def test_out_of_scope_and_low_confidence_become_fallback(
    rasa_server: Callable[[Handler], Any],
) -> None:
    replies = [
        {"intent": {"name": "out_of_scope", "confidence": 0.8}, "entities": []},
        {
            "intent": {"name": "greet", "confidence": 0.3},
            "intent_ranking": [{"name": "greet", "confidence": 0.3}],
            "entities": [],
        },
        {"intent": None, "entities": None},
    ]

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(replies.pop(0))

    url = await rasa_server(handler)
    parser = RasaParser(url, timeout=2.0, threshold=0.5)
    try:
        first = await parser.parse("weather?")
        second = await parser.parse("hi")
        third = await parser.parse("??")
    finally:
        await parser.close()
    assert first.intent.name == "nlu_fallback"
    assert second.intent.name == "nlu_fallback"
    assert second.intent_ranking[0].name == "nlu_fallback"
    assert [r.name for r in second.intent_ranking[1:]] == ["greet"]
    assert third.intent.name == "nlu_fallback" and third.entities == ()


async def test_timeout_raises_unavailable(rasa_server: Callable[[Handler], Any]) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response(RASA_REPLY)

    url = await rasa_server(slow)
    parser = RasaParser(url, timeout=0.2)
    try:
        with pytest.raises(NLUUnavailable, match=r"did not answer within 0.2 s"):
            await parser.parse("hi")
    finally:
        await parser.close()


async def test_http_500_raises_unavailable(rasa_server: Callable[[Handler], Any]) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    url = await rasa_server(broken)
    parser = RasaParser(url + "?token=s3cret")
    try:
        with pytest.raises(NLUUnavailable, match="answered HTTP 500") as err:
            await parser.parse("hi")
    finally:
        await parser.close()
    assert "s3cret" not in str(err.value)


async def test_bad_json_raises_unavailable(rasa_server: Callable[[Handler], Any]) -> None:
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<html>not json</html>", content_type="text/html")

    url = await rasa_server(garbage)
    parser = RasaParser(url)
    try:
        with pytest.raises(NLUUnavailable, match="not JSON"):
            await parser.parse("hi")
    finally:
        await parser.close()


async def test_connection_refused_raises_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    parser = RasaParser(f"http://user:pw@127.0.0.1:{port}", timeout=1.0)
    try:
        with pytest.raises(NLUUnavailable, match="cannot reach the Rasa server") as err:
            await parser.parse("hi")
    finally:
        await parser.close()
    assert "pw" not in str(err.value) and "user" not in str(err.value)


def test_parse_sync_is_not_offered() -> None:
    with pytest.raises(NotImplementedError):
        RasaParser("http://127.0.0.1:1").parse_sync("hi")


def test_public_url_hides_credentials() -> None:
    assert public_url("https://u:p@rasa.example:5005/x?token=t") == "https://rasa.example:5005"
