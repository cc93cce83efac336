"""The locust scenario of `python -m training.bench load`: annotators in a browser, as HTTP sees them.

`python -m training.bench.annotators PLAN.json OUT.json` runs one phase headless and writes what
the annotators saw. It runs in a process of its own: locust monkey-patches the standard library
for gevent when imported, which must happen before anything else loads (not in the bench process,
where Django, torch and the database drivers already have), and the load it makes then takes no
turns with the bench process's own work.

Each simulated annotator signs in with a token of its own, opens an image at random (the image,
its channels' display renditions, its label layers, each map layer's mask.png and the instant
preview), then saves one short scribble stroke every 1-2 s on it, as the browser's synced layer
does: with the `base_version` it last saw, and on a 409 it reloads the layers and sends the same
stroke again on the new version. Every few strokes it reads the layer's mask and the instant
preview back, as the overlays do after a `labels.changed` or `preview.ready` event; after a few
dozen strokes it moves on to another image. Every acknowledged save (2xx) is recorded with what it
sent, so the command can look for each one in the stored revision history afterwards.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, task
from locust.env import Environment

LOCKED = "database is locked"

# A 409 is answered by reloading and sending again; this many times in a row means something is wrong.
MAX_TRIES = 5
STROKES_PER_IMAGE = (10, 30)
READ_BACK_EVERY = 4  # strokes between reading the mask and the instant preview back


@dataclass
class Acknowledged:
    """A save the server accepted: the layer, the version it made, and the strokes it carried."""

    annotation: int
    version: int
    strokes: list[dict[str, Any]]


@dataclass
class Plan:
    """What the annotators share: the app's images, one token per annotator, what they saved."""

    host: str
    users: int
    seconds: float
    images: list[dict[str, int]]  # {"id", "width", "height"}
    tokens: list[str]
    class_indices: list[int]
    acknowledged: list[Acknowledged] = field(default_factory=list)
    gave_up: int = 0  # strokes dropped after MAX_TRIES conflicts in a row
    next_token: itertools.count[int] = field(default_factory=itertools.count)


