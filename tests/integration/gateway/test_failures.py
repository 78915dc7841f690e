"""A defect inside the pipeline: the client gets a problem that tells nothing, the protocol one record.

Each seam of the data path (app/gateway/seams.py, plus the doelbinding policy that travels with the
resolved access) is made to raise an unexpected exception in turn, on a broker that is otherwise
real (PostgreSQL, the sandbox over mTLS):

- any seam but the protocoller → the generic 500 `serverError`, and exactly one record (status
  500) that holds what was known when it failed;
- the protocoller → 503 `protocolUnavailable` and no person data, never a second record;
- a request cancelled while RvIG is still answering (client gone, server stopping) → exactly one
  record (status 499, `requestCancelled`), and the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest

from app.gateway import GatewayPipeline
from app.protocol import ProtocolRecord
from tests.conftest import LogCapture
from tests.integration.conftest import TEST_TENANT
from tests.integration.gateway.records import committed_records, the_one_record
from tests.support.ids import request_id

PERSONEN = "/haalcentraal/api/brp/personen"
BSN = "999993653"
RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}
# What a defect's message might quote; it must reach neither the client nor a log line.
LEAK = f"defect while handling {BSN} with client_secret=s3cr3t"
SERVER_ERROR = {
    "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.6.1",
    "title": "Internal Server error.",
    "status": 500,
    "instance": PERSONEN,
    "code": "serverError",
}


def _defect(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError(LEAK)


class _FailingIn:
    """The real seam (or policy), except that calling `method` raises an unexpected exception."""

    def __init__(self, real: Any, method: str) -> None:
        self._real = real
        self._method = method

    def __getattr__(self, name: str) -> Any:
        return _defect if name == self._method else getattr(self._real, name)


class _PolicyFailingIn:
    """The real access resolver, but the doelbinding policy it resolves fails in `method`."""

    def __init__(self, resolver: Any, method: str) -> None:
        self._resolver = resolver
        self._method = method

    def resolve(self, *args: Any) -> Any:
        access = self._resolver.resolve(*args)
        return msgspec.structs.replace(access, policy=_FailingIn(access.policy, self._method))

    def __getattr__(self, name: str) -> Any:
        # The resolver's other methods (ldv_settings) work: only the policy is to fail.
        return getattr(self._resolver, name)


class _FailsAfterCommit:
    """The real protocoller, which then fails although the record is committed."""

    def __init__(self, real: Any) -> None:
        self._real = real

    async def record(self, record: ProtocolRecord) -> None:
        await self._real.record(record)
        raise RuntimeError(LEAK)


Breaker = Callable[[GatewayPipeline], GatewayPipeline]


def _seam(name: str, method: str) -> Breaker:
    return lambda p: dataclasses.replace(p, **{name: _FailingIn(getattr(p, name), method)})


def _policy(method: str) -> Breaker:
    return lambda p: dataclasses.replace(p, resolver=_PolicyFailingIn(p.resolver, method))


# seam → (how to break it, the tenant its record is under: "-" before the caller is known)
FAILING_SEAMS: dict[str, tuple[Breaker, str]] = {
    "authenticator": (_seam("authenticator", "identify"), "-"),
    "access-resolver": (_seam("resolver", "resolve"), TEST_TENANT),
    "doelbinding-authorise": (_policy("authorise"), TEST_TENANT),
    "limiter": (_seam("limiter", "check"), TEST_TENANT),
    "forwarder": (_seam("forwarder", "forward"), TEST_TENANT),
    "response-shaping": (_policy("withhold_secret_persons"), TEST_TENANT),
}


def _running(broker: httpx.AsyncClient) -> GatewayPipeline:
    pipeline: GatewayPipeline = broker.app.state.pipeline  # type: ignore[attr-defined]
    return pipeline


def _break(broker: httpx.AsyncClient, breaker: Breaker) -> None:
    """Replace the running app's pipeline by a broken copy of it (this test's app only)."""
    broker.app.state.pipeline = breaker(_running(broker))  # type: ignore[attr-defined]


async def _send(client: httpx.AsyncClient) -> tuple[str, httpx.Response]:
    cid = request_id("test")
    headers = {"x-correlation-id": cid, "x-doelbinding": "test"}
    return cid, await client.post(PERSONEN, json=RAADPLEEG, headers=headers)


def _tells_nothing(response: httpx.Response) -> None:
    for secret in (BSN, "s3cr3t", "Moulin", "RuntimeError", "Traceback"):
        assert secret not in response.text


@pytest.mark.parametrize("seam", list(FAILING_SEAMS))
async def test_a_failing_seam_is_a_leak_free_500_with_exactly_one_record(
    broker: httpx.AsyncClient, database_url: str, seam: str
) -> None:
    breaker, tenant = FAILING_SEAMS[seam]
    _break(broker, breaker)

    cid, response = await _send(broker)

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == SERVER_ERROR
    _tells_nothing(response)
    record = await the_one_record(database_url, cid)
    assert (record["status"], record["problem_code"]) == (500, "serverError")
    assert record["tenant"] == tenant
    assert record["persons"] == []
    if tenant != "-":
        assert (record["employee"], record["doelbinding"]) == ("E0001", "test")


async def test_what_was_known_before_the_defect_is_in_its_record(
    broker: httpx.AsyncClient, database_url: str
) -> None:
    _break(broker, FAILING_SEAMS["forwarder"][0])

    cid, _ = await _send(broker)

    record = await the_one_record(database_url, cid)
    assert record["afnemer_id"] == "000001"
    assert record["query_type"] == "RaadpleegMetBurgerservicenummer"
    assert list(record["requested_fields"]) == ["naam"]


async def test_a_defect_is_logged_by_type_under_its_tenant_without_its_message(
    broker: httpx.AsyncClient, logs: LogCapture
) -> None:
    _break(broker, FAILING_SEAMS["forwarder"][0])

    await _send(broker)

    failures = [e for e in logs.events if e.get("event") == "unhandled_exception"]
    assert len(failures) == 1
    assert failures[0]["exception_type"] == "RuntimeError"
    assert failures[0]["tenant"] == TEST_TENANT
    for secret in (BSN, "s3cr3t", "defect while"):
        assert secret not in logs.text


async def test_a_failing_protocoller_is_503_with_no_person_data_and_no_record(
    broker: httpx.AsyncClient, database_url: str
) -> None:
    _break(broker, _seam("protocoller", "record"))

    cid, response = await _send(broker)

    assert response.status_code == 503
    assert response.json()["code"] == "protocolUnavailable"
    _tells_nothing(response)
    assert await committed_records(database_url, [cid]) == []


async def test_a_protocoller_failing_after_its_commit_leaves_one_record_not_two(
    broker: httpx.AsyncClient, database_url: str
) -> None:
    _break(broker, lambda p: dataclasses.replace(p, protocoller=_FailsAfterCommit(p.protocoller)))

    cid, response = await _send(broker)

    assert response.status_code == 503
    assert response.json()["code"] == "protocolUnavailable"
    _tells_nothing(response)
    await the_one_record(database_url, cid)


class _RvigNeverAnswers:
    """A forwarder whose call to RvIG hangs until the request is cancelled."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()

    async def forward(self, *_args: Any, **_kwargs: Any) -> Any:
        self.waiting.set()
        await asyncio.Event().wait()


