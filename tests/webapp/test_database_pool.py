"""DATABASE_POOL=1 on PostgreSQL: each process keeps a few connections open instead of one per request."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

PROBE = """
import django
django.setup()
from django.db import connection
for _ in range(10):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        print(cursor.fetchone()[0])
    connection.close()  # what the end of a request does: back to the pool, or closed
print("pool" if connection.pool is not None else "none")
"""


def backends(pool: str) -> list[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DATABASE_POOL": pool}
    # The server's own database: the probe needs a connection, not the tables.
    env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL=postgres://..."
)
def test_the_pool_serves_requests_from_one_backend_and_none_opens_one_per_request():
    *pids, kind = backends("1")
    # Ten requests, at most two backends (the pool may open its second while the first is busy).
    assert kind == "pool" and len(set(pids)) <= 2
    *pids, kind = backends("0")
    assert kind == "none" and len(set(pids)) == 10
