"""The privacy officer: a protocolled inzage for a BSN (in the body only), and the chain status."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.sandbox.server import SandboxThread
from app.settings import Settings
from tests.conftest import LogCapture
from tests.integration.admin.registers import (
    BSN,
    HISTORIE,
    PERSONEN,
    A,
    B,
    admin_of,
    broker_on,
    employee_of,
    officer_of,
    operator,
    protocol_rows,
    two_tenant_database,
)
from tests.integration.conftest import SandboxControl

INZAGE = f"/admin/v1/tenants/{A}/inzage"
STATUS = f"/admin/v1/tenants/{A}/protocol/status"
RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}
HISTORIE_BODY = {"type": "RaadpleegMetPeildatum", "burgerservicenummer": BSN, "peildatum": "2020-01-01"}


class Register:
    """The test's own broker and its database (admin URL), with a few requests about `BSN` in A."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url


@pytest.fixture
async def register(
    new_database: Callable[[str], Awaitable[str]],
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    broker_settings: Settings,
    tmp_path: Path,
    logs: LogCapture,
) -> AsyncIterator[Register]:
    """Tenants A and B; A's employees consulted `BSN` twice (Personen via Ede, historie via Duiven)."""
    url = await two_tenant_database(new_database, sandbox, tmp_path)
    sandbox_control.reset()
    async with broker_on(url, broker_settings) as (_, client):
        both = employee_of(sandbox, A, "E2001", roles=("burgerzaken",))
        for path, body, afnemer in ((PERSONEN, RAADPLEEG, "000301"), (HISTORIE, HISTORIE_BODY, "000302")):
            response = await client.post(path, json=body, headers={**both, "x-afnemer-id": afnemer})
            assert response.status_code == 200, response.text
        # B consults the same person: never part of A's inzage.
        b = await client.post(PERSONEN, json=RAADPLEEG, headers=employee_of(sandbox, B, "E0001"))
        assert b.status_code == 200, b.text
        yield Register(client, url)


