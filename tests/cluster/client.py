"""What a browser does against the deployment: sign in through the login form, call the REST API
on any web host with the same session, and keep a project socket open that moves to another web
host when its own goes away (as a browser behind the department's load balancer would)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect


class Browser:
    def __init__(self, urls: list[str], username: str, password: str) -> None:
        self.urls = urls
        login = f"{urls[0]}/accounts/login/"
        session = requests.Session()
        form = session.get(login, timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, f"no CSRF token in the login form: {form.status_code}"
        answer = session.post(
            login,
            data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": login},
            timeout=30,
            allow_redirects=False,
        )
        assert answer.status_code == 302, f"sign-in failed: {answer.status_code} {answer.text[:300]}"
        self.session_id = session.cookies["sessionid"]
        self.csrf = session.cookies["csrftoken"]

    @property
    def cookie(self) -> str:
        return f"sessionid={self.session_id}; csrftoken={self.csrf}"

    def call(
        self, method: str, path: str, *, host: int = 0, timeout: float = 60, **kwargs: Any
    ) -> requests.Response:
        url = self.urls[host]
        headers = {"Cookie": self.cookie, "X-CSRFToken": self.csrf, "Referer": f"{url}/"}
        return requests.request(method, url + path, headers=headers, timeout=timeout, **kwargs)

    def ok(self, method: str, path: str, *, host: int = 0, status: int = 200, **kwargs: Any) -> Any:
        answer = self.call(method, path, host=host, **kwargs)
        assert answer.status_code == status, (
            f"{method} {path} on host {host}: {answer.status_code} {answer.text[:500]}"
        )
        return answer.json() if "json" in answer.headers.get("Content-Type", "") else answer.content


class LiveSocket:
    """The project socket, kept open in a thread; on losing its web host it tries the next one."""

    def __init__(self, browser: Browser, project: int, *, host: int) -> None:
        self.browser, self.project, self.host = browser, project, host
        self.events: list[dict[str, Any]] = []
        self.connections: list[int] = []  # the host of every (re)connection, in order
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.wait_for(lambda e: e["type"] == "hello", timeout=30, what="the socket's hello")

    def _run(self) -> None:
        while not self._stop.is_set():
            url = self.browser.urls[self.host]
            headers = {"Cookie": self.browser.cookie, "Origin": url}
            ws_url = url.replace("http://", "ws://") + f"/ws/projects/{self.project}/"
            try:
                with connect(ws_url, additional_headers=headers, open_timeout=5, close_timeout=1) as socket:
                    self.connections.append(self.host)
                    while not self._stop.is_set():
                        try:
                            raw = socket.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        event = json.loads(raw)
                        event["_host"] = self.host
                        event["_received"] = time.monotonic()
                        with self._lock:
                            self.events.append(event)
            except (OSError, WebSocketException):
                pass
            if not self._stop.is_set():
                self.host = (self.host + 1) % len(self.browser.urls)  # the load balancer's next host
                time.sleep(0.5)

    def since(self, mark: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events[mark:])

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def wait_for(
        self, condition: Callable[[dict[str, Any]], bool], *, timeout: float, what: str, after: int = 0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.since(after):
                if condition(event):
                    return event
            time.sleep(0.1)
        kinds = [e.get("type") for e in self.since(after)][-20:]
        raise AssertionError(f"no {what} within {timeout:.0f} s; the last events: {kinds}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
