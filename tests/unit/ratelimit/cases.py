"""The behaviour both backends must show, as data: burst, steady rate, reset.

`run_case` drives one backend through a case; the unit tests run every case on the in-process
backend, the integration tests on Redis. Time moves only through `advance` (a fake clock, or the
Redis backend's test offset), never by waiting. Intervals are 0.5 s or more so that the few
microseconds Redis' real clock moves during a case can never change an outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple

from app.ratelimit import Decision, Limit, Quota
from app.ratelimit.gcra import ceil_seconds

Acquire = Callable[[Sequence[Quota]], Awaitable[tuple[Decision, ...]]]


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Take(NamedTuple):
    """`requests` requests at once: how many pass (the first ones), and what the last one says."""

    requests: int
    allowed: int
    remaining: int | None = None
    reset: int | None = None
    # Retry-After (whole seconds) of the first refused request.
    retry_after: int | None = None


class Advance(NamedTuple):
    seconds: float


class Case(NamedTuple):
    name: str
    rate: float
    burst: int
    steps: tuple[Take | Advance, ...]


def _steady(intervals: int) -> tuple[Take | Advance, ...]:
    # After the burst: one request per interval passes, every extra one is refused (and costs nothing).
    steps: list[Take | Advance] = [Take(2, 2, remaining=0, reset=1)]
    for _ in range(intervals):
        steps += [Advance(0.5), Take(3, 1, remaining=0, reset=1, retry_after=1)]
    return tuple(steps)


CASES: tuple[Case, ...] = (
    Case(
        "burst",
        rate=1.0,
        burst=5,
        steps=(
            Take(1, 1, remaining=4, reset=1),
            Take(4, 4, remaining=0, reset=5),
            Take(3, 0, remaining=0, reset=5, retry_after=1),
        ),
    ),
    Case("steady_rate", rate=2.0, burst=2, steps=_steady(10)),
    Case(
        "steady_fractional_rate",
        rate=0.5,
        burst=1,
        steps=(
            Take(1, 1, remaining=0, reset=2),
            Take(1, 0, retry_after=2),
            Advance(1.0),
            Take(1, 0, retry_after=1),
            Advance(1.0),
            Take(1, 1, remaining=0, reset=2),
        ),
    ),
    Case(
        "reset",
        rate=2.0,
        burst=4,
        steps=(
            Take(5, 4, remaining=0, reset=2, retry_after=1),
            Advance(1.0),  # half the reset: half the burst back
            Take(3, 2, remaining=0, reset=2),
            Advance(2.0),  # the whole reset: the whole burst back
            Take(4, 4, remaining=0, reset=2),
            Advance(3600.0),  # long idle is the same as never used
            Take(1, 1, remaining=3, reset=1),
        ),
    ),
)


async def run_case(acquire: Acquire, advance: Callable[[float], None], case: Case, key: str) -> None:
    """Drive one backend through `case` on `key`, asserting every step."""
    limit = Limit.of(case.rate, case.burst)
    for number, step in enumerate(case.steps):
        if isinstance(step, Advance):
            advance(step.seconds)
            continue
        decisions = [(await acquire([Quota(key, limit)]))[0] for _ in range(step.requests)]
        where = f"{case.name} step {number}"
        assert [d.allowed for d in decisions] == [True] * step.allowed + [False] * (
            step.requests - step.allowed
        ), where
        last = decisions[-1]
        if step.remaining is not None:
            assert last.remaining == step.remaining, where
        if step.reset is not None:
            assert ceil_seconds(last.reset_us) == step.reset, where
        if step.retry_after is not None:
            assert ceil_seconds(decisions[step.allowed].retry_after_us) == step.retry_after, where
