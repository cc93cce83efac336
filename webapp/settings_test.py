"""Settings for the test suite: the real services of this machine when they are reachable.

PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379 run on CI
machines; the suite uses them there. Where they are not reachable it uses SQLite and an
embedded Redis (tests/conftest.py starts it). DATABASE_URL / REDIS_URL, when set, win;
TEST_DATABASE=sqlite forces SQLite even where PostgreSQL runs.
"""

from __future__ import annotations

import os
import socket
import tempfile


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


os.environ.setdefault("LESSLABEL_VAR_DIR", tempfile.mkdtemp(prefix="lesslabel-test-"))
if (
    not os.environ.get("DATABASE_URL")
    and os.environ.get("TEST_DATABASE") != "sqlite"
    and _reachable("127.0.0.1", 5432)
):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/lesslabel"
if not os.environ.get("REDIS_URL"):
    if _reachable("127.0.0.1", 6379) and os.environ.get("TEST_REDIS") != "embedded":
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/14"
    else:
        os.environ.setdefault("EMBEDDED_REDIS_PORT", str(_free_port()))

from webapp.settings import *  # noqa: E402,F403
from webapp.settings import DATABASES  # noqa: E402

# Fast hashing: tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(os.environ["LESSLABEL_VAR_DIR"], "test.sqlite3")}
