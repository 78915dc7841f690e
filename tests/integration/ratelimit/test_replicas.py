"""Two broker replicas sharing one Redis enforce one limit together."""

from __future__ import annotations

import pytest

from app.brp import ProblemError
from app.ratelimit import RateLimitConfig, RateLimitDefaults, RateLimiter, RedisBackend
from app.tenancy import Limits, RateLimit
from tests.unit.ratelimit.test_limiter import ROOMY, access, caller

pytestmark = pytest.mark.redis


def replica(redis_url: str, prefix: str, limits: Limits, replicas: int = 2) -> RateLimiter:
    # Its own client and pool, as a separate process would have.
    config = RateLimitConfig(
        defaults=RateLimitDefaults(tenant=ROOMY, afnemer=ROOMY, employee=ROOMY), replicas=replicas
    )
    return RateLimiter(lambda _slug: limits, config, shared=RedisBackend.from_url(redis_url, prefix=prefix))


async def test_two_replicas_share_one_tenant_limit(redis_url: str, redis_prefix: str) -> None:
    limits = Limits(tenant=RateLimit(0.001, 4))
    first, second = replica(redis_url, redis_prefix, limits), replica(redis_url, redis_prefix, limits)
    try:
        remaining = []
        for number in range(4):
            rate_limiter = (first, second)[number % 2]
            headers = await rate_limiter.check(caller(employee=f"E{number}"), access())
            remaining.append(headers["RateLimit-Remaining"])
        # One count across both, and the full limit (the replica share applies in process only).
        assert remaining == ["3", "2", "1", "0"]
        for rate_limiter in (first, second):
            with pytest.raises(ProblemError) as raised:
                await rate_limiter.check(caller(employee="E9"), access())
            assert raised.value.status == 429
        assert not first.degraded
        assert not second.degraded
    finally:
        await first.close()
        await second.close()


async def test_a_refusal_on_one_replica_costs_nothing_on_the_other(redis_url: str, redis_prefix: str) -> None:
    limits = Limits(tenant=RateLimit(0.001, 3), employee=RateLimit(0.001, 1))
    first, second = replica(redis_url, redis_prefix, limits), replica(redis_url, redis_prefix, limits)
    try:
        await first.check(caller(employee="E1"), access())
        for _ in range(5):
            with pytest.raises(ProblemError):
                await second.check(caller(employee="E1"), access())
        await second.check(caller(employee="E2"), access())
        headers = await first.check(caller(employee="E3"), access())
        assert headers["RateLimit-Remaining"] == "0"
    finally:
        await first.close()
        await second.close()
