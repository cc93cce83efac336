"""python -m training.bench preview-latency: from a saved stroke to its instant preview on the socket.

Starts what `make run` starts, with the helpers live-latency uses (training/bench/stack.py): a Redis
(REDIS_URL's, else an embedded one), daphne and one Dramatiq worker for the default queue, on a
fresh SQLite database in a temporary folder. A project gets one generated field (1024x1024 by
default: bright nuclei on a dark, noisy background) and a WebSocket client signed in as its owner.

Each stroke is a scribble save through the REST API (token authentication, as scripts save), on
a nucleus or on background in turn. Its latency runs from the moment the request is sent to the
moment the client receives the `preview.ready` whose labels include the version that save made.
Strokes go one at a time, each after the previous one's preview arrived, so coalescing hides no
latency. The first two strokes (one per class: a preview needs two) warm up the worker: the first
is skipped (one class) after computing the image's features, the second makes the first preview,
whose time is reported apart, not in the percentiles.

`--pause` waits between a preview and the next stroke, as a person does. An idle Dramatiq worker
polls Redis with a growing back-off of up to `dramatiq_worker_timeout` ms (1000 by default; set
it in the environment, the worker inherits it), so after a pause a message waits up to that long
before the worker sees it; back-to-back strokes (no pause) find the worker still polling fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
import numpy as np
from django.core.management import call_command
from dramatiq.worker import WORKER_TIMEOUT
from scipy import ndimage
from tqdm import tqdm
from websockets.sync.client import connect

from training.bench import stack
from training.bench.common import machine
from training.bench.options import Commands, add_quick_and_out
from training.ml.forest import preview_factor

ENOUGH_STROKES = 30
RADIUS = 3


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "preview-latency", help="time from a saved stroke to its instant preview on the WebSocket"
    )
    command.add_argument(
        "--strokes", type=int, default=40, help=f"strokes to time (at least {ENOUGH_STROKES})"
    )
    command.add_argument("--size", type=int, default=1024, help="side of the generated square field")
    command.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one preview")
    command.add_argument(
        "--pause", type=float, default=0.0, help="seconds between a preview and the next stroke"
    )
    command.add_argument("--seed", type=int, default=0)
    add_quick_and_out(command, quick="smoke run: 6 strokes on a 256 px field")
    command.set_defaults(command=preview_latency)


def preview_latency(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.strokes, args.size = 6, 256
    elif args.strokes < ENOUGH_STROKES:
        raise SystemExit(f"--strokes must be at least {ENOUGH_STROKES}")
    folder = Path(tempfile.mkdtemp(prefix="lesslabel-preview-bench-"))
    env = stack.environment(folder, rate=4)
    os.environ.update(env)
    django.setup()
    call_command("migrate", verbosity=0)
    load_before = os.getloadavg()
    redis = stack.start_redis(folder, env)
    try:
        services = stack.start_services(folder, env, queues=["default"])
        try:
            port = int(env["BENCH_PORT"])
            field = _project_with_field(size=args.size, seed=args.seed)
            stack.wait_for_http(port)
            timings = _measure(port, field, args)
        finally:
            stack.stop(services)
    finally:
        stack.stop(redis)
    return _result(args, env, timings, load_before=load_before, load_after=os.getloadavg())


def _result(
    args: argparse.Namespace,
    env: dict[str, str],
    timings: dict[str, list[float]],
    *,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    from training.features.instant import CONFIG  # needs django.setup() first

    latencies = timings["latency_ms"]
    side = -(-args.size // preview_factor(args.size, args.size, CONFIG.max_side))
    return {
        "strokes": len(latencies),
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "max_ms": round(float(np.max(latencies)), 1),
        "first_preview_ms": round(timings["first_ms"][0], 1),
        "save_p50_ms": _percentile(timings["save_ms"], 50),
        "worker_p50_ms": _percentile(timings["worker_ms"], 50),
        "worker_p95_ms": _percentile(timings["worker_ms"], 95),
        "config": {
            "image": [args.size, args.size],
            "preview": [side, side],
            "forest": asdict(CONFIG),
            "stroke_radius": RADIUS,
            "pause_seconds": args.pause,
            "dramatiq_worker_timeout_ms": WORKER_TIMEOUT,  # what the worker inherits
            "redis": env["REDIS_URL"],
            "database": "sqlite",
            "quick": args.quick,
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in load_after],
        },
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
    }


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


class Field:
    """The project, its generated image and where its nuclei are; a token and a cookie for its owner."""

    def __init__(self, project: Any, image: Any, instances: np.ndarray, token: str, cookie: str) -> None:
        self.project, self.image, self.instances = project, image, instances
        self.token, self.cookie = token, cookie


def _project_with_field(*, size: int, seed: int) -> Field:
    from rest_framework.authtoken.models import Token  # needs django.setup() first

    from labeling import services  # needs django.setup() first
    from labeling.imageio import encode_png  # app modules load only in the commands that run the app
    from labeling.synthetic import synthetic_field  # app modules load only in the commands that run the app
    from training.features import instant  # needs django.setup() first
    from webapp.jobs import redis_client  # app modules load only in the commands that run the app

    owner, project = stack.bench_project("Preview bench")
    nuclei = max(8, size * size // 16_000)  # about 65 on a 1024 px field
    field = synthetic_field(seed=seed, height=size, width=size, nuclei=nuclei, radius=(10, 24))
    (image,) = services.image_ingest(
        project=project,
        uploader=owner,
        uploads=[services.Upload("field.png", encode_png(field.fluorescence))],
    )
    redis_client().delete(instant.preview_key(image.pk))  # a REDIS_URL's earlier bench ids
    token = Token.objects.create(user=owner).key
    return Field(project, image, field.instances, token, stack.session_cookie(owner))


def _strokes(instances: np.ndarray, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` short strokes, background and nucleus in turn (background first), each well inside
    its region: nucleus strokes cross a random nucleus's centre, background ones lie far from any."""
    rng = np.random.default_rng(seed)
    labels = [int(v) for v in np.unique(instances) if v]
    far = np.argwhere(ndimage.distance_transform_edt(instances == 0) > 4 * RADIUS)
    strokes = []
    for k in range(count):
        if k % 2 == 0:
            y, x = far[rng.integers(len(far))]
            points, class_index = [[x - 2 * RADIUS, y], [x + 2 * RADIUS, y]], 1
        else:
            y, x = ndimage.center_of_mass(instances == labels[rng.integers(len(labels))])
            points, class_index = [[x - RADIUS, y], [x + RADIUS, y]], 2
        clean = [[float(px), float(py)] for px, py in points]
        strokes.append({"class_index": class_index, "radius": float(RADIUS), "points": clean})
    return strokes


