"""Portal fixtures: the admin API's broker (`tests.integration.admin.conftest`) and people logged in
to the portal. `portal_as` opens a real server-side session for an actor (what the login's last
step does) and gives an HTTP client carrying its cookie; the login itself is tested on its own,
through the dev identity provider (`test_login.py`)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.admin.auth import AdminActor, AdminRole
from app.audit import read_audit
from app.portal.sessions import Person
from app.portal.web import CSRF_FIELD, SESSION_COOKIE
from app.sandbox.idp import DEV_IDP_ISSUER, DEV_IDP_OPERATOR_ISSUER
from tests.integration.admin import conftest as admin_fixtures
from tests.integration.admin.conftest import AdminBroker

# The admin API's fixtures, for the portal's tests too.
admin = admin_fixtures.admin
admin_database = admin_fixtures.admin_database
file_tenant = admin_fixtures.file_tenant

BEHEER = "/beheer"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ETAG = re.compile(r'name="etag" value="([^"]*)"')


class PortalClient:
    """One logged-in person: an HTTP client with the session cookie, and the session's form token."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(BEHEER + path, **kwargs)

    async def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """POST a form with this session's token (unless `data` sets its own)."""
        form = {CSRF_FIELD: self.csrf, **(data or {})}
        return await self.client.post(BEHEER + path, data=form, **kwargs)


def actor(tenant: str | None, *roles: AdminRole, subject: str = "A1") -> AdminActor:
    """An actor as the login would make it (tenant None with OPERATOR: the operator)."""
    return AdminActor(subject=subject, roles=frozenset(roles), tenant=tenant)


def csrf_of(html: str) -> str:
    """The form token on a page."""
    found = _CSRF.search(html)
    assert found is not None, "no form token on the page"
    return found.group(1)


PortalAs = Callable[[AdminActor], Awaitable[PortalClient]]


async def tenant_admin(admin: AdminBroker, portal_as: PortalAs, slug: str = "gem-a") -> PortalClient:
    """An API-managed tenant `slug` (gem-a: AfnemerID 000004, else 000005) and its admin, logged in."""
    await admin.onboard(slug, "000004" if slug == "gem-a" else "000005")
    return await portal_as(actor(slug, AdminRole.TENANT_ADMIN))


async def tenant_api(admin: AdminBroker, path: str) -> httpx.Response:
    """The operator's GET of `/admin/v1/tenants/{path}`: what the admin API says is stored."""
    return await admin.as_operator("GET", f"/tenants/{path}")


async def etag_of(person: PortalClient, path: str) -> str:
    """The ETag a form on the page at `path` carries."""
    response = await person.get(path)
    assert response.status_code == 200, response.text
    found = ETAG.search(response.text)
    assert found is not None, "no ETag in the form"
    return html.unescape(found.group(1))


async def audit_count(admin: AdminBroker, slug: str = "gem-a") -> int:
    """How many audit entries the tenant has."""
    return len((await read_audit(admin.app.state.resources.pool, slug, limit=500)).entries)


# The roles a token of the dev IdP carries for each admin role (the tenants' default role names).
_IDP_ROLES = {
    AdminRole.OPERATOR: "operator",
    AdminRole.TENANT_ADMIN: "brp-admin",
    AdminRole.PRIVACY_OFFICER: "privacy-officer",
}


def person_of(someone: AdminActor) -> Person:
    """The person a login through the dev IdP would store for `someone` (issuer and token roles)."""
    return Person(
        tenant=someone.tenant,
        subject=someone.subject,
        issuer=DEV_IDP_OPERATOR_ISSUER if someone.tenant is None else DEV_IDP_ISSUER,
        idp_roles=tuple(sorted(_IDP_ROLES[role] for role in someone.roles)),
    )


@pytest.fixture
async def portal_as(admin: AdminBroker) -> AsyncIterator[PortalAs]:
    """`await portal_as(actor)`: a client logged in to the portal as `actor`."""
    clients: list[httpx.AsyncClient] = []

    async def login(someone: AdminActor) -> PortalClient:
        value, session = await admin.app.state.portal.sessions.open(person_of(someone))
        client = httpx.AsyncClient(
            base_url=str(admin.client.base_url), timeout=30, cookies={SESSION_COOKIE: value}
        )
        clients.append(client)
        return PortalClient(client, session.csrf_token)

    yield login
    for client in clients:
        await client.aclose()
