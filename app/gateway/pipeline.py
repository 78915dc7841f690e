"""The data path for one BRP request: run the seams in order, protocol the outcome, respond.

Order (RvIG's own where it has one): authenticate (401, then 400 for bad `x-*` headers) →
method (405) → Accept (406) → Content-Type (415) → body (400) → afnemer (400/403) →
doelbinding (403) → limits (429) → forward → protocol → respond.

Every request that reached the pipeline leaves exactly one protocol record, whatever happens:
granted; refused (the problem's status and code); a defect in any seam (500 `serverError`, the
leak-free problem `app.errors` answers, the defect logged by its type only); cancelled before it
was answered, because the client went away or the server stops (499 `requestCancelled`, nginx's
"client closed request"; the cancellation goes on). When the record cannot be committed, for
whatever reason, the client gets 503 `protocolUnavailable` and no person data. A record is never
tried twice, so a protocoller that fails after its commit still leaves only that one.

Every record carries the request's W3C Trace Context ids for Logboek Dataverwerkingen, taken
once when the request arrives (`processing_ids`: the broker's span, the caller's trace and span
from a valid `traceparent`), and, once the tenant is known, the processing activity its `[ldv]`
maps the request's verwerking or doelbinding to, and the calling organisation (`[ldv] caller`)
when the caller sent its trace context.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from litestar import Request, Response

from app.brp import (
    Api,
    PersonenQuery,
    ProblemError,
    Query,
    check_media_types,
    parse_query,
    search_parameters,
)
from app.brp.problems import method_not_allowed, request_too_large
from app.correlation import correlation_id_of
from app.errors import unexpected_error
from app.gateway.seams import AccessResolver, Authenticator, Limiter, Protocoller, UpstreamForwarder
from app.identity.authenticator import AuthenticatedCaller
from app.protocol import NO_TENANT, ProtocolRecord, protocol_unavailable
from app.telemetry import BrokerMetrics, ProcessingIds, processing_ids
from app.tenancy import Access
from app.upstream import UpstreamAnswer

__all__ = ["GatewayPipeline"]

# The record of a request cancelled before it was answered: no client is left to get a status.
_CANCELLED = (499, "requestCancelled")


class _Trail(msgspec.Struct):
    """What is known about the request so far, for its protocol record."""

    api: Api
    occurred_at: dt.datetime
    started: float
    ids: ProcessingIds
    caller: AuthenticatedCaller | None = None
    access: Access | None = None
    query: Query | None = None
    requested_fields: tuple[str, ...] = ()
    limit_headers: dict[str, str] = msgspec.field(default_factory=dict)
    # Logboek Dataverwerkingen, from the tenant's `[ldv]` once the caller is known.
    processing_activity: str | None = None
    foreign_processor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayPipeline:
    """Runs the request flow; one instance per app, built in the lifespan from its seams."""

    authenticator: Authenticator
    resolver: AccessResolver
    limiter: Limiter
    forwarder: UpstreamForwarder
    protocoller: Protocoller
    metrics: BrokerMetrics
    max_body_bytes: int

    async def handle(self, api: Api, request: Request[Any, Any, Any]) -> Response[bytes]:
        """Answer one gateway request, or raise the `ProblemError` the client gets."""
        trail = _Trail(
            api=api,
            occurred_at=dt.datetime.now(dt.UTC),
            started=time.perf_counter(),
            # Once, here: the request's one record always carries the same ids, wherever it is made.
            ids=processing_ids(request.headers.get("traceparent")),
        )
        # Until the caller is known, its log lines carry the protocol's "no tenant" mark.
        structlog.contextvars.bind_contextvars(tenant=NO_TENANT)
        try:
            answer = await self._run(api, request, trail)
        except ProblemError as error:
            # Limit headers belong on every answer after the limiter, refusals included.
            error.headers = {**trail.limit_headers, **error.headers}
            await self._protocol(request, trail, error.status, error.problem.code)
            raise
        except Exception as defect:
            internal = unexpected_error(defect, request.url.path)
            await self._protocol(request, trail, internal.status, internal.problem.code)
            raise internal from defect
        except asyncio.CancelledError:
            # Shielded, so that a second cancellation cannot stop the record either.
            await asyncio.shield(self._protocol_cancelled(request, trail))
            raise
        await self._protocol(request, trail, answer.status, answer.problem_code, answer)
        return Response(
            answer.body, status_code=answer.status, media_type=answer.media_type, headers=trail.limit_headers
        )

    async def _run(self, api: Api, request: Request[Any, Any, Any], trail: _Trail) -> UpstreamAnswer:
        trail.caller = caller = await self.authenticator.identify(request)
        # Every later log line of this request names its tenant (never the employee or a BSN).
        structlog.contextvars.bind_contextvars(tenant=caller.principal.tenant)
        self._processing_context(caller, trail)
        if request.method != "POST":
            raise method_not_allowed()
        check_media_types(request.headers.get("content-type"), request.headers.get("accept"))
        query = parse_query(api, await self._body(request))
        trail.query = query
        if isinstance(query, PersonenQuery):
            trail.requested_fields = query.fields
        principal = caller.principal
        trail.access = access = self.resolver.resolve(principal, caller.headers.afnemer_id, request.headers)
        trail.query = query = access.policy.authorise(query)
        trail.limit_headers = await self.limiter.check(principal, access)
        sent = query  # what RvIG answers; geheimhouding is judged on it
        return await self.forwarder.forward(
            access.account,
            sent,
            request.url.path,
            shape=lambda data: access.policy.withhold_secret_persons(sent, data),
        )

    def _processing_context(self, caller: AuthenticatedCaller, trail: _Trail) -> None:
        """The processing activity and the calling organisation of the tenant's `[ldv]`."""
        ldv = self.resolver.ldv_settings(caller.principal.tenant)
        trail.processing_activity = ldv.processing_activity_for(
            caller.headers.verwerking, caller.headers.doelbinding
        )
        # The calling organisation is the processor of a foreign operation only if there is one.
        trail.foreign_processor = ldv.caller if trail.ids.parent_span_id is not None else None

    async def _body(self, request: Request[Any, Any, Any]) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            raise request_too_large(self.max_body_bytes)
        body = await request.body()
        if len(body) > self.max_body_bytes:
            raise request_too_large(self.max_body_bytes)
        return body

    async def _protocol(
        self,
        request: Request[Any, Any, Any],
        trail: _Trail,
        status: int,
        problem_code: str | None,
        answer: UpstreamAnswer | None = None,
    ) -> None:
        """Commit the request's one record, or raise 503 `protocolUnavailable` (nothing delivered)."""
        caller, access, query = trail.caller, trail.access, trail.query
        principal = caller.principal if caller else None
        stated = caller.headers if caller else None
        account = access.account if access else None
        try:
            record = ProtocolRecord(
                tenant=principal.tenant if principal else "",
                member_organisation=access.member_organisation if access else None,
                occurred_at=trail.occurred_at,
                correlation_id=correlation_id_of(request.scope),
                trace_id=trail.ids.trace_id,
                span_id=trail.ids.span_id,
                parent_span_id=trail.ids.parent_span_id,
                processing_activity=trail.processing_activity,
                foreign_processor=trail.foreign_processor,
                api=trail.api.value,
                status=status,
                latency_ms=round((time.perf_counter() - trail.started) * 1000, 3),
                subject=principal.subject if principal else None,
                employee=stated.gebruiker if stated else None,
                client_application=principal.client if principal else None,
                afnemer_id=account.afnemer_id if account else None,
                environment=account.environment if account else None,
                doelbinding=stated.doelbinding if stated else None,
                verwerking=stated.verwerking if stated else None,
                origin_oin=stated.origin_oin if stated else None,
                query_type=type(query).__name__ if query is not None else None,
                search_parameters=search_parameters(query) if query is not None else {},
                requested_fields=trail.requested_fields,
                sent_fields=answer.sent_fields if answer else (),
                problem_code=problem_code,
                persons=answer.persons if answer else (),
            )
            await self.protocoller.record(record)
        except ProblemError as failure:
            self._finished(trail, failure.status, failure.problem.code)
            raise
        except Exception as defect:
            # Whether the record was committed is unknown, so nothing may be delivered; and it is
            # never tried again, which could leave two records of one request.
            unexpected_error(defect, request.url.path)  # logs the defect's type; its 500 is not sent
            unavailable = protocol_unavailable()
            self._finished(trail, unavailable.status, unavailable.problem.code)
            raise unavailable from defect
        self._finished(trail, status, problem_code)

    async def _protocol_cancelled(self, request: Request[Any, Any, Any], trail: _Trail) -> None:
        with contextlib.suppress(ProblemError):  # no client is left to tell of a 503; it is logged
            await self._protocol(request, trail, *_CANCELLED)

    def _finished(self, trail: _Trail, status: int, problem_code: str | None) -> None:
        self.metrics.request_finished(
            tenant=trail.caller.principal.tenant if trail.caller else "",
            api=trail.api.value,
            query_type=type(trail.query).__name__ if trail.query is not None else None,
            status=status,
            problem_code=problem_code,
            seconds=time.perf_counter() - trail.started,
        )
