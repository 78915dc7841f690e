"""Prometheus metrics: `BrokerMetrics`, the typed facade the data path records through, and
`MetricsController`, which serves `GET /metrics` in the text exposition format.

Each `BrokerMetrics` owns its own `CollectorRegistry` (the lifespan creates one per app), so two
apps in one process never share a counter, and nothing is registered in prometheus-client's
global registry.

Worker processes (`brp-broker serve --workers N`): `serve` gives them a shared folder in
`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multi-process mode, chosen when it is imported),
so every worker's values land there and `/metrics`, whichever worker answers the scrape, sums the
counters and histograms of all of them; a gauge reports the most recent value written (reachability,
certificate expiry) or the highest (rate-limit fallback). Process, platform and GC metrics describe one
process and are left out in that mode.

Labels are tenant slug, API, query type, status, problem code, environment, AfnemerID and OIN
identity name — every value passes `clean_label` (see `labels.py`), so a BSN, name, address, token
or employee id can never become a label value. The facade must never take free text or person data; a method
that needs a new label adds a `LabelKind` with a narrow shape first.

Hot path: a label combination is checked and bound to its prometheus children once, then looked
up in a dict; the dict is capped (`max_series`), so a caller passing an unbounded value by mistake
costs at most that many series before everything new is recorded as `overflow`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final, Generic, Literal, TypeVar

from litestar import Controller, Request, Response, get
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

from app.telemetry.labels import INVALID, LabelKind, clean_label

__all__ = [
    "LATENCY_BUCKETS",
    "MULTIPROCESS_DIR",
    "STATE_KEY",
    "BrokerMetrics",
    "KeyKind",
    "MetricsController",
    "TokenOutcome",
    "TransportFailure",
]

MULTIPROCESS_DIR: Final = "PROMETHEUS_MULTIPROC_DIR"
"""The variable naming the folder worker processes share their metrics through."""

STATE_KEY: Final = "metrics"
"""`app.state[STATE_KEY]` holds the app's `BrokerMetrics`; the lifespan sets it."""

KeyKind = Literal["tenant", "afnemer", "employee"]
"""The rate-limit key that refused a request."""

TokenOutcome = Literal["obtained", "failed", "backoff"]
"""A token request succeeded, failed, or was not made because the key is backing off."""

TransportFailure = Literal["timeout", "unreachable"]
"""An upstream call that got no HTTP response."""

_NAMESPACE: Final = "brp_broker"
_OVERFLOW: Final = "overflow"
_DEFAULT_MAX_SERIES: Final = 5_000

# Seconds. A refused request is answered in well under 5 ms, RvIG usually in 0.1-2 s, and the
# upstream timeout cuts off at tens of seconds; the buckets cover all three.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A protocol group commit is one or a few round trips to the database.
_COMMIT_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Records per group commit; the writer's max_batch defaults to 1000.
_BATCH_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")
_M = TypeVar("_M", Counter, Histogram, Gauge)


class _Family(Generic[_M]):
    """A labelled metric and the kinds of its labels, in order."""

    __slots__ = ("kinds", "metric")

    def __init__(self, metric: _M, kinds: tuple[LabelKind, ...]) -> None:
        self.metric: _M = metric
        self.kinds = kinds


class _Bound(Generic[_K, _V]):
    """Label combinations checked and bound once, then found by their raw values in a dict."""

    __slots__ = ("_bind", "_cache", "_max_series")

    def __init__(self, bind: Callable[[_K, bool], _V], max_series: int) -> None:
        self._bind = bind
        self._cache: dict[_K, _V] = {}
        self._max_series = max_series

    def __call__(self, key: _K) -> _V:
        bound = self._cache.get(key)
        if bound is None:
            overflow = len(self._cache) >= self._max_series
            bound = self._bind(key, overflow)
            if not overflow:
                self._cache[key] = bound
        return bound


_RequestKey = tuple[str, str, str | None, int, str | None]
_UpstreamKey = tuple[str, str | None, str, int | str]
_TokenKey = tuple[str, str | None, str]
_LimitKey = tuple[str, str]


