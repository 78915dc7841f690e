"""The Redis rate-limit backend: one Lua script per check, so all replicas share one limit.

This module owns the Redis side of rate limiting: the key namespace (`brp:rl:`), the script,
and turning every Redis failure into `BackendUnavailable` (the limiter then falls back to the
in-process backend). It must never log a key (the employee key holds an employee id) nor the
Redis URL (it may hold a password).

One round trip per request: `EVALSHA` of the script below over the request's keys (up to three).
The script reads Redis' own clock (`TIME`: one clock for all replicas, no skew between them),
decides every key and writes the new TATs only when every key allows — all or nothing, atomic
because Redis runs a script without interleaving. Each written key expires (`PX`) when its TAT
passes, when it would be equivalent to an absent key, so Redis never fills up with idle keys. On
`NOSCRIPT` (a restarted or flushed Redis) the script is loaded and the call repeated once.

The script mirrors only the comparison of `app.ratelimit.gcra.decide`; it returns Redis' time
and every key's TAT, and the decisions (remaining, reset, retry after) are derived from those
by the same Python function the in-process backend uses, in the same integer microseconds.

Needs Redis 5 or later (scripts replicated by effect, so `TIME` before a write is allowed). Not
for Redis Cluster: the keys of one request do not share a hash slot (the afnemer key is, on
purpose, independent of the tenant).

`time_offset` (seconds added to Redis' clock inside the script) exists for tests only: it lets
a test move time forward without waiting. Production code leaves it at None.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar, Final

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from app.ratelimit.backend import BackendUnavailable, Quota, RateLimitBackend
from app.ratelimit.gcra import MICROS, Decision, decide
from app.ratelimit.memory import Clock

__all__ = ["DEFAULT_PREFIX", "GCRA_SCRIPT", "RedisBackend"]

DEFAULT_PREFIX: Final = "brp:rl:"

# KEYS: the quota keys. ARGV[1]: time offset in µs (0 outside tests); then per key its interval
# (µs) and burst. Returns {now, committed (1/0), tat of each key (max of stored and now)}.
# Numbers are written with %d: Lua's default number-to-string loses digits of epoch µs.
GCRA_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local result = {now, 1}
local new_tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  if now < new_tat - interval * burst then result[2] = 0 end
  result[i + 2] = tat
  new_tats[i] = new_tat
end
if result[2] == 1 then
  for i, key in ipairs(KEYS) do
    local ttl = math.ceil((new_tats[i] - now) / 1000)
    redis.call('SET', key, string.format('%d', new_tats[i]), 'PX', ttl)
  end
end
return result
"""

_SCRIPT_SHA: Final = hashlib.sha1(GCRA_SCRIPT.encode(), usedforsecurity=False).hexdigest()


class RedisBackend(RateLimitBackend):
    """GCRA in Redis; build it with `from_url` (owns its client) or around a client you close."""

    __slots__ = ("_client", "_owns_client", "_prefix", "_time_offset")

    name: ClassVar[str] = "redis"

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        time_offset: Clock | None = None,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._time_offset = time_offset
        self._owns_client = owns_client

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 0.25,
        prefix: str = DEFAULT_PREFIX,
        time_offset: Clock | None = None,
    ) -> RedisBackend:
        """A backend with its own client: small socket timeouts, one immediate reconnect, no backoff.

        A dead Redis must cost a request at most about `2 * timeout`, and the limiter then stops
        asking it for a while; redis-py's default retries with backoff would stall requests.
        The one retry is for a pooled connection that died with a restarted Redis.
        """
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(client, prefix=prefix, time_offset=time_offset, owns_client=True)

    async def acquire(self, quotas: Sequence[Quota]) -> tuple[Decision, ...]:
        """One `EVALSHA`: decide and (only if all allow) consume, at Redis' time."""
        keys = [self._prefix + quota.key for quota in quotas]
        args: list[int] = [self._offset_us()]
        for quota in quotas:
            args += (quota.limit.interval_us, quota.limit.burst)
        try:
            reply = await self._evaluate(keys, args)
        except (RedisError, OSError, TimeoutError) as exc:
            # The type is enough to act on; a message could name the host.
            raise BackendUnavailable(type(exc).__name__) from exc
        now = int(reply[0])
        return tuple(
            decide(int(tat), now, quota.limit).decision for quota, tat in zip(quotas, reply[2:], strict=True)
        )

    async def ping(self) -> bool:
        """Whether Redis answers now (for readiness details)."""
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        """Close the client if this backend created it."""
        if self._owns_client:
            await self._client.aclose()

    async def _evaluate(self, keys: list[str], args: list[int]) -> list[Any]:
        try:
            reply = await self._client.evalsha(_SCRIPT_SHA, len(keys), *keys, *args)
        except NoScriptError:
            # Redis restarted or its script cache was flushed: load once, then run it by hash.
            await self._client.script_load(GCRA_SCRIPT)
            reply = await self._client.evalsha(_SCRIPT_SHA, len(keys), *keys, *args)
        return list(reply)

    def _offset_us(self) -> int:
        return 0 if self._time_offset is None else int(self._time_offset() * MICROS)
