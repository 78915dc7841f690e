"""`RateLimiter`: step 5 of the data path — GCRA per tenant, per afnemer and per employee.

This module owns which keys a request is counted on, which limits apply to them, the headers
and the 429, and the fallback from Redis to the in-process backend. Keys (namespaced `brp:rl:`
by the Redis backend):

- `t:<tenant slug>`                          the tenant as a whole;
- `a:<environment>:<afnemer id>`             the AfnemerID's share of the RvIG connection
                                             (an AfnemerID belongs to one tenant, yet its key is
                                             the afnemer's own, like RvIG's quota would be);
- `e:<tenant slug>:<employee or subject>`    one employee (an application's x-gebruiker), or the
                                             token subject when there is no employee.

A request is allowed only if all three allow, and a refusal by one consumes nothing from the
others: the backend decides all keys at one instant and commits all or nothing (one Lua script
in Redis, one uninterrupted function in process).

Fallback: when Redis cannot be reached the in-process backend decides (each replica its share,
see `app.ratelimit.config`), `degraded` turns true, the `on_degraded` hook is called and one
warning is logged; Redis is tried again at most every `retry_seconds` (one request probes, the
others stay local), and on its first answer everything turns back with one info line.

It must never put person data in a key beyond the employee id, and never log a key or an
employee id: log lines here name no request at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final, Literal, Protocol

import structlog

from app.brp.problems import ProblemError, too_many_requests
from app.identity import Principal
from app.ratelimit.backend import BackendUnavailable, Quota, RateLimitBackend
from app.ratelimit.config import RateLimitConfig, local_share
from app.ratelimit.gcra import Decision, Limit, ceil_seconds
from app.ratelimit.memory import Clock, MemoryBackend
from app.tenancy import Access, Limits, RateLimit, Tenant

__all__ = ["LimitsOf", "RateLimiter", "Scope", "limits_from"]

_log = structlog.get_logger("app.ratelimit")

LimitsOf = Callable[[str], Limits | None]

# Which of the three keys; also the `key_kind` label of app.telemetry's refusal counter.
Scope = Literal["tenant", "afnemer", "employee"]

# The scopes of the three keys, in the order they are checked.
_SCOPES: Final[tuple[Scope, Scope, Scope]] = ("tenant", "afnemer", "employee")
# Which limit was reached, never whose.
_DETAILS: Final[dict[Scope, str]] = {
    "tenant": "De limiet van het aantal verzoeken voor deze organisatie is bereikt.",
    "afnemer": "De limiet van het aantal verzoeken voor deze afnemer is bereikt.",
    "employee": "De limiet van het aantal verzoeken voor deze gebruiker is bereikt.",
}


class _TenantLookup(Protocol):
    def tenant(self, slug: str) -> Tenant | None: ...


def limits_from(directory: _TenantLookup) -> LimitsOf:
    """The tenants' own limits, read from `TenantDirectory` on each request (reloads apply at once)."""

    def limits_of(slug: str) -> Limits | None:
        tenant = directory.tenant(slug)
        return tenant.limits if tenant is not None else None

    return limits_of


