"""Delivery of each tenant's Logboek Dataverwerkingen lines to its own Logboek, over OTLP/HTTP.

`LdvDelivery` is a background task of the app (started and stopped by the lifespan). For every
active tenant whose `[ldv]` names an `endpoint`, it reads the tenant's protocol records after its
cursor (`protocol_ldv_delivery`, migration 0017), maps them (`app.protocol.ldv`), and POSTs them
as one OTLP `ExportTraceServiceRequest` (protobuf, `application/x-protobuf`) — the protocol the
standard recommends between application and Logboek.

Semantics
---------
- **The protocol is the durable source.** A line exists as long as its record does; the cursor
  only says how far the Logboek confirmed. A 2xx answer (without rejected spans, at most 64 KiB)
  within `timeout` is the confirmation the standard requires of a Logboek; then, and only then,
  the cursor moves, in the transaction that read the batch. A Logboek that is down, slow or
  refuses keeps the cursor where it is: the tenant backs off (exponentially, 1 s doubling to
  `max_backoff`, or the Logboek's `Retry-After` within that bound) and delivery catches up from
  the cursor when the Logboek is back. Nothing is lost while it is down.
- **At least once.** A batch whose confirmation arrived but whose cursor move did not commit (the
  database failed in between, the replica stopped) is sent again. Every line's ids are stable
  (`trace_id` and `span_id` are stored in the record or derived from it), so a Logboek can drop a
  line it already has by (`trace_id`, `span_id`).
- **One replica per tenant.** A batch runs in one transaction that holds the tenant's cursor row
  (`SELECT ... FOR UPDATE SKIP LOCKED`) from the read to the cursor move; a replica (or worker
  process) that finds the row locked skips the tenant for this round. Chosen over an advisory
  lock because the lock is then exactly the unit that matters — "this batch is being delivered
  and its cursor moved" — and lives and dies with the transaction (a replica that crashes
  releases it with its connection), with no lock-key space to manage. Its price is one pooled
  connection held across a POST, bounded by `timeout`; tenants are delivered one after another,
  so a replica holds at most one.
- **Where delivery starts.** When an endpoint is first seen the cursor is created at the tenant's
  chain head: delivery starts from then, not from the tenant's first record (twenty years of
  register would otherwise flood a Logboek that was just connected, mapped with today's settings).
  The whole history is available at any time through `brp-broker protocol export --format ldv`.
  The cursor stays when an endpoint is removed or changed: a tenant that connects again catches up
  from where it stopped.
- **Retention** may have removed records the Logboek never received (a Logboek down for longer
  than the retention term): delivery skips forward to the first record still there and logs how
  many it skipped (a count, never a record).
- **Bounded**: at most `batch` records per POST; a tenant that is behind gets one batch per
  round, rounds follow each other without pause while anyone is behind.

Never logs a line, a BSN or an endpoint's credentials: logs name the tenant, the endpoint's host,
counts and the kind of failure. Metrics: lines delivered and failures per tenant, and the lag
(records behind) per tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol
from urllib.parse import urlsplit

import asyncpg
import httpx
import structlog
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from app.protocol.access import Connection, tenant_transaction
from app.protocol.chain import ChainedRecord
from app.protocol.export import RECORD_SELECT, record_from_row
from app.protocol.ldv import FOREIGN_PROCESSOR, LDV_VERSION, LdvContext, LdvRecord
from app.protocol.ldv_subjects import LdvKeyError

if TYPE_CHECKING:
    from app.tenancy.models import LdvSettings

__all__ = [
    "DeliveryMetrics",
    "FailureReason",
    "LdvDelivery",
    "LdvTarget",
    "TenantOutcome",
    "otlp_request",
]

FailureReason = Literal["unreachable", "timeout", "status", "rejected", "config", "database", "defect"]
TenantOutcome = Literal["delivered", "idle", "started", "busy", "failed", "waiting"]

_log = structlog.get_logger("app.protocol.ldv_delivery")

_CONTENT_TYPE: Final = "application/x-protobuf"
_SCOPE: Final = InstrumentationScope("brp-broker/ldv", LDV_VERSION)
_STATUS: Final = {"Unset": StatusCode.UNSET, "Ok": StatusCode.OK, "Error": StatusCode.ERROR}
_INITIAL_BACKOFF: Final = 1.0
# An OTLP answer is an `ExportTraceServiceResponse`: a count and a message. Anything larger is not one.
_MAX_ANSWER_BYTES: Final = 64 * 1024

# Runtime role, inside the tenant's scope (row-level security shows only its rows).
_LOCK_CURSOR: Final = (
    "SELECT delivered_seq FROM protocol_ldv_delivery WHERE tenant = $1 FOR UPDATE SKIP LOCKED"
)
_CURSOR_EXISTS: Final = "SELECT 1 FROM protocol_ldv_delivery WHERE tenant = $1"
_START_CURSOR: Final = """
INSERT INTO protocol_ldv_delivery (tenant, delivered_seq)
SELECT $1, coalesce((SELECT seq FROM protocol_chain_heads WHERE tenant = $1), 0)
ON CONFLICT (tenant) DO NOTHING
"""
_HEAD: Final = "SELECT seq FROM protocol_chain_heads WHERE tenant = $1"
_PENDING: Final = (
    RECORD_SELECT + "WHERE r.tenant = $1 AND r.seq > $2\nORDER BY r.seq, r.occurred_at\nLIMIT $3\n"
)
_MOVE_CURSOR: Final = (
    "UPDATE protocol_ldv_delivery SET delivered_seq = $2, updated_at = now() WHERE tenant = $1"
)


@dataclass(frozen=True, slots=True)
class LdvTarget:
    """A tenant whose lines go to a Logboek: its slug and its `[ldv]` settings (with an endpoint)."""

    tenant: str
    settings: LdvSettings

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP traces URL of the tenant's Logboek."""
        return self.settings.endpoint or ""


