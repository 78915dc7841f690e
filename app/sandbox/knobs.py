"""Knobs for tests and benchmarks: added latency, injected faults and counters, per app instance.

This module owns the knob state (`Knobs`, one per sandbox app, kept in the app's state — never in
a module global) and the sandbox-only control API under `/sandbox/` on the same HTTPS+mTLS
server (any client certificate of the dev CA may use it):

| method and path             | body / answer                                                          |
|-----------------------------|------------------------------------------------------------------------|
| `GET /sandbox/knobs`        | the current latency and faults                                         |
| `PUT /sandbox/latency`      | `{"ms": 250, "target": "api"\\|"token"\\|"all", "count": null}`        |
| `DELETE /sandbox/latency`   | removes the latency                                                    |
| `POST /sandbox/faults`      | `{"kind": ..., "status": 503, "retry_after": 2, "count": null}`        |
|                             | `{"kind": "problem", "problem": {RvIG's problem+json}, "count": null}` |
| `DELETE /sandbox/faults`    | clears every fault                                                     |
| `GET /sandbox/counters`     | token requests per afnemer (with scopes), API calls per afnemer and API, |
|                             | the last W3C `traceparent` received by the APIs and the token endpoint |
| `POST /sandbox/reset`       | clears knobs and counters                                              |

Fault kinds: `status` (the APIs answer a 5xx problem), `too_many_requests` (429 + `Retry-After`),
`drop` (the connection is closed without an answer), `problem` (the APIs answer exactly the given
RvIG problem+json with its 4xx/5xx `status`, `instance` set to the request path when the body has
none: RvIG's own 400, 401 or 403 for a query the sandbox would answer), `token_down` (the token
endpoint answers 503), `reject_tokens` (the APIs answer 401 for every token issued before the knob
was set, as if RvIG rotated its keys). `count` limits a knob to the next N requests it applies to;
`null` keeps it until cleared. One API fault (`status`/`too_many_requests`/`drop`/`problem`) is
active at a time; setting another replaces it. API faults act after authentication, so a `problem`
with status 401 refuses every token, however new.

Counters hold AfnemerIDs, scopes, API names and trace context only — never a token, a secret or
person data.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from app.brp.problems import Problem, ProblemError, internal_error, too_many_requests, type_for_status

__all__ = [
    "ApiFault",
    "Counters",
    "FaultRequest",
    "Knobs",
    "KnobsController",
    "LatencyRequest",
]

LatencyTarget = Literal["api", "token", "all"]
FaultKind = Literal["status", "too_many_requests", "drop", "problem", "token_down", "reject_tokens"]
ApiFaultKind = Literal["status", "too_many_requests", "drop", "problem"]


class LatencyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of `PUT /sandbox/latency`."""

    ms: int
    target: LatencyTarget = "api"
    count: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.ms <= 120_000:
            raise ValueError("ms must be 0..120000")
        _check_count(self.count)


class FaultRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of `POST /sandbox/faults`."""

    kind: FaultKind
    status: int = 503
    retry_after: int = 1
    count: int | None = None
    # The answer of a `problem` fault, in RvIG's problem+json shape.
    problem: Problem | None = None

    def __post_init__(self) -> None:
        if self.kind == "status" and not 500 <= self.status <= 599:
            raise ValueError("status must be a 5xx code")
        if (self.kind == "problem") != (self.problem is not None):
            raise ValueError("problem is required for kind problem, and only for it")
        if self.problem is not None and not 400 <= self.problem.status <= 599:
            raise ValueError("problem.status must be a 4xx or 5xx code")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        _check_count(self.count)


def _check_count(count: int | None) -> None:
    if count is not None and count < 1:
        raise ValueError("count must be >= 1 or null (until cleared)")


class ApiFault(msgspec.Struct, frozen=True):
    """The API fault to answer this request with."""

    kind: ApiFaultKind
    status: int
    retry_after: int
    problem: Problem | None = None

    def as_problem(self) -> ProblemError:
        """The problem+json error for a `status`, `too_many_requests` or `problem` fault."""
        if self.problem is not None:
            return ProblemError(self.problem)
        if self.kind == "too_many_requests":
            return too_many_requests(self.retry_after)
        if self.status == 500:
            return internal_error()
        problem = Problem(
            type=type_for_status(self.status),
            title="Bronservice is tijdelijk niet beschikbaar.",
            status=self.status,
            code="notAvailable",
        )
        return ProblemError(problem)


class _Counted(msgspec.Struct):
    """A knob value with an optional number of remaining uses (None: until cleared)."""

    value: Any
    remaining: int | None

    def use(self) -> bool:
        """Consume one use; True when the knob is used up afterwards."""
        if self.remaining is None:
            return False
        self.remaining -= 1
        return self.remaining <= 0


class Counters(msgspec.Struct):
    """Token requests per afnemer (and scope asked), API calls per afnemer and API."""

    token_requests: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    token_scopes: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    api_calls: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    unauthenticated_api_calls: int = 0
    # The last `traceparent` header per target ("api", "token"), as RvIG would see it.
    traceparents: dict[str, str] = msgspec.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON answer of `GET /sandbox/counters` (`lastTraceparent` once a request carried one)."""
        counted: dict[str, Any] = {
            "tokenRequests": {
                afnemer: {
                    "total": sum(counts.values()),
                    "outcomes": dict(counts),
                    "scopes": dict(self.token_scopes.get(afnemer, {})),
                }
                for afnemer, counts in self.token_requests.items()
            },
            "apiCalls": {
                afnemer: {"total": sum(per_api.values()), "perApi": dict(per_api)}
                for afnemer, per_api in self.api_calls.items()
            },
            "unauthenticatedApiCalls": self.unauthenticated_api_calls,
        }
        if self.traceparents:
            counted["lastTraceparent"] = dict(self.traceparents)
        return counted


class Knobs:
    """The latency, faults and counters of one sandbox app instance.

    Used from the event loop only (the sandbox runs one), so no lock is needed.
    """

    __slots__ = ("_api_fault", "_counters", "_latency", "_reject_tokens", "_token_down")

    def __init__(self) -> None:
        self._latency: dict[str, _Counted] = {}
        self._api_fault: _Counted | None = None
        self._token_down: _Counted | None = None
        self._reject_tokens: _Counted | None = None
        self._counters = Counters()

    # -- setting -----------------------------------------------------------------------------

    def set_latency(self, request: LatencyRequest) -> None:
        """Add `ms` of latency to the API and/or token requests."""
        targets = ("api", "token") if request.target == "all" else (request.target,)
        for target in targets:
            self._latency[target] = _Counted(value=request.ms, remaining=request.count)

    def clear_latency(self) -> None:
        """Remove every added latency."""
        self._latency.clear()

    def set_fault(self, request: FaultRequest, last_token_serial: int) -> None:
        """Inject a fault; `reject_tokens` rejects tokens up to `last_token_serial`."""
        if request.kind == "token_down":
            self._token_down = _Counted(value=True, remaining=request.count)
        elif request.kind == "reject_tokens":
            self._reject_tokens = _Counted(value=last_token_serial, remaining=request.count)
        else:
            status = request.problem.status if request.problem is not None else request.status
            fault = ApiFault(
                kind=request.kind, status=status, retry_after=request.retry_after, problem=request.problem
            )
            self._api_fault = _Counted(value=fault, remaining=request.count)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._api_fault = self._token_down = self._reject_tokens = None

    def reset(self) -> None:
        """Clear latency, faults and counters."""
        self.clear_latency()
        self.clear_faults()
        self._counters = Counters()

    # -- applying ----------------------------------------------------------------------------

    def take_latency(self, target: Literal["api", "token"]) -> float:
        """Seconds to delay this request by (0 when no latency is set)."""
        knob = self._latency.get(target)
        if knob is None:
            return 0.0
        if knob.use():
            del self._latency[target]
        return float(knob.value) / 1000

    def take_api_fault(self) -> ApiFault | None:
        """The fault to answer this API request with, if any."""
        knob = self._api_fault
        if knob is None:
            return None
        if knob.use():
            self._api_fault = None
        fault: ApiFault = knob.value
        return fault

    def take_token_down(self) -> bool:
        """Whether the token endpoint must answer 503 to this request."""
        knob = self._token_down
        if knob is None:
            return False
        if knob.use():
            self._token_down = None
        return True

    def rejects_token(self, serial: int | None) -> bool:
        """Whether `reject_tokens` refuses a token with this serial (None: issued by another run)."""
        knob = self._reject_tokens
        if knob is None or (serial is not None and serial > knob.value):
            return False
        if knob.use():
            self._reject_tokens = None
        return True

    # -- counting ----------------------------------------------------------------------------

    def count_token_request(self, afnemer_id: str, scope: str | None, outcome: str) -> None:
        """Count one token request of an afnemer ("onbekend" when the client is unknown)."""
        per_outcome = self._counters.token_requests.setdefault(afnemer_id, defaultdict(int))
        per_outcome[outcome] += 1
        per_scope = self._counters.token_scopes.setdefault(afnemer_id, defaultdict(int))
        per_scope[scope or ""] += 1

    def count_api_call(self, afnemer_id: str | None, api: str) -> None:
        """Count one API call of an authenticated afnemer (or an unauthenticated one)."""
        if afnemer_id is None:
            self._counters.unauthenticated_api_calls += 1
            return
        per_api = self._counters.api_calls.setdefault(afnemer_id, defaultdict(int))
        per_api[api] += 1

    def note_traceparent(self, target: Literal["api", "token"], traceparent: str | None) -> None:
        """Remember the W3C `traceparent` a request to `target` carried (None: it carried none)."""
        if traceparent is None:
            self._counters.traceparents.pop(target, None)
        else:
            self._counters.traceparents[target] = traceparent[:55]

    def counters(self) -> dict[str, Any]:
        """The counters as JSON."""
        return self._counters.as_dict()

    def describe(self) -> dict[str, Any]:
        """The active latency and faults as JSON (`GET /sandbox/knobs`)."""
        return {
            "latency": {t: {"ms": k.value, "remaining": k.remaining} for t, k in self._latency.items()},
            "apiFault": _describe_fault(self._api_fault),
            "tokenDown": None if self._token_down is None else {"remaining": self._token_down.remaining},
            "rejectTokens": None
            if self._reject_tokens is None
            else {"upToSerial": self._reject_tokens.value, "remaining": self._reject_tokens.remaining},
        }


