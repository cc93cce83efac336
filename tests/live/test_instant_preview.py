"""Instant previews on a real worker, watched over a real project socket: a saved stroke brings a
preview.ready whose class map follows the scribbles, and strokes saved while the worker is busy
cost one preview, of the last save."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from labeling import services
from labeling.labelmaps import decode_png_map
from labeling.models import Annotation, Image
from tests.factories import png_bytes
from training.features import instant
from webapp import jobs

from .conftest import TINY_RUN, add_labelled_images, off_the_loop
from .test_workers import events_until, socket_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIZE = 128
BACKGROUND = 1
DISCS = ((32, 32), (32, 96), (92, 60))


def blob_image(project: Any, uploader: Any) -> tuple[Image, np.ndarray]:
    """A generated 8-bit field: bright discs on a dark noisy background; and where the discs are."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    blob = np.zeros((SIZE, SIZE), dtype=bool)
    for cy, cx in DISCS:
        blob |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 14**2
    noise = np.random.default_rng(0).normal(0, 10, blob.shape)
    pixels = np.clip(50 + 150 * blob + noise, 0, 255).astype(np.uint8)
    (image,) = services.image_ingest(
        project=project, uploader=uploader, uploads=[services.Upload("blobs.png", png_bytes(pixels))]
    )
    jobs.redis_client().delete(instant.preview_key(image.pk))  # ids repeat across test databases
    return image, blob


def stroke(class_index: int, points: list[list[float]]) -> dict[str, Any]:
    return {"class_index": class_index, "radius": 2, "points": points}


def preview_of(image_id: int, kinds: tuple[str, ...] = ("preview.ready",)) -> Any:
    """events_until condition: the last event is one of `kinds` for the image."""
    return lambda events: events[-1]["type"] in kinds and events[-1].get("image") == image_id


def test_a_saved_stroke_brings_a_preview_whose_classes_follow_the_scribbles(
    worker, project, users, nucleus, client_for
):
    image, blob = blob_image(project, users["owner"])
    annotator, viewer = client_for("annotator"), client_for("viewer")
    url = f"/api/images/{image.pk}/annotations/"

    async def save(strokes: list[dict[str, Any]], base_version: int) -> dict[str, Any]:
        data = {"kind": "scribble", "base_version": base_version, "data": {"strokes": strokes}}
        response = await off_the_loop(annotator.post, url, data, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        socket = socket_for(viewer, project.pk)  # a colleague watching gets it too
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from())["type"] == "hello"
        await save([stroke(nucleus.index, [[25, 32], [40, 32]])], 0)
        skipped = await events_until(
            socket, preview_of(image.pk, ("preview.skipped", "preview.ready")), timeout=120
        )
        layer = await save(
            [stroke(BACKGROUND, [[5, 64], [120, 64]]), stroke(nucleus.index, [[88, 32], [104, 32]])], 1
        )
        ready = await events_until(
            socket, preview_of(image.pk, ("preview.ready", "preview.failed")), timeout=60
        )
        await socket.disconnect()
        return skipped, ready, layer

    skipped, ready, layer = asyncio.run(scenario())
    assert skipped[-1]["type"] == "preview.skipped", skipped[-1]
    assert "needs labels of two classes" in skipped[-1]["detail"]
    event = ready[-1]
    assert event["type"] == "preview.ready", event
    assert [layer["id"], 2] in event["labels"] and event["images"] == 1
    assert event["classes"] == [BACKGROUND, nucleus.index] and event["size"] == [SIZE, SIZE]

    response = viewer.get(event["url"])
    assert response.status_code == 200 and response["X-Preview-Seq"] == str(event["seq"])
    classes = decode_png_map(b"".join(response.streaming_content), what="preview")
    # The third disc was never painted: the fast model found it from the other two.
    assert np.mean(classes[blob] == nucleus.index) > 0.9
    assert np.mean(classes[~blob] == BACKGROUND) > 0.9
    assert client_for("stranger").get(event["url"]).status_code == 404


def test_strokes_saved_while_the_worker_is_busy_cost_one_preview_of_the_last_save(
    worker, project, users, nucleus, client_for
):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    image, _ = blob_image(project, users["owner"])
    annotator, manager = client_for("annotator"), client_for("manager")
    long_run = {**TINY_RUN, "steps": 100_000, "steps_per_epoch": 100_000}
    strokes = [
        [stroke(BACKGROUND, [[5, 64], [120, 64]]), stroke(nucleus.index, [[25, 32], [40, 32]])],
        *([stroke(BACKGROUND, [[5, 5 + 4 * k], [20, 5 + 4 * k]])] for k in range(4)),
    ]

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        socket = socket_for(manager, project.pk)
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from())["type"] == "hello"
        response = await off_the_loop(
            manager.post, f"/api/projects/{project.pk}/runs/", {"config": long_run}, format="json"
        )
        assert response.status_code == 201, response.content
        run = response.json()["id"]

        def running(events: list[dict[str, Any]]) -> bool:
            return events[-1]["type"] == "run.progress" and events[-1]["run"] == run

        before = await events_until(socket, running, timeout=180)  # the worker's only thread trains
        for version, batch in enumerate(strokes):
            data = {"kind": "scribble", "base_version": version, "data": {"strokes": batch}}
            saved = await off_the_loop(
                annotator.post, f"/api/images/{image.pk}/annotations/", data, format="json"
            )
            assert saved.status_code == 201, saved.content
        assert (await off_the_loop(manager.post, f"/api/runs/{run}/cancel/")).status_code == 200
        after = await events_until(
            socket, preview_of(image.pk, ("preview.ready", "preview.failed")), timeout=120
        )
        await asyncio.sleep(3)  # anything else the queued requests would make
        while not await socket.receive_nothing(timeout=0.5):
            after.append(await socket.receive_json_from())
        await socket.disconnect()
        return before, after

    before, after = asyncio.run(scenario())
    assert not [e for e in before if e.get("image") == image.pk and e["type"].startswith("preview.")]
    previews = [e for e in after if e.get("image") == image.pk and e["type"].startswith("preview.")]
    layer = Annotation.objects.get(image=image, kind="scribble")
    assert layer.version == len(strokes)
    assert [e["type"] for e in previews] == ["preview.ready"], previews  # five requests, one preview
    assert [layer.pk, layer.version] in previews[0]["labels"]
    assert previews[0]["seq"] == int(jobs.redis_client().hget(instant.preview_key(image.pk), "wanted"))
