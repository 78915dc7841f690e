"""The composition root: the only module that knows every part of the broker.

`create_app(settings)` returns a Litestar app configured by `BrokerPlugin`. The plugin wires the
lifespan (which owns every pool, client, cache and background task), the exception handlers, the
routes and the OpenAPI document. Nothing else creates long-lived resources.

Tracing is on only when `create_app` is given a span exporter (`serve` passes the OTLP one when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set): then every request but the probes and `/metrics` is a
server span continuing the caller's `traceparent`, RvIG calls, token requests and protocol commits
are spans below it, and the tracer provider is flushed when the app stops. Without one there is no
middleware, no provider and no span.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx
import structlog
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from app.admin import admin_router
from app.admin.auth import build_authenticator
from app.correlation import CorrelationIdMiddleware
from app.db import create_pool
from app.draining import Drain
from app.errors import exception_handlers
from app.gateway import ROUTES, GatewayPipeline
from app.health import HealthController
from app.identity.authenticator import JwtAuthenticator
from app.identity.jwks import JwksCache
from app.identity.validator import TokenValidator
from app.openapi import SPEC_ROUTES, broker_openapi_config
from app.portal import Portal, portal_router, portal_template_config
from app.portal.login import OidcLogin
from app.portal.sessions import SessionStore
from app.protocol import ProtocolWriter
from app.protocol.anchors import check_anchor_file
from app.protocol.ldv_delivery import LdvDelivery, LdvTarget
from app.protocol.signed_heads import HeadSigner
from app.protocol.signing import SigningKey, load_signing_key
from app.ratelimit import RateLimitConfig, RateLimitDefaults, RateLimiter, RedisBackend, limits_from
from app.secrets import SecretKey
from app.settings import Settings
from app.telemetry import (
    STATE_KEY,
    BrokerMetrics,
    BrokerTracer,
    MetricsController,
    TracedRecorder,
    TracingMiddleware,
    configure_tracing,
    instrument_asyncpg,
)
from app.tenancy import RateLimit, TenancyResolver, TenantDirectory
from app.tenancy.service import TenancyService
from app.upstream import Upstream
from app.upstream.reachability import ReachabilityProbe
from app.upstream.shared_tokens import shared_token_store

__all__ = ["BrokerPlugin", "Resources", "create_app"]

_log = structlog.get_logger("app.main")

# Probes and scrapes: a span per Kubernetes probe would bury the requests in the trace backend.
_UNTRACED = ("/health/", "/metrics")


@dataclass(frozen=True, slots=True)
class Resources:
    """Everything the lifespan opens; handlers reach it as `app.state.resources`."""

    settings: Settings
    pool: asyncpg.Pool
    upstream: Upstream
    reachability: ReachabilityProbe
    directory: TenantDirectory
    protocol: ProtocolWriter
    limiter: RateLimiter
    metrics: BrokerMetrics
    drain: Drain


class BrokerPlugin(InitPluginProtocol):
    """Wires the broker into a Litestar app."""

    __slots__ = ("clock", "drain", "provider", "settings")

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        *,
        provider: TracerProvider | None = None,
        drain: Drain | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.provider = provider
        self.drain = drain or Drain()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register lifespan, routes, error handling and the OpenAPI document."""
        app_config.lifespan.append(self._lifespan)
        app_config.route_handlers.extend(
            [HealthController, MetricsController, *ROUTES, *SPEC_ROUTES, admin_router(), portal_router()]
        )
        app_config.template_config = portal_template_config()
        app_config.exception_handlers.update(exception_handlers)
        app_config.openapi_config = broker_openapi_config(version="0.1.0")
        # Litestar's own logging would print tracebacks; app.logging is the only log setup.
        app_config.logging_config = None
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        settings = self.settings
        if settings.database_url is None:
            raise RuntimeError("database_url must be resolved before the app starts (the CLI does this)")
        # Before anything opens: a signing key or anchor file that cannot be used is one clear line.
        signing_key = _signing_key(settings)
        async with AsyncExitStack() as stack:
            tracer = self._tracing(stack)
            metrics = BrokerMetrics()
            app.state[STATE_KEY] = metrics
            pool = await create_pool(
                settings.database_url,
                settings.database_runtime_role,
                min_size=settings.database_pool_min,
                max_size=settings.database_pool_max,
                command_timeout=settings.database_timeout,
            )
            stack.push_async_callback(pool.close)
            # RvIG tokens shared by every replica (sealed under BROKER_SECRET_KEY), or per process.
            token_store = shared_token_store(pool, settings.token_sharing, timeout=settings.database_timeout)
            upstream = Upstream.open(
                settings.identities,
                settings.resolved_environments(),
                settings.token,
                clock=self.clock,
                metrics=metrics,
                tracer=tracer,
                token_store=token_store,
            )
            stack.push_async_callback(upstream.aclose)
            directory = TenantDirectory(
                pool,
                {name: identity.oin for name, identity in upstream.identities.items()},
                secret_key=SecretKey.from_environment(),
                safety_reload_seconds=settings.tenancy_safety_reload_seconds,
            )
            await directory.start()
            stack.push_async_callback(directory.stop)
            idp_context = _idp_context(settings, upstream)
            idp_client = httpx.AsyncClient(
                verify=idp_context, timeout=5.0, follow_redirects=False, trust_env=False
            )
            stack.push_async_callback(idp_client.aclose)
            protocol = ProtocolWriter(
                pool,
                timeout=settings.database_timeout,
                on_batch=metrics.protocol_batch,
                on_anonymous=metrics.protocol_anonymous,
            )
            await protocol.start()
            stack.push_async_callback(protocol.stop)
            if signing_key is not None:
                signer = _head_signer(settings, pool, signing_key, metrics)
                await signer.start()
                stack.push_async_callback(signer.stop)
                app.state.head_signer = signer
            # Each tenant's LDV lines to its own Logboek, from the protocol (stopped before the writer).
            ldv_delivery = LdvDelivery(
                pool,
                lambda: _ldv_targets(directory),
                metrics,
                interval=settings.ldv_delivery_interval_seconds,
                batch=settings.ldv_delivery_batch,
                timeout=settings.ldv_delivery_timeout_seconds,
                max_backoff=settings.ldv_delivery_max_backoff_seconds,
            )
            await ldv_delivery.start()
            stack.push_async_callback(ldv_delivery.stop)
            app.state.ldv_delivery = ldv_delivery
            limiter = _limiter(settings, directory, metrics)
            stack.push_async_callback(limiter.close)
            app.state.resources = Resources(
                settings=settings,
                pool=pool,
                upstream=upstream,
                reachability=ReachabilityProbe(upstream.clients),
                directory=directory,
                protocol=protocol,
                limiter=limiter,
                metrics=metrics,
                drain=self.drain,
            )
            jwks = JwksCache(idp_client)
            validator = TokenValidator(directory, jwks)
            # The admin API: the gateway's validator for tenants' tokens, the operator's own IdP.
            app.state.admin_authenticator = build_authenticator(settings, validator, jwks, directory)
            app.state.portal = Portal(
                settings=settings,
                directory=directory,
                authenticator=app.state.admin_authenticator,
                sessions=SessionStore(
                    pool,
                    idle_minutes=settings.portal_session_idle_minutes,
                    max_minutes=settings.portal_session_max_minutes,
                ),
                oidc=OidcLogin(idp_client, idp_context),
            )
            app.state.tenancy_service = TenancyService(
                pool,
                owner_url=settings.database_owner_url,
                secret_key=SecretKey.from_environment(),
                committed=lambda slug: directory.reload([slug]),
            )
            app.state.pipeline = GatewayPipeline(
                authenticator=JwtAuthenticator(validator),
                resolver=TenancyResolver(directory),
                limiter=limiter,
                forwarder=upstream.forwarder,
                protocoller=TracedRecorder(protocol.record, tracer) if tracer.enabled else protocol,
                metrics=metrics,
                max_body_bytes=settings.max_body_bytes,
            )
            _log.info(
                "broker_started", tenants=len(directory.snapshot.tenants), event_loop=_event_loop_name()
            )
            yield
        _log.info("broker_stopped")

    def _tracing(self, stack: AsyncExitStack) -> BrokerTracer:
        """The app's tracer; with a provider, also asyncpg spans and a flush when the app stops."""
        provider = self.provider
        if provider is None:
            return BrokerTracer()
        # Pushed first, so it runs last: the spans of the shutdown itself are exported too.
        stack.push_async_callback(asyncio.to_thread, provider.shutdown)
        stack.enter_context(instrument_asyncpg(provider))
        return BrokerTracer(provider)


