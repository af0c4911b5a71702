"""``python -m nlu parse|train|evaluate`` with default settings (same commands as the bot CLI)."""

from __future__ import annotations

import argparse
import sys

from nlu.cli import add_subcommands
from nlu.settings import NLUSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu", description=__doc__)
    add_subcommands(parser, NLUSettings)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
