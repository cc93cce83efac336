"""The WebSocket of a project: /ws/projects/<id>/ streams that project's live events.

Signed in with the browser session (Channels' AuthMiddlewareStack); only members of the project
get in, everyone else is refused during the handshake (close code 4403). The socket only reads:
labels are written through the REST API, where roles are checked, so a viewer's socket is the
same as an annotator's. Clients may send {"type": "ping"} (answered with "pong").
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from labeling.selectors import projects_for
from webapp.live import group_name

REFUSED = 4403


def _role(user: Any, project_id: int) -> str | None:
    project = projects_for(user).filter(pk=project_id).first()
    if project is None:
        return None
    role = project.role_of(user)
    return str(role) if role else None


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    group = ""

    async def connect(self) -> None:
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        user = self.scope.get("user")
        role = await database_sync_to_async(_role)(user, project_id)
        if role is None:
            await self.close(code=REFUSED)
            return
        self.group = group_name(project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "project": project_id, "user": user.username, "role": role})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        await self.send_json(
            {"type": "error", "detail": 'This socket only streams events; send {"type": "ping"} or nothing.'}
        )

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
