"""`make run`: start everything Lesslabel needs on one machine and stop it all on Ctrl-C.

Starts the embedded Redis (unless REDIS_URL points at one), the ASGI server (daphne) on
HOST:PORT (default 127.0.0.1:8000) and one Dramatiq worker process. If any of them exits, the
others are stopped too, so a half-running app never lingers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import django

STOP_GRACE_SECONDS = 10.0


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    from django.conf import settings

    from webapp import embedded_redis

    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    if settings.REDIS_EMBEDDED:
        if embedded_redis.is_running(settings.EMBEDDED_REDIS_PORT):
            print(
                f"Port {settings.EMBEDDED_REDIS_PORT} already has a Redis: is Lesslabel running already? "
                "Stop it, or set EMBEDDED_REDIS_PORT.",
                file=sys.stderr,
            )
            return 1
        redis_dir = Path(settings.VAR_DIR) / "redis"
        children.append(
            ("redis", embedded_redis.start(port=settings.EMBEDDED_REDIS_PORT, directory=redis_dir))
        )
    python = sys.executable
    base = Path(settings.BASE_DIR)
    children.append(
        (
            "web",
            subprocess.Popen(
                [python, "-m", "daphne", "-b", host, "-p", port, "webapp.asgi:application"],
                cwd=base,
                start_new_session=True,
            ),
        )
    )
    # Two workers: training and scoring (queue "gpu") in one, the light work (queue "default":
    # instant previews, the fluorescence teacher, renditions) in the other, so a preview is never
    # stuck behind a training run. One message at a time each: a queued run waits in Redis for a
    # free worker rather than behind a busy one; the light worker polls Redis every 100 ms when
    # idle (dramatiq backs off to 1 s by default). Both are read by dramatiq from the environment.
    for name, queue, extra in (
        ("worker", "gpu", {}),
        ("light worker", "default", {"dramatiq_worker_timeout": "100"}),
    ):
        children.append(
            (
                name,
                subprocess.Popen(
                    [
                        python,
                        "manage.py",
                        "rundramatiq",
                        "--processes",
                        "1",
                        "--threads",
                        "1",
                        "--queues",
                        queue,
                    ],
                    cwd=base,
                    env={**os.environ, "dramatiq_queue_prefetch": "1", **extra},
                    start_new_session=True,
                ),
            )
        )
    print(describe(host, port, settings.REDIS_URL, settings.DATABASES["default"]), flush=True)
    return supervise(children)


def describe(host: str, port: str, redis_url: str, database: Mapping[str, Any]) -> str:
    user = os.environ.get("DEMO_USER", "demo")
    password = os.environ.get("DEMO_PASSWORD", "demo")
    return (
        f"\nLesslabel is running at http://{host}:{port}/\n"
        f"  demo login: {user} / {password}\n"
        f"  database:   {database['ENGINE']} {database['NAME']}\n"
        f"  redis:      {redis_url}\n"
        f"  API docs:   http://{host}:{port}/api/docs/\n"
        "Press Ctrl-C to stop.\n"
    )


def supervise(children: list[tuple[str, subprocess.Popen[bytes]]]) -> int:
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    while not stopping:
        for name, process in children:
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping the rest.", file=sys.stderr)
                exit_code = 1
                stopping = True
        time.sleep(0.2)
    stop_all(children)
    return exit_code


def stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Stop the web server and worker first, Redis last (the worker drains into it)."""
    for _, process in reversed(children):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    print("Lesslabel stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