def _describe_fault(knob: _Counted | None) -> dict[str, Any] | None:
    if knob is None:
        return None
    fault: ApiFault = knob.value
    return {
        "kind": fault.kind,
        "status": fault.status,
        "retryAfter": fault.retry_after,
        "code": fault.problem.code if fault.problem is not None else None,
        "remaining": knob.remaining,
    }


class KnobsController(Controller):
    """The sandbox-only control API (`/sandbox/...`)."""

    path = "/sandbox"

    @get("/knobs", sync_to_thread=False)
    def knobs(self, knobs: NamedDependency[Knobs]) -> dict[str, Any]:
        """The current latency and faults."""
        return knobs.describe()

    @put("/latency", status_code=200, sync_to_thread=False)
    def set_latency(self, knobs: NamedDependency[Knobs], data: JSONBody[LatencyRequest]) -> dict[str, Any]:
        """Add latency to the next requests (or all, until cleared)."""
        knobs.set_latency(data)
        return knobs.describe()

    @delete("/latency", status_code=200, sync_to_thread=False)
    def clear_latency(self, knobs: NamedDependency[Knobs]) -> dict[str, Any]:
        """Remove the latency."""
        knobs.clear_latency()
        return knobs.describe()

    @post("/faults", status_code=200, sync_to_thread=False)
    def set_fault(
        self,
        knobs: NamedDependency[Knobs],
        last_token_serial: NamedDependency[int],
        data: JSONBody[FaultRequest],
    ) -> dict[str, Any]:
        """Inject a fault."""
        knobs.set_fault(data, last_token_serial)
        return knobs.describe()

    @delete("/faults", status_code=200, sync_to_thread=False)
    def clear_faults(self, knobs: NamedDependency[Knobs]) -> dict[str, Any]:
        """Clear every fault."""
        knobs.clear_faults()
        return knobs.describe()

    @get("/counters", sync_to_thread=False)
    def counters(self, knobs: NamedDependency[Knobs]) -> dict[str, Any]:
        """Token requests and API calls counted since start or the last reset."""
        return knobs.counters()

    @post("/reset", status_code=200, sync_to_thread=False)
    def reset(self, knobs: NamedDependency[Knobs]) -> Response[dict[str, Any]]:
        """Clear knobs and counters."""
        knobs.reset()
        return Response({"reset": True})
