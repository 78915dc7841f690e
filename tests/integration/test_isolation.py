"""Tenant isolation, proven: the schema, the logs, the metrics, the limits and the caches.

- every table holding tenant data has forced row-level security with a fail-closed policy, so a
  future table cannot forget it;
- every log line of a request carries its tenant and correlation id, and no line carries a BSN,
  a name, a street, a token or a secret;
- metrics carry a tenant label and no person data;
- a noisy tenant far over its limit gets 429s while every request of another tenant succeeds;
- two broker instances sharing Redis enforce one limit together;
- token caches are keyed per tenant, afnemer and credentials: one tenant's token is never used for
  another, nor for the same AfnemerID with other credentials.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from app.db import with_user
from app.main import create_app
from app.sandbox.server import SandboxThread
from app.secrets import Secret
from app.settings import Settings
from app.upstream import TokenUnavailable
from tests.conftest import LogCapture
from tests.integration.conftest import TEST_TENANT, SandboxControl, dev_token
from tests.support.servers import ServerTask

PERSONEN = "/haalcentraal/api/brp/personen"
BEWONING = "/haalcentraal/api/bewoning/bewoningen"
HISTORIE = "/haalcentraal/api/brphistorie/verblijfplaatshistorie"
BSN = "999993653"
RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": [BSN],
    "fields": ["naam", "verblijfplaats"],
}
# Tables that are operator data by design: the list of tenant ids and slugs, nothing else; and the
# beheerportaal's sessions and logins under way (migration 0015), which the runtime role must find
# by the SHA-256 of the browser's cookie before it knows whose they are. They hold no tenant
# configuration and no person data, and a row is only ever read by that hash (app/portal/sessions.py);
# what a session may see is decided per page by the admin API's authorisation (tests/integration/portal).
OPERATOR_TABLES = {"tenant_registry", "portal_sessions", "portal_logins"}
FAIL_CLOSED = re.compile(r"current_setting\('app\.tenant_id'::text, true\)|current_tenant\(\)")


async def test_every_tenant_table_has_forced_fail_closed_row_level_security(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'broker' AND c.relkind IN ('r', 'p')"
        )
        policies = await connection.fetch(
            "SELECT tablename, policyname, roles::text[] AS roles, qual, with_check "
            "FROM pg_policies WHERE schemaname = 'broker'"
        )
    finally:
        await connection.close()
    assert len(tables) > 10
    by_table: dict[str, list[asyncpg.Record]] = {}
    for policy in policies:
        by_table.setdefault(policy["tablename"], []).append(policy)
    for table in tables:
        name = table["relname"]
        if name in OPERATOR_TABLES:
            continue
        assert table["relrowsecurity"] and table["relforcerowsecurity"], f"{name} lacks forced RLS"
        # Partitions are reached through their parent's policies; a partition read directly by
        # the runtime role still has RLS forced and, without policies of its own, shows nothing.
        for policy in by_table.get(name, []):
            if policy["roles"] == ["brp_owner"]:
                continue  # the operator's own read policy (verify, inzage, retention)
            for expression in (policy["qual"], policy["with_check"]):
                if expression is not None:
                    assert FAIL_CLOSED.search(expression), f"{name}.{policy['policyname']}: {expression}"


async def test_without_a_tenant_the_runtime_role_sees_no_row_of_any_table(
    broker: httpx.AsyncClient, database_url: str
) -> None:
    # The session database has tenants, configuration and protocol records by now.
    assert (await broker.post(PERSONEN, json=RAADPLEEG)).status_code == 200
    connection = await asyncpg.connect(with_user(database_url, "brp_app"))
    try:
        tables = await connection.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'broker' AND c.relkind IN ('r', 'p') AND has_table_privilege(c.oid, 'SELECT')"
        )
        for table in tables:
            name = table["relname"]
            count = await connection.fetchval(f'SELECT count(*) FROM broker."{name}"')
            if name not in OPERATOR_TABLES:
                assert count == 0, name
    finally:
        await connection.close()


def _scan_targets(responses: list[httpx.Response]) -> set[str]:
    """Every BSN, name and street that the answers contained: none may be in a log line."""
    targets: set[str] = {BSN}
    for response in responses:
        text = response.text
        targets |= set(re.findall(r'"burgerservicenummer":"([0-9]{9})"', text))
        targets |= set(re.findall(r'"geslachtsnaam":"([^"]{4,})"', text))
        targets |= set(re.findall(r'"officieleStraatnaam":"([^"]{4,})"', text))
    return targets


async def test_logs_carry_tenant_and_correlation_id_and_no_person_data(
    broker: httpx.AsyncClient, sandbox: SandboxThread, sandbox_control: SandboxControl, logs: LogCapture
) -> None:
    token = broker.headers["Authorization"]
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (PERSONEN, RAADPLEEG, {}),
        (
            PERSONEN,
            {**RAADPLEEG, "burgerservicenummer": [BSN, "999990639"], "fields": ["naam", "partners"]},
            {},
        ),
        (
            PERSONEN,
            {
                "type": "ZoekMetPostcodeEnHuisnummer",
                "postcode": "3077AW",
                "huisnummer": 31,
                "fields": ["naam", "adressering"],
            },
            {},
        ),
        (
            BEWONING,
            {
                "type": "BewoningMetPeildatum",
                "adresseerbaarObjectIdentificatie": "0599010000208579",
                "peildatum": "2020-01-01",
            },
            {},
        ),
        (
            HISTORIE,
            {"type": "RaadpleegMetPeildatum", "burgerservicenummer": BSN, "peildatum": "2020-01-01"},
            {},
        ),
        (PERSONEN, {**RAADPLEEG, "burgerservicenummer": ["999993653x"]}, {}),  # 400
        (PERSONEN, RAADPLEEG, {"Authorization": "Bearer " + "x" * 20}),  # 401
        (PERSONEN, RAADPLEEG, {"x-afnemer-id": "000101"}),  # 403
    ]
    responses = [await broker.post(path, json=body, headers=headers) for path, body, headers in requests]
    sandbox_control.fault("status", status=500)
    responses.append(await broker.post(PERSONEN, json=RAADPLEEG))
    sandbox_control.fault("reject_tokens")
    sandbox_control.fault("drop")
    responses.append(await broker.post(PERSONEN, json=RAADPLEEG))
    sandbox_control.clear_faults()
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 200, 400, 401, 403, 502, 503]

    events = logs.events
    request_lines = [e for e in events if e.get("correlation_id")]
    assert len([e for e in request_lines if e.get("event") == "request"]) == len(responses)
    for event in request_lines:
        assert event.get("tenant") in ("testgemeente", "-"), event
    assert {e["tenant"] for e in request_lines if e.get("event") == "request"} == {"testgemeente", "-"}
    text = logs.text
    afnemer = sandbox.config.afnemer_by_id("000001")
    assert afnemer is not None
    forbidden = _scan_targets(responses) | {token.split()[1], afnemer.client_secret.reveal(), "eyJ"}
    assert len(forbidden) > 8  # the scan really has names and streets to look for
    leaked = sorted(value for value in forbidden if value in text)
    assert not leaked, f"person data or secrets in the logs: {len(leaked)} values"


async def test_metrics_carry_the_tenant_and_no_person_data(broker: httpx.AsyncClient) -> None:
    await broker.post(PERSONEN, json=RAADPLEEG)
    await broker.post(PERSONEN, json={**RAADPLEEG, "burgerservicenummer": ["999993653x"]})
    exposition = (await broker.get("/metrics")).text
    assert 'tenant="testgemeente"' in exposition
    assert "brp_broker_requests_total" in exposition
    assert re.search(r"brp_broker_protocol_batch_records_count\{[^}]*\} [1-9]", exposition)
    assert re.search(r'brp_broker_upstream_requests_total\{[^}]*afnemer_id="000001"[^}]*\} [1-9]', exposition)
    assert not re.search(r'="[^"]*[0-9]{9}[^"]*"', exposition)
    assert "Moulin" not in exposition


@pytest.fixture
async def limited_broker(
    broker_settings: Settings, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> AsyncIterator[httpx.AsyncClient]:
    """A broker whose default employee limit is a burst of 5 (and tenant/afnemer limits roomy)."""
    settings = msgspec.structs.replace(
        broker_settings, ratelimit_employee_rate=0.01, ratelimit_employee_burst=5
    )
    sandbox_control.reset()
    async with ServerTask(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def test_noisy_neighbour_does_not_starve_another_tenant(
    demo_tenants: list[str],
    limited_broker: httpx.AsyncClient,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    database_url: str,
) -> None:
    noisy = {"Authorization": f"Bearer {dev_token(sandbox, employee='NOISY')}"}
    calm = {
        "Authorization": f"Bearer {dev_token(sandbox, 'amsterdam', employee='CALM', roles=('burgerzaken',))}",
        "x-doelbinding": "test",
    }
    noisy_results = await asyncio.gather(
        *(limited_broker.post(PERSONEN, json=RAADPLEEG, headers=noisy) for _ in range(30))
    )
    calm_results = [await limited_broker.post(PERSONEN, json=RAADPLEEG, headers=calm) for _ in range(5)]
    statuses = [r.status_code for r in noisy_results]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 25
    assert [r.status_code for r in calm_results] == [200] * 5
    refused = next(r for r in noisy_results if r.status_code == 429)
    assert refused.json()["code"] == "tooManyRequests"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"
    allowed = next(r for r in calm_results if r.status_code == 200)
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(allowed.headers)
    # Refused requests never reach RvIG: 5 + 5 upstream calls in all.
    calls = sandbox_control.counters()["apiCalls"]
    assert sum(entry["total"] for entry in calls.values()) == 10
    # ... and are protocolled as refused.
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SET ROLE brp_owner")
        refused_records = await connection.fetchval(
            "SELECT count(*) FROM broker.protocol_records WHERE status = 429 AND employee = 'NOISY'"
        )
    finally:
        await connection.close()
    assert refused_records >= 25


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI sets it when Redis answers)")
async def test_two_broker_instances_share_one_limit_through_redis(
    broker_settings: Settings, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    import redis.asyncio as redis

    employee = f"SHARED{os.getpid()}"
    settings = msgspec.structs.replace(
        broker_settings,
        redis_url=os.environ["REDIS_URL"],
        ratelimit_employee_rate=0.01,
        ratelimit_employee_burst=6,
    )
    headers = {"Authorization": f"Bearer {dev_token(sandbox, employee=employee)}"}
    async with (
        ServerTask(create_app(settings)) as first_url,
        ServerTask(create_app(settings)) as second_url,
        httpx.AsyncClient(base_url=first_url, headers=headers) as first,
        httpx.AsyncClient(base_url=second_url, headers=headers) as second,
    ):
        statuses = [
            (await (first if n % 2 else second).post(PERSONEN, json=RAADPLEEG)).status_code for n in range(12)
        ]
    client = redis.from_url(os.environ["REDIS_URL"])
    async for key in client.scan_iter(match=f"brp:rl:e:*{employee}*"):
        await client.delete(key)
    await client.aclose()
    assert statuses.count(200) == 6
    assert statuses.count(429) == 6


async def test_token_caches_never_serve_one_afnemer_for_another(
    demo_tenants: list[str], broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    resources = broker.app.state.resources  # type: ignore[attr-defined]
    snapshot = resources.directory.snapshot
    tokens = resources.upstream.tokens
    first = snapshot.tenants["testgemeente"].afnemers["000001"].account
    other = next(
        afnemer.account
        for tenant in snapshot.tenants.values()
        if tenant.slug != "testgemeente"
        for afnemer in tenant.afnemers.values()
        if afnemer.account is not None
    )
    assert tokens.key_for(first) != tokens.key_for(other)
    one = await tokens.token_for(first)
    two = await tokens.token_for(other)
    assert one != two
    scopes = {s for entry in sandbox_control.counters()["tokenRequests"].values() for s in entry["scopes"]}
    assert scopes == {first.scope, other.scope}


async def test_a_cached_token_serves_only_the_tenant_and_credentials_that_obtained_it(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    resources = broker.app.state.resources  # type: ignore[attr-defined]
    tokens = resources.upstream.tokens
    owner = resources.directory.snapshot.tenants[TEST_TENANT].afnemers["000001"].account
    assert owner is not None
    first = await tokens.token_for(owner)
    # The same AfnemerID and client_id as another tenant's record (the database no longer lets a
    # second tenant declare it; the cache must not depend on that) ...
    other_tenant = msgspec.structs.replace(owner, tenant="indringer")
    # ... or with a secret RvIG would refuse.
    wrong_secret = msgspec.structs.replace(owner, client_secret=Secret("not-the-secret-of-000001"))
    assert len({tokens.key_for(account) for account in (owner, other_tenant, wrong_secret)}) == 3
    assert await tokens.token_for(other_tenant) not in ("", first)
    with pytest.raises(TokenUnavailable, match="token endpoint answered 401"):
        await tokens.token_for(wrong_secret)
    assert await tokens.token_for(owner) == first
    outcomes = sandbox_control.counters()["tokenRequests"]["000001"]["outcomes"]
    assert outcomes == {"granted": 2, "invalid_client": 1}
