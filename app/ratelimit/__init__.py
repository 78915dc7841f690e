"""Rate limits (GCRA) per tenant, per afnemer and per employee, in Redis or in process.

- `RateLimiter`: the gateway's `Limiter` seam; three keys per request, the RateLimit-* headers,
  the 429, and the fallback from Redis to in-process while Redis is unreachable.
- `RedisBackend` (shared by all replicas; one Lua script per check) and `MemoryBackend` (one
  replica, and the fallback), both behind `RateLimitBackend`, both deciding with `gcra.decide`.
- `RateLimitConfig` / `RateLimitDefaults`: defaults and fallback settings; rates are requests
  per second, bursts are requests at once.

Nothing here stores or logs person data beyond the employee id inside a key, and no key is ever
logged.
"""

from __future__ import annotations

from app.ratelimit.backend import BackendUnavailable, Quota, RateLimitBackend
from app.ratelimit.config import (
    DEFAULT_AFNEMER,
    DEFAULT_EMPLOYEE,
    DEFAULT_TENANT,
    RateLimitConfig,
    RateLimitDefaults,
    local_share,
)
from app.ratelimit.gcra import Decision, Limit, decide
from app.ratelimit.limiter import LimitsOf, RateLimiter, Scope, limits_from
from app.ratelimit.memory import Clock, MemoryBackend
from app.ratelimit.redis import DEFAULT_PREFIX, RedisBackend

__all__ = [
    "DEFAULT_AFNEMER",
    "DEFAULT_EMPLOYEE",
    "DEFAULT_PREFIX",
    "DEFAULT_TENANT",
    "BackendUnavailable",
    "Clock",
    "Decision",
    "Limit",
    "LimitsOf",
    "MemoryBackend",
    "Quota",
    "RateLimitBackend",
    "RateLimitConfig",
    "RateLimitDefaults",
    "RateLimiter",
    "RedisBackend",
    "Scope",
    "decide",
    "limits_from",
    "local_share",
]
