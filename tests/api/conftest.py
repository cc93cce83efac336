"""The API as clients meet it: a real daphne serving webapp.asgi:application on the test database
(tests/browser's AppServer, without the front end). What a test creates must be committed for the
server to see it: tests here run in `transactional_db` or make their data in a fixture of their
module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import AppServer


@pytest.fixture(scope="package")
def api_server(
    django_db_setup: Any,
    django_db_blocker: Any,
    redis_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The base URL (http://127.0.0.1:<port>) of daphne on the test database."""
    with django_db_blocker.unblock():
        server = AppServer(tmp_path_factory.mktemp("daphne") / "daphne.log")
    try:
        server.wait_until_healthy()
        yield server.url
    finally:
        server.stop()
