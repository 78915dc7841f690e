"""Is RvIG reachable? A cheap, cached probe per environment for `/health/ready`.

The probe sends a GET to the environment's token URL over the identity's own mTLS client: any
HTTP answer (RvIG answers 405 to a GET) proves DNS, routing, TLS and the certificate; only a
connection or TLS failure counts as unreachable. Results are cached so probes from Kubernetes
cannot load RvIG. `last_seen` tells what the latest probe found, and when, without probing (the
beheerportaal shows it, so a page view never costs a call to RvIG).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

import msgspec

from app.upstream.clients import UpstreamClient, UpstreamClients, UpstreamTimeout, UpstreamUnreachable

__all__ = ["Observation", "Probe", "ReachabilityProbe"]


class Probe(msgspec.Struct, frozen=True):
    """The outcome of one probe."""

    reachable: bool
    detail: str | None = None


class Observation(msgspec.Struct, frozen=True):
    """The latest probe of an (identity, environment) pair and when it was made (UTC)."""

    probe: Probe
    checked_at: dt.datetime


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReachabilityProbe:
    """Probes (identity, environment) pairs at most once per `ttl` seconds each."""

    def __init__(
        self,
        clients: UpstreamClients,
        ttl: float = 30.0,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._clients = clients
        self._ttl = ttl
        self._timeout = timeout
        self._clock = clock
        self._wall_clock = wall_clock
        # (identity, environment) → (monotonic time of the probe, what it found and when).
        self._cache: dict[tuple[str, str], tuple[float, Observation]] = {}
        self._lock = asyncio.Lock()

    async def check(self, identity: str, environment: str, url: str) -> Probe:
        """Whether `url` answers over this identity's client; cached for `ttl` seconds."""
        key = (identity, environment)
        async with self._lock:
            cached = self._cache.get(key)
            if cached is not None and self._clock() - cached[0] < self._ttl:
                return cached[1].probe
            probe = await self._probe(self._clients.client(identity, environment), url)
            self._cache[key] = (self._clock(), Observation(probe=probe, checked_at=self._wall_clock()))
            return probe

    def last_seen(self, identity: str, environment: str) -> Observation | None:
        """The latest probe of this pair by this process, without probing (None: never probed)."""
        cached = self._cache.get((identity, environment))
        return cached[1] if cached is not None else None

    async def _probe(self, client: UpstreamClient, url: str) -> Probe:
        try:
            await client.get(url, within=self._timeout)
        except UpstreamTimeout:
            return Probe(reachable=False, detail="no answer in time")
        except UpstreamUnreachable as failure:
            return Probe(reachable=False, detail=failure.error_type)
        return Probe(reachable=True)
