"""Integration fixtures: the sandbox RvIG over HTTPS with mTLS, and the broker in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.dev import with_sandbox_upstream
from app.main import create_app
from app.sandbox.config import SandboxConfig, load_config
from app.sandbox.server import SandboxThread
from app.settings import Settings
from tests.support.servers import ServerTask


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

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

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
        yield SandboxControl(client)


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


@pytest.fixture
def broker_settings(settings: Settings, sandbox: SandboxThread) -> Settings:
    """Settings of a broker whose single afnemer (000001, a gemeente) goes to the sandbox."""
    return with_sandbox_upstream(settings, sandbox.config, sandbox.pki, sandbox.base_url)


@pytest.fixture
async def broker(
    broker_settings: Settings, clock: FakeClock, sandbox_control: SandboxControl
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a real broker (uvicorn, this event loop) in front of the sandbox."""
    sandbox_control.reset()
    app = create_app(broker_settings, clock=clock)
    async with ServerTask(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        client.app = app  # type: ignore[attr-defined]  # tests reach the app's state through it
        yield client
    sandbox_control.reset()
