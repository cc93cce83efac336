"""The configured Redis, broker and database are real and reachable, whichever path runs:
the machine's PostgreSQL and Redis on CI, SQLite and the embedded Redis elsewhere."""

from __future__ import annotations

import uuid

import dramatiq
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from dramatiq.brokers.redis import RedisBroker

pytestmark = pytest.mark.django_db


def test_the_database_is_postgresql_when_the_machine_runs_it():
    expected = "postgresql" if "postgres" in settings.DATABASES["default"]["ENGINE"] else "sqlite"
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_the_dramatiq_broker_runs_an_actor_through_the_configured_redis(redis_server):
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedisBroker)
    queue = f"test-{uuid.uuid4().hex[:8]}"
    key = f"lesslabel-test:{queue}"

    @dramatiq.actor(queue_name=queue, broker=broker, max_retries=0)
    def record(value: str) -> None:
        redis.Redis.from_url(settings.REDIS_URL).rpush(key, value)

    record.send("first")
    record.send("second")
    worker = dramatiq.Worker(broker, queues={queue}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        broker.join(queue, timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert client.lrange(key, 0, -1) == [b"first", b"second"]
    client.delete(key)


def test_health_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


def test_health_fails_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")


def test_the_openapi_schema_describes_the_api(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("reader"))
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/images/{image_id}/annotations/" in schema["paths"]
    assert "/api/projects/{project_id}/runs/" in schema["paths"]
    assert client.get("/api/docs/").status_code == 200


def test_the_openapi_schema_has_every_view_without_a_guess(tmp_path):
    """drf-spectacular leaves out a view whose response it cannot work out, with only a log line:
    --fail-on-warn turns that into a failure, so no endpoint drops out of /api/docs/ unnoticed."""
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/projects/{project_id}/fluorescence-teacher/:" in (tmp_path / "schema.yml").read_text()
