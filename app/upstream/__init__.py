"""The upstream side: OIN identities, one HTTP client per (identity, environment), tokens per
AfnemerID, and forwarding to RvIG (or the sandbox).

`Upstream.open(settings)` builds all of it once in the app's lifespan; `aclose()` releases it.
Never logs a token, a client secret, a request body or a response body.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import msgspec

from app.telemetry import BrokerMetrics, BrokerTracer
from app.upstream.clients import UpstreamClients
from app.upstream.config import (
    DEFAULT_ENVIRONMENTS,
    EnvironmentConfig,
    IdentityConfig,
    TokenConfig,
)
from app.upstream.forwarder import Forwarder, UpstreamAnswer
from app.upstream.identities import IdentityError, OinIdentity, load_identity
from app.upstream.shared_tokens import TokenStore
from app.upstream.tokens import AfnemerAccount, TokenManager, TokenUnavailable

__all__ = [
    "DEFAULT_ENVIRONMENTS",
    "AfnemerAccount",
    "EnvironmentConfig",
    "Forwarder",
    "IdentityConfig",
    "IdentityError",
    "OinIdentity",
    "TokenConfig",
    "TokenManager",
    "TokenUnavailable",
    "Upstream",
    "UpstreamAnswer",
    "UpstreamClients",
]


class Upstream(msgspec.Struct, frozen=True):
    """Everything the broker uses to reach RvIG, built once per process."""

    identities: Mapping[str, OinIdentity]
    environments: Mapping[str, EnvironmentConfig]
    clients: UpstreamClients
    tokens: TokenManager
    forwarder: Forwarder

    @classmethod
    def open(
        cls,
        identities: tuple[IdentityConfig, ...],
        environments: Mapping[str, EnvironmentConfig],
        token: TokenConfig,
        clock: Callable[[], float] = time.monotonic,
        metrics: BrokerMetrics | None = None,
        *,
        tracer: BrokerTracer | None = None,
        token_store: TokenStore | None = None,
    ) -> Upstream:
        """Load the identities and create the clients, token manager and forwarder (sharing tokens
        with the other replicas through `token_store` when there is one)."""
        metrics = metrics or BrokerMetrics(process_collectors=False)
        loaded = {config.name: load_identity(config) for config in identities}
        clients = UpstreamClients(loaded, environments)
        tokens = TokenManager(clients, environments, token, clock, metrics, tracer=tracer, store=token_store)
        forwarder = Forwarder(clients, environments, tokens, metrics, tracer=tracer)
        return cls(loaded, environments, clients, tokens, forwarder)

    async def aclose(self) -> None:
        """Stop token requests in flight and close every connection."""
        await self.tokens.aclose()
        await self.clients.aclose()
