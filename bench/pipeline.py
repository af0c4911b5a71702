"""Throughput, latency, start-up and memory of the message pipeline, with a bare-loop floor.

adapter → dispatcher → middleware (errors, route, authorize, audit) → skill → reply, through the
in-memory test adapter on SQLite, NLU off (the NLU has its own benchmark, bench/nlu.py), with the
heap settled after start as ``quartermaster run`` does (bot/heap.py). Figures: docs/quickstart.md.
The last line printed is one JSON object with the figures.

    .venv/bin/python bench/pipeline.py [--messages 20000] [--users 100] [--roundtrips 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _settings(home: Path):  # type: ignore[no-untyped-def]
    from bot.config import Settings

    return Settings.model_validate(
        {
            "adapters": {"shell": {"enabled": False}},
            "database": {"url": f"sqlite://{home / 'bench.sqlite3'}"},
            "rate_limit": {"enabled": False},
            "dispatcher": {"max_pending": 50_000},
        }
    )


def _counting_adapter() -> type:
    """A test adapter that counts replies instead of keeping them, as a real adapter would (so
    peak memory is the bot's, not a transcript of 20,000 replies)."""
    from bot.events import PostedRef
    from bot.testing.harness import TestAdapter

    class CountingAdapter(TestAdapter):
        replies = 0
        last = ""

        async def send(self, channel, text, *, thread=None, choices=()):  # type: ignore[no-untyped-def]
            CountingAdapter.replies += 1
            CountingAdapter.last = text
            return PostedRef(self.platform, channel, "m", thread)

        async def send_dm(self, user_id, text, *, choices=()):  # type: ignore[no-untyped-def]
            return await self.send(f"dm:{user_id}", text)

    return CountingAdapter


async def pipeline(messages: int, users: int, roundtrips: int) -> dict[str, float]:
    from bot import heap
    from bot.events import Message
    from bot.testing import TestBot

    home = Path(tempfile.mkdtemp(prefix="qm-bench-"))
    os.environ["QUARTERMASTER_HOME"] = str(home)
    counter = _counting_adapter()
    bot = TestBot(_settings(home), adapter_class=counter)
    async with bot:
        app = bot.app
        heap.settle()  # as `quartermaster run` does once the bot is up (bot/heap.py)
        # warm-up: user rows, caches, code paths
        names = [f"u{u}" for u in range(users)]
        channels = [f"dm:{n}" for n in names]
        for name, channel in zip(names, channels, strict=True):
            await app.process(Message("test", name, name, channel, "ping", direct=True))
        assert counter.last == "pong"
        before = counter.replies
        receive = app.receive
        t0 = time.perf_counter()
        for i in range(messages):  # built here, as an adapter would build them
            u = i % users
            await receive(Message("test", names[u], names[u], channels[u], "ping", direct=True))
        await app.dispatcher.join()
        burst = time.perf_counter() - t0
        assert counter.replies - before == messages, "every message must be answered"
        lat = []
        one = Message("test", "solo", "solo", "dm:solo", "ping", direct=True)
        for _ in range(roundtrips):
            t = time.perf_counter()
            await app.process(one)
            lat.append(time.perf_counter() - t)
    lat.sort()
    return {
        "msgs_per_s": messages / burst,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
    }


async def floor(messages: int) -> float:
    """A bare asyncio loop doing the minimum: queue, regex, append a reply."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    pattern = re.compile(r"ping", re.IGNORECASE)
    out: list[str] = []

    async def consumer() -> None:
        for _ in range(messages):
            text = await queue.get()
            if pattern.fullmatch(text):
                out.append("pong")

    task = asyncio.create_task(consumer())
    t0 = time.perf_counter()
    for _ in range(messages):
        queue.put_nowait("ping")
    await task
    assert len(out) == messages
    return messages / (time.perf_counter() - t0)


async def _startup_child(home: Path) -> None:
    """Run in a fresh interpreter: start the bot, send one message, report when answered."""
    from bot.events import Message
    from bot.testing import TestBot

    os.environ["QUARTERMASTER_HOME"] = str(home)
    async with TestBot(_settings(home)) as bot:
        await bot.app.process(Message("test", "a", "a", "dm:a", "ping", direct=True))
        assert bot.sent[-1].text == "pong"
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"ANSWERED {rss:.1f}", flush=True)


def _start_once(home: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--startup-child", str(home)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - t0
    proc.wait(timeout=60)
    if not line.startswith("ANSWERED "):
        raise SystemExit("start-up child failed")
    return elapsed, float(line.split()[1])


def startup_time(runs: int = 3) -> tuple[float, float, float]:
    """(first start on an empty data dir — migrations, new keys —, best restart of ``runs``,
    peak RSS of a restarted process): wall time from launching a process to its first reply;
    the RSS is the bot's own footprint, without the benchmark's message lists."""
    home = Path(tempfile.mkdtemp(prefix="qm-bench-start-"))
    first, _ = _start_once(home)
    best = float("inf")
    rss = 0.0
    for _ in range(runs):
        elapsed, peak = _start_once(home)
        best = min(best, elapsed)
        rss = max(rss, peak)
    return first, best, rss


def import_floor(runs: int = 3) -> float:
    """Launching Python and importing only the libraries start-up cannot avoid (best of runs)."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import asyncio, tortoise, pydantic, yaml"], check=True
        )
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--roundtrips", type=int, default=2_000)
    parser.add_argument("--startup-child", metavar="HOME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.startup_child:
        asyncio.run(_startup_child(Path(args.startup_child)))
        return
    first_start, startup, bot_rss = startup_time()
    floor_start = import_floor()
    figures = asyncio.run(pipeline(args.messages, args.users, args.roundtrips))
    floor_rate = asyncio.run(floor(args.messages))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "msgs_per_s": round(figures["msgs_per_s"]),
        "p50_ms": round(figures["p50_ms"], 4),
        "p99_ms": round(figures["p99_ms"], 4),
        "startup_s": round(startup, 3),
        "peak_rss_mb": round(peak, 1),
        "floor_msgs_per_s": round(floor_rate),
        "bot_rss_mb": round(bot_rss, 1),
        "first_start_s": round(first_start, 3),
        "import_floor_s": round(floor_start, 3),
    }
    print(
        f"burst: {args.messages} messages from {args.users} users: "
        f"{result['msgs_per_s']:,} msgs/s (floor: bare asyncio regex loop "
        f"{result['floor_msgs_per_s']:,} msgs/s)"
    )
    print(
        f"idle round trip over {args.roundtrips}: p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms"
    )
    print(
        f"start-up to first reply (new process, existing data dir, best of 3): "
        f"{result['startup_s']} s; very first start (migrations, new keys): "
        f"{result['first_start_s']} s; floor (python + asyncio, tortoise, pydantic, yaml "
        f"imports): {result['import_floor_s']} s"
    )
    print(
        f"peak RSS: {result['peak_rss_mb']} MB after the burst ({args.messages} messages "
        f"queued at once); {result['bot_rss_mb']} MB for a fresh bot after its first reply"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
