"""The launcher's supervisor on real (tiny) processes: a dying worker is started again and the rest
of the app stays up; a worker that cannot start stops the app instead of looping."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from webapp import launcher

SLEEPER = "import time; time.sleep(120)"
# Each start appends a line to the log; the first start leaves a grandchild behind (as a Dramatiq
# worker process outlives its main process) and exits, later starts run until stopped.
FLAKY_WORKER = """
import subprocess, sys, time
log = sys.argv[1]
with open(log, "a") as f:
    f.write("start\\n")
if open(log).read().count("start") == 1:
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    open(log + ".orphan", "w").write(str(orphan.pid))
    sys.exit(9)
time.sleep(120)
"""


def python_child(name: str, code: str, *args: str, restart: bool = False) -> launcher.Child:
    return launcher.Child(
        name,
        lambda: launcher.spawn([sys.executable, "-c", code, *args], cwd=Path.cwd()),
        restart=restart,
    )


def starts(log: Path) -> int:
    return log.read_text().count("start") if log.exists() else 0


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_worker_that_dies_is_started_again_while_the_web_server_keeps_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "worker.log"
    web = python_child("web", SLEEPER)
    worker = python_child("worker", FLAKY_WORKER, str(log), restart=True)
    stop = threading.Event()
    result: list[int] = []
    supervisor = threading.Thread(target=lambda: result.append(launcher.supervise([web, worker], stop=stop)))
    supervisor.start()
    try:
        wait_until(lambda: starts(log) == 2)
        first_web = web.process.pid
        time.sleep(0.5)  # a few supervisor rounds: nothing else is restarted or stopped
        assert web.process.poll() is None and web.process.pid == first_web
        assert worker.process.poll() is None
        orphan = int(Path(str(log) + ".orphan").read_text())
        wait_until(lambda: gone(orphan), timeout=5)
    finally:
        stop.set()
        supervisor.join(timeout=30)
    assert result == [0]
    assert web.process.poll() is not None and worker.process.poll() is not None
    assert starts(log) == 2
    assert "worker exited with code 9; starting it again." in capsys.readouterr().err


def test_a_worker_that_keeps_dying_as_it_starts_stops_the_whole_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "worker.log"
    code = "import sys; open(sys.argv[1], 'a').write('start\\n'); sys.exit(3)"
    web = python_child("web", SLEEPER)
    worker = python_child("worker", code, str(log), restart=True)

    assert launcher.supervise([web, worker], stop=threading.Event()) == 1

    assert starts(log) == launcher.MAX_QUICK_EXITS
    assert web.process.poll() is not None, "the web server was left running"
    err = capsys.readouterr().err
    assert f"worker exited with code 3, {launcher.MAX_QUICK_EXITS} times in a row" in err
    assert "stopping the rest" in err


def test_the_web_server_exiting_stops_the_workers_without_a_restart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    web = python_child("web", "import sys; sys.exit(2)")
    worker = python_child("worker", SLEEPER, restart=True)

    assert launcher.supervise([web, worker], stop=threading.Event()) == 1

    assert worker.process.poll() is not None
    assert "web exited with code 2; stopping the rest." in capsys.readouterr().err


# A worker as Dramatiq runs one: a main process that exits at once on SIGTERM, and a forked worker
# process in its group that needs a moment to acknowledge its message to Redis before it exits.
DRAINING_WORKER = """
import subprocess, sys, time
log, redis_pid = sys.argv[1], sys.argv[2]
DRAIN = '''
import os, signal, sys, time
def drain(signum, frame):
    time.sleep(1.0)
    try:
        os.kill(int(sys.argv[2]), 0)
        alive = "redis alive"
    except ProcessLookupError:
        alive = "redis gone"
    open(sys.argv[1], "a").write(alive + "\\\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, drain)
open(sys.argv[1] + ".pid", "w").write(str(os.getpid()))
time.sleep(120)
'''
subprocess.Popen([sys.executable, "-c", DRAIN, log, redis_pid])
time.sleep(120)
"""


def test_stopping_waits_for_every_worker_process_before_redis_and_leaves_no_orphan(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    redis = python_child("redis", SLEEPER)
    web = python_child("web", SLEEPER)
    worker = python_child("worker", DRAINING_WORKER, str(log), str(redis.process.pid), restart=True)
    wait_until(lambda: Path(f"{log}.pid").exists())
    drainer = int(Path(f"{log}.pid").read_text())

    launcher.stop_all([redis, web, worker])

    assert log.read_text().splitlines() == ["redis alive"]  # Redis stopped only after it drained
    assert gone(drainer) and gone(worker.process.pid) and gone(redis.process.pid) and gone(web.process.pid)


def test_a_worker_process_that_ignores_sigterm_is_killed_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launcher, "STOP_GRACE_SECONDS", 1.0)
    pid_file = tmp_path / "stubborn.pid"
    stubborn = (
        "import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"
    )
    spawner = (
        "import subprocess, sys, time; "
        f"subprocess.Popen([sys.executable, '-c', {stubborn!r}, sys.argv[1]]); time.sleep(120)"
    )
    worker = python_child("worker", spawner, str(pid_file), restart=True)
    wait_until(lambda: pid_file.exists() and pid_file.read_text() != "")
    started = time.monotonic()

    launcher.stop_all([worker])

    assert time.monotonic() - started < 5
    assert gone(int(pid_file.read_text())) and gone(worker.process.pid)
