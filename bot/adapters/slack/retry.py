"""Repeating Slack Web API calls that failed with a transient server error.

slack_sdk's own server-error handler repeats every method after a 500 or 503, once. A post that
got a 500, 502 or 504 may already be in the channel (the error came after Slack took it), and a
doubled answer in a support channel is worse than one error in the log: so a post is repeated
only after a 503 (Slack did not take it), while lookups, edits and deletes — which land the same
way twice — are repeated after any of the four. Back-off is exponential with jitter.
"""

from __future__ import annotations

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import RandomJitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

TRANSIENT = frozenset({500, 502, 503, 504})
NOT_TAKEN = frozenset({503})
# Methods whose repetition could post a second message.
POSTS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.meMessage",
        "chat.scheduleMessage",
        "files.upload",
        "files.completeUploadExternal",
    }
)


def api_method(url: str) -> str:
    """``https://slack.com/api/chat.postMessage?x=1`` → ``chat.postMessage``."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class ServerErrorRetryHandler(AsyncRetryHandler):
    """Retries on 5xx: any transient status for methods that are safe to repeat, 503 for posts."""

    def __init__(self, max_retry_count: int = 3, backoff_factor: float = 0.5) -> None:
        super().__init__(
            max_retry_count=max_retry_count,
            interval_calculator=BackoffRetryIntervalCalculator(
                backoff_factor=backoff_factor, jitter=RandomJitter()
            ),
        )

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None:
            return False
        allowed = NOT_TAKEN if api_method(request.url) in POSTS else TRANSIENT
        return response.status_code in allowed
