"""Queued runs are sent again when the Redis broker restarted empty, once, and never otherwise."""

from __future__ import annotations

import dramatiq
import pytest

import training.actors  # noqa: F401  (declares the gpu queue's actors on the broker)
from training.models import RunState, TrainingRun
from training.requeue import MARK, resend_if_broker_emptied
from webapp.jobs import GPU, redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_gpu_queue():
    broker = dramatiq.get_broker()
    broker.flush(GPU)
    yield broker
    broker.flush(GPU)
    redis_client().delete(MARK)


def gpu_messages(broker) -> list[tuple[str, tuple]]:
    """(actor, args) of every message waiting on the gpu queue."""
    raw = redis_client().hvals(f"dramatiq:{GPU}.msgs")
    messages = [dramatiq.Message.decode(value) for value in raw]
    return sorted((m.actor_name, tuple(m.args)) for m in messages)


def test_a_broker_that_lost_its_messages_gets_every_queued_run_again_once(project, users, empty_gpu_queue):
    queued = TrainingRun.objects.create(
        project=project, created_by=users["owner"], config={}, label_snapshot=[]
    )
    TrainingRun.objects.create(
        project=project, created_by=users["owner"], config={}, label_snapshot=[], state=RunState.SUCCEEDED
    )
    redis_client().delete(MARK)  # what a Redis restarted without its data looks like

    assert resend_if_broker_emptied() == {"runs": [queued.pk], "prediction_jobs": []}
    assert gpu_messages(empty_gpu_queue) == [("train_run", (queued.pk,))]
    assert resend_if_broker_emptied() == {}  # the mark is back: nothing more is sent
    assert len(gpu_messages(empty_gpu_queue)) == 1
