"""The Redis backend against a real Redis: the shared cases, all-or-nothing, expiry, NOSCRIPT."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.ratelimit import Limit, Quota, RedisBackend
from tests.integration.ratelimit.conftest import RedisServer
from tests.unit.ratelimit.cases import CASES, Case, FakeClock, run_case

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_shared_cases(case: Case, redis_url: str, redis_prefix: str) -> None:
    # Redis' clock runs on; the test moves it further with the script's test-only offset.
    offset = FakeClock(start=0.0)
    backend = RedisBackend.from_url(redis_url, prefix=redis_prefix, time_offset=offset)
    try:
        await run_case(backend.acquire, offset.advance, case, key="t:case")
    finally:
        await backend.close()


async def test_refusal_by_one_key_writes_no_key(redis_url: str, redis_prefix: str, redis: Redis) -> None:
    backend = RedisBackend.from_url(redis_url, prefix=redis_prefix)
    quotas = [
        Quota("t:gemeente", Limit.of(1.0, 10)),
        Quota("a:proef:000001", Limit.of(1.0, 10)),
        Quota("e:gemeente:E1", Limit.of(0.01, 1)),
    ]
    try:
        assert all(d.allowed for d in await backend.acquire(quotas))
        stored = [await redis.get(redis_prefix + quota.key) for quota in quotas]
        for _ in range(5):
            decisions = await backend.acquire(quotas)
            assert [d.allowed for d in decisions] == [True, True, False]
        assert [await redis.get(redis_prefix + quota.key) for quota in quotas] == stored
        (tenant,) = await backend.acquire(quotas[:1])
        assert tenant.remaining == 8
    finally:
        await backend.close()


async def test_keys_are_namespaced_and_expire_when_their_burst_is_back(
    redis_url: str, redis_prefix: str, redis: Redis
) -> None:
    backend = RedisBackend.from_url(redis_url, prefix=redis_prefix)
    try:
        for _ in range(3):
            await backend.acquire([Quota("e:gemeente:E1", Limit.of(2.0, 10))])
    finally:
        await backend.close()
    keys = [key async for key in redis.scan_iter(match=redis_prefix + "*")]
    assert keys == [(redis_prefix + "e:gemeente:E1").encode()]
    assert redis_prefix.startswith("brp:rl:")
    # Three requests at 0.5 s each: the key is worth keeping for 1.5 s, no longer.
    ttl = await redis.pttl(keys[0])
    assert 1_000 < ttl <= 1_500


async def test_script_is_loaded_on_a_fresh_or_flushed_redis(redis_server: RedisServer) -> None:
    backend = RedisBackend.from_url(redis_server.url)
    quota = Quota("t:gemeente", Limit.of(1.0, 2))
    try:
        assert (await backend.acquire([quota]))[0].allowed  # NOSCRIPT on a fresh server, then loaded
        admin = Redis.from_url(redis_server.url)
        await admin.script_flush()
        await admin.aclose()
        (second,) = await backend.acquire([quota])
        assert second.allowed
        assert second.remaining == 0
    finally:
        await backend.close()
