"""End-to-end browser tests: Debian's Chromium, driven by Playwright, against a real daphne.

The app runs as `make run` serves it: `python -m daphne webapp.asgi:application` in a subprocess,
on the test database, Redis and media of this session (as tests/live starts its Dramatiq workers),
with the front end built into frontend/dist (`make test` builds it first) and served by whitenoise
from STATICFILES_DIRS (WHITENOISE_USE_FINDERS). What a test creates must be committed for the
server to see it, so every test here runs in `transactional_db`.

    def test_an_annotator_sees_the_project(signed_in, users, project, screenshot):
        page = signed_in(users["annotator"])          # through the real login form
        expect(page.get_by_text(project.name).first).to_be_visible()
        screenshot(page, "home")                      # docs/screenshots/home.png

`worker` / `start_worker` (from tests/live) add a real Dramatiq worker when a test needs one.
Chromium is /usr/bin/chromium (apt package `chromium`, which `make test` installs); without it
these tests skip.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.live.conftest import (  # a real worker for tests that train
    service_environment,
    start_worker,
    stop_group,
    worker,
)

__all__ = ["start_worker", "worker"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
FRONTEND_DIST = Path(settings.BASE_DIR) / "frontend" / "dist"
VIEWPORT = {"width": 1280, "height": 800}
# Playwright waits 5 s for an expectation and 30 s for an action by default; the suite shares two
# cores with other work, so expectations get longer.
EXPECT_TIMEOUT_MS = 10_000
SERVER_START_SECONDS = 120.0  # a busy 2-core machine can take a while to start daphne
LOG_TAIL = 6000
PAGE_TEXT = 300  # characters of each page's text in a failure report
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in tests/browser is marked `browser` (select: -m browser) and `slow` (it starts
    processes), so `-m "not slow"` and `-m "not browser"` leave them out."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """A failed browser test reports the server's log and the pages' console errors."""
    report = yield
    if report.failed and HERE in Path(item.path).resolve().parents:
        server = _SERVERS[-1] if _SERVERS else None
        if server is not None:
            report.sections.append(("daphne log (tail)", server.tail()))
        problems = getattr(item, "_browser_console", None)
        if problems:
            report.sections.append(("browser console errors", "\n".join(problems)))
        pages = getattr(item, "_browser_pages", None)
        if pages:
            report.sections.append(("browser pages", "\n".join(watch.describe() for watch in pages)))
    return report


class PageWatch:
    """What one test page was doing: its requests still unanswered, for the failure report (a page
    stuck on "Loading…" says which request it waits for)."""

    def __init__(self, name: str, page: Page) -> None:
        self.name, self.page = name, page
        self.pending: dict[Any, tuple[str, float]] = {}
        page.on("request", lambda r: self.pending.__setitem__(r, (f"{r.method} {r.url}", time.monotonic())))
        page.on("requestfinished", lambda r: self.pending.pop(r, None))
        page.on("requestfailed", lambda r: self.pending.pop(r, None))

    def describe(self) -> str:
        lines = [f"{self.name}: {self.page.url}"]
        with contextlib.suppress(Exception):  # a closed or crashed page still reports its requests
            text = self.page.locator("#app").inner_text(timeout=2000)
            lines.append("  shows: " + " ".join(text.split())[:PAGE_TEXT])
        now = time.monotonic()
        lines += [f"  waiting {now - since:.1f} s for {what}" for what, since in self.pending.values()]
        return "\n".join(lines)


# --- the app server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AppServer:
    """daphne serving webapp.asgi:application on 127.0.0.1:<free port>; its log in `log_path`."""

    def __init__(self, log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The test settings are webapp.settings plus the MD5 password hasher the test process
        # hashes the users' passwords with; the plain settings could not check them. Every
        # service comes from the environment, as for the worker in tests/live.
        env = service_environment(DJANGO_SETTINGS_MODULE="webapp.settings_test", PYTHONUNBUFFERED="1")
        self.log_path = log_path
        self.log = log_path.open("wb")
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "webapp.asgi:application"],  # as `make run` serves the app
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def tail(self, characters: int = LOG_TAIL) -> str:
        return self.log_path.read_text(errors="replace")[-characters:]

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- daphne log ({self.log_path}) ---\n{self.tail()}", pytrace=False)

    def wait_until_healthy(self, timeout: float = SERVER_START_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while True:
            if self.process.poll() is not None:
                self.fail(f"daphne exited with status {self.process.returncode} before it served /healthz")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except urllib.error.HTTPError as error:  # 503: the database or Redis is not reachable
                last_error = f"{error.code} {error.read().decode(errors='replace')}"
            except OSError as error:
                last_error = str(error)
            if time.monotonic() > deadline:
                self.fail(f"daphne did not serve {self.url}/healthz within {timeout:.0f} s ({last_error})")
            time.sleep(0.3)

    def check_static(self) -> None:
        """The front end's bundle is served, or the browser would only see 'Loading projects…'."""
        try:
            with urllib.request.urlopen(f"{self.url}/static/app.js", timeout=10) as response:
                response.read(1)
        except OSError as error:
            self.fail(f"{self.url}/static/app.js is not served ({error}); is frontend/dist built?")

    def stop(self) -> None:
        stop_group(self.process, grace=15)
        self.log.close()


