"""The demo tenants end to end: RvIG's three connection patterns, doelbinding, tenant isolation.

The tenant files are the ones `make dev` applies (`tenants/*.toml`), with two substitutions for
the test's sandbox: the dev IdP's JWKS inline (the sandbox runs on a random port) and the
secret files in a temporary folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.dev import DEV_OIN
from app.main import create_app
from app.sandbox.server import SandboxThread
from app.settings import Settings
from tests.integration.conftest import SandboxControl, dev_token
from tests.support.servers import ServerTask

PERSONEN = "/haalcentraal/api/brp/personen"
BEWONING = "/haalcentraal/api/bewoning/bewoningen"
ROTTERDAM_BSN = "999993653"  # lives in Rotterdam (0599)
RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": [ROTTERDAM_BSN],
    "fields": ["naam"],
}


@pytest.fixture
async def gateway(
    broker_settings: Settings, demo_tenants: list[str], sandbox_control: SandboxControl
) -> AsyncIterator[httpx.AsyncClient]:
    """A broker with the demo tenants (and the test tenant), each request bringing its own token."""
    sandbox_control.reset()
    async with (
        ServerTask(create_app(broker_settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


def _as(sandbox: SandboxThread, tenant: str, **claims: Any) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {dev_token(sandbox, tenant, **claims)}", "x-doelbinding": "test"}
    return headers


def _scopes(control: SandboxControl) -> set[str]:
    return {scope for entry in control.counters()["tokenRequests"].values() for scope in entry["scopes"]}


async def test_saas_uses_the_tenants_own_afnemer(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    headers = _as(sandbox, "amsterdam", employee="E1001", roles=("burgerzaken",))
    response = await gateway.post(PERSONEN, json=RAADPLEEG, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["personen"][0]["naam"]["geslachtsnaam"] == "Moulin"
    assert _scopes(sandbox_control) == {f"000101-{DEV_OIN}"}


async def test_delegatie_uses_the_samenwerkingsverbands_afnemer_for_every_member(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    rotterdam = _as(sandbox, "belastingen-rijnmond", employee="B1", organisation="rotterdam")
    hellevoetsluis = _as(sandbox, "belastingen-rijnmond", employee="B2", organisation="hellevoetsluis")
    own = await gateway.post(PERSONEN, json=RAADPLEEG, headers=rotterdam)
    other = await gateway.post(PERSONEN, json=RAADPLEEG, headers=hellevoetsluis)
    assert own.status_code == other.status_code == 200
    assert _scopes(sandbox_control) == {f"000201-{DEV_OIN}"}
    # Own residents only: the Rotterdam resident is found for Rotterdam, not for Hellevoetsluis.
    assert len(own.json()["personen"]) == 1
    assert other.json()["personen"] == []


async def test_own_residents_refuses_another_gemeente(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    headers = _as(sandbox, "belastingen-rijnmond", employee="B1", organisation="rotterdam")
    body = {**RAADPLEEG, "gemeenteVanInschrijving": "0363"}
    response = await gateway.post(PERSONEN, json=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "unauthorizedParameter"
    assert sandbox_control.counters()["apiCalls"] == {}


async def test_gezamenlijk_personeel_with_one_afnemer_needs_no_header(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    headers = _as(sandbox, "vallei-liemers", employee="E2002", organisation="ede")
    response = await gateway.post(PERSONEN, json=RAADPLEEG, headers=headers)
    assert response.status_code == 200, response.text
    assert _scopes(sandbox_control) == {f"000301-{DEV_OIN}"}


async def test_gezamenlijk_personeel_with_two_afnemers_must_choose(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    headers = _as(sandbox, "vallei-liemers", employee="E2001")
    unchosen = await gateway.post(PERSONEN, json=RAADPLEEG, headers=headers)
    assert unchosen.status_code == 400
    assert "x-afnemer-id" in unchosen.text
    duiven = await gateway.post(PERSONEN, json=RAADPLEEG, headers={**headers, "x-afnemer-id": "000302"})
    ede = await gateway.post(PERSONEN, json=RAADPLEEG, headers={**headers, "x-afnemer-id": "000301"})
    assert duiven.status_code == ede.status_code == 200
    assert _scopes(sandbox_control) == {f"000302-{DEV_OIN}", f"000301-{DEV_OIN}"}


async def test_an_afnemer_not_mapped_to_the_caller_is_refused(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    ede_only = _as(sandbox, "vallei-liemers", employee="E2002", organisation="ede")
    foreign_member = await gateway.post(
        PERSONEN, json=RAADPLEEG, headers={**ede_only, "x-afnemer-id": "000302"}
    )
    other_tenant = await gateway.post(
        PERSONEN, json=RAADPLEEG, headers={**ede_only, "x-afnemer-id": "000101"}
    )
    assert foreign_member.status_code == 403
    assert other_tenant.status_code == 403
    assert sandbox_control.counters()["tokenRequests"] == {}


@pytest.mark.parametrize("afnemer", ["000101", "000201", "000301", "000001"])
async def test_no_header_reaches_another_tenants_afnemer(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl, afnemer: str
) -> None:
    # An Amsterdam employee naming every other tenant's AfnemerID: never served, never forwarded.
    headers = _as(sandbox, "amsterdam", employee="E1001", roles=("burgerzaken",))
    response = await gateway.post(PERSONEN, json=RAADPLEEG, headers={**headers, "x-afnemer-id": afnemer})
    if afnemer == "000101":
        assert response.status_code == 200
        return
    assert response.status_code == 403
    assert afnemer not in sandbox_control.counters()["tokenRequests"]


@pytest.mark.parametrize(
    ("body", "path", "code", "named"),
    [
        ({**RAADPLEEG, "fields": ["nationaliteiten"]}, PERSONEN, "unauthorizedField", "nationaliteiten"),
        (
            {
                "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
                "geslachtsnaam": "Moulin",
                "geboortedatum": "1985-12-01",
                "geslacht": "V",
                "fields": ["naam"],
            },
            PERSONEN,
            "unauthorizedParameter",
            "geslacht",
        ),
        (
            {
                "type": "ZoekMetNummeraanduidingIdentificatie",
                "nummeraanduidingIdentificatie": "0599200000219678",
                "fields": ["naam"],
            },
            PERSONEN,
            "unauthorized",
            "ZoekMetNummeraanduidingIdentificatie",
        ),
        (
            {
                "type": "BewoningMetPeildatum",
                "adresseerbaarObjectIdentificatie": "0599010000208579",
                "peildatum": "2020-01-01",
            },
            BEWONING,
            "unauthorized",
            "bewoning",
        ),
    ],
    ids=["field", "parameter", "query-type", "api"],
)
async def test_doelbinding_refuses_before_any_upstream_call(
    gateway: httpx.AsyncClient,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    body: dict[str, Any],
    path: str,
    code: str,
    named: str,
) -> None:
    headers = _as(sandbox, "amsterdam", employee="E1002", roles=("sociaal-domein",))
    headers["x-verwerking"] = "zaak-123"
    response = await gateway.post(path, json=body, headers=headers)
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["code"] == code
    assert named.lower() in (problem.get("detail", "") + problem["title"]).lower()
    assert sandbox_control.counters()["apiCalls"] == {}


async def test_required_header_missing_is_400(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    headers = _as(sandbox, "amsterdam", employee="E1002", roles=("sociaal-domein",))  # no x-verwerking
    response = await gateway.post(PERSONEN, json=RAADPLEEG, headers=headers)
    assert response.status_code == 400
    assert "x-verwerking" in response.text
    assert sandbox_control.counters()["apiCalls"] == {}


async def test_own_residents_are_injected_for_a_restricted_gegevensset(
    gateway: httpx.AsyncClient, sandbox: SandboxThread
) -> None:
    # Sociaal domein Amsterdam may only find Amsterdam residents: the Rotterdam resident is not found.
    headers = _as(sandbox, "amsterdam", employee="E1002", roles=("sociaal-domein",))
    headers["x-verwerking"] = "zaak-123"
    response = await gateway.post(PERSONEN, json=RAADPLEEG, headers=headers)
    assert response.status_code == 200
    assert response.json()["personen"] == []


async def test_caller_without_any_rule_gets_nothing(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    headers = _as(sandbox, "amsterdam", employee="E1003", roles=("receptie",))
    response = await gateway.post(PERSONEN, json=RAADPLEEG, headers=headers)
    assert response.status_code == 403
    assert sandbox_control.counters()["apiCalls"] == {}


async def test_a_token_for_an_unknown_tenant_is_401(
    gateway: httpx.AsyncClient, sandbox: SandboxThread
) -> None:
    response = await gateway.post(PERSONEN, json=RAADPLEEG, headers=_as(sandbox, "no-such-tenant"))
    assert response.status_code == 401


async def test_a_configuration_change_reaches_every_running_instance(
    broker_settings: Settings, database_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    from app.dev import write_dev_secrets
    from app.sandbox.idp import dev_idp_jwks
    from app.tenancy import apply, load_tenant_files
    from tests.support.tenants import write_saas_tenant

    slug = "wisselgemeente"
    secrets = write_dev_secrets(tmp_path / "secrets", sandbox.config)
    # Its own AfnemerID (Den Haag's): 000001 belongs to the test tenant.
    jwks = dev_idp_jwks(sandbox.config.state_path)
    path = write_saas_tenant(
        tmp_path, slug, jwks, secrets["000004"], afnemer_id="000004", gemeente_code="0518"
    )
    await apply(database_url, load_tenant_files(tmp_path), prune=False, dry_run=False)
    headers = {"Authorization": f"Bearer {dev_token(sandbox, slug)}"}
    first_app, second_app = create_app(broker_settings), create_app(broker_settings)
    async with (
        ServerTask(first_app) as first_url,
        ServerTask(second_app) as second_url,
        httpx.AsyncClient(base_url=first_url, headers=headers) as first,
        httpx.AsyncClient(base_url=second_url, headers=headers) as second,
    ):
        assert (await first.post(PERSONEN, json=RAADPLEEG)).status_code == 200
        assert (await second.post(PERSONEN, json=RAADPLEEG)).status_code == 200
        # The tenant admin suspends the tenant through its file; no instance restarts.
        path.write_text(
            path.read_text().replace('pattern = "saas"', 'pattern = "saas"\nstatus = "suspended"')
        )
        await apply(database_url, load_tenant_files(tmp_path), prune=False, dry_run=False)
        async with asyncio.timeout(15):  # fails, rather than hangs, if a change never arrives
            for app in (first_app, second_app):
                await app.state.resources.directory.wait_for(lambda s: not s.tenants[slug].active)
        assert (await first.post(PERSONEN, json=RAADPLEEG)).status_code in (401, 403)
        assert (await second.post(PERSONEN, json=RAADPLEEG)).status_code in (401, 403)
