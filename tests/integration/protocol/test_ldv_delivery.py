"""Delivery of LDV lines to each tenant's Logboek (`LdvDelivery`): real PostgreSQL, real OTLP/HTTP.

Each test has its own migrated database and drives the worker round by round (`deliver_once`), so
nothing waits on a timer: a fake clock moves past a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from app.brp import PersonRef, PersonRole
from app.protocol import ProtocolRecord, ProtocolWriter
from app.protocol.ldv_delivery import LdvDelivery, LdvTarget
from app.protocol.ldv_subjects import PrivateSubjectKeys, generate_private_key, public_jwk
from app.telemetry import BrokerMetrics
from app.tenancy.models import LdvSettings
from tests.conftest import LogCapture
from tests.integration.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.integration.protocol.factories import PoolFactory, consulted, record, refused_without_tenant
from tests.support.servers import free_port

# How often a trickling Logboek sends its next byte (well under any read timeout of the tests).
_TRICKLE_PACE = 0.02

ACTIVITY = "https://register.example.nl/verwerkingsactiviteiten/brp"
BSNS = ("999993653", "999990019")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Tenant:
    """A tenant with its own key pair and (optionally) a Logboek endpoint."""

    def __init__(self, endpoint: str | None) -> None:
        # At most 8 hex digits: a run of nine digits would be refused as a metric label (a BSN's shape).
        self.slug = f"ldv-{uuid.uuid4().hex[:8]}"
        self.private = generate_private_key()
        self.keys = PrivateSubjectKeys.from_json(msgspec.json.encode(self.private))
        self.settings = LdvSettings(
            processing_activity=ACTIVITY, subject_key=public_jwk(self.private), endpoint=endpoint
        )

    @property
    def target(self) -> LdvTarget:
        return LdvTarget(self.slug, self.settings)


class World:
    """A fresh database, a writer, the worker and its metrics."""

    def __init__(
        self, url: str, pool: asyncpg.Pool, writer: ProtocolWriter, client: httpx.AsyncClient
    ) -> None:
        self.url = url
        self.pool = pool
        self.writer = writer
        self.client = client
        self.metrics = BrokerMetrics(process_collectors=False)
        self.clock = FakeClock()
        self.targets: list[LdvTarget] = []

    def delivery(self, **options: Any) -> LdvDelivery:
        return LdvDelivery(
            self.pool,
            lambda: list(self.targets),
            self.metrics,
            client=self.client,
            clock=self.clock,
            **options,
        )

    async def write(self, records: Iterable[ProtocolRecord]) -> None:
        for item in records:
            await self.writer.record(item)

    async def cursor(self, tenant: str) -> int | None:
        connection = await asyncpg.connect(self.url)
        try:
            value: int | None = await connection.fetchval(
                "SELECT delivered_seq FROM broker.protocol_ldv_delivery WHERE tenant = $1", tenant
            )
            return value
        finally:
            await connection.close()

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(f"brp_broker_{name}", labels) or 0.0


@pytest.fixture
async def world(fresh_url: str, runtime_pool: PoolFactory) -> AsyncIterator[World]:
    pool = await runtime_pool(fresh_url)
    writer = ProtocolWriter(pool)
    await writer.start()
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        yield World(fresh_url, pool, writer, client)
    await writer.stop()


def with_ids(item: ProtocolRecord) -> ProtocolRecord:
    """The record as the gateway now writes it: its own span id beside the trace id."""
    return msgspec.structs.replace(item, span_id=uuid.uuid4().hex[:16])


def span_ids(spans: Iterable[ReceivedSpan]) -> list[str]:
    return [span.span_id for span in spans]


async def test_each_tenants_new_records_go_to_its_own_logboek_only(world: World) -> None:
    async with OtlpReceiver() as logboek_a, OtlpReceiver() as logboek_b:
        a, b, c = Tenant(logboek_a.traces_url), Tenant(logboek_b.traces_url), Tenant(None)
        world.targets = [a.target, b.target, c.target]
        before = with_ids(record(a.slug, consulted(BSNS[0])))
        await world.write([before])
        delivery = world.delivery()
        # First sight of the endpoints: delivery starts at the chain head ("from now").
        assert await delivery.deliver_once() == {a.slug: "started", b.slug: "started"}
        assert await world.cursor(a.slug) == 1 and await world.cursor(b.slug) == 0
        assert await world.cursor(c.slug) is None

        two_persons = with_ids(record(a.slug, consulted(*BSNS)))
        one_person = with_ids(record(a.slug, consulted(BSNS[1]), status=404, problem_code="notFound"))
        of_b = with_ids(record(b.slug, consulted(BSNS[0])))
        await world.write(
            [
                two_persons,
                one_person,
                of_b,
                with_ids(record(c.slug, consulted(BSNS[0]))),
                refused_without_tenant(),
            ]
        )
        assert await delivery.deliver_once() == {a.slug: "delivered", b.slug: "delivered"}

        # A: the request with two persons (its line plus two child lines) and the one with one.
        assert len(logboek_a.spans) == 4
        request, *children = [s for s in logboek_a.spans if s.trace_id == two_persons.trace_id]
        assert request.span_id == two_persons.span_id and request.parent_span_id == ""
        assert [child.parent_span_id for child in children] == [request.span_id] * 2
        assert [a.keys.decrypt(child.attributes["dpl.core.data_subject_id"]) for child in children] == list(
            BSNS
        )
        (single,) = [s for s in logboek_a.spans if s.trace_id == one_person.trace_id]
        assert single.status_code == 0  # 404: handled without an internal error, Unset
        assert a.keys.decrypt(single.attributes["dpl.core.data_subject_id"]) == BSNS[1]
        assert all(s.attributes["dpl.core.processing_activity_id"] == ACTIVITY for s in logboek_a.spans)
        assert before.span_id not in span_ids(logboek_a.spans)  # from before the endpoint was seen
        # B got its own record only; nobody got C's (no endpoint) or the tenantless one.
        assert span_ids(logboek_b.spans) == [of_b.span_id]
        assert {s.trace_id for s in logboek_a.spans}.isdisjoint({s.trace_id for s in logboek_b.spans})

        assert await world.cursor(a.slug) == 3 and await world.cursor(b.slug) == 1
        assert world.sample("ldv_delivered_lines_total", tenant=a.slug) == 4
        assert world.sample("ldv_delivery_lag_records", tenant=a.slug) == 0
        assert await delivery.deliver_once() == {a.slug: "idle", b.slug: "idle"}
        assert len(logboek_a.bodies) == 1 and len(logboek_b.bodies) == 1


async def test_a_logboek_that_is_down_gets_every_line_once_it_is_back(world: World, logs: LogCapture) -> None:
    port = free_port()
    tenant = Tenant(f"http://user:s3cret-token@127.0.0.1:{port}/v1/traces")
    world.targets = [tenant.target]
    delivery = world.delivery(max_backoff=60.0)
    assert await delivery.deliver_once() == {tenant.slug: "started"}
    written = [with_ids(record(tenant.slug, consulted(bsn))) for bsn in BSNS]
    await world.write(written)

    # Nobody listens: not delivered, the cursor stays, the tenant backs off.
    assert await delivery.deliver_once() == {tenant.slug: "failed"}
    assert await world.cursor(tenant.slug) == 0
    assert world.sample("ldv_delivery_failures_total", tenant=tenant.slug, outcome="unreachable") == 1
    assert world.sample("ldv_delivery_lag_records", tenant=tenant.slug) == 2
    assert await delivery.deliver_once() == {tenant.slug: "waiting"}
    world.clock.now += 1.0
    assert await delivery.deliver_once() == {tenant.slug: "failed"}  # 1 s, then 2 s
    world.clock.now += 1.0
    assert await delivery.deliver_once() == {tenant.slug: "waiting"}

    async with OtlpReceiver(port=port) as logboek:
        # Up, but refusing (503): still not confirmed.
        logboek.answer_status = 503
        world.clock.now += 2.0
        assert await delivery.deliver_once() == {tenant.slug: "failed"}
        assert logboek.refused == 1 and await world.cursor(tenant.slug) == 0
        assert world.sample("ldv_delivery_failures_total", tenant=tenant.slug, outcome="status") == 1

        logboek.answer_status = 200
        world.clock.now += 60.0
        assert await delivery.deliver_once() == {tenant.slug: "delivered"}
        assert span_ids(logboek.spans) == [item.span_id for item in written]
        assert await world.cursor(tenant.slug) == 2

        later = with_ids(record(tenant.slug, consulted(BSNS[0])))
        await world.write([later])
        assert await delivery.deliver_once() == {tenant.slug: "delivered"}  # no backoff left
        assert span_ids(logboek.spans) == [item.span_id for item in [*written, later]]  # no duplicates

    text = logs.text
    assert "ldv_delivery_failed" in text and "ldv_delivery_recovered" in text
    assert "s3cret-token" not in text and "user:" not in text
    for bsn in BSNS:
        assert bsn not in text
    assert "dpl.core" not in text


async def test_a_behind_tenant_catches_up_in_bounded_batches(world: World) -> None:
    async with OtlpReceiver() as logboek:
        tenant = Tenant(logboek.traces_url)
        world.targets = [tenant.target]
        delivery = world.delivery(batch=2)
        await delivery.deliver_once()
        written = [with_ids(record(tenant.slug)) for _ in range(5)]
        await world.write(written)
        outcomes = [await delivery.deliver_once() for _ in range(4)]
        assert [o[tenant.slug] for o in outcomes] == ["delivered", "delivered", "delivered", "idle"]
        assert [len(_spans_of(body)) for body in logboek.bodies] == [2, 2, 1]
        assert span_ids(logboek.spans) == [item.span_id for item in written]


async def test_one_replica_delivers_a_tenant_at_a_time(world: World) -> None:
    async with OtlpReceiver() as logboek:
        tenant = Tenant(logboek.traces_url)
        world.targets = [tenant.target]
        this, other = world.delivery(), world.delivery()
        await this.deliver_once()
        await world.write([with_ids(record(tenant.slug))])
        # Another replica is in the middle of a batch of this tenant: it holds the cursor row.
        async with world.pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant.slug)
            await connection.fetchval(
                "SELECT delivered_seq FROM protocol_ldv_delivery WHERE tenant = $1 FOR UPDATE", tenant.slug
            )
            assert await other.deliver_once() == {tenant.slug: "busy"}
            assert logboek.bodies == []
        assert await other.deliver_once() == {tenant.slug: "delivered"}
        assert await this.deliver_once() == {tenant.slug: "idle"}
        assert len(logboek.spans) == 1


async def test_records_retention_removed_before_delivery_are_skipped_and_counted(
    world: World, logs: LogCapture
) -> None:
    async with OtlpReceiver() as logboek:
        tenant = Tenant(logboek.traces_url)
        world.targets = [tenant.target]
        delivery = world.delivery()
        await delivery.deliver_once()
        # Two records in a month long gone, then one of today.
        old_month = (dt.datetime.now(dt.UTC).replace(day=1) - dt.timedelta(days=400)).date().replace(day=1)
        old_time = dt.datetime.combine(old_month, dt.time(12), dt.UTC)
        owner = await asyncpg.connect(world.url)
        try:
            await owner.execute("SELECT broker.protocol_create_partitions($1)", old_month)
            await world.write([with_ids(record(tenant.slug, occurred_at=old_time)) for _ in range(2)])
            recent = with_ids(record(tenant.slug))
            await world.write([recent])
            suffix = old_month.strftime("y%Ym%m")
            # What retention does: drop the month's partitions whole.
            await owner.execute(
                f"DROP TABLE broker.protocol_persons_{suffix}, broker.protocol_records_{suffix}"
            )
        finally:
            await owner.close()
        assert await delivery.deliver_once() == {tenant.slug: "delivered"}
        assert span_ids(logboek.spans) == [recent.span_id]
        assert world.sample("ldv_skipped_records_total", tenant=tenant.slug) == 2
        (skipped,) = [event for event in logs.events if event.get("event") == "ldv_records_skipped"]
        assert skipped["records"] == 2 and skipped["tenant"] == tenant.slug


async def test_a_tenant_without_a_subject_key_gets_nothing_and_keeps_its_cursor(world: World) -> None:
    async with OtlpReceiver() as logboek:
        tenant = Tenant(logboek.traces_url)
        tenant.settings = LdvSettings(processing_activity=ACTIVITY, endpoint=logboek.traces_url)
        world.targets = [tenant.target]
        delivery = world.delivery()
        await delivery.deliver_once()
        await world.write([with_ids(record(tenant.slug, consulted(BSNS[0])))])
        assert await delivery.deliver_once() == {tenant.slug: "failed"}
        assert logboek.bodies == []
        assert await world.cursor(tenant.slug) == 0
        assert world.sample("ldv_delivery_failures_total", tenant=tenant.slug, outcome="config") == 1


async def test_the_background_task_delivers_without_being_asked(world: World) -> None:
    async with OtlpReceiver() as logboek:
        tenant = Tenant(logboek.traces_url)
        world.targets = [tenant.target]
        delivery = world.delivery(interval=0.05)
        await delivery.deliver_once()  # the cursor exists before the record is written
        written = with_ids(record(tenant.slug, (PersonRef(BSNS[0], PersonRole.FOUND),)))
        await world.write([written])
        await delivery.start()
        try:
            delivery.wake()
            (span,) = await logboek.wait_for_spans(1)
        finally:
            await delivery.stop()
        assert span.span_id == written.span_id


async def test_a_tenant_sees_and_moves_only_its_own_cursor(world: World) -> None:
    a, b = Tenant("https://logboek-a.example/v1/traces"), Tenant("https://logboek-b.example/v1/traces")
    world.targets = [a.target, b.target]
    await world.delivery().deliver_once()
    async with world.pool.acquire() as connection, connection.transaction():
        assert await connection.fetch("SELECT tenant FROM protocol_ldv_delivery") == []  # no scope: nothing
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", a.slug)
        assert [
            row["tenant"] for row in await connection.fetch("SELECT tenant FROM protocol_ldv_delivery")
        ] == [a.slug]
        moved = await connection.execute(
            "UPDATE protocol_ldv_delivery SET delivered_seq = 99 WHERE tenant = $1", b.slug
        )
        assert moved == "UPDATE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM protocol_ldv_delivery WHERE tenant = $1", a.slug)
    assert await world.cursor(b.slug) == 0


def _spans_of(body: bytes) -> list[Any]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    return [span for rs in message.resource_spans for ss in rs.scope_spans for span in ss.spans]


async def test_a_subject_key_without_a_shared_secret_is_a_config_failure_of_that_tenant_only(
    world: World,
) -> None:
    async with OtlpReceiver() as logboek_bad, OtlpReceiver() as logboek_good:
        bad, good = Tenant(logboek_bad.traces_url), Tenant(logboek_good.traces_url)
        # An X25519 low-order point imports, but no key agreement with it gives a secret.
        low_order = {"kty": "OKP", "crv": "X25519", "x": "A" * 43}
        bad.settings = LdvSettings(
            processing_activity=ACTIVITY, subject_key=low_order, endpoint=logboek_bad.traces_url
        )
        world.targets = [bad.target, good.target]
        delivery = world.delivery()
        await delivery.deliver_once()
        await world.write([with_ids(record(t.slug, consulted(BSNS[0]))) for t in (bad, good)])
        assert await delivery.deliver_once() == {bad.slug: "failed", good.slug: "delivered"}
        assert world.sample("ldv_delivery_failures_total", tenant=bad.slug, outcome="config") == 1
        assert logboek_bad.bodies == [] and len(logboek_good.spans) == 1


class HostileLogboek:
    """A Logboek that answers 200 but trickles its answer for ever, or sends a huge one."""

    def __init__(self, *, huge: bool) -> None:
        self.port = free_port()
        self.huge = huge
        self.posts = 0
        self._runner: Any = None
        self._closed = asyncio.Event()

    @property
    def traces_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    async def __aenter__(self) -> HostileLogboek:
        from aiohttp import web

        async def traces(request: web.Request) -> web.StreamResponse:
            await request.read()
            self.posts += 1
            if self.huge:
                return web.Response(body=b"\x0a" * (8 << 20), content_type="application/x-protobuf")
            response = web.StreamResponse(headers={"Content-Type": "application/x-protobuf"})
            await response.prepare(request)
            # A byte now and then, until the Logboek closes: no read ever waits long enough to time
            # out, yet the answer never ends. The pause is the trickle's pace, not a wait for a state.
            while not self._closed.is_set():
                await response.write(b"\x0a")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), _TRICKLE_PACE)
            return response

        app = web.Application()
        app.router.add_post("/v1/traces", traces)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed.set()
        await self._runner.cleanup()


async def test_a_logboek_trickling_its_answer_cannot_hold_up_other_tenants(world: World) -> None:
    async with HostileLogboek(huge=False) as slow, OtlpReceiver() as logboek:
        stalled, other = Tenant(slow.traces_url), Tenant(logboek.traces_url)
        world.targets = [stalled.target, other.target]
        delivery = world.delivery(timeout=0.5)
        await delivery.deliver_once()
        await world.write([with_ids(record(t.slug)) for t in (stalled, other)])
        # The timeout bounds the whole POST, not each read: the round ends, the next tenant is served.
        outcomes = await asyncio.wait_for(delivery.deliver_once(), 20)
        assert outcomes == {stalled.slug: "failed", other.slug: "delivered"}
        assert world.sample("ldv_delivery_failures_total", tenant=stalled.slug, outcome="timeout") == 1
        assert await world.cursor(stalled.slug) == 0 and slow.posts == 1


async def test_a_huge_answer_is_not_read_whole_nor_taken_as_confirmation(world: World) -> None:
    async with HostileLogboek(huge=True) as huge:
        tenant = Tenant(huge.traces_url)
        world.targets = [tenant.target]
        delivery = world.delivery()
        await delivery.deliver_once()
        await world.write([with_ids(record(tenant.slug))])
        assert await delivery.deliver_once() == {tenant.slug: "failed"}
        assert world.sample("ldv_delivery_failures_total", tenant=tenant.slug, outcome="rejected") == 1
        assert await world.cursor(tenant.slug) == 0
