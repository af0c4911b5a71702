"""``quartermaster nlu parse|train|evaluate``: the command-line contract of docs/nlu.md.

Every user error (missing file, malformed YAML with file and line, bad option value) ends with a
one-line message on stderr and exit code 2; nothing here prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from nlu.result import ParseResult
from nlu.settings import NLUSettings

EXIT_USAGE = 2


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def add_subcommands(
    nlu_parser: argparse.ArgumentParser, settings_factory: Callable[[], NLUSettings]
) -> None:
    """Add ``parse``, ``train`` and ``evaluate`` to the ``nlu`` parser; each sets ``func``."""
    sub = nlu_parser.add_subparsers(dest="nlu_command", metavar="{parse,train,evaluate}")
    sub.required = True

    p = sub.add_parser("parse", help="parse one message (or one per stdin line with --jsonl)")
    p.add_argument("text", nargs="?", help="the message to parse")
    p.add_argument("--json", action="store_true", help="print the parse result as JSON")
    p.add_argument("--jsonl", action="store_true", help="read messages from stdin, one per line")
    p.add_argument("--now", type=_iso_datetime, help="message time for dates (ISO 8601)")
    _common(p)
    p.set_defaults(func=_guard(lambda a: _parse(a, settings_factory)))

    t = sub.add_parser("train", help="train the embedded model and cache it")
    t.add_argument("--data", type=Path, help="training data directory (default config/nlu)")
    t.add_argument("--model-dir", type=Path, help="where to cache the model")
    t.set_defaults(func=_guard(lambda a: _train(a, settings_factory)))

    e = sub.add_parser("evaluate", help="score the model on an annotated YAML file")
    e.add_argument("--data", type=Path, help="test file or directory (Rasa YAML)")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.add_argument(
        "--cross-validation",
        action="store_true",
        help="k-fold cross-validation on the training data (or on --data)",
    )
    e.add_argument("--folds", type=_folds, default=5, help="folds for --cross-validation")
    e.add_argument("--errors", type=int, default=10, help="errors to list in the text report")
    e.add_argument("--now", type=_iso_datetime, help="message time for dates (ISO 8601)")
    _common(e)
    e.set_defaults(func=_guard(lambda a: _evaluate(a, settings_factory)))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model-dir", type=Path, help="where the cached model lives")
    p.add_argument(
        "--training-data",
        type=Path,
        dest="training_data",
        help="training data of the model (it is retrained first when stale)",
    )


def _iso_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {value!r}") from None


def _folds(value: str) -> int:
    try:
        folds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if folds < 2:
        raise argparse.ArgumentTypeError("needs at least 2 folds")
    return folds


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn expected failures into one line on stderr and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        from nlu.data import DataError
        from nlu.errors import NLUUnavailable

        try:
            return func(args)
        except BrokenPipeError:  # "| head": the reader has gone, which is not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except (CLIError, DataError, ValueError, OSError) as exc:
            print(f"quartermaster nlu: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except NLUUnavailable as exc:
            print(f"quartermaster nlu: unavailable: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130

    return run


def _settings(args: argparse.Namespace, factory: Callable[[], NLUSettings]) -> NLUSettings:
    settings = factory()
    changes: dict[str, Any] = {}
    if getattr(args, "model_dir", None) is not None:
        changes["model_dir"] = args.model_dir
    if getattr(args, "training_data", None) is not None:
        changes["data"] = args.training_data
    return replace(settings, **changes) if changes else settings


def _embedded(settings: NLUSettings) -> Any:
    from nlu.embedded import EmbeddedParser
    from nlu.model import load_or_train

    data = settings.data_path()
    if not data.exists():
        raise CLIError(f"training data not found: {data}")
    model = load_or_train(data, settings.model_path())
    return EmbeddedParser(model, settings.clusters, settings.threshold)


class _SyncRasa:
    """The asynchronous Rasa client driven by a private event loop, for the command line."""

    def __init__(self, settings: NLUSettings) -> None:
        import asyncio

        from nlu import load_parser

        self._client = load_parser(settings)
        self._loop = asyncio.new_event_loop()

    def parse_sync(self, text: str, now: datetime | None = None) -> ParseResult:
        return self._loop.run_until_complete(self._client.parse(text, now))

    def close(self) -> None:
        self._loop.run_until_complete(self._client.close())
        self._loop.close()


def _parser(settings: NLUSettings) -> Any:
    """A parser usable synchronously: the embedded model, or the Rasa client."""
    return _SyncRasa(settings) if settings.backend == "rasa" else _embedded(settings)


def _parse(args: argparse.Namespace, factory: Callable[[], NLUSettings]) -> int:
    if args.jsonl and args.text is not None:
        raise CLIError("give either TEXT or --jsonl (messages on stdin), not both")
    if not args.jsonl and args.text is None:
        raise CLIError("nothing to parse: give TEXT, or --jsonl with messages on stdin")
    parser = _parser(_settings(args, factory))
    try:
        if args.jsonl:
            for line in sys.stdin:
                result = parser.parse_sync(line.rstrip("\r\n"), args.now)
                sys.stdout.write(json.dumps(result.to_rasa(), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            return 0
        result = parser.parse_sync(args.text, args.now)
        if args.json:
            print(json.dumps(result.to_rasa(), ensure_ascii=False, indent=2))
        else:
            print(describe(result))
        return 0
    finally:
        if isinstance(parser, _SyncRasa):
            parser.close()


def describe(result: ParseResult) -> str:
    """A short human-readable rendering of a parse result."""
    intent = result.intent
    lines = [f"intent: {intent.name} ({intent.confidence:.2f})"]
    if result.is_fallback:
        closest = [r.name for r in result.intent_ranking[1:4]]
        if closest:
            lines.append("closest: " + ", ".join(closest))
    for ent in result.entities:
        span = result.text[ent.start : ent.end]
        lines.append(f"  {ent.entity}: {json.dumps(ent.value)}  <- {span!r}")
    return "\n".join(lines)


def _train(args: argparse.Namespace, factory: Callable[[], NLUSettings]) -> int:
    from nlu.data import load_data
    from nlu.model import TrainConfig, data_hash, train_from

    settings = factory()
    data = args.data if args.data is not None else settings.data_path()
    model_dir = args.model_dir if args.model_dir is not None else settings.model_path()
    if not data.exists():
        raise CLIError(f"training data not found: {data}")
    started = time.perf_counter()
    config = TrainConfig.from_data_dir(data)
    model = train_from(load_data(data), config, data_hash(data, config), started)
    model.save(model_dir)
    meta = model.meta
    print(
        f"trained on {meta['examples']} examples ({len(meta['intents'])} intents) in "
        f"{meta['train_seconds']:.1f} s; fallback threshold {model.intent.threshold:.2f}, "
        f"margin {model.intent.margin:.2f}; saved to {model_dir / 'current'}"
    )
    return 0


def _evaluate(args: argparse.Namespace, factory: Callable[[], NLUSettings]) -> int:
    from nlu.data import load_data
    from nlu.evaluate import cross_validate, evaluate, format_report

    settings = _settings(args, factory)
    if args.cross_validation:
        from nlu.model import TrainConfig

        source = args.data if args.data is not None else settings.data_path()
        data = load_data(source)
        report = cross_validate(
            data, args.folds, now=args.now, config=TrainConfig.from_data_dir(source)
        )
    else:
        if args.data is None:
            raise CLIError("evaluate needs --data FILE.yml (or --cross-validation)")
        test = load_data(args.data)
        parser = _parser(settings)
        try:
            report = evaluate(lambda text: parser.parse_sync(text, args.now), test.examples)
        finally:
            if isinstance(parser, _SyncRasa):
                parser.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(format_report(report, args.errors))
    return 0
