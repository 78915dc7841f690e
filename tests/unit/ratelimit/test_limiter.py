"""`RateLimiter`: three keys per request, headers and 429, tenant limits, fallback and recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.brp import ProblemError
from app.identity import Principal
from app.policy import DoelbindingPolicy
from app.ratelimit import (
    BackendUnavailable,
    Decision,
    Limit,
    MemoryBackend,
    Quota,
    RateLimitBackend,
    RateLimitConfig,
    RateLimitDefaults,
    RateLimiter,
    limits_from,
    local_share,
)
from app.secrets import Secret
from app.tenancy import Access, Limits, RateLimit
from app.upstream import AfnemerAccount
from tests.conftest import LogCapture
from tests.unit.ratelimit.cases import FakeClock

_POLICY = DoelbindingPolicy(())
ROOMY = RateLimit(rate=100.0, burst=100)
ROOMY_DEFAULTS = RateLimitDefaults(tenant=ROOMY, afnemer=ROOMY, employee=ROOMY)


def access(afnemer_id: str = "000001", environment: str = "proef") -> Access:
    account = AfnemerAccount(
        tenant="gemeente",
        afnemer_id=afnemer_id,
        environment=environment,
        identity="dev",
        oin="00000001234567890000",
        client_id="client",
        client_secret=Secret("not-used"),
    )
    return Access(account=account, gegevenssets=(), member_organisation=None, policy=_POLICY)


def caller(tenant: str = "gemeente", employee: str | None = "E1", subject: str = "sub-1") -> Principal:
    return Principal(tenant=tenant, subject=subject, employee=employee)


def limiter(
    limits: Limits | None = None,
    *,
    defaults: RateLimitDefaults = ROOMY_DEFAULTS,
    clock: FakeClock | None = None,
    **config: object,
) -> RateLimiter:
    return RateLimiter(
        lambda _slug: limits,
        RateLimitConfig(defaults=defaults, **config),  # type: ignore[arg-type]
        clock=clock or FakeClock(),
    )


async def refusal(rate_limiter: RateLimiter, principal: Principal, grant: Access) -> ProblemError:
    with pytest.raises(ProblemError) as raised:
        await rate_limiter.check(principal, grant)
    return raised.value


class RecordingBackend(RateLimitBackend):
    """An in-process backend that remembers the keys it was asked about."""

    name = "redis"

    def __init__(self, clock: FakeClock) -> None:
        self.inner = MemoryBackend(clock)
        self.keys: list[tuple[str, ...]] = []
        self.up = True
        self.calls = 0
        self.closed = False
        # When set, an answer waits for it (a slow Redis); `held` tells that one is waiting.
        self.hold: asyncio.Event | None = None
        self.held = asyncio.Event()

    async def acquire(self, quotas: Sequence[Quota]) -> tuple[Decision, ...]:
        self.calls += 1
        if not self.up:
            raise BackendUnavailable("ConnectionError")
        if self.hold is not None:
            self.held.set()
            await self.hold.wait()
        self.keys.append(tuple(quota.key for quota in quotas))
        return await self.inner.acquire(quotas)

    async def close(self) -> None:
        self.closed = True


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "grant", "keys"),
    [
        (caller(), access(), ("t:gemeente", "a:proef:000001", "e:gemeente:E1")),
        # No employee (an application without x-gebruiker): the token subject is the key.
        (caller(employee=None), access(), ("t:gemeente", "a:proef:000001", "e:gemeente:sub-1")),
        (
            caller("svb", "E9"),
            access("000002", "productie"),
            ("t:svb", "a:productie:000002", "e:svb:E9"),
        ),
    ],
)
async def test_each_request_counts_on_tenant_afnemer_and_employee(
    principal: Principal, grant: Access, keys: tuple[str, ...]
) -> None:
    clock = FakeClock()
    backend = RecordingBackend(clock)
    rate_limiter = RateLimiter(lambda _slug: None, shared=backend, clock=clock)
    await rate_limiter.check(principal, grant)
    assert backend.keys == [keys]


# --- headers and 429 ----------------------------------------------------------------------------


async def test_allowed_request_gets_the_headers_of_the_most_restrictive_key() -> None:
    limits = Limits(tenant=RateLimit(10.0, 100), afnemer=RateLimit(10.0, 50), employee=RateLimit(1.0, 3))
    headers = await limiter(limits).check(caller(), access())
    assert headers == {"RateLimit-Limit": "3", "RateLimit-Remaining": "2", "RateLimit-Reset": "1"}


async def test_on_equal_remaining_the_key_that_refills_slowest_decides() -> None:
    limits = Limits(tenant=RateLimit(0.5, 3), employee=RateLimit(2.0, 3))
    headers = await limiter(limits).check(caller(), access())
    assert headers == {"RateLimit-Limit": "3", "RateLimit-Remaining": "2", "RateLimit-Reset": "2"}


async def test_over_the_limit_is_429_with_retry_after_and_ratelimit_headers() -> None:
    rate_limiter = limiter(Limits(employee=RateLimit(1.0, 1)))
    await rate_limiter.check(caller(), access())
    error = await refusal(rate_limiter, caller(), access())
    assert error.status == 429
    assert error.problem.code == "tooManyRequests"
    assert error.headers == {
        "Retry-After": "1",
        "RateLimit-Limit": "1",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "1",
    }
    # It says which limit, never whose.
    assert error.problem.detail is not None
    assert "gebruiker" in error.problem.detail
    assert "E1" not in error.problem.detail


async def test_retry_after_comes_from_the_refusing_key_that_frees_up_last() -> None:
    # Both refuse the second request: the employee after 1 s, the tenant after 4 s.
    rate_limiter = limiter(Limits(tenant=RateLimit(0.25, 1), employee=RateLimit(1.0, 1)))
    await rate_limiter.check(caller(), access())
    error = await refusal(rate_limiter, caller(), access())
    assert error.headers["Retry-After"] == "4"
    assert error.headers["RateLimit-Reset"] == "4"
    assert error.problem.detail is not None
    assert "organisatie" in error.problem.detail


async def test_each_refusal_is_reported_with_tenant_and_scope() -> None:
    refusals: list[tuple[str, str]] = []
    rate_limiter = RateLimiter(
        lambda _slug: Limits(tenant=RateLimit(0.001, 2), employee=RateLimit(0.001, 1)),
        RateLimitConfig(defaults=ROOMY_DEFAULTS),
        clock=FakeClock(),
        on_refused=lambda tenant, scope: refusals.append((tenant, scope)),
    )
    await rate_limiter.check(caller(employee="E1"), access())
    await refusal(rate_limiter, caller(employee="E1"), access())
    await rate_limiter.check(caller(employee="E2"), access())
    await refusal(rate_limiter, caller(employee="E3"), access())
    assert refusals == [("gemeente", "employee"), ("gemeente", "tenant")]


async def test_retry_after_is_at_least_one_second() -> None:
    rate_limiter = limiter(Limits(employee=RateLimit(50.0, 1)))
    await rate_limiter.check(caller(), access())
    error = await refusal(rate_limiter, caller(), access())
    assert error.headers["Retry-After"] == "1"


async def test_waiting_retry_after_lets_the_request_through() -> None:
    clock = FakeClock()
    rate_limiter = limiter(Limits(employee=RateLimit(0.5, 1)), clock=clock)
    await rate_limiter.check(caller(), access())
    error = await refusal(rate_limiter, caller(), access())
    clock.advance(int(error.headers["Retry-After"]))
    await rate_limiter.check(caller(), access())


# --- one key refusing ---------------------------------------------------------------------------


async def test_a_refusal_by_one_key_consumes_nothing_from_the_others() -> None:
    rate_limiter = limiter(Limits(tenant=RateLimit(0.001, 3), employee=RateLimit(0.001, 1)))
    await rate_limiter.check(caller(employee="E1"), access())
    for _ in range(10):  # refused by E1's own limit: the tenant's burst stays untouched
        await refusal(rate_limiter, caller(employee="E1"), access())
    await rate_limiter.check(caller(employee="E2"), access())
    headers = await rate_limiter.check(caller(employee="E3"), access())
    assert headers["RateLimit-Remaining"] == "0"
    error = await refusal(rate_limiter, caller(employee="E4"), access())
    assert error.problem.detail is not None
    assert "organisatie" in error.problem.detail


async def test_the_afnemer_limit_is_shared_by_every_caller_of_that_afnemer() -> None:
    rate_limiter = limiter(Limits(afnemer=RateLimit(0.001, 2)))
    await rate_limiter.check(caller(employee="E1"), access("000001"))
    await rate_limiter.check(caller(employee="E2"), access("000001"))
    error = await refusal(rate_limiter, caller(employee="E3"), access("000001"))
    assert error.problem.detail is not None
    assert "afnemer" in error.problem.detail
    # Another AfnemerID of the same tenant, or the same one in another environment, has its own.
    await rate_limiter.check(caller(employee="E3"), access("000002"))
    await rate_limiter.check(caller(employee="E3"), access("000001", "productie"))


async def test_one_tenants_limit_does_not_touch_another_tenant() -> None:
    rate_limiter = limiter(Limits(tenant=RateLimit(0.001, 1)))
    await rate_limiter.check(caller("a"), access("000001"))
    await refusal(rate_limiter, caller("a"), access("000001"))
    await rate_limiter.check(caller("b"), access("000002"))


# --- which limits -------------------------------------------------------------------------------


async def test_tenant_limits_override_the_defaults_key_by_key() -> None:
    defaults = RateLimitDefaults(
        tenant=RateLimit(1.0, 40), afnemer=RateLimit(1.0, 30), employee=RateLimit(1.0, 20)
    )
    own = {"strict": Limits(employee=RateLimit(1.0, 5)), "loose": Limits(afnemer=RateLimit(1.0, 35))}
    rate_limiter = RateLimiter(own.get, RateLimitConfig(defaults=defaults), clock=FakeClock())
    strict = await rate_limiter.check(caller("strict"), access("000001"))
    assert strict["RateLimit-Limit"] == "5"
    loose = await rate_limiter.check(caller("loose"), access("000002"))
    assert loose["RateLimit-Limit"] == "20"  # its employee default is still the tightest
    unknown = await rate_limiter.check(caller("unknown"), access("000003"))
    assert unknown["RateLimit-Limit"] == "20"


def test_defaults_resolve_what_a_tenant_leaves_out() -> None:
    defaults = RateLimitDefaults()
    own = RateLimit(3.0, 3)
    assert defaults.resolve(None) == (defaults.tenant, defaults.afnemer, defaults.employee)
    assert defaults.resolve(Limits(afnemer=own)) == (defaults.tenant, own, defaults.employee)


def test_limits_from_reads_the_tenant_directory() -> None:
    class Tenant:
        limits = Limits(tenant=RateLimit(1.0, 1))

    class Directory:
        def tenant(self, slug: str) -> Tenant | None:
            return Tenant() if slug == "known" else None

    limits_of = limits_from(Directory())  # type: ignore[arg-type]
    assert limits_of("known") == Tenant.limits
    assert limits_of("unknown") is None


@pytest.mark.parametrize(
    ("limit", "replicas", "share"),
    [
        (RateLimit(10.0, 20), 1, Limit.of(10.0, 20)),
        (RateLimit(10.0, 20), 2, Limit.of(5.0, 10)),
        (RateLimit(10.0, 20), 3, Limit.of(10.0 / 3, 7)),  # bursts round up
        (RateLimit(1.0, 1), 4, Limit.of(0.25, 1)),  # never below one request
    ],
)
def test_each_replica_takes_its_share_in_process(limit: RateLimit, replicas: int, share: Limit) -> None:
    assert local_share(limit, replicas) == share


async def test_in_process_limits_are_the_replica_share() -> None:
    rate_limiter = limiter(Limits(tenant=RateLimit(0.001, 4)), replicas=2)
    headers = await rate_limiter.check(caller("t", "E1"), access())
    assert headers["RateLimit-Limit"] == "2"
    await rate_limiter.check(caller("t", "E2"), access())
    await refusal(rate_limiter, caller("t", "E3"), access())


# --- fallback -----------------------------------------------------------------------------------


def _events(logs: LogCapture, name: str) -> list[dict[str, object]]:
    return [event for event in logs.events if event.get("event") == name]


async def test_without_redis_the_limiter_is_in_process_and_never_degraded() -> None:
    rate_limiter = limiter()
    await rate_limiter.check(caller(), access())
    assert rate_limiter.mode == "in-process"
    assert not rate_limiter.degraded
    await rate_limiter.close()


async def test_unreachable_redis_falls_back_logs_once_and_recovers(logs: LogCapture) -> None:
    clock = FakeClock()
    backend = RecordingBackend(clock)
    states: list[bool] = []
    rate_limiter = RateLimiter(
        lambda _slug: Limits(tenant=RateLimit(0.001, 2)),
        RateLimitConfig(defaults=ROOMY_DEFAULTS, retry_seconds=5.0),
        shared=backend,
        clock=clock,
        on_degraded=states.append,
    )
    await rate_limiter.check(caller(), access())
    assert (rate_limiter.mode, rate_limiter.degraded, states) == ("redis", False, [])

    backend.up = False
    # The in-process fallback decides and still limits: its own burst of 2, then 429.
    await rate_limiter.check(caller(), access())
    await rate_limiter.check(caller(), access())
    await refusal(rate_limiter, caller(), access())
    assert rate_limiter.degraded
    assert rate_limiter.mode == "in-process fallback (redis unreachable)"
    assert states == [True]
    # Redis was asked once (the request that found it down), not once per request.
    assert backend.calls == 2

    clock.advance(4.9)
    await refusal(rate_limiter, caller(), access())
    assert backend.calls == 2
    clock.advance(0.1)  # the retry is due: one request probes, still down
    await refusal(rate_limiter, caller(), access())
    await refusal(rate_limiter, caller(), access())
    assert backend.calls == 3

    backend.up = True
    clock.advance(5.0)
    await rate_limiter.check(caller(employee="E2"), access())
    assert (rate_limiter.mode, rate_limiter.degraded, states) == ("redis", False, [True, False])
    assert backend.calls == 4

    warnings = _events(logs, "ratelimit_redis_unreachable")
    assert len(warnings) == 1
    assert warnings[0]["error"] == "ConnectionError"
    assert len(_events(logs, "ratelimit_redis_recovered")) == 1
    # No log line names a key or an employee.
    assert "E1" not in logs.text
    assert "gemeente" not in logs.text


async def test_a_probe_while_degraded_does_not_hold_up_other_requests() -> None:
    clock = FakeClock()
    backend = RecordingBackend(clock)
    backend.up = False
    rate_limiter = RateLimiter(lambda _slug: None, shared=backend, clock=clock)
    await rate_limiter.check(caller(), access())
    clock.advance(5.0)
    for _ in range(10):
        await rate_limiter.check(caller(employee=None, subject="app"), access())
    assert backend.calls == 2


async def test_close_closes_the_shared_backend() -> None:
    clock = FakeClock()
    backend = RecordingBackend(clock)
    await RateLimiter(lambda _slug: None, shared=backend, clock=clock).close()
    assert backend.closed


async def test_an_answer_begun_before_the_failure_does_not_count_as_recovery() -> None:
    clock = FakeClock()
    backend = RecordingBackend(clock)
    states: list[bool] = []
    rate_limiter = RateLimiter(lambda _slug: None, shared=backend, clock=clock, on_degraded=states.append)
    backend.hold = release = asyncio.Event()
    in_flight = asyncio.create_task(rate_limiter.check(caller(), access()))
    await backend.held.wait()
    backend.hold = None
    backend.up = False  # meanwhile another request finds Redis down
    await rate_limiter.check(caller(), access())
    backend.up = True
    release.set()
    await in_flight  # the slow request's late answer from Redis
    assert (rate_limiter.degraded, states) == (True, [True])
