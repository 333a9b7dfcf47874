"""End-to-end fixtures: the real app under uvicorn over a small demo database,
and Debian's Chromium driven by Playwright (never a downloaded browser).

The browser tests skip, with the reason, when Playwright or Chromium is missing
(``.ci/run`` installs Chromium with apt and sets ``SNP_E2E_REQUIRED=1``, which
turns that skip into a failure). Screenshots go to an artefacts folder
(``$SNP_E2E_ARTEFACTS``, else a pytest temporary folder); with
``SNP_UPDATE_SCREENSHOTS=1`` one of each page is also copied to docs/screenshots.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from rich.console import Console

from api.app import create_app
from snp.db import make_engine
from snp.demo import run_demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = Path(os.environ.get("SNP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--lang=fr-FR",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"


def _browser_missing_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.is_file():
        return (
            f"no Chromium at {CHROMIUM}: install Debian's package "
            "(apt-get install chromium) or set SNP_CHROMIUM"
        )
    return None


BROWSER_MISSING = _browser_missing_reason()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    users: dict[str, int] = field(default_factory=dict)  # demo user name → id

    def token(self, user_name: str) -> str:
        """A bearer token for a demo user, through the console's demo login."""
        answer = httpx.post(
            f"{self.url}/console/api/login", json={"user_id": self.user_id(user_name)}
        )
        answer.raise_for_status()
        token: str = answer.json()["token"]
        return token

    def user_id(self, prefix: str) -> int:
        return next(uid for name, uid in self.users.items() if name.startswith(prefix))

    def api(self, user_name: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token(user_name)}"}
        )


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``snp demo`` (size S) in a temporary SQLite file, served on a free port."""
    previous = os.environ.get("SNP_CONSOLE_DEMO_LOGIN")
    os.environ["SNP_CONSOLE_DEMO_LOGIN"] = "1"
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'snp.db'}"
    run_demo(url, size="S", console=Console(file=io.StringIO(), quiet=True))
    engine = make_engine(url)
    app = create_app(engine=engine, sweep_seconds=2)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    live = LiveServer(f"http://127.0.0.1:{port}")
    created = httpx.post(f"{live.url}/console/api/demo-users", json={})
    created.raise_for_status()
    live.users = {u["name"]: u["id"] for u in created.json()}
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
        if previous is None:
            os.environ.pop("SNP_CONSOLE_DEMO_LOGIN", None)
        else:
            os.environ["SNP_CONSOLE_DEMO_LOGIN"] = previous


@pytest.fixture(scope="package")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("SNP_E2E_ARTEFACTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("e2e-artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="package")
def playwright_session() -> Iterator[Playwright]:
    if BROWSER_MISSING is not None:
        if os.environ.get("SNP_E2E_REQUIRED") == "1":  # CI: the browser tests must run
            pytest.fail(f"SNP_E2E_REQUIRED=1 but {BROWSER_MISSING}")
        pytest.skip(BROWSER_MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    chromium = playwright_session.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
    )
    yield chromium
    chromium.close()


class Shots:
    """Save PNG screenshots as artefacts; copy the chosen ones to docs/ on demand."""

    def __init__(self, folder: Path, test_name: str) -> None:
        self.folder = folder
        self.prefix = test_name

    def take(self, page: Page, name: str, *, for_docs: bool = False) -> Path:
        path = self.folder / f"{self.prefix}--{name}.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 1000
        if for_docs and os.environ.get("SNP_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
        return path


@pytest.fixture
def shots(artefacts: Path, request: pytest.FixtureRequest) -> Shots:
    return Shots(artefacts, request.node.name)


@dataclass
class Watch:
    """What went wrong in the page: script errors and requests leaving the host."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer, watch: Watch) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 800},
        locale="fr-FR",
        timezone_id="Europe/Paris",
        accept_downloads=True,
    )
    ctx.set_default_timeout(10_000)

    def guard(route: Any) -> None:
        if route.request.url.startswith(live_server.url) or route.request.url.startswith("blob:"):
            route.continue_()
        else:
            watch.outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    yield ctx
    ctx.close()
    assert watch.outside == [], f"the console tried to reach outside: {watch.outside}"
    assert watch.errors == [], f"script errors in the page: {watch.errors}"


@pytest.fixture
def new_page(context: BrowserContext, watch: Watch) -> Any:
    def make() -> Page:
        page = context.new_page()
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                watch.errors.append(message.text)
                if message.type == "error" and "Failed to load resource" not in message.text
                else None
            ),
        )
        return page

    return make


def log_in(page: Page, live_server: LiveServer, user_prefix: str) -> None:
    """The Connexion page's demo login, by clicking the user's button."""
    page.goto(f"{live_server.url}/console/connexion")
    page.locator("#utilisateurs-demo button", has_text=user_prefix).first.click()
    page.wait_for_url(lambda url: "/console/connexion" not in url)
    page.wait_for_selector("#utilisateur:not([hidden])")
