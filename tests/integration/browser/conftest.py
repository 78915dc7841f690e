"""Browser tests of the beheerportaal: Playwright driving Debian's Chromium against a real broker,
the sandbox (with its dev identity provider's login form) and the demo tenants.

They run whenever Chromium is installed (`/usr/bin/chromium`, or `BROWSER_EXECUTABLE`); otherwise
every test here is skipped with the reason, once. `.ci/run` installs Chromium, so CI always runs
them. Every page a test visits is checked with axe-core (WCAG 2.1 A/AA rules) and saved as a
screenshot under `test-output/browser/` (or `BROWSER_SCREENSHOTS`).

The stack is shared by the module's tests (one database, one broker): each test logs in for
itself in a fresh browser context, so no test sees another's session.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from app.db import apply_migrations, with_user
from app.dev import apply_tenants, sandbox_settings, write_dev_secrets
from app.main import create_app
from app.sandbox.server import SandboxThread
from app.secrets import SECRET_KEY_VARIABLE, generate_secret_key
from app.settings import Settings
from tests.support.servers import ServerTask

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("BROWSER_EXECUTABLE") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS") or REPO / "test-output" / "browser")
# As the machine's own probe starts it: headless, no sandbox (root in CI), nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=nl-NL",  # Dutch date fields and number formats, as the portal's users see them
]
# The WCAG 2.1 A and AA rules of axe-core (what the Dutch government requires).
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def _skip_reason() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"Chromium is not installed ({CHROMIUM}): `apt-get install chromium` to run the browser tests"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (the dev extra `pip install -e '.[dev]'` has it)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every browser test, saying why, when Chromium or Playwright is missing."""
    reason = _skip_reason()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


class Portal:
    """The running stack: the broker's base URL, the sandbox, the app (for its state)."""

    def __init__(self, base_url: str, sandbox: SandboxThread, app: Any) -> None:
        self.base_url = base_url
        self.sandbox = sandbox
        self.app = app

    def url(self, path: str) -> str:
        return f"{self.base_url}/beheer{path}"


@pytest.fixture(scope="module")
async def portal(
    new_database: Callable[[str], Awaitable[str]],
    sandbox: SandboxThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Portal]:
    """A broker with the demo tenants (amsterdam managed by the portal, the others by file) in
    front of this session's sandbox, on a free port."""
    owner = await new_database("brp_browser")
    await apply_migrations(owner)
    state = tmp_path_factory.mktemp("browser-state")
    write_dev_secrets(state / "secrets", sandbox.config)
    await apply_tenants(owner, REPO / "tenants", sandbox_url=sandbox.base_url, state_dir=state)
    previous = os.environ.get(SECRET_KEY_VARIABLE)
    os.environ[SECRET_KEY_VARIABLE] = generate_secret_key()  # the onboarding stores plain secrets
    settings = Settings(
        database_url=with_user(owner, "brp_app"),
        database_owner_url=owner,
        state_dir=state,
        database_pool_min=1,
        database_pool_max=4,
    )
    app = create_app(sandbox_settings(settings, sandbox.pki, sandbox.base_url))
    try:
        async with ServerTask(app) as base_url:
            yield Portal(base_url, sandbox, app)
    finally:
        if previous is None:
            os.environ.pop(SECRET_KEY_VARIABLE, None)
        else:
            os.environ[SECRET_KEY_VARIABLE] = previous


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


class Visit:
    """One person's browser tab: log in, check pages (axe-core, screenshots), and what went wrong.

    `problems` collects every Content-Security-Policy refusal and page error Chromium reports:
    a page that needs inline code or a foreign resource shows up there.
    """

    def __init__(self, page: Any, portal: Portal) -> None:
        self.page = page
        self.portal = portal
        self.problems: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _on_console(self, message: Any) -> None:
        # A page answered with an error status on purpose (a form sent back with 400, a 403 page)
        # makes Chromium log "Failed to load resource" for the page itself: that is the answer
        # under test, not a problem of the page. A resource of the page failing still counts.
        if (
            message.text.startswith("Failed to load resource")
            and message.location.get("url") == self.page.url
        ):
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(message.text)

    async def login(self, organisation: str | None, role: str = "brp-admin", employee: str = "A1") -> None:
        """Log in through the dev identity provider's form: as an employee of `organisation` with
        `role` (`""`: no admin role), or as the operator (`organisation` None)."""
        page = self.page
        await page.goto(self.portal.url("/inloggen"))
        if organisation is None:
            await page.get_by_role("button", name="Inloggen als operator").click()
            await page.wait_for_url(re.compile(r".*/dev-idp/operator/authorize.*"))
        else:
            await page.get_by_label("Organisatiecode").fill(organisation)
            await page.get_by_role("button", name="Inloggen", exact=True).click()
            await page.wait_for_url(re.compile(r".*/dev-idp/authorize.*"))
            await page.get_by_label("Medewerker").fill(employee)
            await page.get_by_label("Rol").select_option(role)
        async with page.expect_response(lambda response: "/beheer/auth/callback" in response.url) as callback:
            await page.get_by_role("button", name="Inloggen").click()
        if (await callback.value).status == 200:  # logged in: the page moves on to the portal itself
            await page.wait_for_url(re.compile(r".*/beheer/(t/|operator).*"))
        else:
            await page.wait_for_load_state()

    async def check(self, name: str) -> None:
        """Save a screenshot of the page as `<name>.png` and require no axe-core violation."""
        from axe_playwright_python.async_playwright import Axe

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        results = await Axe().run(self.page, options=AXE_OPTIONS)
        assert results.violations_count == 0, f"{name}: {_violations(results.response)}"
        assert self.problems == [], f"{name}: {self.problems}"


def _violations(response: dict[str, Any]) -> str:
    lines = []
    for violation in response.get("violations", []):
        targets = [node.get("target") for node in violation.get("nodes", [])][:3]
        lines.append(
            f"{violation.get('id')} ({violation.get('impact')}): {violation.get('help')} at {targets}"
        )
    return "; ".join(lines) or msgspec.json.encode(response).decode()[:500]


@pytest.fixture
async def visit(browser: Any, portal: Portal) -> AsyncIterator[Callable[[], Awaitable[Visit]]]:
    """`await visit()`: a fresh browser context (no cookies) and tab on the portal."""
    contexts: list[Any] = []

    async def open_tab() -> Visit:
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
        contexts.append(context)
        return Visit(await context.new_page(), portal)

    yield open_tab
    for context in contexts:
        await context.close()
