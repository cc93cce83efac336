"""`make run`: start everything Lesslabel needs on one machine and stop it all on Ctrl-C.

Starts the embedded Redis (unless REDIS_URL points at one), with --seed-demo then makes the demo
project (`manage.py seed_demo`, once Redis answers: its label saves ask for instant previews,
which the light worker makes when it starts), then the ASGI server (daphne: WEB_PROCESSES of them
on one socket) on HOST:PORT (default 127.0.0.1:8000) and two Dramatiq worker processes. A worker
that dies (killed for memory, say) is started again: its unfinished message goes back to the queue
and the new one takes it up, while the web app stays up. A worker that keeps dying within seconds
of starting is a configuration error, and then, as when Redis or a web server exits, everything
is stopped, so a half-running app never lingers.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import django

STOP_GRACE_SECONDS = 10.0
# A worker that exits this soon after starting, MAX_QUICK_EXITS times in a row, is not crashing
# now and then but cannot run at all (a bad setting, a missing package): the app stops and says so.
QUICK_EXIT_SECONDS = 60.0
MAX_QUICK_EXITS = 3


def worker_command(python: str, queue: str) -> list[str]:
    """One Dramatiq worker process with one thread on `queue`, as every deployment starts them."""
    return [python, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1", "--queues", queue]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webapp.launcher", description=__doc__.split("\n")[0])
    parser.add_argument("--seed-demo", action="store_true", help="make the demo project once Redis is up")
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    # Settings are read, and the embedded Redis's settings with them, only once Django is set up.
    from django.conf import settings

    from webapp import embedded_redis

    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    children: list[Child] = []
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
            Child(
                "redis", lambda: embedded_redis.start(port=settings.EMBEDDED_REDIS_PORT, directory=redis_dir)
            )
        )
    python = sys.executable
    base = Path(settings.BASE_DIR)
    if options.seed_demo:
        seeded = subprocess.run([python, "manage.py", "seed_demo"], cwd=base)
        if seeded.returncode != 0:
            print("The demo project could not be made; stopping.", file=sys.stderr)
            stop_all(children)
            return seeded.returncode
    try:
        listening = listen(host, int(port))
    except OSError as error:
        print(f"Cannot serve on {host}:{port}: {error.strerror}. Set HOST or PORT.", file=sys.stderr)
        stop_all(children)
        return 1
    for number in range(1, settings.WEB_PROCESSES + 1):
        name = "web" if settings.WEB_PROCESSES == 1 else f"web {number}"
        command = daphne_command(python, listening)
        children.append(
            Child(name, functools.partial(spawn, command, cwd=base, pass_fds=(listening.fileno(),)))
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
        command = worker_command(python, queue)
        env = {**os.environ, "dramatiq_queue_prefetch": "1", **extra}
        children.append(
            Child(
                name,
                functools.partial(spawn, command, cwd=base, env=env),
                restart=True,
            )
        )
    print(describe(host, port, settings.REDIS_URL, settings.DATABASES["default"]), flush=True)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return supervise(children, stop=stop)


def listen(host: str, port: int) -> socket.socket:
    """The app's listening socket, made once: every web process accepts on it (WEB_PROCESSES)."""
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((host, port))
    listening.listen(1024)
    return listening


def daphne_command(python: str, listening: socket.socket) -> list[str]:
    """One web process (daphne) serving the app on the launcher's socket."""
    return [python, "-m", "daphne", "--fd", str(listening.fileno()), "webapp.asgi:application"]


def spawn(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start a child in a session of its own: Ctrl-C reaches the launcher only, which stops it."""
    return subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True, pass_fds=pass_fds)


class Child:
    """One process of the app: `start` makes it, and makes it again when a `restart` child exits."""

    def __init__(self, name: str, start: Callable[[], subprocess.Popen[bytes]], *, restart: bool = False):
        self.name, self.start, self.restart = name, start, restart
        self.quick_exits = 0  # exits in a row, each within QUICK_EXIT_SECONDS of its start
        self.launch()

    def launch(self) -> None:
        self.process = self.start()
        self.started_at = time.monotonic()

    def note_exit(self) -> None:
        lived = time.monotonic() - self.started_at
        self.quick_exits = self.quick_exits + 1 if lived < QUICK_EXIT_SECONDS else 0

    def end_group(self) -> None:
        """Kill what is left of the exited child's process group (a worker whose main process died
        leaves its forked worker process behind, which would go on taking messages beside the new one)."""
        self.signal_group(signal.SIGKILL)

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def wait_group(self, deadline: float) -> bool:
        """Wait until no process of the child's group is left (its leader reaped, and the others
        exited); False if some are still there at `deadline`."""
        while time.monotonic() < deadline:
            self.process.poll()
            if self.process.returncode is not None and not _group_alive(self.process.pid):
                return True
            time.sleep(0.05)
        self.process.poll()
        return self.process.returncode is not None and not _group_alive(self.process.pid)

    @property
    def keeps_failing(self) -> bool:
        return self.quick_exits >= MAX_QUICK_EXITS


def _group_alive(pgid: int) -> bool:
    """Does a process that has not exited remain in the group? (An orphan reparented to a parent
    that does not reap stays a zombie; that one has exited.)"""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp
            return True
    return False


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


def supervise(children: list[Child], *, stop: threading.Event) -> int:
    """Watch the children until `stop` is set or one exits for good; then stop them all.

    Returns 0 when stopped on request, 1 when a child's exit stopped the app.
    """
    while not stop.is_set():
        for child in children:
            code = child.process.poll()
            if code is None:
                continue
            child.note_exit()
            if child.restart and not child.keeps_failing:
                child.end_group()
                print(
                    f"{child.name} exited with code {code}; starting it again.", file=sys.stderr, flush=True
                )
                child.launch()
                continue
            why = f", {child.quick_exits} times in a row within a minute of starting" if child.restart else ""
            print(
                f"{child.name} exited with code {code}{why}; stopping the rest.", file=sys.stderr, flush=True
            )
            stop_all(children)
            return 1
        stop.wait(0.2)
    stop_all(children)
    return 0


def stop_all(children: list[Child]) -> None:
    """Stop the workers and wait for them, then the web server, then Redis (the workers' last
    acknowledgements go to it: a worker whose Redis is gone blocks in shutdown and is orphaned).

    Each child runs in a process group of its own, with whatever it forked (a Dramatiq worker
    process beside its main process): the whole group gets SIGTERM, then SIGKILL for what is left
    after STOP_GRACE_SECONDS. The launcher returns only when every group is gone.
    """
    workers = [child for child in children if child.restart]
    rest = [child for child in reversed(children) if not child.restart]
    for stage in (workers, *([child] for child in rest)):
        stop_groups(stage, grace=STOP_GRACE_SECONDS)
    print("Lesslabel stopped.", flush=True)


def stop_groups(children: list[Child], *, grace: float) -> None:
    """SIGTERM to the process groups of these children, SIGKILL to what is left after `grace`."""
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        if not child.wait_group(deadline):
            child.signal_group(signal.SIGKILL)
            child.wait_group(time.monotonic() + grace)


if __name__ == "__main__":
    sys.exit(main())
