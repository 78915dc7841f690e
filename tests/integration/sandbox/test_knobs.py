"""The knobs for tests and benchmarks: latency, faults, counters and reset, per app instance.

These tests run their own sandbox (module scope), so the knobs they turn cannot disturb the
session's sandbox — and one test checks exactly that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sandbox.server import SandboxThread
from tests.integration.sandbox.client import BROKER_OIN, PERSONEN, TOKEN, SandboxClient
from tests.integration.sandbox.conftest import sandbox_config_for
from tests.integration.sandbox.testpersons import CELIK

RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [CELIK], "fields": ["naam"]}


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory, sandbox_data_dir: Path) -> Iterator[SandboxClient]:
    """A sandbox of its own for this module."""
    config = sandbox_config_for(tmp_path_factory.mktemp("knobs-state"), sandbox_data_dir)
    with SandboxThread(config) as running:
        client = SandboxClient(running)
        yield client
        client.close()


@pytest.fixture(autouse=True)
def _reset(own: SandboxClient) -> Iterator[None]:
    reset(own)
    yield
    reset(own)


def reset(client: SandboxClient) -> None:
    response = client.http.post("/sandbox/reset")
    assert response.status_code == 200, response.text


def knob(client: SandboxClient, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.http.request(method, f"/sandbox/{path}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_injected_status_for_the_next_n_requests(own: SandboxClient) -> None:
    token = own.token()
    knob(own, "POST", "faults", {"kind": "status", "status": 502, "count": 2})

    first, second, third = (own.post(PERSONEN, RAADPLEEG, token=token) for _ in range(3))

    for response in (first, second):
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Bronservice is tijdelijk niet beschikbaar."
    assert third.status_code == 200
    assert knob(own, "GET", "knobs")["apiFault"] is None


def test_injected_500_is_rvigs_internal_error(own: SandboxClient) -> None:
    knob(own, "POST", "faults", {"kind": "status", "status": 500, "count": 1})
    response = own.post(PERSONEN, RAADPLEEG)
    assert response.status_code == 500
    assert response.json()["code"] == "serverError"


# RvIG's own 400 (DOMAIN.md §6), for a query the sandbox would have answered with 200.
RVIG_400 = {
    "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
    "title": "Een of meerdere parameters zijn niet correct.",
    "status": 400,
    "detail": "De foutieve parameter(s) zijn: burgerservicenummer[0].",
    "code": "paramsValidation",
    "invalidParams": [
        {
            "code": "pattern",
            "name": "burgerservicenummer[0]",
            "reason": "Waarde voldoet niet aan patroon ^[0-9]{9}$.",
        }
    ],
}


def test_injected_problem_is_answered_as_given_for_the_next_n_requests(own: SandboxClient) -> None:
    token = own.token()
    described = knob(own, "POST", "faults", {"kind": "problem", "problem": RVIG_400, "count": 1})

    refused = own.post(PERSONEN, RAADPLEEG, token=token)
    answered = own.post(PERSONEN, RAADPLEEG, token=token)

    assert described["apiFault"]["status"] == 400
    assert described["apiFault"]["code"] == "paramsValidation"
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {**RVIG_400, "instance": PERSONEN}
    assert answered.status_code == 200


def test_injected_401_problem_refuses_even_a_fresh_token(own: SandboxClient) -> None:
    problem = {
        "type": "https://datatracker.ietf.org/doc/html/rfc7235#section-3.1",
        "title": "Niet correct geauthenticeerd.",
        "status": 401,
        "code": "authentication",
        "instance": "/lap/api/brp/personen",
    }
    knob(own, "POST", "faults", {"kind": "problem", "problem": problem})

    refused = own.post(PERSONEN, RAADPLEEG, token=own.fresh_token("000001"))

    assert refused.status_code == 401
    assert refused.json() == problem  # an `instance` in the knob is kept as given


def test_too_many_requests_until_cleared(own: SandboxClient) -> None:
    token = own.token()
    knob(own, "POST", "faults", {"kind": "too_many_requests", "retry_after": 7})

    for _ in range(3):
        response = own.post(PERSONEN, RAADPLEEG, token=token)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"
        assert response.json()["code"] == "tooManyRequests"

    knob(own, "DELETE", "faults")
    assert own.post(PERSONEN, RAADPLEEG, token=token).status_code == 200


def test_dropped_connection_gets_no_answer(own: SandboxClient) -> None:
    token = own.token()
    knob(own, "POST", "faults", {"kind": "drop", "count": 1})

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        own.post(PERSONEN, RAADPLEEG, token=token)

    assert own.post(PERSONEN, RAADPLEEG, token=token).status_code == 200


def test_token_endpoint_down(own: SandboxClient) -> None:
    knob(own, "POST", "faults", {"kind": "token_down", "count": 1})

    down = own.request_token(own.credentials("000001"))

    assert down.status_code == 503
    assert down.json()["error"] == "temporarily_unavailable"
    assert own.request_token(own.credentials("000001")).status_code == 200


def test_reject_tokens_issued_before_the_knob(own: SandboxClient) -> None:
    old = own.fresh_token("000001")
    knob(own, "POST", "faults", {"kind": "reject_tokens"})

    refused = own.post(PERSONEN, RAADPLEEG, token=old)
    new = own.fresh_token("000001")

    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication"
    assert own.post(PERSONEN, RAADPLEEG, token=new).status_code == 200
    assert own.post(PERSONEN, RAADPLEEG, token=old).status_code == 401


def test_latency_for_the_next_request_only(own: SandboxClient) -> None:
    token = own.token()
    knob(own, "PUT", "latency", {"ms": 300, "count": 1})
    assert knob(own, "GET", "knobs")["latency"] == {"api": {"ms": 300, "remaining": 1}}

    slow = own.post(PERSONEN, RAADPLEEG, token=token)

    assert slow.status_code == 200
    # A lower bound only: the sandbox waited at least this long before answering.
    assert slow.elapsed.total_seconds() >= 0.3
    assert knob(own, "GET", "knobs")["latency"] == {}


def test_latency_on_the_token_endpoint(own: SandboxClient) -> None:
    knob(own, "PUT", "latency", {"ms": 200, "target": "token"})
    response = own.request_token(own.credentials("000001"))
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.2
    assert knob(own, "DELETE", "latency")["latency"] == {}


def test_counters_count_token_requests_and_api_calls(own: SandboxClient) -> None:
    gemeente = own.fresh_token("000001")
    own.fresh_token("000002")
    own.request_token(own.credentials("000002") | {"client_secret": "wrong"})
    own.post(PERSONEN, RAADPLEEG, token=gemeente)
    own.post(PERSONEN, RAADPLEEG, token=gemeente)
    bewoning = {
        "type": "BewoningMetPeildatum",
        "adresseerbaarObjectIdentificatie": "0599019999000001",
        "peildatum": "2011-01-01",
    }
    own.post("/haalcentraal/api/bewoning/bewoningen", bewoning, token=gemeente)
    own.http.post(PERSONEN, json=RAADPLEEG)  # no token

    counters = knob(own, "GET", "counters")

    assert counters == {
        "tokenRequests": {
            "000001": {"total": 1, "outcomes": {"granted": 1}, "scopes": {f"000001-{BROKER_OIN}": 1}},
            "000002": {
                "total": 2,
                "outcomes": {"granted": 1, "invalid_client": 1},
                "scopes": {f"000002-{BROKER_OIN}": 2},
            },
        },
        "apiCalls": {"000001": {"total": 3, "perApi": {"personen": 2, "bewoning": 1}}},
        "unauthenticatedApiCalls": 1,
    }
    assert "dev-only-secret" not in str(counters)


def test_reset_clears_knobs_and_counters(own: SandboxClient) -> None:
    knob(own, "PUT", "latency", {"ms": 50})
    knob(own, "POST", "faults", {"kind": "status", "status": 503})
    knob(own, "POST", "faults", {"kind": "token_down"})
    own.http.post(TOKEN, data=own.credentials("000001"))

    reset(own)

    assert knob(own, "GET", "knobs") == {
        "latency": {},
        "apiFault": None,
        "tokenDown": None,
        "rejectTokens": None,
    }
    assert knob(own, "GET", "counters") == {"tokenRequests": {}, "apiCalls": {}, "unauthenticatedApiCalls": 0}
    assert own.post(PERSONEN, RAADPLEEG).status_code == 200


def test_knobs_belong_to_one_sandbox_instance(own: SandboxClient, brp: SandboxClient) -> None:
    knob(own, "POST", "faults", {"kind": "status", "status": 503})

    assert own.post(PERSONEN, RAADPLEEG).status_code == 503
    assert brp.post(PERSONEN, RAADPLEEG).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "status", "status": 200},
        {"kind": "explode"},
        {"kind": "drop", "count": 0},
        {"kind": "problem"},
        {"kind": "problem", "problem": {**RVIG_400, "status": 200}},
        {"kind": "problem", "problem": {"status": 400}},
        {"kind": "status", "status": 503, "problem": RVIG_400},
    ],
    ids=[
        "non-5xx-status",
        "unknown-kind",
        "zero-count",
        "problem-missing",
        "problem-not-an-error",
        "problem-not-rvig-shaped",
        "problem-on-another-kind",
    ],
)
def test_invalid_knob_is_refused(own: SandboxClient, body: dict[str, Any]) -> None:
    assert own.http.post("/sandbox/faults", json=body).status_code == 400
