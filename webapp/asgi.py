"""ASGI entry point: HTTP through Django, WebSockets (/ws/projects/<id>/) through Channels.

Every way the app is served (`make run`'s launcher, the Dockerfile, the tests and benchmarks)
runs `daphne webapp.asgi:application`, so the one change daphne needs is made here too."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()  # sets Django up before the consumers are imported

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from daphne import http_protocol  # noqa: E402
from django.urls import get_resolver, path  # noqa: E402
from twisted.web import http  # noqa: E402

from webapp.consumers import ProjectConsumer  # noqa: E402


class DjangoParsedRequest(http_protocol.WebRequest):
    """Twisted parses every multipart and urlencoded POST body itself before daphne hands it to
    Django, reading the whole body into memory for arguments nobody reads, and answers one it
    cannot parse (an empty `--boundary--`) with a bare 400 of its own: no Content-Type, no body.
    Django parses the body anyway, so Twisted leaves it alone and a malformed body gets the API's
    JSON 400 with a message."""

    def __init__(self, channel: http.HTTPChannel, *args: object, **kwargs: object) -> None:
        super().__init__(channel, *args, **{**kwargs, "parsePOSTFormSubmission": False})


http_protocol.WebRequest = DjangoParsedRequest  # HTTPFactory.buildProtocol reads the name

# Every view, and PyTorch with the training views, is imported now, before the server listens:
# loaded lazily, the first request after a start waited 20-40 s on a 2-core machine.
get_resolver().resolve("/")

websocket_urlpatterns = [path("ws/projects/<int:project_id>/", ProjectConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
