"""python -m training.bench load: the labelling API under N annotators at once, while a model trains.

Starts what `make run` starts, in a temporary folder: daphne and the two Dramatiq workers (gpu:
training; default: instant previews, polling every 100 ms), on a fresh database, either the
embedded default (SQLite and an embedded Redis) or PostgreSQL and Redis on 127.0.0.1 (a database
of its own, made for the run and dropped after it). A project gets generated images, a few seed
strokes of both classes and one annotator account per simulated person.

For each N of --users, a tiny training run is started on the gpu worker (long enough to last the
whole phase; cancelled after it) and locust (training/bench/annotators.py, run in this process,
headless, on the loopback only) lets N annotators paint for --seconds: each opens an image, saves
a stroke every 1-2 s with the version it last saw (a 409 reloads the layers and sends the stroke
again, as the browser does) and reads masks and instant previews back. Reported per N: saves a
second, save latency percentiles (every POST, 409s included), conflicts, errors by status, and
labels lost: every save the server acknowledged must be in the stored revision history, at the
version it answered, with the strokes it carried. "database is locked" is looked for in the
answers and in the services' log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
import numpy as np
from django.conf import settings
from django.core.management import call_command
from tqdm import tqdm

from training.bench import stack
from training.bench.common import machine
from training.bench.options import Commands, add_quick_and_out
from webapp import launcher

LOCKED = "database is locked"
TRAINING = {"patch_size": 64, "batch_size": 4, "steps": 100_000, "steps_per_epoch": 100_000}


def add_command(commands: Commands) -> None:
    command = commands.add_parser("load", help="the labelling API under N annotators at once (locust)")
    command.add_argument("--users", default="5,20,50", help="annotators at once, one phase each: 5,20,50")
    command.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    command.add_argument(
        "--database",
        choices=("embedded", "postgres"),
        default="embedded",
        help="embedded: SQLite + an embedded Redis (the default install); postgres: PostgreSQL + Redis",
    )
    command.add_argument(
        "--postgres",
        default="postgres://postgres@127.0.0.1:5432",
        help="the PostgreSQL server of --database postgres (a fresh database is made on it, then dropped)",
    )
    command.add_argument(
        "--redis", default="redis://127.0.0.1:6379/9", help="the Redis of --database postgres"
    )
    command.add_argument("--images", type=int, default=60, help="generated images the annotators share")
    command.add_argument("--size", type=int, default=512, help="side of each generated square image")
    command.add_argument(
        "--web-processes", type=int, default=1, help="daphne processes on one socket, as WEB_PROCESSES"
    )
    add_quick_and_out(command, quick="smoke run: 2 annotators for 8 s on 4 small images")
    command.set_defaults(command=load)


def load(args: argparse.Namespace) -> dict[str, Any]:
    users = [int(n) for n in str(args.users).split(",")]
    if args.quick:
        users, args.seconds, args.images, args.size = [2], 8.0, 4, 256
    if min(users) < 1 or args.seconds <= 0 or args.web_processes < 1:
        raise SystemExit("--users and --web-processes must be positive whole numbers, --seconds positive")
    # A SIGTERM (a timeout, a test's kill) unwinds like Ctrl-C: the services and the database go.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    folder = Path(tempfile.mkdtemp(prefix="lesslabel-load-bench-"))
    env, database = _environment(folder, args)
    os.environ.update(env)
    django.setup()
    call_command("migrate", verbosity=0)
    redis = stack.start_redis(folder, env)
    try:
        owner, project, plan = _seed(images=args.images, size=args.size, annotators=max(users))
        workers, web = _start_app(folder, env, web_processes=args.web_processes)
        try:
            port = int(env["BENCH_PORT"])
            stack.wait_for_http(port, timeout=600)  # a busy machine imports the app slowly
            phases = [
                _phase(
                    port,
                    owner,
                    project,
                    plan,
                    users=n,
                    seconds=args.seconds,
                    log=folder / "services.log",
                )
                for n in users
            ]
        finally:
            _stop(workers)  # workers first, while Redis is still there to take their last acks
            _stop(web)
        unacknowledged = _unacknowledged(phases)
    finally:
        stack.stop(redis)
        if database:
            _drop_database(args.postgres, database)
    return {
        "phases": phases,
        "lost": sum(phase["lost"] for phase in phases),
        "unacknowledged_saves": unacknowledged,
        "config": {
            "database": args.database,
            "web_processes": args.web_processes,
            "database_pool": bool(settings.DATABASES["default"].get("OPTIONS", {}).get("pool")),
            "redis": "embedded" if env.get("BENCH_EMBEDDED_REDIS") else env["REDIS_URL"],
            "images": args.images,
            "image_size": [args.size, args.size],
            "seconds": args.seconds,
            "training": TRAINING,
            "quick": args.quick,
        },
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
    }


def _environment(folder: Path, args: argparse.Namespace) -> tuple[dict[str, str], str | None]:
    """The installation's settings, and the PostgreSQL database made for it (None on SQLite)."""
    if args.database == "embedded":
        os.environ.pop("REDIS_URL", None)  # the embedded default: a Redis of its own
        return stack.environment(folder, rate=4), None
    os.environ["REDIS_URL"] = args.redis
    env = stack.environment(folder, rate=4)
    database = f"lesslabel_load_{os.getpid()}_{int(time.time())}"
    import psycopg  # only the postgres variant needs it

    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    env["DATABASE_URL"] = f"{args.postgres}/{database}"
    return env, database


