"""Protocollering through the gateway: one record per request, before any person data leaves.

- every granted, denied (401/403/400) and failed (502/503/504) request leaves exactly one record
  with the right fields and persons;
- when the record cannot be committed, the client gets 503 and no person data; the broker
  recovers by itself;
- a broker killed with SIGKILL under load: every 200 a client received has a committed record.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
import pytest
import tomli_w

from app.db import apply_migrations, with_database, with_user
from app.main import create_app
from app.sandbox.server import SandboxThread
from app.settings import Settings
from app.tenancy import apply, load_tenant_files
from tests.integration.conftest import TEST_TENANT, SandboxControl, dev_token
from tests.support.ids import request_id
from tests.support.servers import ServerTask, free_port

PERSONEN = "/haalcentraal/api/brp/personen"
BSN = "999993653"
RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}
ZOEK = {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "3077AW", "huisnummer": 31, "fields": ["naam"]}


async def _records(url: str, correlation_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The committed records (and their persons) for these correlation ids, read as the owner."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET ROLE brp_owner")
        rows = await connection.fetch(
            "SELECT r.*, coalesce((SELECT json_agg(json_build_array(p.bsn, p.role) ORDER BY p.position) "
            "FROM broker.protocol_persons p WHERE p.tenant = r.tenant AND p.seq = r.seq), '[]') AS persons "
            "FROM broker.protocol_records r WHERE r.correlation_id = ANY($1::text[])",
            correlation_ids,
        )
    finally:
        await connection.close()
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        assert row["correlation_id"] not in records, "two records for one request"
        records[row["correlation_id"]] = {**dict(row), "persons": msgspec.json.decode(row["persons"])}
    return records


def _cid() -> str:
    return request_id("test")


async def test_every_outcome_leaves_exactly_one_record(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl, database_url: str
) -> None:
    cases: dict[str, tuple[int, dict[str, Any]]] = {}

    async def send(expected: int, body: Any, **kwargs: Any) -> None:
        cid = _cid()
        headers = {"x-correlation-id": cid, "x-doelbinding": "test", **kwargs.pop("headers", {})}
        response = await broker.post(PERSONEN, json=body, headers=headers, **kwargs)
        assert response.status_code == expected, response.text
        cases[cid] = (expected, body)

    await send(200, RAADPLEEG, headers={"x-verwerking": "zaak-1"})
    await send(200, ZOEK)
    await send(401, RAADPLEEG, headers={"Authorization": "Bearer not-a-token"})
    await send(400, {**RAADPLEEG, "burgerservicenummer": ["12"]})
    await send(403, {**RAADPLEEG, "gemeenteVanInschrijving": "0599"}, headers={"x-afnemer-id": "000101"})
    sandbox_control.fault("status", status=500)
    await send(502, RAADPLEEG)
    sandbox_control.fault("status", status=503)
    await send(503, RAADPLEEG)
    sandbox_control.clear_faults()

    records = await _records(database_url, list(cases))
    assert set(records) == set(cases)
    for cid, (status, _body) in cases.items():
        record = records[cid]
        assert record["status"] == status
        assert record["api"] == "personen"
        if status == 401:
            assert record["tenant"] == "-"  # no tenant: visible to no tenant, only to the operator
            assert record["afnemer_id"] is None
            continue
        assert record["tenant"] == TEST_TENANT
        assert record["employee"] == "E0001"
        assert record["doelbinding"] == "test"
    granted = [records[c] for c, (s, _) in cases.items() if s == 200]
    consulted, found = granted
    assert consulted["query_type"] == "RaadpleegMetBurgerservicenummer"
    assert consulted["verwerking"] == "zaak-1"
    assert consulted["afnemer_id"] == "000001"
    assert consulted["persons"] == [[BSN, "consulted"]]
    assert list(consulted["requested_fields"]) == ["naam"]
    assert "burgerservicenummer" in consulted["sent_fields"]
    assert found["persons"] and all(role == "found" for _, role in found["persons"])
    failed = [records[c] for c, (s, _) in cases.items() if s >= 400]
    assert all(r["persons"] == [] for r in failed)
    assert {r["problem_code"] for r in failed} >= {"authentication", "paramsValidation", "upstreamError"}


@pytest.fixture
async def own_database(new_database, test_tenants: Path) -> str:  # type: ignore[no-untyped-def]
    """A database of this test alone (it will be taken away), migrated, with the test tenant."""
    url: str = await new_database()
    await apply_migrations(url)
    await apply(url, load_tenant_files(test_tenants), prune=False, dry_run=False)
    return url


@pytest.fixture
async def own_broker(
    own_database: str, broker_settings: Settings, sandbox: SandboxThread
) -> AsyncIterator[httpx.AsyncClient]:
    settings = msgspec.structs.replace(
        broker_settings, database_url=with_user(own_database, "brp_app"), database_owner_url=own_database
    )
    headers = {"Authorization": f"Bearer {dev_token(sandbox)}", "x-doelbinding": "test"}
    async with (
        ServerTask(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers=headers) as client,
    ):
        yield client


async def test_protocol_unwritable_means_503_and_no_person_data(
    own_broker: httpx.AsyncClient, own_database: str
) -> None:
    admin = await asyncpg.connect(own_database)
    try:
        assert (await own_broker.post(PERSONEN, json=RAADPLEEG)).status_code == 200
        await admin.execute("REVOKE INSERT ON broker.protocol_records FROM brp_app")
        refused = await own_broker.post(PERSONEN, json=RAADPLEEG)
        await admin.execute("GRANT INSERT ON broker.protocol_records TO brp_app")
        recovered = await own_broker.post(PERSONEN, json=RAADPLEEG)
    finally:
        await admin.execute("GRANT INSERT ON broker.protocol_records TO brp_app")
        await admin.close()
    assert refused.status_code == 503
    assert refused.json()["code"] == "protocolUnavailable"
    assert "Moulin" not in refused.text and BSN not in refused.text
    assert recovered.status_code == 200
    assert recovered.json()["personen"][0]["naam"]["geslachtsnaam"] == "Moulin"


async def test_database_down_means_503_and_recovery(own_broker: httpx.AsyncClient, own_database: str) -> None:
    name = urlsplit(own_database).path.lstrip("/")
    admin = await asyncpg.connect(with_database(own_database, "postgres"))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        down = await own_broker.post(PERSONEN, json=RAADPLEEG)
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        back = await own_broker.post(PERSONEN, json=RAADPLEEG)
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    assert down.status_code == 503
    assert "Moulin" not in down.text and BSN not in down.text
    assert back.status_code == 200


def _broker_config(settings: Settings, path: Path) -> Path:
    document = {
        "identities": msgspec.to_builtins(settings.identities, enc_hook=str),
        "environments": {"sandbox": msgspec.to_builtins(settings.environments["sandbox"])},
        "idp_ca_bundle": str(settings.idp_ca_bundle),
        "idp_identity": settings.idp_identity,
    }
    path.write_bytes(tomli_w.dumps(document).encode())
    return path


async def test_sigkill_under_load_loses_no_record_of_a_delivered_answer(
    own_database: str, broker_settings: Settings, sandbox: SandboxThread, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    env |= {
        "BROKER_CONFIG_FILE": str(_broker_config(broker_settings, tmp_path / "broker.toml")),
        "BROKER_DATABASE_URL": with_user(own_database, "brp_app"),
        "BROKER_PORT": str(port),
        "BROKER_LOG_FORMAT": "json",
        "BROKER_RATELIMIT_EMPLOYEE_RATE": "10000",
        "BROKER_RATELIMIT_EMPLOYEE_BURST": "10000",
        "BROKER_RATELIMIT_TENANT_RATE": "10000",
        "BROKER_RATELIMIT_TENANT_BURST": "10000",
        "BROKER_RATELIMIT_AFNEMER_RATE": "10000",
        "BROKER_RATELIMIT_AFNEMER_BURST": "10000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # blocks until the server listens
        if "Application startup complete" in line:
            break
    else:
        raise AssertionError("the broker did not start")
    headers = {"Authorization": f"Bearer {dev_token(sandbox)}", "x-doelbinding": "test"}
    delivered: list[str] = []
    killed = asyncio.Event()

    async def client(client_id: int) -> None:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10
        ) as http:
            for n in range(200):
                cid = f"kill-{client_id}-{n}"
                try:
                    response = await http.post(PERSONEN, json=RAADPLEEG, headers={"x-correlation-id": cid})
                except httpx.HTTPError:
                    return
                if response.status_code == 200 and "Moulin" in response.text:
                    delivered.append(cid)
                if len(delivered) >= 60 and not killed.is_set():
                    killed.set()
                    os.kill(process.pid, signal.SIGKILL)

    try:
        await asyncio.gather(*(client(i) for i in range(16)))
    finally:
        process.kill()
        process.wait(timeout=30)
    assert killed.is_set()
    records = await _records(own_database, delivered)
    missing = sorted(set(delivered) - set(records))
    assert not missing, f"{len(missing)} delivered answers have no protocol record"
