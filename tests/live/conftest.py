"""A real Dramatiq worker process on the test database, the broker and media of this session.

The worker runs `manage.py rundramatiq` exactly as `make run` does, against the machine's
Redis when the suite uses it (CI) and the embedded one otherwise. Tests that use it need
committed data: they use `transactional_db`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dramatiq
import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from labeling import services
from labeling.models import Image, Project, Split
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes

# A heartbeat a second. The workers' own sweep waits 30 s before it calls a run stale: a busy
# machine can starve a heartbeat thread for a few seconds, and a tighter limit there failed
# healthy runs. The tests of the sweep set RUN_STALE_SECONDS low in the test process, whose
# API reads sweep too.
HEARTBEAT_SECONDS = "1"
STALE_SECONDS = "30"


def database_url() -> str:
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    return (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
        f"{settings_dict['NAME']}"
    )


def service_environment(**overrides: str) -> dict[str, str]:
    """The environment of a process of the app (a worker, daphne) started by a test: this
    session's database, Redis, media and key, tight run timings, and `overrides`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTEST") and key != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        SECRET_KEY=settings.SECRET_KEY,
        RUN_HEARTBEAT_SECONDS=HEARTBEAT_SECONDS,
        RUN_STALE_SECONDS=STALE_SECONDS,
        dramatiq_queue_prefetch="1",  # as `make run` and the Dockerfile start workers
    )
    env.update(overrides)
    return env


def stop_group(process: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM the process and its children (started in a session of their own), then SIGKILL
    them if they have not exited within `grace` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class Worker:
    def __init__(self, log_path: Path) -> None:
        env = service_environment(TRAIN_DEVICE="cpu", OMP_NUM_THREADS="1")
        self.log_path = log_path
        self.log = log_path.open("wb")
        command = [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1"]
        self.process = subprocess.Popen(
            [*command, "--queues", "default", "gpu"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (its master and the process training): a lost machine."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_group(self.process, grace=30)
        self.log.close()


@pytest.fixture(scope="module")
def start_worker(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], Worker]]:
    """start_worker() -> a running worker; every worker started is stopped after the module."""
    dramatiq.get_broker().flush_all()  # messages of earlier sessions mean nothing here
    started: list[Worker] = []

    def start() -> Worker:
        with django_db_blocker.unblock():
            worker = Worker(tmp_path_factory.mktemp("worker") / "worker.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def worker(start_worker: Callable[[], Worker]) -> Worker:
    return start_worker()


async def off_the_loop(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call sync Django code (a test client request) from an async test, on a thread whose
    database connection is closed afterwards (the test client keeps it open otherwise, and an
    open connection stops the test database from being dropped)."""

    def call() -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return await sync_to_async(call, thread_sensitive=False)()


def wait_until(
    condition: Callable[[], Any], *, timeout: float, what: str, worker: Worker | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n--- worker log ---\n{worker.output()[-4000:]}" if worker else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(0.2)


def add_labelled_images(
    project: Project, uploader: Any, *, count: int = 3, validation: int = 1
) -> list[Image]:
    """Small synthetic fields with dense masks (background 1, nucleus 2); the last `validation` in
    the validation split."""
    images = []
    for seed in range(count + validation):
        field = synthetic_field(seed=seed, height=64, width=64, nuclei=4, radius=(5, 9))
        (image,) = services.image_ingest(
            project=project,
            uploader=uploader,
            uploads=[services.Upload(f"field-{seed:02d}.png", png_bytes(field.brightfield))],
        )
        if seed >= count:
            image = services.image_update(image=image, split=Split.VALIDATION)
        mask = np.where(field.mask > 0, 2, 1).astype(np.uint8)
        services.annotation_save(
            image=image, author=uploader, kind="dense", base_version=0, data={}, mask=png_bytes(mask)
        )
        images.append(image)
    return images


TINY_RUN = {
    "architecture": "unet",
    "encoder": "resnet18",
    "patch_size": 64,
    "batch_size": 4,
    "steps": 30,
    "steps_per_epoch": 10,
    "warmup_steps": 5,
    "preview_images": 2,
}
