"""A minimal OTLP/HTTP trace receiver: what a collector at `OTEL_EXPORTER_OTLP_ENDPOINT` receives.

It accepts `POST /v1/traces` (protobuf, optionally gzip), decodes it with `opentelemetry-proto`
and keeps the raw bodies too, so a test can search everything that left the broker. A test can
make it answer with another status (`answer_status`, e.g. 503 for a Logboek that refuses), and
wait until it holds a number of spans (`wait_for_spans`) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.servers import free_port

__all__ = ["OtlpReceiver", "ReceivedSpan"]

_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, with its ids in hex and its attributes as plain values."""

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    error: bool
    # OTLP's status code (0 unset, 1 ok, 2 error) and times in nanoseconds since the Epoch.
    status_code: int = 0
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0


@dataclass
class OtlpReceiver:
    """`async with OtlpReceiver() as receiver:` listens on a free port until the block ends."""

    port: int = field(default_factory=free_port)
    bodies: list[bytes] = field(default_factory=list)
    spans: list[ReceivedSpan] = field(default_factory=list)
    # The HTTP status it answers with; spans of a non-2xx answer are not kept (not "written").
    answer_status: int = 200
    refused: int = 0
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def endpoint(self) -> str:
        """The value for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def traces_url(self) -> str:
        """The full OTLP/HTTP traces URL (what a tenant's `[ldv] endpoint` names)."""
        return f"{self.endpoint}/v1/traces"

    def named(self, name: str) -> list[ReceivedSpan]:
        """The spans called `name`."""
        return [span for span in self.spans if span.name == name]

    async def wait_for_spans(self, count: int, timeout: float = 15.0) -> list[ReceivedSpan]:
        """The spans, once at least `count` have arrived (or `TimeoutError` after `timeout` s)."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.spans) >= count), timeout)
        return self.spans

    async def __aenter__(self) -> OtlpReceiver:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert request.content_type == "application/x-protobuf"
        if not 200 <= self.answer_status < 300:
            self.refused += 1
            return web.Response(status=self.answer_status)
        self.bodies.append(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        for resource_spans in message.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(_span(span, resource) for span in scope_spans.spans)
        async with self._arrived:
            self._arrived.notify_all()
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )


def _span(span: Any, resource: dict[str, Any]) -> ReceivedSpan:
    return ReceivedSpan(
        name=span.name,
        kind=_KINDS.get(span.kind, str(span.kind)),
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes=_attributes(span.attributes),
        resource=resource,
        error=span.status.code == 2,
        status_code=span.status.code,
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=span.end_time_unix_nano,
    )


def _attributes(pairs: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        value = getattr(pair.value, kind) if kind else None
        if kind == "array_value":
            value = [getattr(item, item.WhichOneof("value")) for item in value.values]
        values[pair.key] = value
    return values
