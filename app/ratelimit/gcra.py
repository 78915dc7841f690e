"""The Generic Cell Rate Algorithm (GCRA) as pure integer arithmetic, shared by both backends.

This module owns the rate-limit decision and everything derived from it (remaining requests,
reset, retry after). It does no I/O, reads no clock and keeps no state: the caller passes the
stored *theoretical arrival time* (TAT) of a key and the current time, and stores the new TAT
when it commits the request.

The model, per key: a request is allowed when `now >= new_tat - burst * interval`, where
`new_tat = max(tat, now) + interval` and `interval = 1 / rate`. From an empty (or long idle)
key, `burst` requests pass at once; after that one request per `interval`. A key whose TAT lies
in the past is as good as absent, which is why the backends may expire it at the TAT.

All times are integer microseconds so that the in-process backend and the Redis Lua script
(`app.ratelimit.redis`), which mirrors the one comparison above in Lua doubles (exact for
integers below 2**53, i.e. for epoch microseconds), reach identical decisions.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["MICROS", "Decision", "Limit", "Outcome", "ceil_seconds", "decide"]

MICROS: Final = 1_000_000


class Limit(NamedTuple):
    """One key's limit: a request per `interval_us` sustained, `burst` at once."""

    interval_us: int
    burst: int

    @classmethod
    def of(cls, rate: float, burst: int) -> Limit:
        """The limit for `rate` requests per second and a burst of `burst` (both > 0)."""
        # At least 1 µs: a rate above a million per second is "unlimited" in practice.
        return cls(max(1, round(MICROS / rate)), max(1, burst))

    @property
    def tolerance_us(self) -> int:
        """How far the TAT may run ahead of now: the whole burst."""
        return self.interval_us * self.burst


class Decision(NamedTuple):
    """The answer for one key, in microseconds; `limit` is the burst (the RateLimit-Limit)."""

    allowed: bool
    limit: int
    remaining: int
    # Time until the key is back at its full burst.
    reset_us: int
    # Time until one more request would be allowed; 0 when this one is.
    retry_after_us: int


class Outcome(NamedTuple):
    """A decision and the TAT to store if the request is committed."""

    decision: Decision
    new_tat: int


def decide(tat: int | None, now: int, limit: Limit) -> Outcome:
    """GCRA for one request at `now` on a key whose stored TAT is `tat` (None: never used)."""
    base = now if tat is None or tat < now else tat
    new_tat = base + limit.interval_us
    allow_at = new_tat - limit.tolerance_us
    if now < allow_at:
        refused = Decision(False, limit.burst, 0, base - now, allow_at - now)
        return Outcome(refused, base)
    remaining = (now - allow_at) // limit.interval_us
    return Outcome(Decision(True, limit.burst, remaining, new_tat - now, 0), new_tat)


def ceil_seconds(micros: int) -> int:
    """Whole seconds, rounded up (headers count in seconds; rounding down would invite retries)."""
    return -(-micros // MICROS)