class Annotator(FastHttpUser):
    """One person painting: open an image, a stroke every 1-2 s, reads as the page makes them."""

    plan: Plan  # set by the load command before the runner starts
    wait_time = between(1, 2)

    def on_start(self) -> None:
        number = next(self.plan.next_token)
        token = self.plan.tokens[number % len(self.plan.tokens)]
        self.headers = {"Authorization": f"Token {token}"}
        self.rng = random.Random(token)
        # Each starts on an image of their own, as a team shares out its images; later ones are
        # drawn at random, so people sometimes paint the same image at once (the 409 path).
        self._open_image(self.plan.images[number % len(self.plan.images)])

    @task
    def paint(self) -> None:
        if self.strokes_left <= 0:
            self._open_image(self.rng.choice(self.plan.images))
        self.strokes_left -= 1
        self._save(self._stroke())
        self.saved += 1
        if self.saved % READ_BACK_EVERY == 0:
            self._read_back()

    def _open_image(self, image: dict[str, int]) -> None:
        self.image = image
        self.strokes_left = self.rng.randint(*STROKES_PER_IMAGE)
        self.saved = 0
        pk = self.image["id"]
        detail = self.client.get(f"/api/images/{pk}/", headers=self.headers, name="image")
        if detail.status_code == 200:
            for channel in detail.json()["channels"]:
                self.client.get(channel["display_url"], headers=self.headers, name="display.png")
        self._reload_layers()
        if self.layer is not None:
            self.client.get(f"/api/annotations/{self.layer}/mask.png", headers=self.headers, name="mask.png")
        self._get_preview()

    def _reload_layers(self) -> None:
        """The image's scribble layer and its version, as the annotator page loads them."""
        self.layer: int | None = None
        self.version = 0
        answer = self.client.get(
            f"/api/images/{self.image['id']}/annotations/", headers=self.headers, name="annotations"
        )
        if answer.status_code != 200:
            return
        for layer in answer.json():
            if layer["kind"] == "scribble":
                self.layer, self.version = layer["id"], layer["version"]

    def _save(self, strokes: list[dict[str, Any]]) -> None:
        url = f"/api/images/{self.image['id']}/annotations/"
        for _ in range(MAX_TRIES):
            body = {"kind": "scribble", "base_version": self.version, "data": {"strokes": strokes}}
            with self.client.post(
                url, json=body, headers=self.headers, name="save", catch_response=True
            ) as answer:
                if answer.status_code == 409:
                    answer.success()  # the merge protocol, not an error: reload and apply again
                    self._reload_layers()
                    continue
                if answer.status_code == 201:
                    saved = answer.json()
                    self.layer, self.version = saved["id"], saved["version"]
                    self.plan.acknowledged.append(Acknowledged(saved["id"], saved["version"], strokes))
                return
        self.plan.gave_up += 1

    def _read_back(self) -> None:
        if self.layer is not None:
            self.client.get(f"/api/annotations/{self.layer}/mask.png", headers=self.headers, name="mask.png")
        self._get_preview()

    def _get_preview(self) -> None:
        self.client.get(
            f"/api/images/{self.image['id']}/instant-preview.png",
            headers=self.headers,
            name="instant-preview.png",
        )

    def _stroke(self) -> list[dict[str, Any]]:
        """One short stroke of a few points somewhere on the image, in a class of the project."""
        width, height = self.image["width"], self.image["height"]
        x, y = self.rng.uniform(8, width - 8), self.rng.uniform(8, height - 8)
        points = []
        for _ in range(self.rng.randint(2, 6)):
            points.append([round(x, 1), round(y, 1)])
            x = min(max(x + self.rng.uniform(-6, 6), 0.0), width - 1.0)
            y = min(max(y + self.rng.uniform(-6, 6), 0.0), height - 1.0)
        radius = float(self.rng.choice((2, 3, 4)))
        return [{"class_index": self.rng.choice(self.plan.class_indices), "radius": radius, "points": points}]


def swarm(plan: Plan) -> dict[str, Any]:
    """plan.users annotators for plan.seconds: every request's (name, status, ms), the saves the
    server acknowledged, and how many answers said "database is locked"."""
    Annotator.plan = plan
    records: list[tuple[str, int, float]] = []
    locked = 0

    def on_request(name: str, response_time: float, response: Any = None, **_: Any) -> None:
        nonlocal locked
        status = int(getattr(response, "status_code", 0) or 0)
        records.append((name, status, float(response_time)))
        if status >= 500 and LOCKED in (getattr(response, "text", "") or ""):
            locked += 1

    environment = Environment(user_classes=[Annotator], host=plan.host, stop_timeout=10)
    environment.events.request.add_listener(on_request)
    runner = environment.create_local_runner()
    started = time.monotonic()
    runner.start(plan.users, spawn_rate=max(plan.users / 2.0, 1.0))  # everyone in within 2 s
    while (elapsed := time.monotonic() - started) < plan.seconds:
        gevent.sleep(min(5.0, plan.seconds - elapsed))
        print(f"  {plan.users} annotators, {elapsed:4.0f} s: {len(plan.acknowledged)} saves", file=sys.stderr)
    runner.quit()  # users finish the request they are in (stop_timeout), so each save is answered
    return {
        "seconds": time.monotonic() - started,
        "records": records,
        "acknowledged": [asdict(ack) for ack in plan.acknowledged],
        "gave_up": plan.gave_up,
        "locked_answers": locked,
    }


def main(argv: list[str]) -> int:
    plan_file, out = Path(argv[0]), Path(argv[1])
    plan = Plan(**json.loads(plan_file.read_text()))
    out.write_text(json.dumps(swarm(plan)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
