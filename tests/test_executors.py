"""LocalExecutor: per-host results, timeouts that kill the whole command, and a concurrency
limit measured from timestamps the commands write themselves."""

from __future__ import annotations

import os
import select
from pathlib import Path

from bot.executors import CommandResult, LocalExecutor, NodeExecutor, executor_from_config


def ends_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` has ended (or ends within ``seconds``): SIGKILL is delivered at
    once, but a loaded machine may take a moment to tear the process down, so wait on its pidfd
    (readable when it exits) instead of looking at it once."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], seconds)
    finally:
        os.close(fd)
    return bool(readable)


async def test_results_per_host_with_status_and_output_tails() -> None:
    executor = LocalExecutor()
    results = await executor.run(
        ["gpu-a100-03", "cn-r12-07"],
        'echo "hello from $QM_HOST"; echo oops >&2; [ "$QM_HOST" = cn-r12-07 ] && exit 3; exit 0',
        timeout=10,
    )
    assert list(results) == ["gpu-a100-03", "cn-r12-07"]
    ok, bad = results["gpu-a100-03"], results["cn-r12-07"]
    assert ok.ok and ok.exit_status == 0 and ok.stdout == "hello from gpu-a100-03\n"
    assert ok.stderr == "oops\n" and not ok.timed_out and ok.duration >= 0
    assert bad.exit_status == 3 and not bad.ok


async def test_only_the_tail_of_long_output_is_kept() -> None:
    results = await LocalExecutor().run(["n1"], "seq 1 100000", timeout=10)
    out = results["n1"].stdout
    assert len(out) == 4096 and out.endswith("99999\n100000\n")


async def test_a_timeout_reports_timed_out_and_kills_the_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "sleep.pid"
    results = await LocalExecutor().run(
        ["slowpoke"], f"echo started; sleep 30 & echo $! > {pidfile}; wait", timeout=0.2
    )
    result = results["slowpoke"]
    assert result.timed_out and result.exit_status is None and not result.ok
    assert result.stdout == "started\n"  # what it wrote before the kill
    assert ends_within(int(pidfile.read_text()), 5.0)  # killed too: sleep 30 would outlive the wait


async def test_concurrency_two_over_five_hosts_never_runs_more_than_two(tmp_path: Path) -> None:
    log = tmp_path / "intervals"
    log.mkdir()
    # each command waits until two have started, so the first two must overlap
    command = (
        f'echo "$(date +%s.%N)" > {log}/$QM_HOST.start; '
        f'while [ "$(ls {log} | grep -c start)" -lt 2 ]; do sleep 0.01; done; '
        f'echo "$(date +%s.%N)" > {log}/$QM_HOST.end'
    )
    hosts = [f"node{i}" for i in range(1, 6)]
    results = await LocalExecutor().run(hosts, command, timeout=30, concurrency=2)
    assert all(r.ok for r in results.values())
    spans = [
        (float((log / f"{h}.start").read_text()), float((log / f"{h}.end").read_text()))
        for h in hosts
    ]
    overlapping = [sum(1 for s, e in spans if s <= start < e) for start, _ in spans]
    assert max(overlapping) == 2  # in parallel, but never three


async def test_the_local_executor_is_found_by_name() -> None:
    executor = executor_from_config("local")
    assert isinstance(executor, LocalExecutor) and isinstance(executor, NodeExecutor)
    result = (await executor.run(["h"], "true", timeout=5))["h"]
    assert isinstance(result, CommandResult) and result.ok
