"""Benchmark of the embedded NLU model: training time, model load time, parse latency, memory.

Run from the checkout: ``.venv/bin/python bench/nlu.py [--messages 3000] [--data config/nlu]``.
Training and loading run in fresh subprocesses so that import costs and memory are measured as
the bot would see them; parse latency is measured on one core over messages built from the
held-out files and the training data. Wall-clock and CPU times are both reported: on a shared
machine the wall clock also counts time spent waiting for other processes. The last line printed
is one JSON object with all figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
mode, data, model_dir, messages = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
cpu_started = time.process_time()
if mode == "train":
    from nlu.model import TrainConfig, data_hash, train_from
    from nlu.data import load_data
    from pathlib import Path
    config = TrainConfig.from_data_dir(Path(data))
    model = train_from(load_data(Path(data)), config, data_hash(Path(data), config))
    model.save(Path(model_dir))
    print(json.dumps({{"seconds": time.perf_counter() - started,
                      "cpu_seconds": time.process_time() - cpu_started}}))
else:
    from nlu import NLUSettings, load_parser
    from pathlib import Path
    parser = load_parser(NLUSettings(data=Path(data), model_dir=Path(model_dir)))
    loaded = time.perf_counter() - started
    load_cpu = time.process_time() - cpu_started
    texts = json.loads(Path(messages).read_text())
    for text in texts[:200]:
        parser.parse_sync(text)
    times, cpu = [], []
    for text in texts:
        t0, c0 = time.perf_counter(), time.thread_time()
        parser.parse_sync(text)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    times.sort()
    cpu.sort()
    pick = lambda q, xs=times: xs[min(len(xs) - 1, int(q * len(xs)))]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"load_seconds": loaded, "load_cpu_seconds": load_cpu,
                      "cpu_p50_ms": pick(0.5, cpu), "cpu_p99_ms": pick(0.99, cpu),
                      "p50_ms": pick(0.5), "p95_ms": pick(0.95),
                      "p99_ms": pick(0.99), "max_ms": times[-1], "n": len(times),
                      "peak_rss_mb": rss / 1024, "baseline_rss_mb": rss0 / 1024}}))
"""
BASELINE = r"""
import resource, sys, asyncio, json, logging, pathlib, datetime
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _messages(data: Path, count: int, seed: int = 1) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from nlu.data import load_data

    texts = [e.text for e in load_data(data).examples]
    heldout = ROOT / "tests" / "nlu" / "data"
    if heldout.exists():
        texts += [e.text for e in load_data(heldout).examples]
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        text = rng.choice(texts)
        if rng.random() < 0.3:  # vary the messages a little: casing, punctuation, a typo
            text = text.lower() + rng.choice(["", "?", " pls", " thanks!"])
        out.append(text)
    return out


def _child(mode: str, data: Path, model_dir: Path, messages: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(data), str(model_dir),
           str(messages)]  # fmt: skip
    if mode == "parse" and hasattr(os, "sched_setaffinity"):
        cmd = ["taskset", "-c", "0", *cmd] if _has_taskset() else cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench/nlu.py: {mode} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _has_taskset() -> bool:
    from shutil import which

    return which("taskset") is not None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT / "config" / "nlu")
    ap.add_argument("--messages", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="qm-nlu-bench-") as tmp:
        tmp_path = Path(tmp)
        messages = tmp_path / "messages.json"
        messages.write_text(json.dumps(_messages(args.data, args.messages)))
        train = _child("train", args.data, tmp_path / "model", messages)
        run = _child("parse", args.data, tmp_path / "model", messages)
        base = subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True,
                              check=True)  # fmt: skip
        baseline_mb = float(base.stdout.strip())
    figures = {
        "train_seconds": round(train["seconds"], 2),
        "train_cpu_seconds": round(train["cpu_seconds"], 2),
        "load_seconds": round(run["load_seconds"], 3),
        "load_cpu_seconds": round(run["load_cpu_seconds"], 3),
        "parse_cpu_p50_ms": round(run["cpu_p50_ms"], 3),
        "parse_cpu_p99_ms": round(run["cpu_p99_ms"], 3),
        "parse_p50_ms": round(run["p50_ms"], 3),
        "parse_p95_ms": round(run["p95_ms"], 3),
        "parse_p99_ms": round(run["p99_ms"], 3),
        "parse_max_ms": round(run["max_ms"], 3),
        "messages": run["n"],
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "added_memory_mb": round(run["peak_rss_mb"] - baseline_mb, 1),
    }
    print(
        f"training:        {figures['train_seconds']} s wall, {figures['train_cpu_seconds']} s CPU "
        "(target <= 15 s)"
    )
    print(
        f"model load:      {figures['load_seconds']} s wall, {figures['load_cpu_seconds']} s CPU "
        "(target <= 1 s)"
    )
    print(
        f"parse latency:   p50 {figures['parse_p50_ms']} ms, p95 {figures['parse_p95_ms']} ms, "
        f"p99 {figures['parse_p99_ms']} ms over {figures['messages']} messages on one core "
        "(target p99 <= 5 ms)"
    )
    print(
        f"parse CPU time:  p50 {figures['parse_cpu_p50_ms']} ms, "
        f"p99 {figures['parse_cpu_p99_ms']} ms (not inflated by other processes on a busy machine)"
    )
    print(
        f"memory:          peak RSS {figures['peak_rss_mb']} MB, "
        f"{figures['added_memory_mb']} MB above a bare interpreter (target <= 150 MB)"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
