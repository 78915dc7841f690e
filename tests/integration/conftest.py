"""Integration fixtures: the sandbox RvIG over HTTPS with mTLS, and the broker in front of it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.dev import sandbox_settings, write_dev_secrets
from app.main import create_app
from app.sandbox.config import SandboxConfig, load_config
from app.sandbox.idp import dev_idp_jwks, issue_dev_token
from app.sandbox.server import SandboxThread
from app.settings import Settings
from app.tenancy import apply, load_tenant_files
from tests.support.servers import ServerTask
from tests.support.tenants import write_saas_tenant
from tests.support.toml import inline

REPO = Path(__file__).resolve().parents[2]

# The gateway tests' own tenant: a gemeente (SaaS) whose afnemer 000001 may ask everything.
TEST_TENANT = "testgemeente"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxThread]:
    """The sandbox on a free port, in its own thread and event loop, like a separate server."""
    state = tmp_path_factory.mktemp("sandbox-state")
    config = load_config(port=0, state_dir=str(state))
    with SandboxThread(config) as thread:
        yield thread


@pytest.fixture(scope="session")
def sandbox_config(sandbox: SandboxThread) -> SandboxConfig:
    """The sandbox's configuration (afnemers and their dev credentials)."""
    return sandbox.config


class SandboxControl:
    """The sandbox's knobs and counters, over its own mTLS API."""

    def __init__(self, client: httpx.Client, sandbox: SandboxThread) -> None:
        self.client = client
        self.sandbox = sandbox

    def reset(self) -> None:
        self.client.post("/sandbox/reset").raise_for_status()

    def fault(self, kind: str, **options: Any) -> None:
        self.client.post("/sandbox/faults", json={"kind": kind, **options}).raise_for_status()

    def clear_faults(self) -> None:
        self.client.delete("/sandbox/faults").raise_for_status()

    def latency(self, ms: int, target: str = "api") -> None:
        self.client.put("/sandbox/latency", json={"ms": ms, "target": target}).raise_for_status()

    def counters(self) -> dict[str, Any]:
        response = self.client.get("/sandbox/counters")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def token_requests(self, afnemer_id: str) -> int:
        return int(self.counters()["tokenRequests"].get(afnemer_id, {}).get("total", 0))

    def api_calls(self, afnemer_id: str) -> int:
        return int(self.counters()["apiCalls"].get(afnemer_id, {}).get("total", 0))


@pytest.fixture(scope="session")
def sandbox_control(sandbox: SandboxThread) -> Iterator[SandboxControl]:
    """Knobs and counters of the session's sandbox."""
    identity = next(iter(sandbox.pki.clients.values()))
    with httpx.Client(base_url=sandbox.base_url, verify=identity.ssl_context(sandbox.pki.ca_cert)) as client:
        yield SandboxControl(client, sandbox)


class FakeClock:
    """A monotonic clock the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture(scope="session")
async def test_tenants(
    database_url: str, sandbox: SandboxThread, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The test tenant(s), applied once to the session database; returns the tenant folder."""
    folder = tmp_path_factory.mktemp("tenants")
    secrets = write_dev_secrets(folder / "secrets", sandbox.config)
    write_saas_tenant(folder, TEST_TENANT, dev_idp_jwks(sandbox.config.state_path), secrets["000001"])
    await apply(database_url, load_tenant_files(folder), prune=False, dry_run=False)
    return folder


@pytest.fixture(scope="session")
async def demo_tenants(
    database_url: str, sandbox: SandboxThread, tmp_path_factory: pytest.TempPathFactory
) -> list[str]:
    """The demo tenant files, pointed at this test's sandbox, applied to the session database."""
    folder = tmp_path_factory.mktemp("demo-tenants")
    secrets = folder / "secrets"
    write_dev_secrets(secrets, sandbox.config)
    jwks = "jwks = " + inline(dev_idp_jwks(sandbox.config.state_path))
    for source in sorted((REPO / "tenants").glob("*.toml")):
        text = re.sub(r"^jwks_uri = .*$", jwks, source.read_text(), flags=re.MULTILINE)
        text = text.replace("file:.state/secrets/", f"file:{secrets}/")
        (folder / source.name).write_text(text)
    specs = load_tenant_files(folder)
    await apply(database_url, specs, prune=False, dry_run=False)
    return [spec.slug for spec in specs]


def dev_token(sandbox: SandboxThread, tenant: str = TEST_TENANT, **claims: Any) -> str:
    """A token of the sandbox's dev identity provider (an employee's by default)."""
    claims.setdefault("subject", "user-1")
    claims.setdefault("employee", "E0001")
    return issue_dev_token(sandbox.config.state_path, tenant=tenant, **claims)


@pytest.fixture
def broker_settings(settings: Settings, sandbox: SandboxThread, test_tenants: Path) -> Settings:
    """Settings of a broker that reaches the sandbox with the dev certificate."""
    return sandbox_settings(settings, sandbox.pki, sandbox.base_url)


@pytest.fixture
async def broker(
    broker_settings: Settings, clock: FakeClock, sandbox_control: SandboxControl
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a real broker (uvicorn, this event loop) in front of the sandbox."""
    sandbox_control.reset()
    app = create_app(broker_settings, clock=clock)
    headers = {"Authorization": f"Bearer {dev_token(sandbox_control.sandbox)}"}
    async with (
        ServerTask(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) as client,
    ):
        client.app = app  # type: ignore[attr-defined]  # tests reach the app's state through it
        yield client
    sandbox_control.reset()
