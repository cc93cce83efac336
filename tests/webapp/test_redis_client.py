"""The Redis client that saves and preview reads use: one per process and URL, not one per call."""

from __future__ import annotations

from webapp import jobs


def test_the_redis_client_keeps_its_connection_from_one_call_to_the_next():
    # CLIENT ID names the server-side connection: a new client per call would open a new one.
    first = jobs.redis_client().client_id()
    assert jobs.redis_client().client_id() == first


def test_the_redis_client_follows_the_redis_url_setting(settings):
    before = jobs.redis_client()
    base, _, db = settings.REDIS_URL.rpartition("/")
    settings.REDIS_URL = f"{base}/{(int(db or 0) + 1) % 16}"
    assert jobs.redis_client() is not before
    assert jobs.redis_client().connection_pool.connection_kwargs["db"] == (int(db or 0) + 1) % 16
