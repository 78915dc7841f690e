"""Trace export configured the OpenTelemetry way: from the standard `OTEL_*` environment variables.

Tracing is on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or
`OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended) is set, unless `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none`. Spans go over OTLP/HTTP with protobuf (the only protocol shipped);
the exporter reads its headers, timeout, compression and certificates from the standard variables
itself, and the batch processor its `OTEL_BSP_*` limits. `OTEL_SERVICE_NAME` names the service
(default `brp-broker`); `OTEL_RESOURCE_ATTRIBUTES` adds to the resource.

Sampling is always parent-based (a caller's `traceparent` decides for its own trace):
`OTEL_TRACES_SAMPLER` is `parentbased_always_on` (default), `parentbased_traceidratio` (with
`OTEL_TRACES_SAMPLER_ARG`, 0..1) or `parentbased_always_off`.

A value the broker cannot honour (gRPC, another exporter or sampler, a ratio outside 0..1, an
endpoint that is no http(s) URL) is a `TracingConfigError` naming the variable, never silently
ignored. No value is repeated in it: an endpoint may carry credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import msgspec

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["OtlpExport", "TracingConfigError", "otlp_export_from_environment"]

_DEFAULT_SERVICE_NAME: Final = "brp-broker"
_PROTOCOL: Final = "http/protobuf"
_SAMPLERS: Final = ("parentbased_always_on", "parentbased_traceidratio", "parentbased_always_off")


class TracingConfigError(ValueError):
    """An `OTEL_*` variable the broker cannot honour; `str()` is one line naming it."""


class OtlpExport(msgspec.Struct, frozen=True, kw_only=True):
    """Where and how the broker exports its spans (plain data: it crosses to worker processes)."""

    endpoint: str
    service_name: str = _DEFAULT_SERVICE_NAME
    sample_ratio: float = 1.0

    def exporter(self) -> SpanExporter:
        """A new OTLP/HTTP (protobuf) span exporter to `endpoint`."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=self.endpoint)


def otlp_export_from_environment(environ: Mapping[str, str]) -> OtlpExport | None:
    """The trace export the `OTEL_*` variables ask for; `None` when tracing is off."""
    if _value(environ, "OTEL_SDK_DISABLED").lower() == "true":
        return None
    exporter = _value(environ, "OTEL_TRACES_EXPORTER").lower() or "otlp"
    if exporter == "none":
        return None
    endpoint = _endpoint(environ)
    if endpoint is None:
        return None
    if exporter != "otlp":
        raise TracingConfigError(f"OTEL_TRACES_EXPORTER: only otlp (or none) is supported, not {exporter!r}")
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = _value(environ, variable)
        if protocol:
            if protocol != _PROTOCOL:
                raise TracingConfigError(f"{variable}: only {_PROTOCOL} is supported, not {protocol!r}")
            break
    return OtlpExport(
        endpoint=endpoint,
        service_name=_value(environ, "OTEL_SERVICE_NAME") or _DEFAULT_SERVICE_NAME,
        sample_ratio=_sample_ratio(environ),
    )


def _value(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip()


def _endpoint(environ: Mapping[str, str]) -> str | None:
    traces = _value(environ, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    base = _value(environ, "OTEL_EXPORTER_OTLP_ENDPOINT")
    if traces:
        variable, endpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces
    elif base:
        variable, endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT", f"{base.removesuffix('/')}/v1/traces"
    else:
        return None
    if not endpoint.startswith(("http://", "https://")):
        raise TracingConfigError(f"{variable}: must be an http:// or https:// URL (value hidden)")
    return endpoint


def _sample_ratio(environ: Mapping[str, str]) -> float:
    sampler = _value(environ, "OTEL_TRACES_SAMPLER").lower() or _SAMPLERS[0]
    if sampler not in _SAMPLERS:
        raise TracingConfigError(
            f"OTEL_TRACES_SAMPLER: must be one of {', '.join(_SAMPLERS)}, not {sampler!r}"
        )
    if sampler == "parentbased_always_off":
        return 0.0
    argument = _value(environ, "OTEL_TRACES_SAMPLER_ARG")
    if sampler == "parentbased_always_on" or not argument:
        return 1.0
    try:
        ratio = float(argument)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise TracingConfigError(f"OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1 (got {argument!r})")
    return ratio
