import asyncio

from bot.dispatcher import Dispatcher


async def test_one_conversation_keeps_order_while_others_run_concurrently():
    seen: list[tuple[str, int]] = []
    release = asyncio.Event()

    async def handle(event):
        key, n = event
        if key == "slow" and n == 0:
            await release.wait()
        seen.append(event)

    d = Dispatcher(handle)
    for n in range(3):
        await d.submit("slow", ("slow", n))
    for n in range(3):
        await d.submit("fast", ("fast", n))
    for _ in range(20):
        await asyncio.sleep(0)
    # the fast conversation finished although the slow one is blocked on its first message
    assert seen == [("fast", 0), ("fast", 1), ("fast", 2)]
    release.set()
    await d.join()
    assert [e for e in seen if e[0] == "slow"] == [("slow", 0), ("slow", 1), ("slow", 2)]
    assert d.pending == 0


async def test_queue_is_bounded_and_producers_wait():
    gate = asyncio.Event()

    async def handle(event):
        await gate.wait()

    d = Dispatcher(handle, max_pending=2)
    await d.submit("a", 1)
    await d.submit("b", 2)
    third = asyncio.create_task(d.submit("c", 3))
    await asyncio.sleep(0.01)
    assert not third.done()  # back-pressure: the producer waits for space
    gate.set()
    await asyncio.wait_for(third, 1)
    await d.join()
    assert d.pending == 0


async def test_run_waits_for_completion_and_errors_do_not_stop_the_conversation():
    handled = []

    async def handle(event):
        if event == "boom":
            raise RuntimeError("handler failed")
        handled.append(event)

    d = Dispatcher(handle)
    await d.submit("k", "boom")
    await d.run("k", "after")
    assert handled == ["after"]
