"""Usage for dashboards: exact counts per day, AfnemerID, API, status and problem code, one tenant only."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from app.sandbox.server import SandboxThread
from app.settings import Settings
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
    two_tenant_database,
)
from tests.integration.conftest import SandboxControl

RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}
HISTORIE_BODY = {"type": "RaadpleegMetPeildatum", "burgerservicenummer": BSN, "peildatum": "2020-01-01"}


@pytest.fixture
async def gateway(
    new_database: Callable[[str], Awaitable[str]],
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    broker_settings: Settings,
    tmp_path: Path,
) -> AsyncIterator[httpx.AsyncClient]:
    """A broker of its own, with tenants A and B and an empty protocol."""
    url = await two_tenant_database(new_database, sandbox, tmp_path)
    sandbox_control.reset()
    async with broker_on(url, broker_settings) as (_, client):
        yield client
    sandbox_control.reset()


def _groups(report: dict[str, Any]) -> Counter[tuple[str | None, str, int, str | None]]:
    counts: Counter[tuple[str | None, str, int, str | None]] = Counter()
    for day in report["days"]:
        assert day["requests"] == sum(c["requests"] for c in day["counts"])
        for c in day["counts"]:
            counts[(c["afnemer_id"], c["api"], c["status"], c["problem_code"])] += c["requests"]
    return counts


async def _send(
    gateway: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    response = await gateway.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text


async def test_usage_counts_exactly_the_tenants_requests_by_afnemer_api_status_and_problem(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    both = employee_of(sandbox, A, "E2001", roles=("burgerzaken",))
    ede = {**both, "x-afnemer-id": "000301"}
    duiven = {**both, "x-afnemer-id": "000302"}
    wijkteam = employee_of(sandbox, A, "E2002", organisation="ede")
    first_day = dt.datetime.now(dt.UTC).date()
    await _send(gateway, PERSONEN, RAADPLEEG, ede, 200)
    await _send(gateway, PERSONEN, RAADPLEEG, ede, 200)
    await _send(gateway, HISTORIE, HISTORIE_BODY, ede, 200)
    await _send(gateway, PERSONEN, RAADPLEEG, duiven, 200)
    await _send(gateway, HISTORIE, HISTORIE_BODY, wijkteam, 403)  # the wijkteam may use Personen only
    sandbox_control.fault("too_many_requests", retry_after=1, count=1)
    await _send(gateway, PERSONEN, RAADPLEEG, duiven, 429)
    sandbox_control.fault("status", status=500, count=1)
    await _send(gateway, PERSONEN, RAADPLEEG, ede, 502)
    # Tenant B's request and a request without a tenant count for nobody in A.
    await _send(gateway, PERSONEN, RAADPLEEG, employee_of(sandbox, B, "E0001"), 200)
    await _send(gateway, PERSONEN, RAADPLEEG, {}, 401)

    response = await gateway.get(f"/admin/v1/tenants/{A}/usage", headers=admin_of(sandbox, A))

    assert response.status_code == 200, response.text
    report = response.json()
    assert _groups(report) == {
        ("000301", "personen", 200, None): 2,
        ("000301", "verblijfplaatshistorie", 200, None): 1,
        ("000302", "personen", 200, None): 1,
        ("000301", "verblijfplaatshistorie", 403, "unauthorized"): 1,
        ("000302", "personen", 429, "tooManyRequests"): 1,
        ("000301", "personen", 502, "upstreamError"): 1,
    }
    assert report["tenant"] == A
    assert report["requests"] == 7
    # The last 30 UTC days, today included, every one listed (zero-filled), oldest first.
    days = [dt.date.fromisoformat(day["day"]) for day in report["days"]]
    assert len(days) == 30
    assert days == [days[0] + dt.timedelta(days=i) for i in range(30)]
    assert first_day <= days[-1] <= dt.datetime.now(dt.UTC).date()
    assert (report["from"], report["to"]) == (days[0].isoformat(), days[-1].isoformat())
    assert BSN not in response.text and "E2001" not in response.text  # aggregates only


async def test_a_tenant_sees_only_its_own_usage(gateway: httpx.AsyncClient, sandbox: SandboxThread) -> None:
    await _send(
        gateway,
        PERSONEN,
        RAADPLEEG,
        {**employee_of(sandbox, A, roles=("burgerzaken",)), "x-afnemer-id": "000301"},
        200,
    )
    await _send(gateway, PERSONEN, RAADPLEEG, employee_of(sandbox, B, "E0001"), 200)
    await _send(gateway, PERSONEN, RAADPLEEG, employee_of(sandbox, B, "E0001"), 200)

    own = await gateway.get(f"/admin/v1/tenants/{B}/usage", headers=admin_of(sandbox, B))
    other = await gateway.get(f"/admin/v1/tenants/{A}/usage", headers=admin_of(sandbox, B))

    assert own.status_code == 200, own.text
    assert _groups(own.json()) == {("000001", "personen", 200, None): 2}
    assert other.status_code == 404  # another tenant's usage does not exist for B's admin
    assert "000301" not in other.text


@pytest.mark.parametrize(("days", "expected"), [("1", 1), ("366", 366)])
async def test_the_window_is_days_long(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, days: str, expected: int
) -> None:
    response = await gateway.get(
        f"/admin/v1/tenants/{A}/usage", params={"days": days}, headers=admin_of(sandbox, A)
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["days"]) == expected
    assert response.json()["requests"] == 0


@pytest.mark.parametrize("days", ["0", "367", "-3"])
async def test_a_window_out_of_range_is_a_problem_naming_days(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, days: str
) -> None:
    response = await gateway.get(
        f"/admin/v1/tenants/{A}/usage", params={"days": days}, headers=admin_of(sandbox, A)
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [p["name"] for p in response.json()["invalidParams"]] == ["days"]


@pytest.mark.parametrize(
    "caller",
    [
        lambda sandbox: employee_of(sandbox, A, roles=("burgerzaken",)),
        lambda sandbox: officer_of(sandbox, A),
    ],
    ids=["plain-employee", "privacy-officer"],
)
async def test_usage_is_for_the_tenants_admins(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, caller: Callable[[SandboxThread], dict[str, str]]
) -> None:
    response = await gateway.get(f"/admin/v1/tenants/{A}/usage", headers=caller(sandbox))
    assert response.status_code == 403
    assert (await gateway.get(f"/admin/v1/tenants/{A}/usage")).status_code == 401


async def test_a_database_too_slow_to_answer_is_503_not_500(
    new_database: Callable[[str], Awaitable[str]],
    sandbox: SandboxThread,
    broker_settings: Settings,
    tmp_path: Path,
) -> None:
    url = await two_tenant_database(new_database, sandbox, tmp_path)
    quick = msgspec.structs.replace(broker_settings, database_timeout=0.5)
    async with broker_on(url, quick) as (_, client):
        locker = await asyncpg.connect(url)
        try:
            # An operator's long lock (a migration, say): the usage query cannot run within the timeout.
            async with locker.transaction():
                await locker.execute("LOCK TABLE broker.protocol_records IN ACCESS EXCLUSIVE MODE")
                response = await client.get(f"/admin/v1/tenants/{A}/usage", headers=admin_of(sandbox, A))
        finally:
            await locker.close()
        after = await client.get(f"/admin/v1/tenants/{A}/usage", headers=admin_of(sandbox, A))
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "protocolUnavailable"
    assert response.headers["retry-after"] == "5"
    assert after.status_code == 200


async def test_the_operator_sees_any_tenants_usage_but_not_a_tenant_that_never_was(
    gateway: httpx.AsyncClient, sandbox: SandboxThread
) -> None:
    await _send(gateway, PERSONEN, RAADPLEEG, employee_of(sandbox, B, "E0001"), 200)
    usage_b = await gateway.get(f"/admin/v1/tenants/{B}/usage", headers=operator(sandbox))
    usage_a = await gateway.get(f"/admin/v1/tenants/{A}/usage", headers=operator(sandbox))
    never = await gateway.get("/admin/v1/tenants/nooit-bestaan/usage", headers=operator(sandbox))
    assert usage_b.status_code == usage_a.status_code == 200
    assert (usage_b.json()["requests"], usage_a.json()["requests"]) == (1, 0)
    assert never.status_code == 404
