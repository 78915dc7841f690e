"""Admin API fixtures: a fresh database per test, a broker in front of the sandbox with the dev
IdP as the operator's identity provider, and the tokens of every party."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from app.db import apply_migrations, with_user
from app.dev import sandbox_settings, write_dev_secrets
from app.main import create_app
from app.sandbox.idp import DEV_IDP_ISSUER, DEV_IDP_OPERATOR_ISSUER, dev_idp_jwks, issue_dev_token
from app.sandbox.server import SandboxThread
from app.secrets import SECRET_KEY_VARIABLE, generate_secret_key
from app.settings import Settings
from app.tenancy import TenantDirectory, apply, load_tenant_files
from tests.integration.conftest import SandboxControl
from tests.support.servers import ServerTask
from tests.support.tenants import write_saas_tenant

ADMIN = "/admin/v1"
PERSONEN = "/haalcentraal/api/brp/personen"
RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": ["999993653"],
    "fields": ["naam"],
}


class Parties:
    """Tokens of everyone who may (or may not) call the admin API."""

    def __init__(self, sandbox: SandboxThread) -> None:
        self.state = sandbox.config.state_path

    def operator(self, subject: str = "op-1", roles: tuple[str, ...] = ("operator",)) -> str:
        return issue_dev_token(
            self.state, tenant=None, subject=subject, roles=roles, issuer=DEV_IDP_OPERATOR_ISSUER
        )

    def tenant(self, slug: str, *roles: str, employee: str = "E1") -> str:
        return issue_dev_token(
            self.state, tenant=slug, subject=f"{slug}-{employee}", employee=employee, roles=roles
        )

    def admin(self, slug: str) -> str:
        return self.tenant(slug, "brp-admin", employee="A1")

    def privacy_officer(self, slug: str) -> str:
        return self.tenant(slug, "privacy-officer", employee="P1")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tenant_document(sandbox: SandboxThread, slug: str, afnemer_id: str, **extra: Any) -> dict[str, Any]:
    """A new SaaS gemeente as the operator posts it: the dev IdP, one sandbox AfnemerID with its
    plain secret, one gegevensset and a first rule."""
    secret = next(a for a in sandbox.config.afnemers if a.afnemer_id == afnemer_id).client_secret.reveal()
    document: dict[str, Any] = {
        "slug": slug,
        "name": f"Gemeente {slug}",
        "kind": "organisation",
        "pattern": "saas",
        "issuers": [
            {
                "issuer": DEV_IDP_ISSUER,
                "audiences": ["brp-broker"],
                "jwks": dev_idp_jwks(sandbox.config.state_path),
                "algorithms": ["ES256"],
                "tenant_claim": "tenant",
                "tenant_claim_value": slug,
            }
        ],
        "afnemers": {
            afnemer_id: {
                "name": f"Gemeente {slug}",
                "environment": "sandbox",
                "identity": "dev",
                "client_id": f"broker-dev-{afnemer_id}",
                "client_secret": secret,
                "gemeente_code": "0518",
            }
        },
        "gegevenssets": {
            "basis": {"apis": ["personen"], "fields": ["naam", "burgerservicenummer"], "parameters": ["*"]}
        },
        "rules": {"burgerzaken": {"who": ["role:burgerzaken"], "gegevenssets": ["basis"]}},
    }
    document.update(extra)
    return document


class AdminBroker:
    """A running broker, its HTTP client (no default token), its directory and the parties."""

    def __init__(self, client: httpx.AsyncClient, app: Any, parties: Parties, sandbox: SandboxThread) -> None:
        self.client = client
        self.app = app
        self.parties = parties
        self.sandbox = sandbox

    @property
    def directory(self) -> TenantDirectory:
        directory: TenantDirectory = self.app.state.resources.directory
        return directory

    async def as_operator(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**bearer(self.parties.operator()), **(headers or {})}
        return await self.client.request(method, ADMIN + path, headers=headers, **kwargs)

    async def onboard(self, slug: str, afnemer_id: str, **extra: Any) -> dict[str, Any]:
        """The operator creates an API-managed tenant; returns the document it sent."""
        document = tenant_document(self.sandbox, slug, afnemer_id, **extra)
        response = await self.as_operator("POST", "/tenants", json=document)
        assert response.status_code == 201, response.text
        await self.until(lambda snapshot: slug in snapshot.tenants)
        return document

    async def until(self, condition: Callable[[Any], bool], timeout: float = 10.0) -> None:
        """Wait until the directory snapshot meets `condition` (the reload after NOTIFY)."""
        deadline = time.monotonic() + timeout
        while not condition(self.directory.snapshot):
            if time.monotonic() > deadline:
                raise AssertionError("the directory did not reload in time")
            await asyncio.sleep(0.02)


@pytest.fixture
async def admin_database(new_database: Callable[[], Awaitable[str]]) -> str:
    """A fresh, migrated database of this test alone (tenants and AfnemerIDs of its own)."""
    url = await new_database()
    await apply_migrations(url)
    return url


@pytest.fixture
async def file_tenant(admin_database: str, sandbox: SandboxThread, tmp_path: Path) -> str:
    """A tenant managed by its tenant file (`tenants apply`), AfnemerID 000001."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    secrets = write_dev_secrets(tmp_path / "secrets", sandbox.config)
    write_saas_tenant(folder, "bestand", dev_idp_jwks(sandbox.config.state_path), secrets["000001"])
    await apply(admin_database, load_tenant_files(folder), prune=False, dry_run=False)
    return "bestand"


@pytest.fixture
async def admin(
    settings: Settings,
    admin_database: str,
    file_tenant: str,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[AdminBroker]:
    """A broker on this test's database, with a key-encryption key, serving the admin API."""
    monkeypatch.setenv(SECRET_KEY_VARIABLE, generate_secret_key())
    own = msgspec.structs.replace(
        settings, database_url=with_user(admin_database, "brp_app"), database_owner_url=admin_database
    )
    app = create_app(sandbox_settings(own, sandbox.pki, sandbox.base_url))
    async with ServerTask(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield AdminBroker(client, app, Parties(sandbox), sandbox)
