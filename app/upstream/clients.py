"""One long-lived `httpx.AsyncClient` per (OIN identity, RvIG environment).

Connections are pooled and kept alive, so a request pays no TLS handshake; timeouts and limits
are explicit. The clients are created in the app's lifespan and closed with it; nothing creates
a client per request.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from app.upstream.config import EnvironmentConfig
from app.upstream.identities import OinIdentity

__all__ = ["UpstreamClients"]


class UpstreamClients:
    """The HTTP clients of the broker towards RvIG, looked up by identity and environment."""

    __slots__ = ("_clients",)

    def __init__(
        self, identities: Mapping[str, OinIdentity], environments: Mapping[str, EnvironmentConfig]
    ) -> None:
        self._clients: dict[tuple[str, str], httpx.AsyncClient] = {
            (identity.name, env_name): _client(identity, environment)
            for identity in identities.values()
            for env_name, environment in environments.items()
        }

    def client(self, identity: str, environment: str) -> httpx.AsyncClient:
        """The client for this identity in this environment."""
        return self._clients[(identity, environment)]

    async def aclose(self) -> None:
        """Close every pooled connection."""
        for client in self._clients.values():
            await client.aclose()


def _client(identity: OinIdentity, environment: EnvironmentConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=identity.ssl_context,
        timeout=httpx.Timeout(
            connect=environment.connect_timeout,
            read=environment.read_timeout,
            write=environment.read_timeout,
            pool=environment.pool_timeout,
        ),
        limits=httpx.Limits(
            max_connections=environment.max_connections,
            max_keepalive_connections=environment.max_keepalive_connections,
        ),
        follow_redirects=False,
        # Proxies from the environment must not silently reroute traffic to RvIG.
        trust_env=False,
    )
