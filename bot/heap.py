"""Short full passes of the cyclic garbage collector in a long-running bot.

Once started, the bot holds ~70,000 long-lived objects (modules, classes, pydantic and tortoise
schemas, skills) that every full collection walks again: ~30 ms a pass, landing on whatever
message is being answered, about every few thousand messages under load. A first start also leaves
~50,000 objects of migration state for the next full pass to find. ``settle`` collects that and
moves the survivors out of the collector's sight (``gc.freeze``), so a full pass walks only what
the running bot allocates. Reference counting still frees frozen objects; only cycles among them
are kept, which is why a skill reload settles again (replaced modules are cycles).

The process owner decides (``quartermaster run`` settles once the bot is up); a test process
running many bots one after the other does not, or each bot's leftovers would be kept.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what start-up (or a reload) left, then freeze everything that survives."""
    gc.unfreeze()  # what an earlier settle froze and is garbage now (a reload's old modules)
    gc.collect()
    gc.freeze()


def settled() -> bool:
    """Whether this process settles its heap (``settle`` ran and was not undone)."""
    return gc.get_freeze_count() > 0
