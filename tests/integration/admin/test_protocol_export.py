"""The privacy officer's protocol export: a streamed ZIP (export + manifest), protocolled first."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.protocol.export import manifest_path, verify_export
from app.sandbox.server import SandboxThread
from app.settings import Settings
from tests.integration.admin.registers import (
    BSN,
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

EXPORT = f"/admin/v1/tenants/{A}/protocol/export"
RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}


class Register:
    """The test's own broker and its database (admin URL), with requests in A and one in B."""

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
) -> AsyncIterator[Register]:
    """Tenants A and B; A's employee consulted `BSN` twice, B's once."""
    url = await two_tenant_database(new_database, sandbox, tmp_path)
    sandbox_control.reset()
    async with broker_on(url, broker_settings) as (_, client):
        for _ in range(2):
            response = await client.post(
                PERSONEN, json=RAADPLEEG, headers={**employee_of(sandbox, A), "x-afnemer-id": "000301"}
            )
            assert response.status_code == 200, response.text
        b = await client.post(PERSONEN, json=RAADPLEEG, headers=employee_of(sandbox, B, "E0001"))
        assert b.status_code == 200, b.text
        yield Register(client, url)


def _period() -> dict[str, str]:
    today = dt.datetime.now(dt.UTC).date()
    return {
        "from": (today - dt.timedelta(days=1)).isoformat(),
        "to": (today + dt.timedelta(days=1)).isoformat(),
    }


async def test_the_officer_downloads_an_export_that_verifies_offline(
    register: Register, sandbox: SandboxThread, tmp_path: Path
) -> None:
    period = _period()
    before = await protocol_rows(register.url, A)

    response = await register.client.post(EXPORT, json=period, headers=officer_of(sandbox, A))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/zip")
    name = f"protocol-{A}-{period['from']}-{period['to']}"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}.zip"'
    assert response.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == [f"{name}.jsonl", f"{name}.jsonl.manifest.json"]
        archive.extractall(tmp_path)
    exported = tmp_path / f"{name}.jsonl"
    assert manifest_path(exported).exists()
    report = verify_export(exported)
    assert report.ok, report.first_break
    # The export's own record is committed before the first byte: it is part of the export.
    after = await protocol_rows(register.url, A)
    (own,) = after[len(before) :]
    assert (own["api"], own["subject"], own["employee"]) == ("protocol-export", "fg-1", "fg-1")
    assert own["correlation_id"] == response.headers["x-correlation-id"]
    assert report.records == len(after) == report.manifest.records
    assert report.manifest.last_seq == own["seq"]
    assert report.manifest.tenant == A
    text = exported.read_text()
    assert f'"tenant":"{B}"' not in text
    assert text.count(f'"tenant":"{A}"') == len(after)


async def test_an_export_whose_record_cannot_be_committed_is_503(
    register: Register, sandbox: SandboxThread
) -> None:
    admin = await asyncpg.connect(register.url)
    try:
        await admin.execute("REVOKE INSERT ON broker.protocol_records FROM brp_app")
        refused = await register.client.post(EXPORT, json=_period(), headers=officer_of(sandbox, A))
    finally:
        await admin.execute("GRANT INSERT ON broker.protocol_records TO brp_app")
        await admin.close()
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        (lambda sandbox: admin_of(sandbox, A), 403),  # a tenant admin is not the privacy officer
        (lambda sandbox: officer_of(sandbox, B), 404),  # another tenant's officer: A does not exist for it
        (operator, 403),  # the export is the tenant's processing, done by its own officer
        (lambda sandbox: {}, 401),
    ],
    ids=["tenant-admin", "other-tenants-officer", "operator", "no-token"],
)
async def test_the_export_is_for_the_tenants_own_privacy_officer_only(
    register: Register,
    sandbox: SandboxThread,
    caller: Callable[[SandboxThread], dict[str, str]],
    status: int,
) -> None:
    before = len(await protocol_rows(register.url, A))
    response = await register.client.post(EXPORT, json=_period(), headers=caller(sandbox))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(await protocol_rows(register.url, A)) == before  # a refusal exports nothing


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"to": "2026-01-01"}, "from"),
        ({"from": "2026-01-01"}, "to"),
        ({"from": "gisteren", "to": "2026-01-01"}, "from"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({"from": "2026-01-01", "to": "2026-02-01", "tenant": B}, "tenant"),
    ],
    ids=["no-from", "no-to", "from-not-a-date", "to-before-from", "unknown"],
)
async def test_an_invalid_export_is_a_problem_naming_the_field(
    register: Register, sandbox: SandboxThread, body: dict[str, Any], name: str
) -> None:
    before = len(await protocol_rows(register.url, A))
    response = await register.client.post(EXPORT, json=body, headers=officer_of(sandbox, A))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [p["name"] for p in response.json()["invalidParams"]] == [name]
    assert len(await protocol_rows(register.url, A)) == before


async def test_the_export_is_in_the_admin_openapi_document(register: Register) -> None:
    document = (await register.client.get("/admin/v1/openapi.json")).json()
    operation = document["paths"]["/admin/v1/tenants/{slug}/protocol/export"]["post"]
    assert "application/zip" in operation["responses"]["200"]["content"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert sorted(schema["required"]) == ["from", "to"]
