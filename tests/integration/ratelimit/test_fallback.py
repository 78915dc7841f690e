"""Redis stops mid-test: the in-process fallback limits, `degraded` shows it, and Redis comes back."""

from __future__ import annotations

import pytest

from app.brp import ProblemError
from app.ratelimit import RateLimitConfig, RateLimitDefaults, RateLimiter, RedisBackend
from app.tenancy import Limits, RateLimit
from tests.conftest import LogCapture
from tests.integration.ratelimit.conftest import RedisServer
from tests.support.servers import free_port
from tests.unit.ratelimit.cases import FakeClock
from tests.unit.ratelimit.test_limiter import ROOMY, access, caller

pytestmark = pytest.mark.redis

LIMITS = Limits(tenant=RateLimit(0.001, 3))  # three requests, then nothing for a long while


def limiter(url: str, clock: FakeClock, states: list[bool]) -> RateLimiter:
    config = RateLimitConfig(
        defaults=RateLimitDefaults(tenant=ROOMY, afnemer=ROOMY, employee=ROOMY), retry_seconds=5.0
    )
    return RateLimiter(
        lambda _slug: LIMITS,
        config,
        shared=RedisBackend.from_url(url, timeout=0.5),
        clock=clock,
        on_degraded=states.append,
    )


async def use_up(rate_limiter: RateLimiter, allowed: int) -> None:
    """`allowed` requests pass, the next one is refused."""
    for number in range(allowed):
        await rate_limiter.check(caller(employee=f"E{number}"), access())
    with pytest.raises(ProblemError) as raised:
        await rate_limiter.check(caller(employee="E-last"), access())
    assert raised.value.status == 429


def events(logs: LogCapture, name: str) -> int:
    return sum(1 for event in logs.events if event.get("event") == name)


async def test_redis_stopped_falls_back_and_recovers(redis_server: RedisServer, logs: LogCapture) -> None:
    clock, states = FakeClock(), list[bool]()
    rate_limiter = limiter(redis_server.url, clock, states)
    try:
        await use_up(rate_limiter, 3)  # decided by Redis
        assert (rate_limiter.mode, rate_limiter.degraded) == ("redis", False)

        redis_server.kill()
        # Still limited: the in-process fallback starts its own count of the same limit.
        await use_up(rate_limiter, 3)
        assert (rate_limiter.degraded, states) == (True, [True])

        await redis_server.start()  # same port, empty (no persistence)
        clock.advance(4.0)  # before the retry is due: still local, and still limited
        with pytest.raises(ProblemError):
            await rate_limiter.check(caller(), access())
        assert (rate_limiter.degraded, states) == (True, [True])

        clock.advance(1.0)  # the retry is due: Redis answers and decides again
        await use_up(rate_limiter, 3)
        assert (rate_limiter.mode, rate_limiter.degraded, states) == ("redis", False, [True, False])
    finally:
        await rate_limiter.close()
    assert events(logs, "ratelimit_redis_unreachable") == 1
    assert events(logs, "ratelimit_redis_recovered") == 1


async def test_redis_unreachable_from_the_start(logs: LogCapture) -> None:
    clock, states = FakeClock(), list[bool]()
    rate_limiter = limiter(f"redis://127.0.0.1:{free_port()}/0", clock, states)
    try:
        await use_up(rate_limiter, 3)
        assert (rate_limiter.degraded, states) == (True, [True])
    finally:
        await rate_limiter.close()
    assert events(logs, "ratelimit_redis_unreachable") == 1
