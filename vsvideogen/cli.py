"""The ``vsvideogen`` command. Each subcommand lives in ``vsvideogen/commands/<name>.py`` and provides
``add_parser(subparsers)`` (registering itself with ``set_defaults(handler=main)``) and ``main(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

COMMANDS = ("run", "demo", "models", "train")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per module in :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="vsvideogen", description="Neural video filters for VapourSynth and ffmpeg.")
    parser.add_argument("--version", action="version", version=f"vsvideogen {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"vsvideogen.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
