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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

ENOUGH_EVENTS = 200


def add_command(commands: Any) -> None:
    command = commands.add_parser(
        "live-latency", help="WebSocket event latency and the cost of live progress"
    )
    command.add_argument(
        "--events", type=int, default=300, help=f"events to measure (at least {ENOUGH_EVENTS})"
    )
    command.add_argument("--rate", type=int, default=25, help="progress events per second during the run")
    command.add_argument("--cost-steps", type=int, default=120, help="training steps per throughput trial")
    command.add_argument("--trials", type=int, default=3, help="with/without pairs for the throughput cost")
    command.add_argument("--quick", action="store_true", help="smoke run: the least events, one trial")
    command.add_argument("--out", type=Path, help="write the JSON result here")
    command.set_defaults(command=live_latency)


def live_latency(args: argparse.Namespace) -> dict[str, Any]:
    if args.events < ENOUGH_EVENTS:
        raise SystemExit(f"--events must be at least {ENOUGH_EVENTS}")
    if args.quick:
        args.events, args.trials, args.cost_steps = ENOUGH_EVENTS, 1, 30
    folder = Path(tempfile.mkdtemp(prefix="lesslabel-live-bench-"))
    env = _environment(folder, rate=args.rate)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    redis = _start_redis(folder, env)
    try:
        app = start_services(folder, env, queue="gpu")
        try:
            port = int(env["BENCH_PORT"])
            project, cookie = _project_with_labels()
            _wait_for_http(port)
            latencies = _measure_latency(port, project, cookie, events=args.events)
        finally:
            _stop(app)  # the throughput trials run alone on the machine
        # --quick only checks that both trials run: the smallest patches do.
        patch = (64, 4) if args.quick else (128, 8)
        cost = _throughput_cost(project, steps=args.cost_steps, trials=args.trials, patch=patch)
    finally:
        _stop(redis)
    return {
        "events": len(latencies),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "max_ms": round(float(np.max(latencies)), 2),
        "throughput_cost": round(cost["cost"], 4),
        "throughput": cost,
        "config": {"rate_per_second": args.rate, "redis": env["REDIS_URL"], "database": "sqlite"},
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(folder: Path, *, rate: int) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "LESSLABEL_VAR_DIR": str(folder),
        "MEDIA_ROOT": str(folder / "media"),
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "LIVE_PROGRESS_PER_SECOND": str(rate),
        "TRAIN_DEVICE": os.environ.get("TRAIN_DEVICE", "auto"),
        "BENCH_PORT": str(_free_port()),
        "LOG_LEVEL": "WARNING",
        "dramatiq_queue_prefetch": "1",
    }
    if not os.environ.get("REDIS_URL"):
        env["EMBEDDED_REDIS_PORT"] = str(_free_port())
        env["REDIS_URL"] = f"redis://127.0.0.1:{env['EMBEDDED_REDIS_PORT']}/0"
        env["BENCH_EMBEDDED_REDIS"] = "1"
    else:
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return env


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _start_redis(folder: Path, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    from webapp import embedded_redis

    if not env.get("BENCH_EMBEDDED_REDIS"):
        return []
    return [embedded_redis.start(port=int(env["EMBEDDED_REDIS_PORT"]), directory=folder / "redis")]


def start_services(folder: Path, env: dict[str, str], *, queue: str) -> list[subprocess.Popen[bytes]]:
    """daphne and one worker on `queue`, as `make run` starts them: live-latency's on the gpu
    queue (training), preview-latency's on the default queue (where previews are made)."""
    child_env = {**os.environ, **env}
    log = (folder / "services.log").open("wb")
    root = Path(__file__).resolve().parents[2]
    commands = [
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            env["BENCH_PORT"],
            "webapp.asgi:application",
        ],
        [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1", "--queues", queue],
    ]
    processes = [
        subprocess.Popen(command, cwd=root, env=child_env, stdout=log, stderr=subprocess.STDOUT)
        for command in commands
    ]
    print(f"services started; their log: {folder / 'services.log'}", file=sys.stderr)
    return processes


def _project_with_labels() -> tuple[Any, str]:
    """A project with 4 generated 256 px fields and dense masks; a session cookie for its owner."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from labeling import services
    from labeling.imageio import encode_png
    from labeling.synthetic import synthetic_field

    owner = get_user_model().objects.create_user(username="bench", password="bench-password")
    project = services.project_create(name="Live bench", owner=owner)
    services.label_class_create(project=project, name="nucleus", color="#ff0000", countable=True)
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
    session = SessionStore()
    session[SESSION_KEY] = str(owner.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    session.create()
    return project, f"sessionid={session.session_key}"


def _wait_for_http(port: int, timeout: float = 90.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _measure_latency(port: int, project: Any, cookie: str, *, events: int) -> list[float]:
    """Start a run long enough for `events` progress events and time each one's arrival."""
    from websockets.sync.client import connect

    from training import runs

    owner = project.memberships.get().user
    latencies: list[float] = []
    headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
    with connect(f"ws://127.0.0.1:{port}/ws/projects/{project.pk}/", additional_headers=headers) as client:
        hello = json.loads(client.recv(timeout=10))
        if hello.get("type") != "hello":
            raise SystemExit(f"the socket did not greet us: {hello}")
        run = runs.run_create(
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
        runs.run_cancel(run=run)
    return latencies


def _throughput_cost(project: Any, *, steps: int, trials: int, patch: tuple[int, int]) -> dict[str, Any]:
    """Steps per second of the same training (patch = (size, batch)) with and without the live
    reporter, alternated."""
    from django.conf import settings
    from django.db import transaction

    from training import runs
    from training.assemble import load_run_data
    from training.ml.config import TrainConfig
    from training.ml.loop import Callbacks, Trainer, choose_device
    from training.tasks import RunReporter
    from webapp import live

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
        run = runs.run_create(project=project, user=owner, options=options)
        runs.run_cancel(run=run)
    config = TrainConfig.from_dict(run.config["train"])
    data = load_run_data(run)
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
