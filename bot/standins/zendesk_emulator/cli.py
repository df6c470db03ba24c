"""`python -m bot.standins.zendesk_emulator`: run the emulator in the foreground."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.standins.zendesk_emulator.server import serve, wait_forever


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options; the portbot CLI can reuse them for `portbot zendesk-emulator`."""
    parser = parser or argparse.ArgumentParser(
        prog="zendesk-emulator", description="A local Zendesk API emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--state", type=Path, help="keep the account in this JSON file")
    parser.add_argument(
        "--token",
        default="emulator-token",
        help="API token to accept (email/token:TOKEN or Bearer TOKEN); "
        "'any' accepts any credentials",
    )
    parser.add_argument(
        "--rate-limit", type=int, default=700, help="requests per minute before answering 429"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        emulator = serve(
            args.host,
            args.port,
            state_file=args.state,
            token=None if args.token == "any" else args.token,
            rate_limit_per_minute=args.rate_limit,
        )
    except OSError as exc:
        print(f"zendesk-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"Zendesk emulator on {emulator.url}/ (API at {emulator.url}/api/v2)", flush=True)
    wait_forever(emulator)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