def _event_loop_name() -> str:
    """`uvloop` or `asyncio`: which loop serves (BROKER_EVENT_LOOP), as the start line tells operators."""
    return type(asyncio.get_running_loop()).__module__.partition(".")[0]


def _ldv_targets(directory: TenantDirectory) -> list[LdvTarget]:
    """The active tenants whose `[ldv]` names a Logboek endpoint, as the directory knows them now."""
    return [
        LdvTarget(tenant.slug, tenant.spec.ldv)
        for tenant in directory.snapshot.tenants.values()
        if tenant.active and tenant.spec.ldv.endpoint
    ]


def _signing_key(settings: Settings) -> SigningKey | None:
    """The key chain heads are signed with, when configured; its anchor file must be writable."""
    if settings.protocol_signing_key_file is None:
        return None
    key = load_signing_key(settings.protocol_signing_key_file)
    if settings.protocol_anchor_file is not None:
        check_anchor_file(settings.protocol_anchor_file)
    return key


def _head_signer(
    settings: Settings, pool: asyncpg.Pool, key: SigningKey, metrics: BrokerMetrics
) -> HeadSigner:
    """The periodic signer of chain heads, publishing to the log, the metrics and the anchor file."""
    return HeadSigner(
        pool,
        key,
        interval=settings.protocol_signing_interval_seconds,
        heartbeat=settings.protocol_signing_heartbeat_seconds,
        anchor_file=settings.protocol_anchor_file,
        on_signed=metrics.protocol_head_signed,
        on_failure=metrics.protocol_signing_failed,
        on_unverifiable=metrics.protocol_signed_head_unverifiable,
    )


