"""Work is sent to actors by name: every name in webapp/jobs.py is an actor the workers register,
on the queue the list says, and a name that is no actor is refused before anything is queued."""

from __future__ import annotations

import dramatiq
import pytest

import labeling.actors  # noqa: F401  (registers the labeling app's actors with the broker)
import training.actors  # noqa: F401  (registers the training app's actors with the broker)
from webapp import jobs


def test_every_listed_actor_is_registered_on_its_queue():
    broker = dramatiq.get_broker()
    actors = (broker.get_actor(name) for name in broker.get_declared_actors())
    ours = {actor.actor_name: actor.queue_name for actor in actors if actor.fn.__module__.endswith(".actors")}
    assert ours == jobs.ACTORS


def test_a_name_that_is_no_actor_is_refused():
    with pytest.raises(ValueError, match="no actor is called 'train'"):
        jobs.send("train", 1)
