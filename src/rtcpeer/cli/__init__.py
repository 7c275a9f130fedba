"""The ``rtcpeer`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import rtcpeer

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtcpeer",
        description="rtcpeer: a WebRTC stack for Python. Tools and demos.",
    )
    parser.add_argument("--version", action="version", version=f"rtcpeer {rtcpeer.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    loopback = commands.add_parser(
        "loopback",
        help="two peers in one process over real loopback sockets, printing their state timeline",
        description=(
            "Connect two peers inside this process over UDP on 127.0.0.1 and print every "
            "state change of both, with timestamps, then close them."
        ),
    )
    loopback.add_argument(
        "--media-seconds",
        type=float,
        default=2.0,
        help="how long Bob decodes Alice's camera and microphone (default 2)",
    )
    loopback.add_argument(
        "--bytes", type=int, default=1 << 20, help="bytes to send once connected (default 1 MiB)"
    )
    loopback.add_argument(
        "--timeout", type=float, default=20.0, help="give up after this many seconds"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rtcpeer`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.command is None:
        _parser().print_help()
        return 0
    if args.command == "loopback":
        from rtcpeer.cli.loopback import run_loopback

        return asyncio.run(
            run_loopback(
                payload_bytes=args.bytes, timeout=args.timeout, media_seconds=args.media_seconds
            )
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