def _cli(url: str, *args: str) -> str:
    """What `brp-broker protocol inzage` prints (owner URL), run as the operator runs it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "protocol", "inzage", "--tenant", A, "--bsn", BSN, *args],
        env={**base, "BROKER_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


async def _cli_async(url: str, *args: str) -> str:
    return await asyncio.to_thread(_cli, url, *args)


# -- inzage -------------------------------------------------------------------------------------------


async def test_inzage_answers_what_the_cli_answers_and_is_itself_protocolled(
    register: Register, sandbox: SandboxThread
) -> None:
    expected = json.loads(await _cli_async(register.url))
    before = await protocol_rows(register.url, A)

    response = await register.client.post(INZAGE, json={"bsn": BSN}, headers=officer_of(sandbox, A))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == expected
    assert [(e["api"], e["afnemer_id"], e["role"]) for e in expected] == [
        ("personen", "000301", "consulted"),
        ("verblijfplaatshistorie", "000302", "consulted"),
    ]
    after = await protocol_rows(register.url, A)
    (inzage,) = after[len(before) :]  # exactly one new record: the inzage's own
    assert inzage["api"] == "inzage"
    assert inzage["status"] == 200
    assert (inzage["subject"], inzage["employee"]) == ("fg-1", "fg-1")
    assert inzage["afnemer_id"] is None
    assert [list(p) for p in inzage["persons"]] == [[BSN, "consulted"]]
    assert inzage["correlation_id"] == response.headers["x-correlation-id"]
    # A later inzage shows the officer's look too.
    again = await register.client.post(INZAGE, json={"bsn": BSN}, headers=officer_of(sandbox, A))
    assert again.json()[-1]["api"] == "inzage"
    assert again.json()[-1]["employee"] == "fg-1"


async def test_inzage_as_csv_is_what_the_cli_writes(register: Register, sandbox: SandboxThread) -> None:
    today = dt.datetime.now(dt.UTC).date()
    period = {
        "from": (today - dt.timedelta(days=1)).isoformat(),
        "to": (today + dt.timedelta(days=1)).isoformat(),
    }
    expected = await _cli_async(
        register.url, "--from", period["from"], "--to", period["to"], "--format", "csv"
    )

    response = await register.client.post(
        INZAGE, json={"bsn": BSN, **period}, headers={**officer_of(sandbox, A), "Accept": "text/csv"}
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.endswith("\r\n")  # RFC 4180 line ends (the CLI's text output has the platform's)
    assert response.text.splitlines() == expected.rstrip("\n").splitlines()  # print() adds one
    assert len(response.text.splitlines()) == 3  # the header row and the two requests


async def test_inzage_for_a_period_without_requests_is_empty_and_still_protocolled(
    register: Register, sandbox: SandboxThread
) -> None:
    before = len(await protocol_rows(register.url, A))
    response = await register.client.post(
        INZAGE, json={"bsn": BSN, "from": "2001-01-01", "to": "2002-01-01"}, headers=officer_of(sandbox, A)
    )
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert len(await protocol_rows(register.url, A)) == before + 1


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        (lambda sandbox: admin_of(sandbox, A), 403),  # a tenant admin is not the privacy officer
        (lambda sandbox: employee_of(sandbox, A, roles=("burgerzaken",)), 403),
        (lambda sandbox: officer_of(sandbox, B), 404),  # another tenant's officer: A does not exist for it
        (operator, 403),  # an inzage is the tenant's processing, done by its own officer
        (lambda sandbox: {}, 401),
    ],
    ids=["tenant-admin", "plain-employee", "other-tenants-officer", "operator", "no-token"],
)
async def test_inzage_is_for_the_tenants_own_privacy_officer_only(
    register: Register,
    sandbox: SandboxThread,
    caller: Callable[[SandboxThread], dict[str, str]],
    status: int,
) -> None:
    before = len(await protocol_rows(register.url, A))
    response = await register.client.post(INZAGE, json={"bsn": BSN}, headers=caller(sandbox))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert BSN not in response.text and "000301" not in response.text
    assert len(await protocol_rows(register.url, A)) == before  # a refusal processes nobody


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"bsn": "12345678"}, "bsn"),
        ({"bsn": "99999365a"}, "bsn"),
        ({"bsn": 999993653}, "bsn"),
        ({}, "bsn"),
        ({"bsn": BSN, "from": "gisteren"}, "from"),
        ({"bsn": BSN, "from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({"bsn": BSN, "tenant": B}, "tenant"),  # a body never names a tenant
    ],
    ids=["eight-digits", "not-digits", "a-number", "missing", "from-not-a-date", "to-before-from", "unknown"],
)
async def test_an_invalid_inzage_is_a_problem_naming_the_field(
    register: Register, sandbox: SandboxThread, body: dict[str, Any], name: str
) -> None:
    before = len(await protocol_rows(register.url, A))
    response = await register.client.post(INZAGE, json=body, headers=officer_of(sandbox, A))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "paramsValidation"
    assert [p["name"] for p in problem["invalidParams"]] == [name]
    if name == "bsn" and isinstance(body.get("bsn"), str):
        assert problem["invalidParams"][0]["code"] == "pattern"  # as the BRP APIs' burgerservicenummer
    for value in (BSN, "12345678", "99999365a"):
        assert value not in response.text  # a value is never echoed
    assert len(await protocol_rows(register.url, A)) == before


async def test_a_bsn_never_reaches_a_log_line_or_a_url(
    register: Register, sandbox: SandboxThread, logs: LogCapture
) -> None:
    officer = officer_of(sandbox, A)
    ok = await register.client.post(INZAGE, json={"bsn": BSN}, headers=officer)
    bad = await register.client.post(INZAGE, json={"bsn": "12345678"}, headers=officer)
    refused = await register.client.post(INZAGE, json={"bsn": BSN}, headers=admin_of(sandbox, A))
    assert (ok.status_code, bad.status_code, refused.status_code) == (200, 400, 403)
    requests = [e for e in logs.events if e.get("event") == "request" and "/admin/" in str(e.get("path"))]
    assert [e["path"] for e in requests] == [INZAGE] * 3
    assert BSN not in logs.text and "12345678" not in logs.text
    for response in (ok, bad, refused):
        assert BSN not in str(response.request.url)


async def test_an_inzage_whose_record_cannot_be_committed_is_503_without_entries(
    register: Register, sandbox: SandboxThread
) -> None:
    admin = await asyncpg.connect(register.url)
    try:
        await admin.execute("REVOKE INSERT ON broker.protocol_records FROM brp_app")
        refused = await register.client.post(INZAGE, json={"bsn": BSN}, headers=officer_of(sandbox, A))
        await admin.execute("GRANT INSERT ON broker.protocol_records TO brp_app")
        recovered = await register.client.post(INZAGE, json={"bsn": BSN}, headers=officer_of(sandbox, A))
    finally:
        await admin.execute("GRANT INSERT ON broker.protocol_records TO brp_app")
        await admin.close()
    assert refused.status_code == 503
    assert refused.json()["code"] == "protocolUnavailable"
    assert BSN not in refused.text and "000301" not in refused.text and "E2001" not in refused.text
    assert recovered.status_code == 200
    assert len(recovered.json()) == 2


# -- chain status ---------------------------------------------------------------------------------


async def test_chain_status_is_ok_then_broken_after_tampering(
    register: Register, sandbox: SandboxThread
) -> None:
    intact = await register.client.get(STATUS, headers=officer_of(sandbox, A))
    assert intact.status_code == 200, intact.text
    status = intact.json()
    assert (status["tenant"], status["state"], status["records"]) == (A, "ok", 2)
    assert status["first_break"] is None
    assert status["head"] == f"2:{status['head_hash']}" and len(status["head_hash"]) == 64

    owner = await asyncpg.connect(register.url)
    try:
        # What an owner bent on tampering could do: triggers off, one record changed.
        await owner.execute("SET session_replication_role = replica")
        await owner.execute(
            "UPDATE broker.protocol_records SET doelbinding = 'iets anders' WHERE tenant = $1 AND seq = 2", A
        )
    finally:
        await owner.close()
    broken = await register.client.get(STATUS, headers=officer_of(sandbox, A))

    assert broken.status_code == 200, broken.text
    assert broken.json()["state"] == "broken"
    assert broken.json()["first_break"]["seq"] == 2
    assert broken.json()["first_break"]["kind"] == "changed"
    # Tenant B's chain is its own, and intact.
    other = await register.client.get(
        f"/admin/v1/tenants/{B}/protocol/status", headers=officer_of(sandbox, B)
    )
    assert (other.json()["state"], other.json()["records"]) == ("ok", 1)


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        (lambda sandbox: admin_of(sandbox, A), 403),
        (lambda sandbox: employee_of(sandbox, A, roles=("burgerzaken",)), 403),
        (lambda sandbox: officer_of(sandbox, B), 404),
        (lambda sandbox: {}, 401),
    ],
    ids=["tenant-admin", "plain-employee", "other-tenants-officer", "no-token"],
)
async def test_chain_status_is_for_the_privacy_officer(
    register: Register,
    sandbox: SandboxThread,
    caller: Callable[[SandboxThread], dict[str, str]],
    status: int,
) -> None:
    response = await register.client.get(STATUS, headers=caller(sandbox))
    assert response.status_code == status, response.text
    assert "head" not in response.json()


async def test_the_operator_sees_a_tenants_chain_status_but_not_a_tenant_that_never_was(
    register: Register, sandbox: SandboxThread
) -> None:
    status = await register.client.get(STATUS, headers=operator(sandbox))
    never = await register.client.get(
        "/admin/v1/tenants/nooit-bestaan/protocol/status", headers=operator(sandbox)
    )
    assert status.status_code == 200, status.text
    assert (status.json()["state"], status.json()["records"]) == ("ok", 2)
    assert never.status_code == 404  # never "ok" for a typo, as `protocol verify --tenant` refuses it
