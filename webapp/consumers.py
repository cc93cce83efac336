"""The WebSocket of a project: /ws/projects/<id>/ streams that project's live events.

Signed in with the browser session (Channels' AuthMiddlewareStack); only members of the project
get in, everyone else is refused during the handshake (close code 4403). The socket only reads:
labels are written through the REST API, where roles are checked, so a viewer's socket is the
same as an annotator's. Clients may send {"type": "ping"} (answered with "pong") and
{"type": "presence", "image": <id or null>} to tell the others they are here, and on which image
of the project; any other frame (not JSON, binary, another image) is answered with an "error".
A member removed from the project gets "member.removed" and the socket closes (4403).

Presence lives in a Redis hash per project (one field per open socket), so every web process
sees the same list: "hello" carries who is there, "presence" events follow each move, and an
entry not refreshed for PRESENCE_TTL_SECONDS (a browser that vanished) is not listed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import redis.asyncio as redis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from labeling.selectors import images_of, live_project, projects_for
from webapp import events, inputs
from webapp.live import MESSAGE_TYPE, group_name

log = logging.getLogger(__name__)

REFUSED = 4403
PRESENCE_TTL_SECONDS = 90


def _presence_key(project_id: int) -> str:
    return f"lesslabel:presence:{project_id}"


def _role(user: Any, project_id: int) -> str | None:
    project = projects_for(user).filter(pk=project_id).first()
    if project is None:
        return None
    role = project.role_of(user)
    return str(role) if role else None


def _image_in_project(project_id: int, image_id: int) -> bool:
    project = live_project(project_id)
    return project is not None and images_of(project).filter(pk=image_id).exists()


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    group = ""
    project_id = 0
    username = ""
    removed = False

    _rejoin: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        user = self.scope.get("user")
        role = await database_sync_to_async(_role)(user, self.project_id)
        if role is None:
            await self.close(code=REFUSED)
            return
        self.username = user.username
        self.group = group_name(self.project_id)
        self.redis = redis.Redis.from_url(settings.REDIS_URL)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self._rejoin = asyncio.create_task(self._stay_in_group())
        present = await self._present()
        hello = events.Hello(project=self.project_id, user=user.username, role=role, present=present)
        await self.send_json(hello.to_json())

    async def disconnect(self, code: int) -> None:
        if not self.group:
            return
        if self._rejoin is not None:
            self._rejoin.cancel()
        await self.channel_layer.group_discard(self.group, self.channel_name)
        if await self.redis.hdel(_presence_key(self.project_id), self.channel_name):
            await self._announce(image=None, left=True)
        await self.redis.aclose()

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        """A frame that is not JSON text gets an error frame; it must not end the consumer (a
        crash skips disconnect, and its presence entry would stay)."""
        try:
            content = inputs.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        await self.receive_json(content)

    async def _stay_in_group(self) -> None:
        """Join the project's group again every LIVE_REJOIN_SECONDS: a Redis that restarted
        without its data has forgotten the group's members, and events would stop reaching an
        open socket that still looks healthy."""
        while True:
            await asyncio.sleep(settings.LIVE_REJOIN_SECONDS)
            try:
                await self.channel_layer.group_add(self.group, self.channel_name)
            except Exception:
                log.warning("could not rejoin %s; trying again", self.group, exc_info=True)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json(events.Pong().to_json())
            return
        image = content.get("image") if isinstance(content, dict) else None
        if kind == "presence" and (image is None or await self._is_image_here(image)):
            await self._set_presence(image)
            return
        detail = (
            'This socket streams events; send {"type": "ping"} or '
            '{"type": "presence", "image": <id of an image of this project, or null>} as JSON text.'
        )
        await self.send_json(events.SocketError(detail=detail).to_json())

    async def _is_image_here(self, image: Any) -> bool:
        if not isinstance(image, int) or isinstance(image, bool) or not 0 < image < inputs.MAX_INT:
            return False
        return bool(await database_sync_to_async(_image_in_project)(self.project_id, image))

    async def _set_presence(self, image: int | None) -> None:
        entry = {"user": self.username, "image": image, "seen": time.time()}
        await self.redis.hset(_presence_key(self.project_id), self.channel_name, json.dumps(entry))
        await self._announce(image=image, left=False)

    async def _announce(self, *, image: int | None, left: bool) -> None:
        event = events.Presence(user=self.username, session=self.channel_name[-12:], image=image, left=left)
        message = {"type": MESSAGE_TYPE, "event": {**event.to_json(), "at": time.time()}}
        await self.channel_layer.group_send(self.group, message)

    async def _present(self) -> list[events.Present]:
        """Who else has the project open, and on which image (entries gone stale are dropped)."""
        key = _presence_key(self.project_id)
        entries = await self.redis.hgetall(key)
        present, stale = [], []
        for session, raw in entries.items():
            entry = json.loads(raw)
            if time.time() - entry["seen"] > PRESENCE_TTL_SECONDS:
                stale.append(session)
            else:
                session_id = (session.decode() if isinstance(session, bytes) else session)[-12:]
                present.append(events.Present(user=entry["user"], image=entry["image"], session=session_id))
        if stale:
            await self.redis.hdel(key, *stale)
        return present

    async def live_event(self, message: dict[str, Any]) -> None:
        if self.removed:
            return
        event = message["event"]
        await self.send_json(event)
        if event.get("type") == events.MemberRemoved.TYPE and event.get("user") == self.username:
            self.removed = True
            await self.close(code=REFUSED)
