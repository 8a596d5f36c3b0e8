"""End-to-end fixtures: the real app on a free port, driven by headless Chromium.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright; nothing is ever downloaded.
Tests without it are skipped.

    def test_something(live: LiveServer, page: Page, make_user) -> None:
        make_user("amina", Role.coordinator, ["UG-101"])
        sign_in(page, live, "amina")
        page.get_by_role("link", name="Forms").click()
        screenshot(page, "forms-list")      # tests/artifacts/screenshots/forms-list.png

- `live_server` (session): the app served by werkzeug in a thread, against this test
  session's PostgreSQL database; `live` (per test) is the same server, with every table
  emptied after the test.
- `browser` (session) and `page` (per test, a fresh browser context: no cookies shared).
- `make_user(username, role, scopes=())` creates a user with password `PASSWORD`; `with_db()`
  gives a committed session on the server's database for arranging data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from server.domain.roles import Role
from server.models import User
from server.services.users import create_user
from tests.conftest import _truncate_all
from tests.fixtures.live import LiveServer, live_server_on
from tests.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
PASSWORD = "browser-pass-123"
# Playwright's waits are for elements to appear, not a limit on how long a test may run; a
# loaded 2-core machine can be slow, so they are generous.
WAIT_MS = 30_000


@pytest.fixture(scope="session")
def live_server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("live") / "data"
    with live_server_on(pg_url, data_dir, "browser-test-secret-0123456789") as served:
        yield served


@pytest.fixture
def live(live_server: LiveServer, pg_url: str) -> Iterator[LiveServer]:
    yield live_server
    _truncate_all(pg_url)


@pytest.fixture
def make_user(live: LiveServer) -> Callable[..., User]:
    def make(username: str, role: Role | str, scopes: Sequence[str] = ()) -> User:
        with live.db() as session:
            return create_user(
                session, username, PASSWORD, role, live.settings.auth_realm, list(scopes)
            )

    return make


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live: LiveServer):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live.url)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def phone(browser, live: LiveServer):  # type: ignore[no-untyped-def]
    """A page the size of a small phone screen."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, base_url=live.url, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a full-page screenshot as a test artifact (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, live: LiveServer, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}/")
