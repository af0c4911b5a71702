"""The in-process parser: a loaded :class:`~nlu.model.NLUModel` behind the ``Parser`` protocol."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from nlu.entities import EntityContext
from nlu.model import NLUModel
from nlu.normalise.dates import warm_up as warm_up_dates
from nlu.result import ParseResult


class EmbeddedParser:
    """Parses in one dedicated thread, off the event loop.

    A typical parse takes about a millisecond, but a platform-maximum message (40,000
    characters) takes far longer; on the loop it would stall every other conversation. One
    worker keeps parses in order and the model single-threaded; the hop costs ~0.1 ms."""

    def __init__(
        self, model: NLUModel, clusters: list[str] | None = None, threshold: float | None = None
    ) -> None:
        self.model = model
        self.clusters = list(clusters or [])
        self.threshold = threshold
        self._cluster_re = EntityContext.cluster_pattern(self.clusters)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu-parse")
        # The first parse imports ClusterShell and fills caches, and dateparser's first call loads
        # its language data (~0.25 s): pay both now rather than on a user's message.
        self.parse_sync("drain c[001-002] for 2 weeks until end of march, REQ-1 5TB /scratch/x")
        warm_up_dates()

    def parse_sync(self, text: str, now: datetime | None = None) -> ParseResult:
        context = EntityContext(
            self.model.synonyms, self.clusters, now or datetime.now(), self._cluster_re
        )
        return self.model.parse(text, threshold=self.threshold, context=context)

    async def parse(self, text: str, now: datetime | None = None) -> ParseResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.parse_sync, text, now)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
