"""The language model as the application uses it: loaded off the event loop, asked per message.

Training or loading takes seconds, so it runs in a thread started last at start-up; commands work
meanwhile, and a message that arrives before the model is ready waits for it. A model that failed
to load, or a backend that fails a parse, makes ``parse`` answer None: the fallback then says free
text is not understood right now, and nothing crashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.stats import Stats
    from nlu import ParseResult

log = logging.getLogger(__name__)


class Understanding:
    def __init__(self, settings: Mapping[str, Any], stats: Stats) -> None:
        self.settings = settings
        self.stats = stats
        self.parser: Any = None  # an nlu parser (embedded model or Rasa client)
        self._task: asyncio.Task[Any] | None = None

    @property
    def enabled(self) -> bool:
        return self._task is not None or self.parser is not None

    @property
    def loading(self) -> bool:
        """True while the model is still being trained or loaded (the first start trains it)."""
        return self.parser is None and self._task is not None and not self._task.done()

    async def ready(self) -> None:
        """Wait until the model is loaded (or failed to); at once when there is none."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def start(self) -> None:
        """Load (or train) the model in a thread; commands work meanwhile."""
        try:
            from nlu import NLUSettings, load_parser
        except ImportError:
            log.warning("NLU package not available; free-text understanding is off")
            return
        from bot.paths import nlu_paths

        settings = NLUSettings.from_mapping(self.settings).located(**nlu_paths())
        self._task = asyncio.create_task(asyncio.to_thread(load_parser, settings), name="nlu-load")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self.parser is not None:
            with contextlib.suppress(Exception):
                await self.parser.close()

    async def parse(self, text: str, now: datetime | None = None) -> ParseResult | None:
        """The model's reading of ``text``, or None when it cannot answer."""
        if self.parser is None:
            if self._task is None:
                return None
            try:
                self.parser = await asyncio.shield(self._task)
            except Exception:
                log.exception("the NLU model failed to load; free text is not understood")
                self._task = None
                return None
        self.stats.nlu_parses += 1
        try:
            result: ParseResult = await self.parser.parse(text, now)
        except Exception as exc:  # NLUUnavailable and friends: answer, don't crash
            self.stats.nlu_unavailable += 1
            log.warning("NLU unavailable: %s", exc)
            return None
        return result
