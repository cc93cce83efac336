"""Live events: what the web process and the workers tell every open page of a project.

Each project has one Channels group; an event is one of the typed definitions of
webapp/events.py, sent as JSON with its "type". Whoever makes an event (a request that saved a
label, a worker that finished an epoch) hands it to `publish`, which returns at once: one
background thread per process sends events in order through the Redis channel layer, so neither
a training step nor a label save waits on the network. A live event that cannot be sent is logged and dropped:
whatever it announced is already stored, and pages read the stored state from the REST API.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer
from django.db import connection, transaction

from webapp.events import Event

log = logging.getLogger(__name__)

# The message type the consumer's handler `live_event` receives (Channels maps "." to "_").
MESSAGE_TYPE = "live.event"


def group_name(project_id: int) -> str:
    return f"project.{project_id}"


class Publisher:
    """Sends events from one thread with its own event loop (one Redis connection per process).

    A job is either an event to send or a callable run first on the same thread (the training
    reporter stores each curve point there before its event goes out, so they stay in order).
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[int, dict[str, Any], Callable[[], None] | None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._failing = False

    def publish(self, project_id: int, event: Event, *, before: Callable[[], None] | None = None) -> None:
        """Queue an event; it gets "at", the Unix time it was made (clients measure delays by it)."""
        self._ensure_thread()
        self._jobs.put((project_id, {**event.to_json(), "at": time.time()}, before))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything published so far is sent (True) or the timeout passes."""
        done = threading.Event()
        self._ensure_thread()
        self._jobs.put((0, {}, done.set))  # an empty event is not sent
        return done.wait(timeout)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's thread does not exist here
                self._jobs, self._thread, self._pid = queue.Queue(), None, os.getpid()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        # A daemon thread with its own event loop, run only while sending: Django's database calls
        # (the `before` callbacks) may not run while a loop runs, and a daemon never blocks exit.
        loop = asyncio.new_event_loop()
        layer = get_channel_layer()
        while True:
            project_id, event, before = self._jobs.get()
            if before is not None and not _call(before):
                log.error("could not store the live event %s; not sending it", event.get("type"))
                continue
            if event:
                loop.run_until_complete(self._send(layer, project_id, event))

    async def _send(self, layer: Any, project_id: int, event: dict[str, Any]) -> None:
        # One line when sending starts failing (Redis not up yet, or gone) and one when it works
        # again, not a traceback per event: a seeding script sends hundreds.
        try:
            await layer.group_send(group_name(project_id), {"type": MESSAGE_TYPE, "event": event})
        except Exception as error:
            if not self._failing:
                log.warning(
                    "could not send live events (%s: %s); dropping them until Redis answers",
                    type(error).__name__,
                    error,
                )
            self._failing = True
            return
        if self._failing:
            log.info("live events are sent again")
        self._failing = False


def _call(function: Callable[[], None]) -> bool:
    """Run `function` and close the thread's database connection, so none is left open."""
    try:
        function()
        return True
    except Exception:
        log.exception("live event callback failed")
        return False
    finally:
        connection.close()


_publisher = Publisher()


def publish(project_id: int, event: Event, *, before: Callable[[], None] | None = None) -> None:
    _publisher.publish(project_id, event, before=before)


def publish_on_commit(project_id: int, event: Event) -> None:
    """Publish once the surrounding transaction commits (never announce what was rolled back)."""
    transaction.on_commit(lambda: publish(project_id, event))


def flush(timeout: float = 10.0) -> bool:
    return _publisher.flush(timeout)
