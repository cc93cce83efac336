"""A department's deployment, proven: the walk through the API and its faults, in order.

The steps share one cluster (tests/cluster/cluster.py) and one project and run in file order; each
step leaves the deployment healthy for the next. They talk to the hosts only as a browser would:
HTTP to the web hosts and the project socket; S3 is looked at directly only to check what it holds.
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from scipy import ndimage

from labeling.synthetic import synthetic_field

from .client import Browser, LiveSocket, wait_until
from .cluster import BUCKET, STALE_SECONDS, Cluster

FINAL = {"succeeded", "failed", "cancelled"}
TINY_RUN = {
    "architecture": "unet",
    "encoder": "resnet18",
    "patch_size": 64,
    "batch_size": 4,
    "steps": 12,
    "steps_per_epoch": 6,
    "warmup_steps": 2,
    "preview_images": 1,
}
LONG_RUN = {**TINY_RUN, "steps": 5000, "steps_per_epoch": 5000}
TIMINGS: dict[str, float] = {}
PASSWORD = "cluster-pw"


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def strokes(seed: int) -> list[dict[str, Any]]:
    """A scribble on three nuclei (class 2) and three strokes of background (class 1)."""
    field = synthetic_field(seed=seed, height=96, width=96, nuclei=5, radius=(6, 10))
    painted = []
    for label in range(1, 4):
        ys, xs = np.nonzero(field.instances == label)
        if len(xs):
            painted.append({"class_index": 2, "radius": 2, "points": [[float(xs.mean()), float(ys.mean())]]})
    ys, xs = np.nonzero(ndimage.distance_transform_edt(~field.mask) > 6)
    for pick in (0, len(xs) // 2, len(xs) - 1):
        painted.append({"class_index": 1, "radius": 2, "points": [[float(xs[pick]), float(ys[pick])]]})
    return painted


def bucket_keys(cluster: Cluster) -> set[str]:
    pages = cluster.s3().get_paginator("list_objects_v2").paginate(Bucket=BUCKET)  # type: ignore[attr-defined]
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def run_state(browser: Browser, run: int, *, host: int = 0) -> dict[str, Any]:
    return browser.ok("GET", f"/api/runs/{run}/", host=host)


def start_run(browser: Browser, project: int, config: dict[str, Any], *, host: int = 0) -> int:
    return int(
        browser.ok("POST", f"/api/projects/{project}/runs/", host=host, status=201, json={"config": config})[
            "id"
        ]
    )


def wait_final(browser: Browser, run: int, *, timeout: float, host: int = 0) -> dict[str, Any]:
    return wait_until(
        lambda: (state := run_state(browser, run, host=host))["state"] in FINAL and state,
        timeout=timeout,
        what=f"run {run} to finish",
    )


def cancel_quietly(browser: Browser, run: int | None) -> None:
    """A step that failed leaves no run going that would hold up the next (409: it had ended)."""
    if run is not None:
        browser.call("POST", f"/api/runs/{run}/cancel/")


def listed(browser: Browser, project: int) -> list[dict[str, Any]]:
    jobs = browser.ok("GET", f"/api/projects/{project}/prediction-jobs/?limit=100")
    return jobs["results"] if isinstance(jobs, dict) else jobs


def all_final(jobs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return jobs if all(job["state"] in FINAL for job in jobs) else None


def progress_of(run: int) -> Any:
    return lambda event: event["type"] == "run.progress" and event.get("run") == run


@pytest.fixture(scope="module")
def walk(cluster: Cluster) -> dict[str, Any]:
    """The owner signed in, and a project with one more class."""
    cluster.manage(
        cluster.web(1),
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        f"User.objects.create_user('owner', password={PASSWORD!r})",
    )
    browser = Browser([cluster.url(1), cluster.url(2)], "owner", PASSWORD)
    project = browser.ok("POST", "/api/projects/", status=201, json={"name": "Department nuclei"})["id"]
    browser.ok("POST", f"/api/projects/{project}/classes/", status=201, json={"name": "nucleus"})
    return {"browser": browser, "project": project, "images": []}


def test_uploads_land_in_s3_and_scribbles_train_a_run_watched_from_the_other_web_host(cluster, walk):
    started = time.monotonic()
    browser, project = walk["browser"], walk["project"]
    before = bucket_keys(cluster)
    files = [
        (
            "files",
            (
                f"field-{seed}.png",
                png(synthetic_field(seed=seed, height=96, width=96, nuclei=5, radius=(6, 10)).brightfield),
                "image/png",
            ),
        )
        for seed in range(3)
    ]
    images = browser.ok("POST", f"/api/projects/{project}/images/", status=201, files=files)
    walk["images"] = [image["id"] for image in images]
    stored = bucket_keys(cluster) - before
    assert len([key for key in stored if "/originals/" in key]) == 3, stored
    for seed, image in enumerate(walk["images"]):  # painted through the second web host
        body = {"kind": "scribble", "base_version": 0, "data": {"strokes": strokes(seed)}}
        browser.ok("POST", f"/api/images/{image}/annotations/", host=1, status=201, json=body)

    socket = LiveSocket(browser, project, host=1)  # watches through web2 ...
    try:
        run = start_run(browser, project, TINY_RUN, host=0)  # ... a run started through web1
        socket.wait_for(progress_of(run), timeout=120, what="a curve point of the run on web2")
        done = socket.wait_for(
            lambda e: e["type"] == "run.state" and e.get("run") == run and e["state"] in FINAL,
            timeout=420,
            what="the run's end on web2",
        )
        assert done["state"] == "succeeded", done
        assert all(event["_host"] == 1 for event in socket.since(0))
        listed = f"/api/projects/{project}/predictions/?model_version={done['model_version']}"
        predictions = wait_until(
            lambda: len(rows := browser.ok("GET", listed)["results"]) == len(walk["images"]) and rows,
            timeout=300,
            what="a prediction of every image by the new model version",
        )
        assert {p["image"] for p in predictions} == set(walk["images"])
        mask = browser.call("GET", f"/api/predictions/{predictions[0]['id']}/mask.png", host=1)
        assert mask.status_code == 200 and mask.content.startswith(b"\x89PNG")
        keys = bucket_keys(cluster)
        assert any("/models/" in key for key in keys) and any("/predictions/" in key for key in keys)
    finally:
        socket.close()
    TIMINGS["walk"] = time.monotonic() - started


def test_a_killed_training_worker_fails_its_run_with_a_reason_and_leaves_no_model(cluster, walk):
    started = time.monotonic()
    browser, project = walk["browser"], walk["project"]
    socket = LiveSocket(browser, project, host=1)
    run = None
    try:
        run = start_run(browser, project, LONG_RUN)
        socket.wait_for(progress_of(run), timeout=120, what="the long run's first curve point")
        cluster.services["worker-gpu"].kill()  # SIGKILL, master and training process: a lost machine
        killed = time.monotonic()
        state = wait_final(browser, run, timeout=STALE_SECONDS * 4)
        TIMINGS["kill_detected_s"] = time.monotonic() - killed
        assert state["state"] == "failed" and "stopped responding" in state["error"], state
        versions = browser.ok("GET", f"/api/projects/{project}/model-versions/")
        rows = versions["results"] if isinstance(versions, dict) else versions
        assert all(v.get("run") != run for v in rows), rows
        socket.wait_for(
            lambda e: e["type"] == "run.state" and e.get("run") == run and e["state"] == "failed",
            timeout=30,
            what="the run's failure on the socket",
        )
    finally:
        socket.close()
        cancel_quietly(browser, run)
        cluster.start_worker("gpu")  # the deployment's restart policy brings the worker back
    TIMINGS["worker_kill"] = time.monotonic() - started


def test_a_redis_restart_loses_no_run_and_live_events_resume(cluster, walk):
    started = time.monotonic()
    browser, project = walk["browser"], walk["project"]
    socket = LiveSocket(browser, project, host=1)
    running = queued = None
    try:
        running = start_run(browser, project, LONG_RUN)
        # The gpu worker restarted by the step before may still be loading PyTorch.
        socket.wait_for(progress_of(running), timeout=400, what="the long run's first curve point")
        queued = start_run(browser, project, TINY_RUN)  # waits behind it, its message in Redis
        assert run_state(browser, queued)["state"] == "queued"
        cluster.services["redis"].kill()  # no persistence: its queues are gone
        cluster.start_redis()
        mark = socket.mark()
        socket.wait_for(progress_of(running), after=mark, timeout=60, what="curve points after the restart")
        browser.ok("POST", f"/api/runs/{running}/cancel/")
        assert wait_final(browser, running, timeout=60)["state"] == "cancelled"
        assert wait_final(browser, queued, timeout=420)["state"] == "succeeded"
    finally:
        socket.close()
        cancel_quietly(browser, running)
        cancel_quietly(browser, queued)
    TIMINGS["redis_restart"] = time.monotonic() - started


def test_uploads_answer_503_while_s3_is_away_and_work_again_after(cluster, walk):
    started = time.monotonic()
    browser, project = walk["browser"], walk["project"]
    upload = [
        ("files", ("late.png", png(synthetic_field(seed=9, height=64, width=64).brightfield), "image/png"))
    ]
    for host in cluster.app_hosts:
        cluster.network.cut(host, cluster.s3_address)
    try:
        answer = browser.call("POST", f"/api/projects/{project}/images/", host=0, files=upload)
        assert answer.status_code == 503, answer.text[:500]
        assert "storage" in answer.json()["detail"] and answer.headers.get("Retry-After")
    finally:
        for host in cluster.app_hosts:
            cluster.network.heal(host, cluster.s3_address)
    (image,) = browser.ok("POST", f"/api/projects/{project}/images/", host=1, status=201, files=upload)
    walk["images"].append(image["id"])
    TIMINGS["s3_outage"] = time.monotonic() - started


def test_a_socket_whose_web_host_dies_reconnects_to_the_other_and_keeps_receiving(cluster, walk):
    started = time.monotonic()
    browser, project = walk["browser"], walk["project"]
    socket = LiveSocket(browser, project, host=1)
    run = None
    try:
        assert socket.connections == [1]
        cluster.services["web2"].kill()
        run = start_run(browser, project, TINY_RUN, host=0)
        socket.wait_for(progress_of(run), timeout=120, what="curve points on the other web host")
        socket.wait_for(
            lambda e: e["type"] == "run.state" and e.get("run") == run and e["state"] == "succeeded",
            timeout=420,
            what="the run's success on the other web host",
        )
        assert socket.connections[0] == 1 and socket.connections[-1] == 0, socket.connections
    finally:
        socket.close()
        cancel_quietly(browser, run)
        cluster.start_web(2)
    TIMINGS["web_kill"] = time.monotonic() - started


def test_afterwards_every_file_is_in_s3_nothing_is_orphaned_and_every_run_is_final(cluster, walk):
    browser, project = walk["browser"], walk["project"]
    runs = browser.ok("GET", f"/api/projects/{project}/runs/")
    rows = runs["results"] if isinstance(runs, dict) else runs
    assert rows and all(run["state"] in FINAL for run in rows), [(r["id"], r["state"]) for r in rows]
    # A prediction job that met the S3 outage waits queued for its retry (Dramatiq backs off 15,
    # 30, 60 s): it must end, and end well, now that S3 is back.
    jobs = wait_until(
        lambda: all_final(listed(browser, project)),
        timeout=300,
        what="every prediction job to end",
    )
    assert all(job["state"] == "succeeded" for job in jobs), [(j["id"], j["state"], j["error"]) for j in jobs]
    named = cluster.manage(
        cluster.web(1),
        "shell",
        "-v",
        "0",
        "-c",
        "from training.orphans import named_files; print('\\n'.join(sorted(named_files())))",
    ).split()
    keys = {key.removeprefix("lesslabel/") for key in bucket_keys(cluster)}
    missing = [name for name in named if name not in keys]
    assert not missing, f"rows name files that S3 does not hold: {missing}"
    # The instant previews' records live in Redis only: the restart orphaned the files they named.
    # Nothing else may be an orphan; sweep_orphans removes them.
    orphans = sorted(keys - set(named))
    assert all(name.startswith("instant/") for name in orphans), f"files no row names: {orphans}"
    report = cluster.manage(cluster.web(2), "sweep_orphans", "--grace-seconds", "0")
    assert f"removed {len(orphans)} orphan file(s)" in report, report
    left = {key.removeprefix("lesslabel/") for key in bucket_keys(cluster)}
    assert left == set(named), (
        f"after the sweep: orphans {sorted(left - set(named))}, missing {sorted(set(named) - left)}"
    )
    TIMINGS["total"] = time.monotonic() - cluster.started
    print("cluster timings (s):", {k: round(v, 1) for k, v in TIMINGS.items()})
