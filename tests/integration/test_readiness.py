"""`/health/ready` is about this replica: database, protocol writer, tenant configuration.

RvIG and the OIN certificates are reported (status `warn`, and in `/metrics`) but never make a
replica not-ready: every replica shares them, so taking all of them out of the Service only turns
a clear 503 problem into connection errors.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import Settings
from app.tenancy import TenantDirectory
from app.upstream import IdentityConfig
from tests.integration.conftest import FakeClock
from tests.support.servers import ServerTask, free_port

EXPIRED_OIN = "00000009999999990000"


def _metric(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one sample of `/metrics`, or None when it is absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in exposition.splitlines():
        match = re.fullmatch(rf"{name}\{{(?P<labels>[^}}]*)\}} (?P<value>\S+)", line)
        if match and ",".join(sorted(match["labels"].split(","))) == wanted:
            return float(match["value"])
    return None


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Litestar]:
    """The broker, served in this test's event loop (so a test can stop its parts)."""
    app = create_app(settings)
    async with ServerTask(app) as base_url:
        app.state.base_url = base_url
        yield app


async def _ready(app: Litestar) -> httpx.Response:
    async with httpx.AsyncClient(base_url=app.state.base_url) as client:
        return await client.get("/health/ready")


async def test_ready_names_the_replicas_own_checks(app: Litestar) -> None:
    response = await _ready(app)
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == {"status": "ok"}
    assert checks["protocol"] == {"status": "ok"}
    assert checks["tenants"]["status"] == "ok"
    assert checks["tenants"]["detail"].endswith("tenants loaded")


async def test_a_stopped_protocol_writer_makes_the_replica_not_ready(app: Litestar) -> None:
    await app.state.resources.protocol.stop()  # no record can be committed any more
    response = await _ready(app)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["protocol"] == {"status": "fail", "detail": "not running"}


async def test_an_unloaded_tenant_directory_makes_the_replica_not_ready(
    app: Litestar, app_pool: asyncpg.Pool
) -> None:
    resources = app.state.resources
    app.state.resources = dataclasses.replace(resources, directory=TenantDirectory(app_pool, {}))
    try:
        response = await _ready(app)
    finally:
        app.state.resources = resources
    assert response.status_code == 503
    assert response.json()["checks"]["tenants"] == {"status": "fail", "detail": "not loaded"}


async def test_reachable_rvig_and_certificate_are_reported_in_body_and_metrics(
    broker: httpx.AsyncClient,
) -> None:
    checks = (await broker.get("/health/ready")).json()["checks"]
    assert checks["upstream:sandbox:dev"] == {"status": "ok"}
    assert checks["certificate:dev"]["status"] == "ok"
    assert checks["certificate:dev"]["detail"].endswith("days left")
    metrics = (await broker.get("/metrics")).text
    assert _metric(metrics, "brp_broker_upstream_reachable", environment="sandbox", identity="dev") == 1.0
    expiry = _metric(metrics, "brp_broker_certificate_expiry_timestamp_seconds", identity="dev")
    assert expiry is not None
    assert expiry > dt.datetime.now(dt.UTC).timestamp()


async def test_unreachable_rvig_warns_and_the_replica_stays_ready(
    broker_settings: Settings, clock: FakeClock
) -> None:
    closed = f"https://127.0.0.1:{free_port()}"  # nothing listens: an RvIG outage
    sandbox = broker_settings.environments["sandbox"]
    environment = msgspec.structs.replace(sandbox, token_url=f"{closed}/token")
    settings = msgspec.structs.replace(broker_settings, environments={"sandbox": environment})
    async with (
        ServerTask(create_app(settings, clock=clock)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.get("/health/ready")
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    upstream = body["checks"]["upstream:sandbox:dev"]
    assert upstream["status"] == "warn"
    assert upstream["detail"].startswith("unreachable")
    assert _metric(metrics, "brp_broker_upstream_reachable", environment="sandbox", identity="dev") == 0.0


def _expired_identity(folder: Path) -> IdentityConfig:
    """An OIN identity whose certificate expired three days ago."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "verlopen"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, EXPIRED_OIN),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now - dt.timedelta(days=3))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "verlopen.pem", folder / "verlopen.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return IdentityConfig(name="verlopen", oin=EXPIRED_OIN, certificate=cert_path, private_key=key_path)


async def test_an_expired_certificate_warns_naming_what_it_cannot_serve(
    settings: Settings, tmp_path: Path
) -> None:
    with_expired = msgspec.structs.replace(settings, identities=(_expired_identity(tmp_path),))
    async with AsyncTestClient(app=create_app(with_expired)) as client:
        response = await client.get("/health/ready")
        metrics = (await client.get("/metrics")).text
    # Other identities' afnemers can still be served: this replica stays in the Service.
    assert response.status_code == 200
    check: dict[str, Any] = response.json()["checks"]["certificate:verlopen"]
    assert check["status"] == "warn"
    assert check["detail"].startswith("expired 3 days ago")
    assert "afnemers" in check["detail"]
    expiry = _metric(metrics, "brp_broker_certificate_expiry_timestamp_seconds", identity="verlopen")
    assert expiry is not None
    assert expiry < dt.datetime.now(dt.UTC).timestamp()
