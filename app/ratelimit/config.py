"""Rate-limit configuration: the broker's default limits, fallback behaviour and key namespace.

Units: a `RateLimit` (app.tenancy) is `rate` requests **per second**, sustained, and `burst`
requests at once (the GCRA bucket size, also the `RateLimit-Limit` header). A tenant file sets
`[limits.tenant]`, `[limits.afnemer]` and `[limits.employee]`, each `{ rate = 5.0, burst = 20 }`
(fractions allowed: `rate = 0.5` is one request per two seconds); what it leaves out comes from
`RateLimitDefaults`.

Replica share: the in-process backend only sees its own replica's traffic, so whenever it
decides (no Redis configured, or Redis unreachable) each replica enforces `1 / replicas` of every
limit — `rate / replicas` and `ceil(burst / replicas)` (at least 1). With a load balancer that
spreads requests evenly the replicas together then stay near the configured limit. Redis
decisions are shared and use the full limit.

This module holds data only: no I/O, no clock.
"""

from __future__ import annotations

import math
from typing import Annotated, Final

import msgspec

from app.ratelimit.gcra import Limit
from app.ratelimit.redis import DEFAULT_PREFIX
from app.tenancy import Limits, RateLimit

__all__ = [
    "DEFAULT_AFNEMER",
    "DEFAULT_EMPLOYEE",
    "DEFAULT_TENANT",
    "RateLimitConfig",
    "RateLimitDefaults",
    "local_share",
]

# RvIG publishes no quota; these keep one tenant (or one employee) from taking the connection.
DEFAULT_TENANT: Final = RateLimit(rate=25.0, burst=50)
DEFAULT_AFNEMER: Final = RateLimit(rate=10.0, burst=20)
DEFAULT_EMPLOYEE: Final = RateLimit(rate=2.0, burst=10)


class RateLimitDefaults(msgspec.Struct, frozen=True, kw_only=True):
    """The limits a tenant gets for every key its file does not set."""

    tenant: RateLimit = DEFAULT_TENANT
    afnemer: RateLimit = DEFAULT_AFNEMER
    employee: RateLimit = DEFAULT_EMPLOYEE

    def resolve(self, limits: Limits | None) -> tuple[RateLimit, RateLimit, RateLimit]:
        """The tenant's own limits where set, these defaults elsewhere: (tenant, afnemer, employee)."""
        if limits is None:
            return self.tenant, self.afnemer, self.employee
        return (
            limits.tenant or self.tenant,
            limits.afnemer or self.afnemer,
            limits.employee or self.employee,
        )


class RateLimitConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `RateLimiter` needs besides its backend and the tenants' own limits."""

    defaults: RateLimitDefaults = msgspec.field(default_factory=RateLimitDefaults)
    # Replicas serving the broker; the in-process backend enforces 1/replicas of each limit.
    replicas: Annotated[int, msgspec.Meta(ge=1)] = 1
    # While Redis is unreachable, try it again at most this often.
    retry_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    # Socket connect/read timeout towards Redis, seconds.
    redis_timeout: Annotated[float, msgspec.Meta(gt=0)] = 0.25
    # Namespace of every Redis key.
    prefix: str = DEFAULT_PREFIX


def local_share(limit: RateLimit, replicas: int) -> Limit:
    """The GCRA limit one of `replicas` replicas enforces on its own (see the module docstring)."""
    if replicas <= 1:
        return Limit.of(limit.rate, limit.burst)
    return Limit.of(limit.rate / replicas, max(1, math.ceil(limit.burst / replicas)))
