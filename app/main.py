"""The composition root: the only module that knows every part of the broker.

`create_app(settings)` returns a Litestar app configured by `BrokerPlugin`. The plugin wires the
lifespan (which owns every pool and client), the exception handlers, the routes and the OpenAPI
document. Nothing else creates long-lived resources.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import structlog
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins import InitPluginProtocol

from app.correlation import CorrelationIdMiddleware
from app.db import create_pool
from app.errors import exception_handlers
from app.gateway import ROUTES, GatewayPipeline
from app.gateway.single_afnemer import (
    AllowEverything,
    NoLimits,
    OpenSandboxAuthenticator,
    SingleAfnemerResolver,
    UnrecordedProtocol,
)
from app.health import HealthController
from app.settings import Settings
from app.upstream import Upstream, account_for
from app.upstream.reachability import ReachabilityProbe

__all__ = ["BrokerPlugin", "Resources", "create_app"]

_log = structlog.get_logger("app.main")


@dataclass(frozen=True, slots=True)
class Resources:
    """Everything the lifespan opens; handlers reach it as `app.state.resources`."""

    settings: Settings
    pool: asyncpg.Pool
    upstream: Upstream
    reachability: ReachabilityProbe


class BrokerPlugin(InitPluginProtocol):
    """Wires the broker into a Litestar app."""

    __slots__ = ("clock", "settings")

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register lifespan, routes, error handling and the OpenAPI document."""
        app_config.lifespan.append(self._lifespan)
        app_config.route_handlers.extend([HealthController, *ROUTES])
        app_config.request_max_body_size = self.settings.max_body_bytes
        app_config.exception_handlers.update(exception_handlers)
        app_config.openapi_config = OpenAPIConfig(
            title="brp-broker",
            version="0.1.0",
            path="/schema",
            render_plugins=[JsonRenderPlugin(path="/openapi.json")],
        )
        # Litestar's own logging would print tracebacks; app.logging is the only log setup.
        app_config.logging_config = None
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        settings = self.settings
        if settings.database_url is None:
            raise RuntimeError("database_url must be resolved before the app starts (the CLI does this)")
        pool = await create_pool(
            settings.database_url,
            settings.database_runtime_role,
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
        )
        upstream = Upstream.open(
            settings.identities, settings.resolved_environments(), settings.token, clock=self.clock
        )
        app.state.resources = Resources(
            settings=settings, pool=pool, upstream=upstream, reachability=ReachabilityProbe(upstream.clients)
        )
        app.state.pipeline = _pipeline(settings, upstream)
        _log.info("broker_started")
        try:
            yield
        finally:
            await upstream.aclose()
            await pool.close()
            _log.info("broker_stopped")


def _pipeline(settings: Settings, upstream: Upstream) -> GatewayPipeline | None:
    if settings.afnemer is None:
        return None
    if settings.afnemer.environment != "sandbox":
        # The single-afnemer fillings authenticate nobody and protocol nothing.
        raise RuntimeError("a single afnemer from settings may only use the sandbox environment")
    return GatewayPipeline(
        authenticator=OpenSandboxAuthenticator(),
        resolver=SingleAfnemerResolver(account_for(settings.afnemer, upstream.identities)),
        authoriser=AllowEverything(),
        limiter=NoLimits(),
        forwarder=upstream.forwarder,
        protocoller=UnrecordedProtocol(),
        max_body_bytes=settings.max_body_bytes,
    )


def create_app(settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> Litestar:
    """Build the broker's ASGI app for `settings` (the database URL must be set).

    `clock` is the monotonic clock of token lifetimes; tests pass one they can move forward.
    """
    app = Litestar(plugins=[BrokerPlugin(settings, clock)])
    # Outermost, around Litestar's own exception handling, so 404s and 405s carry the id too.
    app.asgi_handler = CorrelationIdMiddleware(app.asgi_handler)
    return app
