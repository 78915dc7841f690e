"""The in-process backend: the shared cases with a fake clock, all-or-nothing, expiry."""

from __future__ import annotations

import pytest

from app.ratelimit import Limit, MemoryBackend, Quota
from tests.unit.ratelimit.cases import CASES, Case, FakeClock, run_case


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_shared_cases(case: Case) -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock)
    await run_case(backend.acquire, clock.advance, case, key="t:case")


async def test_refusal_by_one_key_consumes_from_none() -> None:
    backend = MemoryBackend(FakeClock())
    roomy, tight = Quota("roomy", Limit.of(1.0, 10)), Quota("tight", Limit.of(1.0, 1))
    first = await backend.acquire([roomy, tight])
    assert [d.allowed for d in first] == [True, True]
    for _ in range(5):
        refused = await backend.acquire([roomy, tight])
        assert [d.allowed for d in refused] == [True, False]
    # The five refused requests left "roomy" at 9 remaining: the next one there leaves 8.
    (alone,) = await backend.acquire([roomy])
    assert alone.remaining == 8


async def test_keys_are_independent() -> None:
    backend = MemoryBackend(FakeClock())
    limit = Limit.of(1.0, 1)
    assert (await backend.acquire([Quota("e:a:1", limit)]))[0].allowed
    assert (await backend.acquire([Quota("e:a:2", limit)]))[0].allowed
    assert not (await backend.acquire([Quota("e:a:1", limit)]))[0].allowed


async def test_idle_keys_are_swept() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock)
    limit = Limit.of(1.0, 2)
    for number in range(100):
        await backend.acquire([Quota(f"e:t:{number}", limit)])
    assert len(backend) == 100
    clock.advance(61.0)  # every TAT has passed and the sweep is due
    await backend.acquire([Quota("t:t", limit)])
    assert len(backend) == 1