def _limiter(settings: Settings, directory: TenantDirectory, metrics: BrokerMetrics) -> RateLimiter:
    """Rate limits per tenant, afnemer and employee; shared through Redis when it is configured."""
    config = RateLimitConfig(
        defaults=RateLimitDefaults(
            tenant=RateLimit(rate=settings.ratelimit_tenant_rate, burst=settings.ratelimit_tenant_burst),
            afnemer=RateLimit(rate=settings.ratelimit_afnemer_rate, burst=settings.ratelimit_afnemer_burst),
            employee=RateLimit(
                rate=settings.ratelimit_employee_rate, burst=settings.ratelimit_employee_burst
            ),
        ),
        # Every worker process limits on its own like a replica does (while Redis does not decide).
        replicas=settings.ratelimit_replicas * settings.workers,
        retry_seconds=settings.ratelimit_retry_seconds,
        redis_timeout=settings.ratelimit_redis_timeout,
    )
    shared = (
        RedisBackend.from_url(settings.redis_url, timeout=config.redis_timeout)
        if settings.redis_url
        else None
    )
    return RateLimiter(
        limits_from(directory),
        config,
        shared=shared,
        on_degraded=metrics.ratelimit_degraded,
        on_refused=metrics.ratelimited,
    )


def _idp_context(settings: Settings, upstream: Upstream) -> ssl.SSLContext:
    """The TLS context for identity providers (JWKS, and the portal's discovery and code
    exchange): extra trusted CAs, and a client certificate for providers that require mTLS (the
    sandbox's dev IdP)."""
    if settings.idp_identity is not None:
        context = upstream.identities[settings.idp_identity].ssl_context
    else:
        context = ssl.create_default_context()
    if settings.idp_ca_bundle is not None:
        context.load_verify_locations(cafile=str(settings.idp_ca_bundle))
    return context


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    span_exporter: SpanExporter | None = None,
    service_name: str = "brp-broker",
    sample_ratio: float = 1.0,
    drain: Drain | None = None,
) -> Litestar:
    """Build the broker's ASGI app for `settings` (the database URL must be set).

    `clock` is the monotonic clock of token lifetimes; tests pass one they can move forward.
    `span_exporter` turns tracing on (as `service_name`, root requests sampled at `sample_ratio`).
    `drain` is the flag `serve` sets on SIGTERM, which `/health/ready` reports.
    """
    provider = None
    if span_exporter is not None:
        provider = configure_tracing(
            service_name, span_exporter, sample_ratio=sample_ratio, server_roots_only=True
        )
    app = Litestar(
        plugins=[BrokerPlugin(settings, clock, provider=provider, drain=drain)],
        # Given here: Litestar takes the limit from its arguments before plugins run, so a value
        # set in `on_app_init` would leave its 10 MB default in force for the admin API and portal.
        request_max_body_size=settings.max_body_bytes,
    )
    handler = app.asgi_handler
    if provider is not None:
        handler = TracingMiddleware(handler, provider, untraced=_UNTRACED)
    # Outermost, around Litestar's own exception handling, so 404s and 405s carry the id too; and
    # around the request span, so the span can carry it.
    app.asgi_handler = CorrelationIdMiddleware(handler)
    return app