class BrokerMetrics:
    """The broker's metrics on one registry; the only way the data path records a metric."""

    __slots__ = (
        "_anonymous",
        "_certificate_expiry",
        "_commit_seconds",
        "_degraded",
        "_ldv_delivered",
        "_ldv_failed",
        "_ldv_lag",
        "_ldv_skipped",
        "_limited",
        "_max_series",
        "_reachable",
        "_refused",
        "_requests",
        "_shared",
        "_signed_head",
        "_signed_heads_unverifiable",
        "_signing_failures",
        "_token_requests",
        "_upstream",
        "registry",
    )

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        process_collectors: bool = True,
        max_series: int = _DEFAULT_MAX_SERIES,
    ) -> None:
        """Create every metric on `registry` (a new, private one when not given).

        `process_collectors` adds the process, platform and GC metrics (memory, CPU, file
        descriptors) that prometheus-client would otherwise put only on its global registry.
        `max_series` caps the label combinations bound per method (see the module docstring).
        """
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._max_series = max_series
        self._shared = shared_between_processes()
        self._refused = _counter(self.registry, "metric_label_refused", _REFUSED_HELP, ("label", "reason"))
        self._create_request_metrics()
        self._create_upstream_metrics()
        self._create_upstream_state_metrics()
        self._create_token_metrics()
        self._create_protocol_metrics()
        self._create_signing_metrics()
        self._create_ratelimit_metrics()
        self._create_ldv_metrics()
        if process_collectors and not self._shared:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    # -- what the data path calls ---------------------------------------------------------------

    def request_finished(
        self,
        *,
        tenant: str,
        api: str,
        query_type: str | None,
        status: int,
        problem_code: str | None,
        seconds: float,
    ) -> None:
        """One gateway request answered (granted or refused), `seconds` after it arrived."""
        count, duration = self._requests((tenant, api, query_type, status, problem_code))
        count.inc()
        duration.observe(seconds)

    def upstream_call(
        self,
        *,
        environment: str,
        afnemer_id: str | None,
        api: str,
        status: int | TransportFailure,
        seconds: float,
    ) -> None:
        """One HTTP call to RvIG answered with `status` (or failed without an answer)."""
        count, duration = self._upstream((environment, afnemer_id, api, status))
        count.inc()
        duration.observe(seconds)

    def token_request(self, environment: str, afnemer_id: str | None, outcome: TokenOutcome) -> None:
        """One token need of an afnemer: a token obtained, a failed request, or a backoff refusal."""
        self._token_requests((environment, afnemer_id, outcome)).inc()

    def protocol_batch(self, size: int, seconds: float, ok: bool) -> None:
        """One protocol group commit of `size` records, committed (`ok`) or failed."""
        records, duration = self._commit_seconds[ok]
        records.observe(size)
        duration.observe(seconds)

    def protocol_anonymous(self, requests: int, records: int, ok: bool) -> None:
        """One commit of the anonymous lane: `requests` without a tenant in `records` records, `ok` or not."""
        counted, stored = self._anonymous[ok]
        counted.inc(requests)
        stored.inc(records)

    def protocol_head_signed(self, tenant: str | None, seq: int) -> None:
        """`tenant`'s chain head was signed at `seq` (None: the chain of requests without a tenant)."""
        self._signed_head((tenant,)).set(seq)

    def protocol_signing_failed(self) -> None:
        """One round of the head signer (or of its anchor file) failed."""
        self._signing_failures.inc()

    def protocol_signed_head_unverifiable(self) -> None:
        """The head signer found a stored signed head its own key does not vouch for (forged?)."""
        self._signed_heads_unverifiable.inc()

    def ratelimit_degraded(self, degraded: bool) -> None:
        """Whether the rate limiter runs on its in-process fallback (Redis unreachable)."""
        self._degraded.set(1 if degraded else 0)

    def ratelimited(self, tenant: str, key_kind: KeyKind) -> None:
        """One request refused (429) by the limit on `key_kind`."""
        self._limited((tenant, key_kind)).inc()

    def ldv_delivered(self, tenant: str, lines: int) -> None:
        """`lines` Logboek Dataverwerkingen lines of `tenant` confirmed by its Logboek."""
        self._ldv_delivered((tenant,)).inc(lines)

    def ldv_delivery_failed(self, tenant: str, reason: str) -> None:
        """One batch of `tenant`'s LDV lines not delivered, and why (a closed vocabulary)."""
        self._ldv_failed((tenant, reason)).inc()

    def ldv_lag(self, tenant: str, records: int) -> None:
        """How many of `tenant`'s protocol records its Logboek has not confirmed yet."""
        self._ldv_lag((tenant,)).set(records)

    def ldv_skipped(self, tenant: str, records: int) -> None:
        """`records` of `tenant` that retention removed before they reached its Logboek."""
        self._ldv_skipped((tenant,)).inc(records)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format: of every worker process when they share a folder."""
        if not self._shared:
            return generate_latest(self.registry)
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)  # type: ignore[no-untyped-call]
        return generate_latest(workers)

    # -- what /health/ready reports ---------------------------------------------------------------

    def upstream_reachable(self, environment: str, identity: str, reachable: bool) -> None:
        """Whether the last probe reached RvIG's `environment` over `identity`'s mTLS client."""
        self._reachable((environment, identity)).set(1 if reachable else 0)

    def certificate_expiry(self, identity: str, not_after: float) -> None:
        """When `identity`'s certificate expires (Unix seconds)."""
        self._certificate_expiry((identity,)).set(not_after)

    # -- construction -----------------------------------------------------------------------------

    def _create_request_metrics(self) -> None:
        count = _Family(
            _counter(
                self.registry,
                "requests",
                "Gateway requests answered, granted or refused.",
                _names(_REQUEST_KINDS),
            ),
            _REQUEST_KINDS,
        )
        kinds = (LabelKind.TENANT, LabelKind.API, LabelKind.STATUS_CLASS)
        duration = _Family(
            _histogram(
                self.registry,
                "request_duration_seconds",
                "Time from a gateway request's arrival to its answer (protocol included).",
                _names(kinds),
                LATENCY_BUCKETS,
            ),
            kinds,
        )

        def bind(key: _RequestKey, overflow: bool) -> tuple[Counter, Histogram]:
            tenant, api, _query_type, status, _problem_code = key
            status_class = f"{status // 100}xx" if isinstance(status, int) else None
            return (
                self._child(count, key, overflow),
                self._child(duration, (tenant, api, status_class), overflow),
            )

        self._requests: _Bound[_RequestKey, tuple[Counter, Histogram]] = _Bound(bind, self._max_series)

    def _create_upstream_metrics(self) -> None:
        count = _Family(
            _counter(
                self.registry, "upstream_requests", "HTTP calls to RvIG by outcome.", _names(_UPSTREAM_KINDS)
            ),
            _UPSTREAM_KINDS,
        )
        kinds = (LabelKind.ENVIRONMENT, LabelKind.API)
        duration = _Family(
            _histogram(
                self.registry,
                "upstream_duration_seconds",
                "Duration of one HTTP call to RvIG.",
                _names(kinds),
                LATENCY_BUCKETS,
            ),
            kinds,
        )

        def bind(key: _UpstreamKey, overflow: bool) -> tuple[Counter, Histogram]:
            environment, _afnemer_id, api, _status = key
            return self._child(count, key, overflow), self._child(duration, (environment, api), overflow)

        self._upstream: _Bound[_UpstreamKey, tuple[Counter, Histogram]] = _Bound(bind, self._max_series)

    def _create_upstream_state_metrics(self) -> None:
        kinds = (LabelKind.ENVIRONMENT, LabelKind.IDENTITY)
        reachable = _Family(
            Gauge(
                "upstream_reachable",
                "1 when the last readiness probe reached the RvIG environment over the identity, else 0.",
                _names(kinds),
                namespace=_NAMESPACE,
                registry=self.registry,
                multiprocess_mode="mostrecent",
            ),
            kinds,
        )
        self._reachable: _Bound[tuple[str, str], Gauge] = _Bound(
            lambda key, overflow: self._child(reachable, key, overflow), self._max_series
        )
        expiry = _Family(
            Gauge(
                "certificate_expiry_timestamp_seconds",
                "When the OIN identity's certificate expires (Unix time).",
                _names((LabelKind.IDENTITY,)),
                namespace=_NAMESPACE,
                registry=self.registry,
                multiprocess_mode="mostrecent",
            ),
            (LabelKind.IDENTITY,),
        )
        self._certificate_expiry: _Bound[tuple[str], Gauge] = _Bound(
            lambda key, overflow: self._child(expiry, key, overflow), self._max_series
        )

    def _create_token_metrics(self) -> None:
        kinds = (LabelKind.ENVIRONMENT, LabelKind.AFNEMER_ID, LabelKind.OUTCOME)
        tokens = _Family(
            _counter(
                self.registry,
                "token_requests",
                "Token needs per afnemer: obtained, failed, or refused while backing off.",
                _names(kinds),
            ),
            kinds,
        )
        self._token_requests: _Bound[_TokenKey, Counter] = _Bound(
            lambda key, overflow: self._child(tokens, key, overflow), self._max_series
        )

    def _create_protocol_metrics(self) -> None:
        outcome = _names((LabelKind.OUTCOME,))
        records = _histogram(
            self.registry,
            "protocol_batch_records",
            "Protocol records per group commit, by outcome.",
            outcome,
            _BATCH_BUCKETS,
        )
        duration = _histogram(
            self.registry,
            "protocol_commit_seconds",
            "Duration of one protocol group commit, by outcome.",
            outcome,
            _COMMIT_BUCKETS,
        )
        # Two outcomes only: bound once, here.
        self._commit_seconds = {
            True: (records.labels("ok"), duration.labels("ok")),
            False: (records.labels("failed"), duration.labels("failed")),
        }
        anonymous_requests = _counter(
            self.registry,
            "protocol_anonymous_requests",
            "Requests refused before a tenant was known, accounted for by the protocol, by outcome.",
            outcome,
        )
        anonymous_records = _counter(
            self.registry,
            "protocol_anonymous_records",
            "Aggregate protocol records of requests without a tenant, by outcome.",
            outcome,
        )
        self._anonymous = {
            ok: (anonymous_requests.labels(label), anonymous_records.labels(label))
            for ok, label in ((True, "ok"), (False, "failed"))
        }

    def _create_signing_metrics(self) -> None:
        # Published where the database administrator cannot change it (app/protocol/signed_heads.py).
        signed = _Family(
            Gauge(
                "protocol_signed_head_seq",
                "The sequence number of the newest signed head of the tenant's protocol chain.",
                _names((LabelKind.TENANT,)),
                namespace=_NAMESPACE,
                registry=self.registry,
                multiprocess_mode="max",  # heads only move forward; any worker may have signed
            ),
            (LabelKind.TENANT,),
        )
        self._signed_head: _Bound[tuple[str | None], Gauge] = _Bound(
            lambda key, overflow: self._child(signed, key, overflow), self._max_series
        )
        self._signing_failures = _counter(
            self.registry,
            "protocol_signing_failures",
            "Rounds of the protocol head signer (or appends to its anchor file) that failed.",
            (),
        )
        self._signed_heads_unverifiable = _counter(
            self.registry,
            "protocol_signed_heads_unverifiable",
            "Stored signed chain heads the signer's own key does not vouch for (forged, or an old key's).",
            (),
        )

    def _create_ratelimit_metrics(self) -> None:
        self._degraded = Gauge(
            "ratelimit_degraded",
            "1 while the rate limiter runs on its in-process fallback, else 0.",
            namespace=_NAMESPACE,
            registry=self.registry,
            multiprocess_mode="max",  # 1 while any worker is on its fallback
        )
        kinds = (LabelKind.TENANT, LabelKind.KEY_KIND)
        limited = _Family(
            _counter(
                self.registry,
                "ratelimited_requests",
                "Requests refused with 429 by the broker's own limits.",
                _names(kinds),
            ),
            kinds,
        )
        self._limited: _Bound[_LimitKey, Counter] = _Bound(
            lambda key, overflow: self._child(limited, key, overflow), self._max_series
        )

    def _create_ldv_metrics(self) -> None:
        tenant = (LabelKind.TENANT,)
        delivered = _Family(
            _counter(
                self.registry,
                "ldv_delivered_lines",
                "Logboek Dataverwerkingen lines confirmed by the tenant's Logboek.",
                _names(tenant),
            ),
            tenant,
        )
        self._ldv_delivered: _Bound[tuple[str], Counter] = _Bound(
            lambda key, overflow: self._child(delivered, key, overflow), self._max_series
        )
        kinds = (LabelKind.TENANT, LabelKind.OUTCOME)
        failed = _Family(
            _counter(
                self.registry,
                "ldv_delivery_failures",
                "Batches of LDV lines not delivered to the tenant's Logboek, by reason.",
                _names(kinds),
            ),
            kinds,
        )
        self._ldv_failed: _Bound[tuple[str, str], Counter] = _Bound(
            lambda key, overflow: self._child(failed, key, overflow), self._max_series
        )
        lag = _Family(
            Gauge(
                "ldv_delivery_lag_records",
                "Protocol records of the tenant its Logboek has not confirmed yet.",
                _names(tenant),
                namespace=_NAMESPACE,
                registry=self.registry,
                multiprocess_mode="mostrecent",
            ),
            tenant,
        )
        self._ldv_lag: _Bound[tuple[str], Gauge] = _Bound(
            lambda key, overflow: self._child(lag, key, overflow), self._max_series
        )
        skipped = _Family(
            _counter(
                self.registry,
                "ldv_skipped_records",
                "Protocol records retention removed before they reached the tenant's Logboek.",
                _names(tenant),
            ),
            tenant,
        )
        self._ldv_skipped: _Bound[tuple[str], Counter] = _Bound(
            lambda key, overflow: self._child(skipped, key, overflow), self._max_series
        )

    def _child(self, family: _Family[_M], raw: Sequence[str | int | None], overflow: bool) -> _M:
        """`family`'s child for the checked values of `raw` (in `family`'s label order)."""
        if overflow:
            self._refused.labels("*", "overflow").inc()
            overflowed: _M = family.metric.labels(*(_OVERFLOW for _ in family.kinds))
            return overflowed
        values = []
        for kind, value in zip(family.kinds, raw, strict=True):
            clean = clean_label(kind, value)
            if clean == INVALID and value != INVALID:
                self._refused.labels(kind.value, "shape").inc()
            values.append(clean)
        child: _M = family.metric.labels(*values)
        return child


