"""The live events' definitions (webapp/events.py) and the front end's types made from them."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from channels.layers import channel_layers
from django.conf import settings

from webapp import events
from webapp.live import Publisher

GENERATED = Path(settings.BASE_DIR) / "frontend" / "src" / "api" / "events.gen.ts"
REGENERATE = "python -m webapp.events > frontend/src/api/events.gen.ts"


def sample(hint: Any) -> Any:
    """A value of the type `hint`, for building an event of every kind."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return sample(next(arg for arg in typing.get_args(hint) if arg is not type(None)))
    if origin is list:
        return [sample(typing.get_args(hint)[0])]
    if origin is dict:
        key, value = typing.get_args(hint)
        return {sample(key): sample(value)}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return build(hint)
    return {int: 7, float: 0.5, str: "text", bool: True}[hint]


def build(cls: type) -> Any:
    hints = typing.get_type_hints(cls)
    return cls(**{field.name: sample(hints[field.name]) for field in dataclasses.fields(cls)})


def test_the_committed_typescript_is_what_the_definitions_generate():
    assert GENERATED.read_text() == events.typescript(), (
        f"{GENERATED.relative_to(settings.BASE_DIR)} is out of date with webapp/events.py: "
        f"regenerate it with `{REGENERATE}` and commit it"
    )


def test_every_event_type_is_in_the_typescript_union():
    union = events.typescript().split("export type LiveEvent =")[1]
    for cls in events.EVENTS.values():
        assert f"| {cls.__name__}Event" in union


@pytest.mark.parametrize("kind", sorted(events.EVENTS))
def test_an_events_json_has_its_type_first_then_its_fields(kind):
    cls = events.EVENTS[kind]
    event = build(cls)
    message = event.to_json()
    names = [field.name for field in dataclasses.fields(cls)]
    assert list(message) == ["type", *names]
    assert message["type"] == kind == cls.TYPE
    assert message == {"type": kind, **dataclasses.asdict(event)}
    assert json.loads(json.dumps(message)) == message, "it travels as JSON unchanged"


def test_every_type_is_named_once():
    types_ = [cls.TYPE for cls in events.EVENTS.values()]
    assert len(types_) == len(set(types_)) and all(types_)


def test_events_that_cannot_be_sent_are_logged_once_not_each_with_a_traceback(settings, caplog):
    # Redis not up yet (make run seeding the demo): hundreds of events, one line.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0"}]},
        }
    }
    channel_layers.backends.clear()
    try:
        publisher = Publisher()
        for image in range(20):
            publisher.publish(1, events.ImageRendered(image=image, made=["gray"]))
        assert publisher.flush(timeout=60)
    finally:
        channel_layers.backends.clear()
    failures = [r for r in caplog.records if "could not send live events" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None
