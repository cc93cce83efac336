"""python -m training.bench: the commands live in cli.py (`--help` lists them)."""

from __future__ import annotations

import signal
import sys

from training.bench.cli import main


def stop_on_terminate(signum: int, frame: object) -> None:
    """SIGTERM ends a command as Ctrl-C does, through its `finally` blocks, so the services it
    started (daphne, a worker, an embedded Redis) are stopped, not left running without it."""
    sys.exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop_on_terminate)
    sys.exit(main())
