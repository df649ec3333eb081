"""Command line: ``python -m assistants_client.emulator [--host H] [--port P] ...``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from assistants_client.emulator.server import DEFAULT_MAX_BODY_BYTES, Emulator, Timing

__all__ = ["main"]

logger = logging.getLogger("assistants_client.emulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistants-emulator",
        description="Serve a local, stateful emulator of the Assistants API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument(
        "--api-key", default=None, help="require this API key (in Foundry mode: bearer token)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--azure", action="store_true", help="serve under /openai and require api-version"
    )
    mode.add_argument(
        "--foundry",
        default=None,
        metavar="PROJECT",
        help="serve as Azure AI Foundry's Agent Service under /api/projects/PROJECT",
    )
    parser.add_argument("--db", default=None, metavar="FILE", help="persist state to SQLite")
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="largest accepted request body (default: 4 MiB)",
    )
    parser.add_argument(
        "--stream-delay",
        type=_seconds,
        default=Timing.stream_interval,
        metavar="SECONDS",
        help="pause between two streamed pieces of a reply (default: 0.001); e.g. 0.1 to watch "
        "text arrive in a page, or to leave in the middle of a stream",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="logging level (DEBUG logs every request)"
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"must be between 0 and 60 seconds, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        emulator = Emulator(
            args.host,
            args.port,
            api_key=args.api_key,
            azure=args.azure,
            foundry=args.foundry,
            db_path=args.db,
            max_body_bytes=args.max_body_bytes,
            timing=Timing(stream_interval=args.stream_delay),
        )
    except ValueError as problem:
        sys.stderr.write(f"assistants-emulator: {problem}\n")
        return 2
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        emulator.start()
    except OSError as problem:
        sys.stderr.write(
            f"assistants-emulator: cannot listen on {args.host}:{args.port}: {problem}\n"
        )
        return 1
    sys.stdout.write(f"{emulator.base_url}\n")
    sys.stdout.flush()
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        emulator.stop()
        logger.info("emulator stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
