"""The app as `make run` starts it, for the commands that measure it end to end (live-latency,
preview-latency): the environment of a throw-away installation in a temporary folder, a Redis
(REDIS_URL's, else an embedded one), daphne and one Dramatiq worker, and a project owner signed in.

The project and session helpers work once Django is set up (`django.setup()` after `environment`
is in os.environ); the app's modules they use are imported inside them, after the caller set it up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(folder: Path, *, rate: int) -> dict[str, str]:
    """Settings of a fresh installation in `folder` (SQLite, media), `rate` live events a second."""
    env = {
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "LESSLABEL_VAR_DIR": str(folder),
        "MEDIA_ROOT": str(folder / "media"),
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "LIVE_PROGRESS_PER_SECOND": str(rate),
        "TRAIN_DEVICE": os.environ.get("TRAIN_DEVICE", "auto"),
        "BENCH_PORT": str(free_port()),
        "LOG_LEVEL": "WARNING",
        "dramatiq_queue_prefetch": "1",
    }
    if not os.environ.get("REDIS_URL"):
        env["EMBEDDED_REDIS_PORT"] = str(free_port())
        env["REDIS_URL"] = f"redis://127.0.0.1:{env['EMBEDDED_REDIS_PORT']}/0"
        env["BENCH_EMBEDDED_REDIS"] = "1"
    else:
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return env


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # A worker still training leaves its forked process behind when only the parent is
            # killed (it then trains on alone): end the whole session the service leads.
            if os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()


def start_redis(folder: Path, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    from webapp import embedded_redis  # app modules load only in the commands that run the app

    if not env.get("BENCH_EMBEDDED_REDIS"):
        return []
    return [embedded_redis.start(port=int(env["EMBEDDED_REDIS_PORT"]), directory=folder / "redis")]


def daphne_command(port: str) -> list[str]:
    """The web server as `make run` starts it, on the loopback at `port`."""
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", port, "webapp.asgi:application"]


def start_services(
    folder: Path, env: dict[str, str], *, queues: Sequence[str]
) -> list[subprocess.Popen[bytes]]:
    """daphne and one worker on `queues`, as `make run` starts them: live-latency's on the gpu
    queue (training), preview-latency's on the default queue (where previews are made),
    app-parity's on both (training, prediction, and the renditions of imported images)."""
    child_env = {**os.environ, **env}
    log = (folder / "services.log").open("wb")
    root = Path(__file__).resolve().parents[2]
    commands = [
        daphne_command(env["BENCH_PORT"]),
        [
            sys.executable,
            "manage.py",
            "rundramatiq",
            "--processes",
            "1",
            "--threads",
            "1",
            "--queues",
            *queues,
        ],
    ]
    processes = [
        subprocess.Popen(
            command, cwd=root, env=child_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        for command in commands
    ]
    print(f"services started; their log: {folder / 'services.log'}", file=sys.stderr)
    return processes


def wait_for_http(port: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def bench_project(name: str) -> tuple[Any, Any]:
    """A new user "bench" and the project it owns, with one countable class, "nucleus"."""
    from labeling import services  # needs django.setup() first

    owner = get_user_model().objects.create_user(username="bench", password="bench-password")
    project = services.project_create(name=name, owner=owner)
    services.label_class_create(project=project, name="nucleus", color="#ff0000", countable=True)
    return owner, project


def session_cookie(user: Any) -> str:
    """A Cookie header value that signs `user` in, as the browser's after logging in."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"
