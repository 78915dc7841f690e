"""`RedisBackend` without a server: every Redis failure becomes `BackendUnavailable`, NOSCRIPT reloads."""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

from app.ratelimit import BackendUnavailable, Limit, Quota, RedisBackend
from app.ratelimit.redis import GCRA_SCRIPT

NOW = 1_700_000_000_000_000
QUOTA = Quota("t:gemeente", Limit.of(1.0, 5))


class StubClient:
    """Answers EVALSHA with a queue of replies or exceptions, and records the calls."""

    def __init__(self, *replies: object) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[Any, ...]] = []

    async def evalsha(self, *args: Any) -> Any:
        self.calls.append(("evalsha", *args))
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def script_load(self, script: str) -> str:
        self.calls.append(("script_load", script))
        return "sha"


def backend(client: StubClient, **kwargs: Any) -> RedisBackend:
    return RedisBackend(client, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [ConnectionError("refused"), TimeoutError("timed out"), OSError("unreachable"), ResponseError("OOM")],
    ids=lambda error: type(error).__name__,
)
async def test_every_redis_failure_is_backend_unavailable(error: Exception) -> None:
    with pytest.raises(BackendUnavailable) as raised:
        await backend(StubClient(error)).acquire([QUOTA])
    # Only the type travels on (to the one log line): a message could name the host.
    assert str(raised.value) == type(error).__name__


async def test_noscript_loads_the_script_and_runs_it_again() -> None:
    client = StubClient(NoScriptError("NOSCRIPT"), [NOW, 1, NOW])
    (decision,) = await backend(client).acquire([QUOTA])
    assert decision.allowed
    assert [call[0] for call in client.calls] == ["evalsha", "script_load", "evalsha"]
    assert client.calls[1] == ("script_load", GCRA_SCRIPT)


async def test_keys_are_namespaced_and_limits_and_offset_are_passed() -> None:
    client = StubClient([NOW, 1, NOW, NOW])
    quotas = [QUOTA, Quota("e:gemeente:E1", Limit.of(2.0, 3))]
    await backend(client, time_offset=lambda: 1.5).acquire(quotas)
    _, _, numkeys, *rest = client.calls[0]
    assert numkeys == 2
    assert rest == ["brp:rl:t:gemeente", "brp:rl:e:gemeente:E1", 1_500_000, 1_000_000, 5, 500_000, 3]


async def test_decisions_are_derived_from_redis_time_and_tats() -> None:
    # The script found the key 5 s ahead (its whole burst used): refused, retry after 1 s.
    (decision,) = await backend(StubClient([NOW, 0, NOW + 5_000_000])).acquire([QUOTA])
    assert not decision.allowed
    assert decision.retry_after_us == 1_000_000
