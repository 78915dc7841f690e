"""Every gateway request's protocol record carries the context Logboek Dataverwerkingen derives from.

Through the real app (tracing off, as by default) with the demo tenants: `amsterdam` has an `[ldv]`
table (a default processing activity, `burgerzaken` mapped, the caller's URL); the test tenant has
none. The ids exist for every request (no sampling); the caller's trace continues only from a
valid `traceparent`; the chain still verifies.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.protocol import verify
from app.sandbox.server import SandboxThread
from app.settings import Settings
from tests.integration.conftest import TEST_TENANT, SandboxControl, dev_token
from tests.integration.gateway.records import the_one_record
from tests.support.ids import request_id
from tests.support.servers import ServerTask

PERSONEN = "/haalcentraal/api/brp/personen"
RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": ["999993653"],
    "fields": ["naam"],
}
REGISTER = "https://register.amsterdam.example/verwerkingsactiviteiten"
DEFAULT_ACTIVITY = f"{REGISTER}/brp-raadplegen"
BURGERZAKEN_ACTIVITY = f"{REGISTER}/burgerzaken"
AMSTERDAM_APP = "https://app.amsterdam.example"
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


class Caller:
    """A calling application's trace context: its `traceparent`, trace id and span id."""

    def __init__(self, flags: str = "01") -> None:
        self.trace_id = secrets.token_hex(16)
        self.span_id = secrets.token_hex(8)
        self.traceparent = f"00-{self.trace_id}-{self.span_id}-{flags}"


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


async def _request(
    gateway: httpx.AsyncClient, headers: dict[str, str], database_url: str, status: int = 200
) -> dict[str, Any]:
    """POST one Personen request with `headers`; its one protocol record."""
    correlation_id = request_id("ldv")
    response = await gateway.post(
        PERSONEN, json=RAADPLEEG, headers={**headers, "x-correlation-id": correlation_id}
    )
    assert response.status_code == status, response.text
    return await the_one_record(database_url, correlation_id)


def _amsterdam(sandbox: SandboxThread, doelbinding: str = "burgerzaken", **claims: Any) -> dict[str, str]:
    claims.setdefault("employee", "E1001")
    claims.setdefault("roles", ("burgerzaken",))
    token = dev_token(sandbox, "amsterdam", **claims)
    return {"Authorization": f"Bearer {token}", "x-doelbinding": doelbinding}


async def test_a_callers_trace_context_continues_into_the_record(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, database_url: str
) -> None:
    caller = Caller()
    stored = await _request(gateway, {**_amsterdam(sandbox), "traceparent": caller.traceparent}, database_url)
    assert stored["trace_id"] == caller.trace_id
    assert stored["parent_span_id"] == caller.span_id
    assert _SPAN_ID.match(stored["span_id"])
    assert stored["span_id"] != caller.span_id  # the broker's own action
    assert stored["processing_activity"] == BURGERZAKEN_ACTIVITY  # mapped by its doelbinding
    assert stored["foreign_processor"] == AMSTERDAM_APP
    report = await verify(database_url, "amsterdam")
    assert report.ok, report.first_break


async def test_an_unsampled_callers_trace_is_recorded_too(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, database_url: str
) -> None:
    # Logboek Dataverwerkingen allows no sampling: the caller's choice not to trace changes nothing.
    caller = Caller(flags="00")
    stored = await _request(gateway, {**_amsterdam(sandbox), "traceparent": caller.traceparent}, database_url)
    assert (stored["trace_id"], stored["parent_span_id"]) == (caller.trace_id, caller.span_id)
    assert stored["foreign_processor"] == AMSTERDAM_APP


@pytest.mark.parametrize("traceparent", [None, "00-xyz-abc-01", f"00-{'0' * 32}-{'1' * 16}-01"])
async def test_without_a_valid_traceparent_the_request_starts_its_own_trace(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, database_url: str, traceparent: str | None
) -> None:
    headers = _amsterdam(sandbox, doelbinding="controle")
    if traceparent is not None:
        headers["traceparent"] = traceparent
    first = await _request(gateway, headers, database_url)
    second = await _request(gateway, headers, database_url)
    for stored in (first, second):
        assert _TRACE_ID.match(stored["trace_id"])
        assert _SPAN_ID.match(stored["span_id"])
        assert stored["parent_span_id"] is None
        assert stored["foreign_processor"] is None  # no foreign operation without its trace context
        assert stored["processing_activity"] == DEFAULT_ACTIVITY  # `controle` is not mapped
    assert first["trace_id"] != second["trace_id"]


async def test_a_refused_request_of_a_known_tenant_carries_its_context(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, database_url: str
) -> None:
    caller = Caller()
    # No rule of amsterdam names this role: 403, protocolled with the processing it was refused.
    headers = {**_amsterdam(sandbox, roles=("onbekend",)), "traceparent": caller.traceparent}
    stored = await _request(gateway, headers, database_url, status=403)
    assert (stored["trace_id"], stored["parent_span_id"]) == (caller.trace_id, caller.span_id)
    assert stored["processing_activity"] == BURGERZAKEN_ACTIVITY
    assert stored["foreign_processor"] == AMSTERDAM_APP


async def test_a_tenant_without_ldv_records_the_ids_only(
    gateway: httpx.AsyncClient, sandbox: SandboxThread, database_url: str
) -> None:
    caller = Caller()
    headers = {
        "Authorization": f"Bearer {dev_token(sandbox, TEST_TENANT)}",
        "x-doelbinding": "burgerzaken",
        "traceparent": caller.traceparent,
    }
    stored = await _request(gateway, headers, database_url)
    assert (stored["trace_id"], stored["parent_span_id"]) == (caller.trace_id, caller.span_id)
    assert _SPAN_ID.match(stored["span_id"])
    assert stored["processing_activity"] is None
    assert stored["foreign_processor"] is None


async def test_a_request_without_a_tenant_has_ids_but_no_processing_activity(
    gateway: httpx.AsyncClient, database_url: str
) -> None:
    caller = Caller()
    stored = await _request(gateway, {"traceparent": caller.traceparent}, database_url, status=401)
    assert stored["tenant"] == "-"
    assert (stored["trace_id"], stored["parent_span_id"]) == (caller.trace_id, caller.span_id)
    assert _SPAN_ID.match(stored["span_id"])
    assert stored["processing_activity"] is stored["foreign_processor"] is None