def _measure(port: int, field: Field, args: argparse.Namespace) -> dict[str, list[float]]:
    """Save each stroke through the API and wait for its preview; the first two warm up."""
    plan = _strokes(field.instances, args.strokes + 2, args.seed)
    timings: dict[str, list[float]] = {"latency_ms": [], "save_ms": [], "worker_ms": [], "first_ms": []}
    headers = {"Cookie": field.cookie, "Origin": f"http://127.0.0.1:{port}"}
    url = f"ws://127.0.0.1:{port}/ws/projects/{field.project.pk}/"
    with connect(url, additional_headers=headers) as client:
        hello = json.loads(client.recv(timeout=10))
        if hello.get("type") != "hello":
            raise SystemExit(f"the socket did not greet us: {hello}")
        version = 0
        for n, stroke in enumerate(tqdm(plan, desc="strokes", unit="stroke", file=sys.stderr)):
            if n >= 2:
                time.sleep(args.pause)
            sent = time.perf_counter()
            saved = _save(port, field, stroke, base_version=version)
            answered = time.perf_counter()
            version = saved["version"]
            wanted = ("preview.skipped", "preview.ready") if n == 0 else ("preview.ready",)
            event = _wait_for(client, field.image.pk, saved["id"], version, wanted, timeout=args.timeout)
            arrived = time.perf_counter()
            if n == 1:
                timings["first_ms"].append((arrived - sent) * 1000.0)
            elif n >= 2:
                timings["latency_ms"].append((arrived - sent) * 1000.0)
                timings["save_ms"].append((answered - sent) * 1000.0)
                timings["worker_ms"].append(float(event["seconds"]) * 1000.0)
    return timings


def _save(port: int, field: Field, stroke: dict[str, Any], *, base_version: int) -> dict[str, Any]:
    body = {"kind": "scribble", "base_version": base_version, "data": {"strokes": [stroke]}}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/images/{field.image.pk}/annotations/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {field.token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _wait_for(
    client: Any, image_id: int, layer: int, version: int, kinds: tuple[str, ...], *, timeout: float
) -> dict[str, Any]:
    """The first event of `kinds` for the image that has seen the layer at `version` or later."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SystemExit(f"no preview of layer {layer} version {version} within {timeout:.0f} s")
        event = json.loads(client.recv(timeout=remaining))
        if event.get("image") != image_id:
            continue
        if event["type"] == "preview.failed":
            raise SystemExit(f"the preview failed: {event['error']}")
        if event["type"] == "preview.skipped" and "preview.skipped" in kinds:
            return dict(event)
        seen = {pk: v for pk, v in event.get("labels", [])}
        if event["type"] in kinds and seen.get(layer, 0) >= version:
            return dict(event)
