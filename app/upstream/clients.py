"""One long-lived HTTP client per (OIN identity, RvIG environment), and the one way to call RvIG.

Each client is an `aiohttp.ClientSession` whose connector presents the identity's PKIoverheid
certificate (its `SSLContext`, built once) and keeps connections alive, with explicit timeouts and
connection limits. The clients are created in the app's lifespan and closed with it; nothing
creates a client per request.

Why aiohttp and not httpx here: on this path every request makes one call to RvIG, and measured
against the sandbox (32 concurrent callers, mTLS) httpx cost 2.5 ms of CPU per call and aiohttp
0.32 ms — the difference between the broker meeting its CPU budget or not. Other, rare calls
(identity providers' JWKS) use httpx.

Callers see `Reply` and two exceptions, never the HTTP library's own types.

W3C Trace Context: every POST (API call or token request) made inside a sampled or unsampled
span carries that span's `traceparent`, so RvIG can follow one processing from the caller through
the broker; without tracing there is no span and no header.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import msgspec

from app.telemetry import current_traceparent
from app.upstream.config import EnvironmentConfig
from app.upstream.identities import OinIdentity

__all__ = ["Reply", "UpstreamClient", "UpstreamClients", "UpstreamTimeout", "UpstreamUnreachable"]


class Reply(msgspec.Struct, frozen=True):
    """An answer from RvIG: status, body, and the headers the broker acts on."""

    status: int
    body: bytes
    retry_after: str | None = None


class UpstreamTimeout(Exception):
    """RvIG did not answer (or no connection could be had) in time."""


class UpstreamUnreachable(Exception):
    """The connection failed: refused, dropped, or TLS; `error_type` names the cause class."""

    def __init__(self, error_type: str) -> None:
        super().__init__(error_type)
        self.error_type = error_type


class UpstreamClient:
    """HTTP to RvIG for one identity in one environment."""

    __slots__ = ("_session",)

    def __init__(self, identity: OinIdentity, environment: EnvironmentConfig) -> None:
        connector = aiohttp.TCPConnector(
            ssl=identity.ssl_context,
            limit=environment.max_connections,
            limit_per_host=0,
            keepalive_timeout=30.0,
            # One TLS session per connection; resolve names per connection (DNS may move RvIG).
            use_dns_cache=False,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,
                # Waiting for a pooled connection plus opening one.
                connect=environment.pool_timeout + environment.connect_timeout,
                sock_connect=environment.connect_timeout,
                sock_read=environment.read_timeout,
            ),
            # Proxies from the environment must not silently reroute traffic to RvIG.
            trust_env=False,
            # One session serves every afnemer of this identity, of every tenant: a cookie RvIG
            # (or a load balancer before it) sets for one request must never ride on another's.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            raise_for_status=False,
        )

    async def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        form: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Reply:
        """POST `body` (or a urlencoded `form`) and read the whole answer."""
        traceparent = current_traceparent()
        if traceparent is not None:
            headers = {**headers, "traceparent": traceparent}
        basic = aiohttp.BasicAuth(*auth) if auth is not None else None
        data = body if body is not None else dict(form or {})
        return await self._call("POST", url, headers=headers, data=data, auth=basic)

    async def get(self, url: str, *, within: float) -> Reply:
        """GET `url`, giving up after `within` seconds (reachability probes)."""
        return await self._call("GET", url, timeout=aiohttp.ClientTimeout(total=within))

    async def _call(self, method: str, url: str, **options: object) -> Reply:
        try:
            request = self._session.request(method, url, allow_redirects=False, **options)  # type: ignore[arg-type]
            async with request as response:
                body = await response.read()
                return Reply(
                    status=response.status, body=body, retry_after=response.headers.get("Retry-After")
                )
        except TimeoutError:
            raise UpstreamTimeout from None
        except aiohttp.ClientError as exc:
            raise UpstreamUnreachable(type(exc).__name__) from None

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._session.close()


class UpstreamClients:
    """The HTTP clients of the broker towards RvIG, looked up by identity and environment."""

    __slots__ = ("_clients",)

    def __init__(
        self, identities: Mapping[str, OinIdentity], environments: Mapping[str, EnvironmentConfig]
    ) -> None:
        self._clients: dict[tuple[str, str], UpstreamClient] = {
            (identity.name, env_name): UpstreamClient(identity, environment)
            for identity in identities.values()
            for env_name, environment in environments.items()
        }

    def client(self, identity: str, environment: str) -> UpstreamClient:
        """The client for this identity in this environment."""
        return self._clients[(identity, environment)]

    async def aclose(self) -> None:
        """Close every pooled connection."""
        for client in self._clients.values():
            await client.aclose()
