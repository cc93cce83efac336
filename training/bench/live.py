"""python -m training.bench live-latency: how fast live events reach a browser, and what they cost.

Starts what `make run` starts, in a temporary folder: a Redis (REDIS_URL's, else an embedded one),
the ASGI server (daphne) and one Dramatiq worker, on a fresh SQLite database with generated
images. A real WebSocket client signed in as a member watches a real training run on the worker;
each event's latency is the client's receive time minus the event's "at" (the time the worker
made it; both on this machine's clock). Then the cost of live progress on training throughput:
the same short training, in this process, with and without the reporter that stores and
publishes progress, alternated so that drift in the machine's speed hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import django
import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from tqdm import tqdm
from websockets.sync.client import connect

from training.bench import stack
from training.bench.options import Commands, add_quick_and_out
from training.ml.loop import Callbacks, Trainer, choose_device

ENOUGH_EVENTS = 200


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "live-latency", help="WebSocket event latency and the cost of live progress"
    )
    command.add_argument(
        "--events", type=int, default=300, help=f"events to measure (at least {ENOUGH_EVENTS})"
    )
    command.add_argument("--rate", type=int, default=25, help="progress events per second during the run")
    command.add_argument("--cost-steps", type=int, default=120, help="training steps per throughput trial")
    command.add_argument("--trials", type=int, default=3, help="with/without pairs for the throughput cost")
    add_quick_and_out(command, quick="smoke run: the least events, one trial")
    command.set_defaults(command=live_latency)


def live_latency(args: argparse.Namespace) -> dict[str, Any]:
    if args.events < ENOUGH_EVENTS:
        raise SystemExit(f"--events must be at least {ENOUGH_EVENTS}")
    if args.quick:
        args.events, args.trials, args.cost_steps = ENOUGH_EVENTS, 1, 30
    folder = Path(tempfile.mkdtemp(prefix="lesslabel-live-bench-"))
    env = stack.environment(folder, rate=args.rate)
    os.environ.update(env)
    django.setup()
    call_command("migrate", verbosity=0)
    redis = stack.start_redis(folder, env)
    try:
        app = stack.start_services(folder, env, queues=["gpu"])
        try:
            port = int(env["BENCH_PORT"])
            project, cookie = _project_with_labels()
            stack.wait_for_http(port)
            latencies = _measure_latency(port, project, cookie, events=args.events)
        finally:
            stack.stop(app)  # the throughput trials run alone on the machine
        # --quick only checks that both trials run: the smallest patches do.
        patch = (64, 4) if args.quick else (128, 8)
        cost = _throughput_cost(project, steps=args.cost_steps, trials=args.trials, patch=patch)
    finally:
        stack.stop(redis)
    return {
        "events": len(latencies),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "max_ms": round(float(np.max(latencies)), 2),
        "throughput_cost": round(cost["cost"], 4),
        "throughput": cost,
        "config": {"rate_per_second": args.rate, "redis": env["REDIS_URL"], "database": "sqlite"},
    }


def _project_with_labels() -> tuple[Any, str]:
    """A project with 4 generated 256 px fields and dense masks; a session cookie for its owner."""
    from labeling import services  # needs django.setup() first
    from labeling.imageio import encode_png  # app modules load only in the commands that run the app
    from labeling.synthetic import synthetic_field  # app modules load only in the commands that run the app

    owner, project = stack.bench_project("Live bench")
    for seed in range(4):
        field = synthetic_field(seed=seed, height=256, width=256)
        (image,) = services.image_ingest(
            project=project,
            uploader=owner,
            uploads=[services.Upload(f"f{seed}.png", encode_png(field.brightfield))],
        )
        mask = np.where(field.mask, 2, 1).astype(np.uint8)
        services.annotation_save(
            image=image, author=owner, kind="dense", base_version=0, data={}, mask=encode_png(mask)
        )
    return project, stack.session_cookie(owner)


def _measure_latency(port: int, project: Any, cookie: str, *, events: int) -> list[float]:
    """Start a run long enough for `events` progress events and time each one's arrival."""
    from training.runs import create, lifecycle  # needs django.setup() first

    owner = project.memberships.get().user
    latencies: list[float] = []
    headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
    with connect(f"ws://127.0.0.1:{port}/ws/projects/{project.pk}/", additional_headers=headers) as client:
        hello = json.loads(client.recv(timeout=10))
        if hello.get("type") != "hello":
            raise SystemExit(f"the socket did not greet us: {hello}")
        run = create.run_create(
            project=project,
            user=owner,
            options={"patch_size": 64, "batch_size": 4, "steps": 100_000, "steps_per_epoch": 100_000},
        )
        with tqdm(total=events, desc="live events", unit="event") as bar:
            while len(latencies) < events:
                message = json.loads(client.recv(timeout=300))
                received = time.time()
                if message.get("type") == "run.progress" and message.get("run") == run.pk:
                    latencies.append((received - message["at"]) * 1000.0)
                    bar.update(1)
                elif message.get("type") == "run.state" and message["state"] in ("failed", "cancelled"):
                    raise SystemExit(f"the bench run ended early: {message}")
        lifecycle.run_cancel(run=run)
    return latencies


def _throughput_cost(project: Any, *, steps: int, trials: int, patch: tuple[int, int]) -> dict[str, Any]:
    """Steps per second of the same training (patch = (size, batch)) with and without the live
    reporter, alternated."""
    from training.runs import create, lifecycle  # needs django.setup() first
    from training.runs.reporter import RunReporter  # needs django.setup() first
    from training.runs.snapshot import load_run_data  # needs django.setup() first
    from training.runs.spec import RunSpec  # needs django.setup() first
    from webapp import live  # app modules load only in the commands that run the app

    settings.LIVE_PROGRESS_PER_SECOND = 4  # the default a real deployment runs with
    owner = project.memberships.get().user
    options = {
        "patch_size": patch[0],
        "batch_size": patch[1],
        "steps": steps,
        "steps_per_epoch": steps + 1,
        "warmup_steps": 5,
    }
    with transaction.atomic():  # cancelled before its message is sent: no worker takes it
        run = create.run_create(project=project, user=owner, options=options)
        lifecycle.run_cancel(run=run)
    spec = RunSpec.from_json(run.config)
    config = spec.train
    data = load_run_data(run.label_snapshot, spec)
    device = choose_device(settings.TRAIN_DEVICE)

    def trial(publishing: bool) -> float:
        callbacks = Callbacks(on_step=RunReporter(run, steps=steps).progress) if publishing else Callbacks()
        trainer = Trainer(config, train=data.train, validation=[], device=device, callbacks=callbacks)
        started = time.perf_counter()
        trainer.fit()
        if publishing:
            live.flush()
        return steps / (time.perf_counter() - started)

    trial(False)  # warm-up: first-touch allocations, thread pools
    without, with_live = [], []
    for _ in tqdm(range(trials), desc="throughput trials", unit="pair"):
        without.append(trial(False))
        with_live.append(trial(True))
    base, live_rate = statistics.median(without), statistics.median(with_live)
    return {
        "without_steps_per_second": round(base, 3),
        "with_steps_per_second": round(live_rate, 3),
        "trials": trials,
        "steps": steps,
        "patch_size": patch[0],
        "batch_size": patch[1],
        "cost": 1.0 - live_rate / base,
    }