_SERVERS: list[AppServer] = []  # the running server, for the failure report


@pytest.fixture(scope="package")
def app_server(
    django_db_setup: Any,
    django_db_blocker: Any,
    redis_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The base URL (http://127.0.0.1:<port>, no trailing slash) of daphne serving the app on the
    test database; started once for tests/browser and stopped after it."""
    if not (FRONTEND_DIST / "app.js").is_file():
        pytest.fail(
            f"{FRONTEND_DIST}/app.js is missing: build the front end first (`make frontend`, or "
            "`cd frontend && npm run build`; `make test` does it)",
            pytrace=False,
        )
    with django_db_blocker.unblock():
        server = AppServer(tmp_path_factory.mktemp("daphne") / "daphne.log")
    _SERVERS.append(server)
    try:
        server.wait_until_healthy()
        server.check_static()
        yield server.url
    finally:
        server.stop()
        _SERVERS.remove(server)


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API. It keeps an asyncio loop running on this thread while it lives, which
    Django takes for an async context and would refuse ORM calls in: allowed here (the test and its
    fixtures still run one at a time on this thread), and undone when the package's tests end."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: `make test` installs it (apt-get install chromium)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright().start()
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    try:
        yield manager
    finally:
        manager.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium, shared by the package's tests (each page gets its own context)."""
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(autouse=True)
def _committed_data(transactional_db: Any) -> None:
    """The server is another process: it only sees what the test commits."""


def _username(user: Any) -> str:
    return user if isinstance(user, str) else str(user.get_username())


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Fill and submit the login form at /accounts/login/; waits for the answer, checks nothing."""
    page.goto(f"{base_url}/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def new_page(
    request: pytest.FixtureRequest, browser: Browser, app_server: str
) -> Iterator[Callable[..., Page]]:
    """new_page() -> a Page in a fresh context (its own cookies), at no URL yet.
    new_page(user) -> the same, signed in as `user` (a User or a user name) through the login form;
    the password defaults to the `users` fixture's "<name>-password".

    Pages open at VIEWPORT, with base_url set (page.goto("/") works); their console errors,
    uncaught exceptions, text and unanswered requests are listed in the report when the test fails.
    Contexts close after the test.
    """
    contexts: list[BrowserContext] = []
    problems: list[str] = []
    request.node._browser_console = problems
    watches: list[PageWatch] = []
    request.node._browser_pages = watches

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"{message.type}: {message.text} ({message.location['url']})")

    def make(user: Any | None = None, *, password: str | None = None) -> Page:
        context = browser.new_context(base_url=app_server, viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        watches.append(PageWatch(_username(user) if user is not None else "anonymous", page))
        if user is not None:
            username = _username(user)
            sign_in(page, app_server, username, password or f"{username}-password")
            if "/accounts/login/" in page.url:
                raise AssertionError(f"signing in as {username!r} failed: still on {page.url}")
        return page

    yield make
    for context in contexts:
        with contextlib.suppress(Exception):  # a crashed browser must not hide the test's failure
            context.close()


@pytest.fixture
def console_problems(request: pytest.FixtureRequest, new_page: Callable[..., Page]) -> list[str]:
    """The console errors and warnings and the uncaught exceptions of this test's pages so far."""
    problems: list[str] = request.node._browser_console
    return problems


@pytest.fixture
def signed_in(new_page: Callable[..., Page]) -> Callable[..., Page]:
    """signed_in(user, password=None) -> a new Page signed in as `user`, on the page the login
    redirects to (the home page, /)."""

    def make(user: Any, *, password: str | None = None) -> Page:
        return new_page(user, password=password)

    return make


def take_screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Write docs/screenshots/<name>.png (kept in the repository, for the README) and return it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """screenshot(page, name, full_page=True) -> docs/screenshots/<name>.png."""
    return take_screenshot
