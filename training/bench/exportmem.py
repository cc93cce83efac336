"""`export-memory`: how much memory the web process takes while it streams a project's export.

A throw-away installation (stack.py: SQLite and media in a temporary folder, a Redis) gets a
project generated here, seeded: N fields of SIZE x SIZE pixels with bright discs, each with a dense
mask and its instance map. daphne then serves GET /api/projects/<id>/export/ to a client that
reads the zip and throws it away; the daphne process's resident memory is sampled every 10 ms. The
result is its peak over what it held idle just before (after one warm-up request), which the
export must keep under 500 MB however many images the project has.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import django
import numpy as np
import psutil
from django.core.management import call_command
from PIL import Image as PILImage
from tqdm import tqdm

from training.bench import stack
from training.bench.common import machine, peak_rss, rss_mb
from training.bench.options import Commands, add_quick_and_out

GOAL_MB = 500
EOCD = b"PK\x05\x06"


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "export-memory", help="the web process's peak memory while it streams a generated project's export"
    )
    command.add_argument("--images", type=int, default=200)
    command.add_argument("--size", type=int, default=2048, help="image side in pixels")
    command.add_argument("--as", dest="formats", default="classes,instances,ome,coco,geojson,csv")
    command.add_argument("--seed", type=int, default=0)
    add_quick_and_out(command, quick="smoke run: 3 images of 256 px")
    command.set_defaults(command=export_memory)


def export_memory(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.images, args.size = 3, 256
    folder = Path(tempfile.mkdtemp(prefix="lesslabel-export-bench-"))
    env = stack.environment(folder, rate=4)
    env["DISPLAY_SYNC_MAX_PIXELS"] = str(args.size * args.size)  # renditions made here, no worker
    os.environ.update(env)
    django.setup()
    call_command("migrate", verbosity=0)
    redis = stack.start_redis(folder, env)
    try:
        started = time.perf_counter()
        project_id, cookie, objects = _generated_project(args.images, args.size, args.seed)
        generated = time.perf_counter() - started
        daphne = _start_daphne(folder, env)
        try:
            stack.wait_for_http(int(env["BENCH_PORT"]), timeout=600)  # a loaded machine starts daphne slowly
            measured = _measure(int(env["BENCH_PORT"]), daphne.pid, project_id, cookie, args.formats)
        finally:
            stack.stop([daphne])
    finally:
        stack.stop(redis)
    result = {
        "images": args.images,
        "size": args.size,
        "objects": objects,
        "formats": args.formats.split(","),
        "seed": args.seed,
        "generate_seconds": round(generated, 1),
        **measured,
        "goal_mb": GOAL_MB,
        "within_goal": measured["growth_mb"] < GOAL_MB,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    print(
        f"{args.images} images of {args.size}x{args.size}: {measured['zip_mb']} MB of zip in "
        f"{measured['seconds']} s; web process idle {measured['idle_mb']} MB, peak {measured['peak_mb']} MB "
        f"(+{measured['growth_mb']} MB; goal < {GOAL_MB})",
        file=sys.stderr,
    )
    return result


def field(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A noisy dark field with bright discs of radius 6..20 px, and their instance map (1..N).

    Shape: -> (size, size) uint8 image, (size, size) uint16 instances.
    """
    image = rng.normal(30, 8, (size, size)).clip(0, 255).astype(np.uint8)
    instances = np.zeros((size, size), dtype=np.uint16)
    count = max(1, size * size // 40_000)
    for number in range(1, count + 1):
        radius = int(rng.integers(6, 21))
        y, x = (int(v) for v in rng.integers(radius, size - radius, 2))
        yy, xx = np.ogrid[-radius : radius + 1, -radius : radius + 1]
        disc = yy**2 + xx**2 <= radius**2
        box = (slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
        instances[box][disc] = number
        image[box][disc] = 200
    return image, instances


def _generated_project(images: int, size: int, seed: int) -> tuple[int, str, int]:
    """A project of `images` generated fields, each with its dense mask (nucleus on the discs,
    background elsewhere) and instance map; its id, its owner's session cookie and the objects."""
    from labeling import labelmaps, services  # needs django.setup() first

    owner, project = stack.bench_project("export-memory")
    rng = np.random.default_rng(seed)
    objects = 0
    for number in tqdm(range(images), desc="generate", unit="image", file=sys.stderr):
        pixels, instances = field(size, rng)
        upload = services.Upload(f"field-{number:03d}.png", _png(pixels))
        (image,) = services.image_ingest(project=project, uploader=owner, uploads=[upload])
        services.annotation_save(
            image=image,
            author=owner,
            kind="dense",
            base_version=0,
            data={},
            mask=labelmaps.encode_map(np.where(instances > 0, 2, 1).astype(np.uint16)),
            instances=labelmaps.encode_map(instances),
        )
        objects += len(np.unique(instances)) - 1
    return project.pk, stack.session_cookie(owner), objects


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _start_daphne(folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[2]
    log = (folder / "daphne.log").open("wb")
    command = stack.daphne_command(env["BENCH_PORT"])
    return subprocess.Popen(
        command, cwd=root, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )


def _get(port: int, path: str, cookie: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie})
    return urllib.request.urlopen(request, timeout=600)


def _measure(port: int, pid: int, project_id: int, cookie: str, formats: str) -> dict[str, Any]:
    with _get(port, f"/api/projects/{project_id}/", cookie) as warm:  # loads the app's code
        warm.read()
    time.sleep(1)
    idle = rss_mb(psutil.Process(pid), children=True)
    received, tail = 0, b""
    started = time.perf_counter()
    with (
        peak_rss(pid, children=True, every=0.01) as peak,
        _get(port, f"/api/projects/{project_id}/export/?what=human&as={formats}", cookie) as answer,
    ):
        bar = tqdm(desc="zip", unit="B", unit_scale=True, file=sys.stderr)
        while chunk := answer.read(2**20):
            received += len(chunk)
            tail = (tail + chunk)[-100:]
            bar.update(len(chunk))
        bar.close()
    seconds = time.perf_counter() - started
    if EOCD not in tail:
        raise SystemExit("the export ended without a zip's central directory: see the daphne log")
    return {
        "idle_mb": round(idle),
        "peak_mb": round(peak["mb"]),
        "growth_mb": round(peak["mb"] - idle),
        "zip_mb": round(received / 2**20),
        "seconds": round(seconds, 1),
    }
