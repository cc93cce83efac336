"""python -m training.bench: the commands live in cli.py (`--help` lists them)."""

from __future__ import annotations

import sys

from training.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
