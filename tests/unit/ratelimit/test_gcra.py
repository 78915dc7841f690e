"""The GCRA arithmetic both backends share: limits, decisions, rounding to header seconds."""

from __future__ import annotations

import pytest

from app.ratelimit.gcra import MICROS, Decision, Limit, ceil_seconds, decide

SECOND = MICROS
NOW = 1_700_000_000 * SECOND  # epoch microseconds, as Redis' TIME gives them


@pytest.mark.parametrize(
    ("rate", "burst", "interval_us", "expected_burst"),
    [
        (1.0, 5, SECOND, 5),
        (4.0, 1, SECOND // 4, 1),
        (0.5, 2, 2 * SECOND, 2),
        (3.0, 1, 333_333, 1),
        (1e9, 10, 1, 10),  # faster than a microsecond: clamped, never zero
    ],
)
def test_limit_of_rate_per_second(rate: float, burst: int, interval_us: int, expected_burst: int) -> None:
    limit = Limit.of(rate, burst)
    assert limit == Limit(interval_us, expected_burst)
    assert limit.tolerance_us == interval_us * expected_burst


def test_fresh_key_allows_and_reports_the_rest_of_the_burst() -> None:
    outcome = decide(None, NOW, Limit.of(1.0, 5))
    assert outcome.decision == Decision(True, 5, 4, SECOND, 0)
    assert outcome.new_tat == NOW + SECOND


def test_tat_in_the_past_counts_as_a_fresh_key() -> None:
    limit = Limit.of(1.0, 5)
    assert decide(NOW - 3600 * SECOND, NOW, limit) == decide(None, NOW, limit)


@pytest.mark.parametrize(
    ("ahead_us", "allowed", "remaining", "reset_us", "retry_after_us"),
    [
        # burst 3 at 1/s: the TAT may run up to 3 s ahead of now
        (0, True, 2, 1 * SECOND, 0),
        (1 * SECOND, True, 1, 2 * SECOND, 0),
        (2 * SECOND, True, 0, 3 * SECOND, 0),
        (3 * SECOND, False, 0, 3 * SECOND, 1 * SECOND),
        (2 * SECOND + 1, False, 0, 2 * SECOND + 1, 1),  # one microsecond short
        (3 * SECOND + SECOND // 2, False, 0, 3 * SECOND + SECOND // 2, SECOND + SECOND // 2),
    ],
)
def test_decision_by_how_far_the_tat_runs_ahead(
    ahead_us: int, allowed: bool, remaining: int, reset_us: int, retry_after_us: int
) -> None:
    outcome = decide(NOW + ahead_us, NOW, Limit.of(1.0, 3))
    assert outcome.decision == Decision(allowed, 3, remaining, reset_us, retry_after_us)
    # A refusal leaves the TAT where it was; an allowed request moves it one interval on.
    assert outcome.new_tat == NOW + ahead_us + (SECOND if allowed else 0)


def test_burst_then_one_per_interval() -> None:
    limit = Limit.of(10.0, 3)
    tat: int | None = None
    passed = []
    for tick in range(30):  # 3 s in steps of 0.1 s: four requests at first, then two per step
        now = NOW + tick * SECOND // 10
        for _ in range(4 if tick == 0 else 2):
            outcome = decide(tat, now, limit)
            if outcome.decision.allowed:
                tat = outcome.new_tat
            passed.append(outcome.decision.allowed)
    # The burst of 3 at once, then exactly one of each later pair.
    assert passed[:4] == [True, True, True, False]
    assert passed[4:] == [True, False] * 29


@pytest.mark.parametrize(
    ("micros", "seconds"),
    [(1, 1), (SECOND, 1), (SECOND + 1, 2), (2 * SECOND, 2), (0, 0)],
)
def test_ceil_seconds_rounds_up(micros: int, seconds: int) -> None:
    assert ceil_seconds(micros) == seconds
