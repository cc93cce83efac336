"""Sending work to the Dramatiq workers by actor name.

The module that asks for work never imports the one that does it: actors load PyTorch and import
the services back, so asking by name keeps web processes light and the imports free of circles.
Every actor is listed here with its queue; tests/webapp/test_jobs.py checks the list against the
actors the workers register (labeling/actors.py, training/actors.py).
"""

from __future__ import annotations

import functools
from typing import Any

import dramatiq
import redis
from django.conf import settings
from django.db import transaction
from dramatiq.middleware import CurrentMessage, Retries

GPU = "gpu"  # training and prediction: a worker on a GPU machine takes these
DEFAULT = "default"  # light work: renditions, pseudo-masks, instant previews

ACTORS = {
    "render_displays": DEFAULT,
    "train_run": GPU,
    "predict_images": GPU,
    "derive_pseudo_masks": DEFAULT,
    "apply_fluorescence_teacher": DEFAULT,
    "instant_preview": DEFAULT,
}


def queue_of(actor: str) -> str:
    """The queue an actor listens on (its decorator reads it from here)."""
    return ACTORS[actor]


def send(actor: str, *args: Any) -> None:
    """Queue a message for `actor` with these (JSON) arguments: ids, never objects."""
    if actor not in ACTORS:
        raise ValueError(f"no actor is called {actor!r}; the actors are {', '.join(ACTORS)}")
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=ACTORS[actor], actor_name=actor, args=args, kwargs={}, options={}
    )
    dramatiq.get_broker().enqueue(message)


def send_on_commit(actor: str, *args: Any) -> None:
    """Queue once the surrounding transaction commits, so the worker finds the rows it is sent."""
    transaction.on_commit(lambda: send(actor, *args))


def retry_follows() -> bool:
    """Whether the message being processed is sent again if its actor raises now (Dramatiq's
    Retries middleware, with the actor's max_retries): False outside a worker's message."""
    message = CurrentMessage.get_current_message()
    if message is None:
        return False
    actor = dramatiq.get_broker().get_actor(message.actor_name)
    limit = message.options.get("max_retries", actor.options.get("max_retries", Retries().max_retries))
    return limit is not None and message.options.get("retries", 0) < limit


def redis_client() -> redis.Redis:
    """The Redis that jobs coordinate through beside the broker: cancel flags, preview requests."""
    return _client_for(settings.REDIS_URL)


@functools.lru_cache(maxsize=8)
def _client_for(url: str) -> redis.Redis:
    # One client, and so one connection pool, per process and URL: a new client per call opened
    # a TCP connection (and its handshake) for every label save and every instant-preview read.
    # redis-py's pool is thread-safe and opens new connections in a forked child.
    return redis.Redis.from_url(url)
