"""The in-process rate-limit backend: a dict of TATs in this replica's memory.

Used alone for a single replica without Redis, and by `RateLimiter` as the fallback while Redis
is unreachable. Its state is this process's only: with several replicas each one limits on its
own, which is why the limiter hands it a per-replica share of every limit.

Atomicity comes from the event loop: `acquire` does not await between reading and writing the
keys, so no other request interleaves. The clock is injected (seconds, monotonic) so tests need
no sleep. Entries whose TAT has passed equal absent ones and are swept periodically, so memory
stays bounded by the keys active within one burst window. It never logs a key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar, Final

from app.ratelimit.backend import Quota, RateLimitBackend
from app.ratelimit.gcra import MICROS, Decision, decide

__all__ = ["Clock", "MemoryBackend"]

Clock = Callable[[], float]

# Sweep expired entries at most this often (a full scan of the dict).
_SWEEP_EVERY_US: Final = 60 * MICROS


class MemoryBackend(RateLimitBackend):
    """GCRA over a dict; `clock` returns seconds (default `time.monotonic`)."""

    __slots__ = ("_clock", "_next_sweep", "_tats")

    name: ClassVar[str] = "in-process"

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._tats: dict[str, int] = {}
        self._next_sweep = 0

    def __len__(self) -> int:
        """How many keys hold state (for tests and diagnostics)."""
        return len(self._tats)

    async def acquire(self, quotas: Sequence[Quota]) -> tuple[Decision, ...]:
        """Check every quota at one instant; commit all new TATs only if all allow."""
        return self.acquire_now(quotas)

    def acquire_now(self, quotas: Sequence[Quota]) -> tuple[Decision, ...]:
        """The synchronous body of `acquire` (no await: nothing can interleave)."""
        now = int(self._clock() * MICROS)
        tats = self._tats
        outcomes = [decide(tats.get(quota.key), now, quota.limit) for quota in quotas]
        if all(outcome.decision.allowed for outcome in outcomes):
            for quota, outcome in zip(quotas, outcomes, strict=True):
                tats[quota.key] = outcome.new_tat
        if now >= self._next_sweep:
            self._sweep(now)
        return tuple(outcome.decision for outcome in outcomes)

    def _sweep(self, now: int) -> None:
        self._next_sweep = now + _SWEEP_EVERY_US
        expired = [key for key, tat in self._tats.items() if tat <= now]
        for key in expired:
            del self._tats[key]
