"""`make run`'s launcher, for real: embedded defaults (SQLite, embedded Redis), the ASGI server and
the workers start; the demo login works; a worker killed by the system is started again while the
app stays up; SIGTERM (as a service manager stops it) stops every process, workers included."""

from __future__ import annotations

import http.cookiejar
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from webapp import embedded_redis

pytestmark = pytest.mark.slow


def free_ports(count: int) -> list[int]:
    """Ports that are free now and distinct (each probe stays bound until all are chosen)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def wait_for(url: str, launcher: subprocess.Popen[bytes], log_path: Path, timeout: float = 180.0) -> None:
    """Wait until url answers 200; fail at once, with the launcher's output, if the launcher exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError as error:
            if launcher.poll() is not None:
                pytest.fail(f"the launcher exited with {launcher.returncode}:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer in {timeout:.0f} s ({error}):\n{log_path.read_text()}")
        time.sleep(0.3)


def sign_in(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(base + "/accounts/login/").read()
    csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    request = urllib.request.Request(base + "/accounts/login/", data=form.encode(), headers={"Referer": base})
    opener.open(request).read()
    return opener


def kill_training_worker_process(launcher_pid: int) -> None:
    """SIGKILL the process that runs the training queue's actors, as the kernel's OOM killer would:
    the worker process forked by Dramatiq's main process (the launcher's child)."""
    mains = [child for child in psutil.Process(launcher_pid).children() if "--queues" in child.cmdline()]
    victims = [process for main in mains for process in main.children() if "gpu" in process.cmdline()]
    assert len(mains) == 2 and len(victims) == 1, [
        p.cmdline() for p in psutil.Process(launcher_pid).children()
    ]
    victims[0].kill()


def test_the_app_starts_with_embedded_defaults_and_stops_on_sigterm_leaving_no_process(
    tmp_path: Path,
) -> None:
    port, redis_port = free_ports(2)
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        LESSLABEL_VAR_DIR=str(tmp_path / "var"),
        PORT=str(port),
        EMBEDDED_REDIS_PORT=str(redis_port),
        DEMO_USER="alice",
        DEMO_PASSWORD="s3cret-demo",
        WEB_PROCESSES="2",
    )
    root = Path(settings.BASE_DIR)
    # As `make run`: migrate, then the launcher, which makes the demo once its Redis is up.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    log_path = tmp_path / "launcher.log"
    with log_path.open("w") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "webapp.launcher", "--seed-demo"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    descendants: list[psutil.Process] = []
    try:
        wait_for(base + "/healthz", launcher, log_path)
        # The workers (training, light work) import PyTorch before they are ready: wait for both.
        deadline = time.monotonic() + 180
        while log_path.read_text().count("Worker process is ready") < 2 and time.monotonic() < deadline:
            assert launcher.poll() is None, log_path.read_text()
            time.sleep(0.5)
        opener = sign_in(base, "alice", "s3cret-demo")
        with opener.open(base + "/api/projects/") as response:
            body = response.read().decode()
        assert "Demo: synthetic nuclei" in body
        assert embedded_redis.is_running(redis_port)
        assert (tmp_path / "var" / "lesslabel.sqlite3").exists()

        kill_training_worker_process(launcher.pid)
        deadline = time.monotonic() + 180
        while log_path.read_text().count("Worker process is ready") < 3 and time.monotonic() < deadline:
            assert launcher.poll() is None, log_path.read_text()
            time.sleep(0.5)
        assert "worker exited with code" in log_path.read_text()
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            assert response.status == 200
        descendants = psutil.Process(launcher.pid).children(recursive=True)
        # WEB_PROCESSES daphnes accept on the launcher's one socket.
        web = [p for p in descendants if "daphne" in " ".join(p.cmdline())]
        assert len(web) == 2, [p.cmdline() for p in descendants]
        listening = [
            [c.laddr.port for c in p.net_connections() if c.status == psutil.CONN_LISTEN] for p in web
        ]
        assert listening == [[port], [port]]
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=90)
    left = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, [(p.pid, p.cmdline()) for p in left]
    output = log_path.read_text()
    assert launcher.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output and "alice / s3cret-demo" in output
    assert output.count("Worker process is ready") == 3
    assert "Lesslabel stopped." in output
    # Seeding before Redis was up printed a traceback for every label the demo saved.
    assert "Created demo project" in output and "Traceback" not in output
    assert not embedded_redis.is_running(redis_port)
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/healthz", timeout=2)