def _drop_database(server: str, database: str) -> None:
    import psycopg  # only the postgres variant needs it

    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _seed(*, images: int, size: int, annotators: int) -> tuple[Any, Any, dict[str, Any]]:
    """The project, its images (two seeded with strokes of both classes, so a run can start) and
    one annotator account with a token per simulated person."""
    from django.contrib.auth import get_user_model  # needs django.setup() first
    from rest_framework.authtoken.models import Token

    from labeling import selectors, services
    from labeling.imageio import encode_png  # needs django.setup() first
    from labeling.models import Role  # needs django.setup() first
    from labeling.synthetic import synthetic_field  # needs django.setup() first

    owner, project = stack.bench_project("Load bench")
    made = []
    for n in tqdm(range(images), desc="images", unit="image", file=sys.stderr):
        field = synthetic_field(seed=n, height=size, width=size, nuclei=max(8, size * size // 16_000))
        upload = services.Upload(f"field-{n:03d}.png", encode_png(field.fluorescence))
        made += services.image_ingest(project=project, uploader=owner, uploads=[upload])
    for image in made[:2]:
        strokes = [
            {
                "class_index": index,
                "radius": 4.0,
                "points": [[10.0 + 20 * index, 10.0], [10.0 + 20 * index, 60.0]],
            }
            for index in (1, 2)
        ]
        services.annotation_save(
            image=image, author=owner, kind="scribble", base_version=0, data={"strokes": strokes}
        )
    tokens = []
    for n in range(annotators):
        # No password (tokens sign them in): hashing 50 would take a loaded machine a minute.
        person = get_user_model().objects.create_user(username=f"annotator-{n + 1}", password=None)
        services.membership_set(project=project, user=person, role=Role.ANNOTATOR, by=owner)
        tokens.append(Token.objects.create(user=person).key)
    plan = {
        "images": [{"id": i.pk, "width": i.width, "height": i.height} for i in made],
        "tokens": tokens,
        "class_indices": sorted(selectors.class_indices(project)),
    }
    return owner, project, plan


def _start_app(
    folder: Path, env: dict[str, str], *, web_processes: int
) -> tuple[list[subprocess.Popen[bytes]], list[subprocess.Popen[bytes]]]:
    """The two workers as `make run` starts them (webapp/launcher.py), and its web processes."""
    log = (folder / "services.log").open("wb")
    root = Path(__file__).resolve().parents[2]
    worker = [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1", "--queues"]
    listening = launcher.listen("127.0.0.1", int(env["BENCH_PORT"]))
    daphne = launcher.daphne_command(sys.executable, listening)

    def start(command: list[str], fds: tuple[int, ...] = (), **extra: str) -> subprocess.Popen[bytes]:
        child_env = {**os.environ, **env, "dramatiq_queue_prefetch": "1", **extra}
        # A session of its own: `rundramatiq` runs dramatiq as a child, which a plain terminate()
        # of it leaves behind; _stop signals the whole group.
        return subprocess.Popen(
            command,
            cwd=root,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=fds,
        )

    workers = [start([*worker, "gpu"]), start([*worker, "default"], dramatiq_worker_timeout="100")]
    web = [start(daphne, (listening.fileno(),)) for _ in range(web_processes)]
    listening.close()  # the web processes hold it now
    print(f"services started; their log: {folder / 'services.log'}", file=sys.stderr)
    return workers, web


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process group, then SIGKILL to those still there after 30 s."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _phase(
    port: int, owner: Any, project: Any, shared: dict[str, Any], *, users: int, seconds: float, log: Path
) -> dict[str, Any]:
    """N annotators for `seconds` while a training run goes on; what they saw, and what was kept."""
    from training.runs import create  # needs django.setup() first

    run = create.run_create(project=project, user=owner, options=TRAINING)
    _wait_until_training(run)
    plan = {**shared, "host": f"http://127.0.0.1:{port}", "users": users, "seconds": seconds}
    plan_file, out = log.with_name(f"plan-{users}.json"), log.with_name(f"swarm-{users}.json")
    plan_file.write_text(json.dumps(plan))
    log_before = _count_in(log, LOCKED)
    load_before = os.getloadavg()
    root = Path(__file__).resolve().parents[2]
    swarm = [sys.executable, "-m", "training.bench.annotators", str(plan_file), str(out)]
    subprocess.run(swarm, cwd=root, check=True, timeout=seconds + 120)
    load_after = os.getloadavg()
    training = _stop_training(run)
    seen = json.loads(out.read_text())
    records = [(name, status, ms) for name, status, ms in seen["records"]]
    result = _summary(records, seen, users=users, seconds=seen["seconds"])
    result["database_locked"] = {
        "answers": seen["locked_answers"],
        "log_lines": _count_in(log, LOCKED) - log_before,
    }
    result["training"] = training
    result["load_average_before"] = [round(v, 2) for v in load_before]
    result["load_average_after"] = [round(v, 2) for v in load_after]
    result["lost"] = _lost(seen["acknowledged"])
    result["acknowledged"] = len(seen["acknowledged"])
    return result


def _summary(
    records: list[tuple[str, int, float]], seen: dict[str, Any], *, users: int, seconds: float
) -> dict[str, Any]:
    saves = [ms for name, _, ms in records if name == "save"]
    errors = Counter(
        f"{name} {status}"
        for name, status, _ in records
        if not 200 <= status < 300 and not (name == "save" and status == 409)
    )
    by_status = Counter(key.rsplit(" ", 1)[1] for key in errors.elements())
    requests = {}
    for name in sorted({name for name, _, _ in records}):
        times = [ms for n, _, ms in records if n == name]
        requests[name] = {
            "count": len(times),
            "p50_ms": _percentile(times, 50),
            "p95_ms": _percentile(times, 95),
        }
    return {
        "users": users,
        "seconds": round(seconds, 1),
        "saves": len(seen["acknowledged"]),
        "saves_per_second": round(len(seen["acknowledged"]) / seconds, 2),
        "save_requests": len(saves),
        "save_p50_ms": _percentile(saves, 50),
        "save_p95_ms": _percentile(saves, 95),
        "save_p99_ms": _percentile(saves, 99),
        "conflicts": sum(1 for name, status, _ in records if name == "save" and status == 409),
        "gave_up": seen["gave_up"],
        "errors": sum(errors.values()),
        "errors_by_status": dict(sorted(by_status.items())),
        "errors_by_request": dict(sorted(errors.items())),
        "requests": requests,
    }


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _wait_until_training(run: Any, timeout: float = 300.0) -> None:
    """The annotators start once the run trains, so the whole phase overlaps it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.state != "queued":
            break
        time.sleep(0.5)
    if run.state != "running":
        raise SystemExit(f"the training run is {run.state}, not running: {run.error or 'see services.log'}")


def _stop_training(run: Any) -> dict[str, Any]:
    """Whether the run was training all along (still running at the end), then cancel it."""
    from training.models import RunMetric  # needs django.setup() first
    from training.runs import lifecycle  # needs django.setup() first

    run.refresh_from_db()
    state = str(run.state)
    steps = RunMetric.objects.filter(run=run).order_by("-seq").values_list("step", flat=True).first()
    if state in ("queued", "running"):
        lifecycle.run_cancel(run=run)
    return {"run": run.pk, "state_at_end": state, "last_step": steps, "error": run.error or None}


def _lost(acknowledged: list[dict[str, Any]]) -> int:
    """Acknowledged saves missing from the stored history: no revision at the version the server
    answered, a revision with other strokes, or two saves acknowledged with one version."""
    from labeling.models import AnnotationRevision  # needs django.setup() first

    layers = {ack["annotation"] for ack in acknowledged}
    stored = {
        (annotation, version): (data or {}).get("strokes")
        for annotation, version, data in AnnotationRevision.objects.filter(annotation__in=layers).values_list(
            "annotation", "version", "data"
        )
    }
    lost, seen = 0, set()
    for ack in acknowledged:
        key = (ack["annotation"], ack["version"])
        if key in seen or not _same_strokes(stored.get(key), ack["strokes"]):
            lost += 1
        seen.add(key)
    return lost


def _same_strokes(stored: Any, sent: list[dict[str, Any]]) -> bool:
    if not isinstance(stored, list) or len(stored) != len(sent):
        return False
    for got, want in zip(stored, sent, strict=True):
        if got["class_index"] != want["class_index"] or abs(float(got["radius"]) - want["radius"]) > 1e-6:
            return False
        points = np.asarray(got["points"], dtype=float)
        if points.shape != (len(want["points"]), 2) or not np.allclose(points, want["points"]):
            return False
    return True


def _unacknowledged(phases: list[dict[str, Any]]) -> int:
    """Revisions the annotators made that no client heard of (a save cut off when a phase ended)."""
    from labeling.models import AnnotationRevision  # needs django.setup() first

    made = AnnotationRevision.objects.filter(author__username__startswith="annotator-").count()
    return made - sum(phase["acknowledged"] for phase in phases)


def _count_in(path: Path, text: str) -> int:
    try:
        return path.read_text(errors="replace").count(text)
    except FileNotFoundError:
        return 0