class RateLimiter:
    """Implements the gateway's `Limiter` seam; one per app, built and closed in the lifespan.

    `shared` is the Redis backend (None: this replica limits on its own). `clock` (monotonic
    seconds) drives the in-process backend and the Redis retry interval, so tests need no sleep.
    Hooks for metrics: `on_degraded(degraded)` on every change of `degraded`, and
    `on_refused(tenant slug, scope)` on every 429.
    """

    __slots__ = (
        "_clock",
        "_config",
        "_degraded",
        "_limits_of",
        "_local",
        "_on_degraded",
        "_on_refused",
        "_retry_at",
        "_shared",
    )

    def __init__(
        self,
        limits_of: LimitsOf,
        config: RateLimitConfig | None = None,
        *,
        shared: RateLimitBackend | None = None,
        clock: Clock = time.monotonic,
        on_degraded: Callable[[bool], None] | None = None,
        on_refused: Callable[[str, Scope], None] | None = None,
    ) -> None:
        self._limits_of = limits_of
        self._config = config or RateLimitConfig()
        self._shared = shared
        self._local = MemoryBackend(clock)
        self._clock = clock
        self._on_degraded = on_degraded
        self._on_refused = on_refused
        self._degraded = False
        self._retry_at = 0.0

    @property
    def degraded(self) -> bool:
        """True while Redis is configured but unreachable (the in-process fallback decides)."""
        return self._degraded

    @property
    def mode(self) -> str:
        """What decides right now, for readiness details: redis, in-process, or the fallback."""
        if self._shared is None:
            return "in-process"
        return "in-process fallback (redis unreachable)" if self._degraded else "redis"

    async def check(self, principal: Principal, access: Access) -> dict[str, str]:
        """The RateLimit-* headers of an allowed request, or `ProblemError` 429 carrying them."""
        limits = self._config.defaults.resolve(self._limits_of(principal.tenant))
        account = access.account
        keys = (
            f"t:{principal.tenant}",
            f"a:{account.environment}:{account.afnemer_id}",
            f"e:{principal.tenant}:{principal.employee or principal.subject}",
        )
        decisions = await self._acquire(keys, limits)
        refused = _refusal(decisions)
        if refused is None:
            # Fewest remaining decides; on a tie the key that takes longest to refill.
            return _headers(min(decisions, key=lambda d: (d.remaining, -d.reset_us)))
        if self._on_refused is not None:
            self._on_refused(principal.tenant, refused[0])
        raise _too_many_requests(*refused)

    async def close(self) -> None:
        """Close the shared backend's connections."""
        if self._shared is not None:
            await self._shared.close()

    async def _acquire(self, keys: Sequence[str], limits: Sequence[RateLimit]) -> tuple[Decision, ...]:
        shared = self._shared
        # A request that began before Redis failed proves nothing about its recovery: only a probe does.
        probe = self._degraded
        if shared is not None and self._may_try_shared():
            quotas = [
                Quota(key, Limit.of(limit.rate, limit.burst)) for key, limit in zip(keys, limits, strict=True)
            ]
            try:
                decisions = await shared.acquire(quotas)
            except BackendUnavailable as exc:
                self._fall_back(str(exc))
            else:
                if probe and self._degraded:
                    self._recover()
                return decisions
        replicas = self._config.replicas
        return self._local.acquire_now(
            [Quota(key, local_share(limit, replicas)) for key, limit in zip(keys, limits, strict=True)]
        )

    def _may_try_shared(self) -> bool:
        if not self._degraded:
            return True
        now = self._clock()
        if now < self._retry_at:
            return False
        # This request probes; the ones arriving meanwhile stay local instead of piling on.
        self._retry_at = now + self._config.retry_seconds
        return True

    def _fall_back(self, error: str) -> None:
        self._retry_at = self._clock() + self._config.retry_seconds
        if self._degraded:
            return
        self._degraded = True
        _log.warning(
            "ratelimit_redis_unreachable",
            error=error,
            fallback="in-process",
            replicas=self._config.replicas,
            retry_seconds=self._config.retry_seconds,
        )
        if self._on_degraded is not None:
            self._on_degraded(True)

    def _recover(self) -> None:
        self._degraded = False
        _log.info("ratelimit_redis_recovered")
        if self._on_degraded is not None:
            self._on_degraded(False)


def _refusal(decisions: Sequence[Decision]) -> tuple[Scope, Decision] | None:
    """The refusing key that frees up last (its wait is the one that counts), if any refused."""
    refused = [(scope, d) for scope, d in zip(_SCOPES, decisions, strict=True) if not d.allowed]
    return max(refused, key=lambda item: item[1].retry_after_us) if refused else None


def _too_many_requests(scope: Scope, decision: Decision) -> ProblemError:
    error = too_many_requests(ceil_seconds(decision.retry_after_us), _DETAILS[scope])
    error.headers.update(_headers(decision))
    return error


def _headers(decision: Decision) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(ceil_seconds(decision.reset_us)),
    }
