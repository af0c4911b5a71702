"""The in-process parser: a loaded :class:`~nlu.model.NLUModel` behind the ``Parser`` protocol."""

from __future__ import annotations

from datetime import datetime

from nlu.entities import EntityContext
from nlu.model import NLUModel
from nlu.normalise.dates import warm_up as warm_up_dates
from nlu.result import ParseResult


class EmbeddedParser:
    """Parses in the calling thread: a parse takes about a millisecond, so no executor hop."""

    def __init__(
        self, model: NLUModel, clusters: list[str] | None = None, threshold: float | None = None
    ) -> None:
        self.model = model
        self.clusters = list(clusters or [])
        self.threshold = threshold
        self._cluster_re = EntityContext.cluster_pattern(self.clusters)
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
        return self.parse_sync(text, now)

    async def close(self) -> None:
        return None