_REFUSED_HELP: Final = "Label values refused (not the shape of their kind) or beyond the series cap."
_REQUEST_KINDS: Final = (
    LabelKind.TENANT,
    LabelKind.API,
    LabelKind.QUERY_TYPE,
    LabelKind.STATUS,
    LabelKind.PROBLEM_CODE,
)
_UPSTREAM_KINDS: Final = (LabelKind.ENVIRONMENT, LabelKind.AFNEMER_ID, LabelKind.API, LabelKind.STATUS)


def shared_between_processes() -> bool:
    """Whether prometheus-client runs in multi-process mode (`PROMETHEUS_MULTIPROC_DIR` is set)."""
    return any(name in os.environ for name in (MULTIPROCESS_DIR, MULTIPROCESS_DIR.lower()))


def _names(kinds: tuple[LabelKind, ...]) -> tuple[str, ...]:
    return tuple(kind.value for kind in kinds)


def _counter(registry: CollectorRegistry, name: str, documentation: str, labels: tuple[str, ...]) -> Counter:
    return Counter(name, documentation, labels, namespace=_NAMESPACE, registry=registry)


def _histogram(
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    labels: tuple[str, ...],
    buckets: tuple[float, ...],
) -> Histogram:
    return Histogram(name, documentation, labels, namespace=_NAMESPACE, registry=registry, buckets=buckets)


class MetricsController(Controller):
    """`GET /metrics`: the app's registry in Prometheus' text exposition format."""

    path = "/metrics"

    @get(sync_to_thread=False, cache=False, media_type=CONTENT_TYPE_PLAIN_0_0_4)
    def exposition(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """Every metric of this app (and only this app)."""
        metrics: BrokerMetrics = request.app.state[STATE_KEY]
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
