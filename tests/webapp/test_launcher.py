"""`make run`'s launcher, for real: embedded defaults (SQLite, embedded Redis), the ASGI server and
a worker start; the demo login works; Ctrl-C stops every process."""

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

import pytest
from django.conf import settings

from webapp import embedded_redis

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
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


def test_the_app_starts_with_embedded_defaults_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        LESSLABEL_VAR_DIR=str(tmp_path / "var"),
        PORT=str(port),
        EMBEDDED_REDIS_PORT=str(redis_port),
        DEMO_USER="alice",
        DEMO_PASSWORD="s3cret-demo",
    )
    root = Path(settings.BASE_DIR)
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=root, env=env, check=True, capture_output=True
        )
    log_path = tmp_path / "launcher.log"
    with log_path.open("w") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "webapp.launcher"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz")
        # The workers (training, light work) import PyTorch before they are ready: wait for both.
        deadline = time.monotonic() + 180
        while log_path.read_text().count("Worker process is ready") < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        opener = sign_in(base, "alice", "s3cret-demo")
        with opener.open(base + "/api/projects/") as response:
            body = response.read().decode()
        assert "Demo: synthetic nuclei" in body
        assert embedded_redis.is_running(redis_port)
        assert (tmp_path / "var" / "lesslabel.sqlite3").exists()
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=60)
    output = log_path.read_text()
    assert launcher.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output and "alice / s3cret-demo" in output
    assert output.count("Worker process is ready") == 2
    assert "Lesslabel stopped." in output
    assert not embedded_redis.is_running(redis_port)
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/healthz", timeout=2)