class DeliveryMetrics(Protocol):
    """What the delivery records (`app.telemetry.BrokerMetrics` has these)."""

    def ldv_delivered(self, tenant: str, lines: int) -> None:
        """`lines` LDV lines confirmed by the tenant's Logboek."""

    def ldv_delivery_failed(self, tenant: str, reason: FailureReason) -> None:
        """One batch not delivered, and why."""

    def ldv_lag(self, tenant: str, records: int) -> None:
        """How many of the tenant's records the Logboek has not confirmed yet."""

    def ldv_skipped(self, tenant: str, records: int) -> None:
        """Records retention removed before they were delivered."""


class _Failure(Exception):
    """A batch that was not delivered: why, and how long the Logboek asked us to wait (if it did)."""

    def __init__(self, reason: FailureReason, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    due: float = 0.0


class LdvDelivery:
    """Delivers every target tenant's new protocol records to its Logboek, one batch at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        targets: Callable[[], Iterable[LdvTarget]],
        metrics: DeliveryMetrics,
        *,
        interval: float = 2.0,
        batch: int = 200,
        timeout: float = 10.0,
        max_backoff: float = 300.0,
        initial_backoff: float = _INITIAL_BACKOFF,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._targets = targets
        self._metrics = metrics
        self._interval = interval
        self._batch = batch
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._initial_backoff = min(initial_backoff, max_backoff)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)
        self._clock = clock
        self._backoff: dict[str, _Backoff] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start delivering in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ldv-delivery")

    async def stop(self) -> None:
        """Stop delivering; a batch in flight is abandoned (its cursor does not move: sent again later)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._own_client:
            await self._client.aclose()

    def wake(self) -> None:
        """Run a round now instead of at the end of the interval."""
        self._wake.set()

    async def deliver_once(self) -> dict[str, TenantOutcome]:
        """One round: one batch for every target tenant that is due; what happened per tenant."""
        outcomes: dict[str, TenantOutcome] = {}
        for target in self._targets():
            if not target.endpoint:
                continue
            outcomes[target.tenant] = await self._deliver_guarded(target)
        return outcomes

    async def _run(self) -> None:
        while True:
            try:
                outcomes = await self.deliver_once()
            except Exception as defect:  # a defect in the round itself (e.g. the targets); go on
                _log.error("ldv_delivery_round_failed", error=type(defect).__name__)
                outcomes = {}
            if "delivered" in outcomes.values():
                continue  # someone may be further behind: no pause while catching up
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()

    async def _deliver_guarded(self, target: LdvTarget) -> TenantOutcome:
        backoff = self._backoff.get(target.tenant)
        if backoff is not None and self._clock() < backoff.due:
            return "waiting"
        try:
            outcome = await self._deliver(target)
        except _Failure as failure:
            self._failed(target, failure)
            return "failed"
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            self._failed(target, _Failure("database"), error=type(error).__name__)
            return "failed"
        except Exception as defect:  # never let one tenant's defect stop the others' delivery
            self._failed(target, _Failure("defect"), error=type(defect).__name__)
            return "failed"
        if backoff is not None and backoff.failures:
            _log.info("ldv_delivery_recovered", tenant=target.tenant, host=_host(target.endpoint))
        self._backoff.pop(target.tenant, None)
        return outcome

    async def _deliver(self, target: LdvTarget) -> TenantOutcome:
        """One batch of `target`, under its cursor row's lock (or "busy" when another replica has it)."""
        tenant = target.tenant
        async with tenant_transaction(self._pool, tenant) as connection:
            delivered = await connection.fetchval(_LOCK_CURSOR, tenant)
            if delivered is not None:
                return await self._deliver_batch(connection, target, delivered)
            if await connection.fetchval(_CURSOR_EXISTS, tenant) is not None:
                return "busy"  # another replica delivers this tenant now
            if await connection.execute(_START_CURSOR, tenant) == "INSERT 0 1":
                _log.info("ldv_delivery_started", tenant=tenant, host=_host(target.endpoint))
            return "started"

    async def _deliver_batch(
        self, connection: Connection, target: LdvTarget, delivered: int
    ) -> TenantOutcome:
        """Post the records after `delivered` (at most a batch) and move the cursor once confirmed."""
        tenant = target.tenant
        head = await connection.fetchval(_HEAD, tenant) or 0
        self._metrics.ldv_lag(tenant, max(head - delivered, 0))
        if head <= delivered:
            return "idle"
        rows = await connection.fetch(_PENDING, tenant, delivered, self._batch)
        if not rows:
            await self._skip(connection, tenant, delivered, head)
            return "idle"
        records = [record_from_row(row) for row in rows]
        if records[0].seq > delivered + 1:
            self._skipped(tenant, records[0].seq - delivered - 1)
        try:
            context = LdvContext.for_tenant(target.settings)
        except LdvKeyError as error:
            _log.error("ldv_delivery_misconfigured", tenant=tenant, problem=str(error))
            raise _Failure("config") from None
        # Encryption costs ~0.2 ms a subject: off the event loop, which serves the gateway.
        lines, body = await asyncio.to_thread(_encoded, context, records)
        await self._post(target.endpoint, body)
        last = records[-1].seq
        await connection.execute(_MOVE_CURSOR, tenant, last)
        self._metrics.ldv_delivered(tenant, lines)
        self._metrics.ldv_lag(tenant, max(head - last, 0))
        _log.debug("ldv_delivered", tenant=tenant, records=len(records), lines=lines, through_seq=last)
        return "delivered"

    async def _skip(self, connection: Connection, tenant: str, delivered: int, head: int) -> None:
        """No record after the cursor up to the head: retention removed them. Move to the head."""
        self._skipped(tenant, head - delivered)
        await connection.execute(_MOVE_CURSOR, tenant, head)

    def _skipped(self, tenant: str, count: int) -> None:
        self._metrics.ldv_skipped(tenant, count)
        _log.warning("ldv_records_skipped", tenant=tenant, records=count, reason="retention")

    async def _post(self, endpoint: str, body: bytes) -> None:
        """POST the OTLP `body` to `endpoint`; raise `_Failure` unless the Logboek confirmed every line.

        `timeout` bounds the whole exchange (httpx's bounds each read: a Logboek trickling its
        answer would hold this tenant's cursor lock, and every later tenant's turn, for ever), and
        at most `_MAX_ANSWER_BYTES` of the answer are read.
        """
        try:
            async with asyncio.timeout(self._timeout):
                status, headers, answer = await self._exchange(endpoint, body)
        except (TimeoutError, httpx.TimeoutException):
            raise _Failure("timeout") from None
        except httpx.HTTPError:
            raise _Failure("unreachable") from None
        if not 200 <= status < 300:
            raise _Failure("status", status, _retry_after(headers.get("Retry-After")))
        if answer is None or _rejected(headers.get("Content-Type", ""), answer) > 0:
            raise _Failure("rejected", status)

    async def _exchange(self, endpoint: str, body: bytes) -> tuple[int, httpx.Headers, bytes | None]:
        """(status, headers, answer) of the POST; answer None when it is larger than a Logboek's answer."""
        async with self._client.stream(
            "POST", endpoint, content=body, headers={"Content-Type": _CONTENT_TYPE}, timeout=self._timeout
        ) as response:
            answer = bytearray()
            async for chunk in response.aiter_bytes():
                answer += chunk
                if len(answer) > _MAX_ANSWER_BYTES:
                    return response.status_code, response.headers, None
            return response.status_code, response.headers, bytes(answer)

    def _failed(self, target: LdvTarget, failure: _Failure, *, error: str | None = None) -> None:
        backoff = self._backoff.setdefault(target.tenant, _Backoff())
        backoff.failures += 1
        delay = min(self._max_backoff, self._initial_backoff * 2 ** (backoff.failures - 1))
        if failure.retry_after is not None:
            delay = min(self._max_backoff, max(delay, failure.retry_after))
        backoff.due = self._clock() + delay
        self._metrics.ldv_delivery_failed(target.tenant, failure.reason)
        _log.warning(
            "ldv_delivery_failed",
            tenant=target.tenant,
            host=_host(target.endpoint),
            reason=failure.reason,
            status=failure.status,
            error=error,
            failures=backoff.failures,
            retry_in_seconds=round(delay, 3),
        )


def _encoded(context: LdvContext, records: Sequence[ChainedRecord]) -> tuple[int, bytes]:
    """The LDV lines of `records` as one OTLP request: (how many lines, the request's bytes)."""
    lines = [line for record in records for line in context.lines(record)]
    return len(lines), otlp_request(lines)


def otlp_request(lines: Sequence[LdvRecord]) -> bytes:
    """`lines` as a serialised OTLP `ExportTraceServiceRequest` (one span per line)."""
    resources: dict[tuple[tuple[str, str], ...], Resource] = {}
    spans = []
    for line in lines:
        key = tuple(sorted(line.resource.attributes.items()))
        resource = resources.get(key)
        if resource is None:
            resource = resources[key] = Resource(dict(key))
        spans.append(_span(line, resource))
    message = encode_spans(spans).SerializeToString()
    return bytes(message)


def _span(line: LdvRecord, resource: Resource) -> ReadableSpan:
    trace_id = int(line.trace_id, 16)
    parent = None
    # The request's own line: its parent (if any) is the caller's span, in another application.
    remote = FOREIGN_PROCESSOR in line.attributes
    if line.parent_span_id is not None:
        parent = SpanContext(trace_id, int(line.parent_span_id, 16), is_remote=remote)
    child = line.parent_span_id is not None and not remote
    return ReadableSpan(
        name=line.name,
        context=SpanContext(trace_id, int(line.span_id, 16), is_remote=False, trace_flags=TraceFlags(1)),
        parent=parent,
        resource=resource,
        attributes=dict(line.attributes),
        kind=SpanKind.INTERNAL if child else SpanKind.SERVER,
        status=Status(_STATUS[line.status]),
        start_time=line.start_time * 1_000_000,
        end_time=line.end_time * 1_000_000,
        instrumentation_scope=_SCOPE,
    )


def _rejected(content_type: str, content: bytes) -> int:
    """The spans an OTLP answer says it rejected (partial success); 0 when it says nothing."""
    if not content_type.startswith(_CONTENT_TYPE) or not content:
        return 0
    answer = ExportTraceServiceResponse()
    try:
        answer.ParseFromString(content)
    except Exception:  # protobuf's DecodeError (an untyped module): an answer we cannot read
        return 0
    return int(answer.partial_success.rejected_spans)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    seconds = value.strip()
    # isdigit() alone also takes digits such as "²", which float() refuses.
    if seconds.isascii() and seconds.isdigit():
        return float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _host(endpoint: str) -> str:
    """The endpoint's host only: its user info, path and query may hold credentials."""
    try:
        return urlsplit(endpoint).hostname or "-"
    except ValueError:
        return "-"