class _TellsWhenRecorded:
    """The real protocoller; `recorded` is set once a record is committed."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.recorded = asyncio.Event()

    async def record(self, record: ProtocolRecord) -> None:
        await self._real.record(record)
        self.recorded.set()


async def test_a_request_cancelled_while_rvig_answers_leaves_one_record_and_stays_cancelled(
    broker: httpx.AsyncClient, database_url: str
) -> None:
    rvig, protocoller = _RvigNeverAnswers(), _TellsWhenRecorded(_running(broker).protocoller)
    _break(broker, lambda p: dataclasses.replace(p, forwarder=rvig, protocoller=protocoller))
    cid = request_id("test")
    # In-process (ASGI, same task): cancelling the client's request cancels the handler itself,
    # as a server does when it gives up on a request.
    transport = httpx.ASGITransport(app=broker.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://broker", headers=broker.headers
    ) as client:
        request = asyncio.create_task(
            client.post(PERSONEN, json=RAADPLEEG, headers={"x-correlation-id": cid, "x-doelbinding": "test"})
        )
        await asyncio.wait_for(rvig.waiting.wait(), 10)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    await asyncio.wait_for(protocoller.recorded.wait(), 10)

    record = await the_one_record(database_url, cid)
    assert (record["status"], record["problem_code"]) == (499, "requestCancelled")
    assert record["tenant"] == TEST_TENANT
    assert record["persons"] == []
