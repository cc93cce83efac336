"""Dramatiq middleware of the training workers."""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)


class RunSweeper(dramatiq.Middleware):
    """Each worker process checks, a few times per RUN_STALE_SECONDS, for runs whose worker died.

    So a run killed with its machine is marked failed within a minute as long as any worker (or
    any page reading the run through the API) is up. The same thread sends queued runs and jobs
    again when the Redis broker restarted empty (training/requeue.py).
    """

    def __init__(self) -> None:
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._stop.clear()
        threading.Thread(target=self._sweep_forever, name="run-sweeper", daemon=True).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _sweep_forever(self) -> None:
        # Settings load this middleware before Django's apps are ready: models import only here.
        from training.requeue import resend_if_broker_emptied
        from training.runs.lifecycle import sweep_stale_runs

        interval = max(1.0, settings.RUN_STALE_SECONDS / 3)
        while not self._stop.wait(interval):
            try:
                swept = sweep_stale_runs()
                if swept:
                    log.warning("marked runs %s failed: their workers stopped sending heartbeats", swept)
                resent = resend_if_broker_emptied()
                if resent:
                    log.warning(
                        "the broker had lost its messages (Redis restarted empty); sent again: %s", resent
                    )
            except Exception:
                log.exception("sweeping stale runs failed; trying again in %.0f s", interval)
            finally:
                connection.close()
