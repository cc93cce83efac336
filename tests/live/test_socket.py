"""The project WebSocket: who may connect, and label changes reaching the other members."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from labeling import services
from tests.factories import field_png
from webapp.asgi import application

from .conftest import off_the_loop

STROKE = {"class_index": 2, "radius": 3, "points": [[10, 10], [20, 12]]}

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(project_id: int, client: Any | None = None, origin: bytes = b"http://127.0.0.1:8000"):
    headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)


def connects(project_id: int, client: Any | None = None, **kwargs: Any) -> bool:
    async def attempt() -> bool:
        socket = communicator(project_id, client, **kwargs)
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    return asyncio.run(attempt())


def test_only_members_of_the_project_get_in(project, client_for):
    assert connects(project.pk, client_for("viewer"))
    assert not connects(project.pk, client_for("stranger"))
    assert not connects(project.pk)  # not signed in
    assert not connects(project.pk + 1000, client_for("owner"))
    assert not connects(project.pk, client_for("owner"), origin=b"http://evil.example")


def test_a_viewer_sees_an_annotators_save_and_cannot_write_through_the_socket(project, users, client_for):
    (image,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("a.png", field_png())]
    )
    annotator, viewer = client_for("annotator"), client_for("viewer")

    async def scenario() -> list[dict[str, Any]]:
        socket = communicator(project.pk, viewer)
        assert (await socket.connect())[0]
        hello = await socket.receive_json_from()
        assert (hello["type"], hello["role"], hello["user"]) == ("hello", "viewer", "viewer")
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from())["type"] == "pong"
        await socket.send_json_to({"type": "labels.save", "image": image.pk})
        assert (await socket.receive_json_from())["type"] == "error"
        # Idle for longer than the Redis client's default read timeout (5 s): still listening.
        await asyncio.sleep(6)
        response = await off_the_loop(
            annotator.post,
            f"/api/images/{image.pk}/annotations/",
            {"kind": "scribble", "base_version": 0, "data": {"strokes": [STROKE]}},
            format="json",
        )
        assert response.status_code == 201, response.content
        event = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return [event]

    (event,) = asyncio.run(scenario())
    assert time.time() - 10 < event.pop("at") <= time.time()
    assert event == {
        "type": "labels.changed",
        "image": image.pk,
        "annotation": image.annotations.get().pk,
        "kind": "scribble",
        "key": "",
        "version": 1,
        "deleted": False,
        "user": "annotator",
    }


def test_members_see_who_else_is_on_which_image_and_when_they_leave(project, users, client_for):
    owner_client, viewer_client = client_for("owner"), client_for("viewer")
    (image,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("a.png", field_png())]
    )

    async def scenario() -> tuple[dict[str, Any], ...]:
        owner = communicator(project.pk, owner_client)
        assert (await owner.connect())[0]
        await owner.receive_json_from()  # hello
        await owner.send_json_to({"type": "presence", "image": image.pk})
        own_move = await owner.receive_json_from(timeout=10)

        viewer = communicator(project.pk, viewer_client)
        assert (await viewer.connect())[0]
        hello = await viewer.receive_json_from()
        await viewer.send_json_to({"type": "presence", "image": "seven"})
        refused = await viewer.receive_json_from()

        await owner.disconnect()
        left = await viewer.receive_json_from(timeout=10)
        await viewer.disconnect()
        return own_move, hello, refused, left

    own_move, hello, refused, left = asyncio.run(scenario())
    assert (own_move["type"], own_move["user"], own_move["image"], own_move["left"]) == (
        "presence",
        "owner",
        image.pk,
        False,
    )
    assert [(p["user"], p["image"]) for p in hello["present"]] == [("owner", image.pk)]
    assert refused["type"] == "error"
    assert (left["user"], left["image"], left["left"]) == ("owner", None, True)
    assert left["session"] == own_move["session"] == hello["present"][0]["session"]


def test_a_removed_member_is_told_and_the_socket_closes_before_the_next_event(project, users, client_for):
    (image,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("a.png", field_png())]
    )
    annotator, owner = client_for("annotator"), client_for("owner")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        socket = communicator(project.pk, annotator)
        assert (await socket.connect())[0]
        await socket.receive_json_from()  # hello
        membership = await off_the_loop(lambda: project.memberships.get(user=users["annotator"]))
        await off_the_loop(services.membership_remove, membership=membership, by=users["owner"])
        told = await socket.receive_json_from(timeout=10)
        closed = await socket.receive_output(timeout=10)
        # A label saved afterwards reaches nobody on this socket.
        response = await off_the_loop(
            owner.post,
            f"/api/images/{image.pk}/annotations/",
            {"kind": "scribble", "base_version": 0, "data": {"strokes": [STROKE]}},
            format="json",
        )
        assert response.status_code == 201
        assert await socket.receive_nothing(timeout=2)
        return told, closed

    told, closed = asyncio.run(scenario())
    assert (told["type"], told["user"]) == ("member.removed", "annotator")
    assert closed == {"type": "websocket.close", "code": 4403}


def test_frames_that_are_not_json_or_name_another_projects_image_get_an_error_and_leave_no_presence(
    project, users, client_for
):
    other = services.project_create(name="Other", owner=users["owner"], description="")
    (elsewhere,) = services.image_ingest(
        project=other, uploader=users["owner"], uploads=[services.Upload("b.png", field_png())]
    )
    viewer_client, owner_client = client_for("viewer"), client_for("owner")

    async def scenario() -> tuple[list[str], dict[str, Any]]:
        viewer = communicator(project.pk, viewer_client)
        assert (await viewer.connect())[0]
        await viewer.receive_json_from()  # hello
        answers = []
        for frame in ({"text_data": "not json {"}, {"bytes_data": b"\x00\x01"}, {"text_data": "1e400"}):
            await viewer.send_to(**frame)
            answers.append((await viewer.receive_json_from())["type"])
        await viewer.send_json_to({"type": "presence", "image": elsewhere.pk})
        answers.append((await viewer.receive_json_from())["type"])
        await viewer.send_json_to({"type": "ping"})  # still alive
        answers.append((await viewer.receive_json_from())["type"])
        await viewer.disconnect()
        owner = communicator(project.pk, owner_client)
        assert (await owner.connect())[0]
        hello = await owner.receive_json_from()
        await owner.disconnect()
        return answers, hello

    answers, hello = asyncio.run(scenario())
    assert answers == ["error", "error", "error", "error", "pong"]
    assert hello["present"] == []
