"""Broker → sandbox over real HTTPS with mTLS: every query type, tokens, faults, hygiene."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from app.brp import Api, PersonRole, parse_query
from app.sandbox.server import SandboxThread
from tests.conftest import LogCapture
from tests.integration.conftest import FakeClock, SandboxControl, dev_token
from tests.integration.gateway.records import the_one_record
from tests.support.ids import request_id

AFNEMER = "000001"
BSN = "999993653"
PERSONEN = "/haalcentraal/api/brp/personen"
BEWONING = "/haalcentraal/api/bewoning/bewoningen"
HISTORIE = "/haalcentraal/api/brphistorie/verblijfplaatshistorie"

# One request per query type, on RvIG test persons that exist in the sandbox.
QUERIES: list[tuple[str, dict[str, Any]]] = [
    (PERSONEN, {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}),
    (
        PERSONEN,
        {
            "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
            "geslachtsnaam": "Moulin",
            "geboortedatum": "1985-12-01",
            "fields": ["naam", "burgerservicenummer"],
        },
    ),
    (
        PERSONEN,
        {
            "type": "ZoekMetNaamEnGemeenteVanInschrijving",
            "geslachtsnaam": "Moulin",
            "voornamen": "Suzanne",
            "gemeenteVanInschrijving": "0599",
            "fields": ["naam.volledigeNaam"],
        },
    ),
    (
        PERSONEN,
        {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "3077AW", "huisnummer": 31, "fields": ["naam"]},
    ),
    (
        PERSONEN,
        {
            "type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
            "straat": "Boterdiep",
            "huisnummer": "31",
            "gemeenteVanInschrijving": "0599",
            "fields": ["geboorte"],
        },
    ),
    (
        PERSONEN,
        {
            "type": "ZoekMetNummeraanduidingIdentificatie",
            "nummeraanduidingIdentificatie": "0599200000219678",
            "fields": ["naam", "leeftijd"],
        },
    ),
    (
        PERSONEN,
        {
            "type": "ZoekMetAdresseerbaarObjectIdentificatie",
            "adresseerbaarObjectIdentificatie": "0599010000208579",
            "fields": ["naam", "adressering.adresregel1"],
        },
    ),
    (
        BEWONING,
        {
            "type": "BewoningMetPeildatum",
            "adresseerbaarObjectIdentificatie": "0599010000208579",
            "peildatum": "2020-01-01",
        },
    ),
    (
        BEWONING,
        {
            "type": "BewoningMetPeriode",
            "adresseerbaarObjectIdentificatie": "0599010000208579",
            "datumVan": "2015-01-01",
            "datumTot": "2021-01-01",
        },
    ),
    (HISTORIE, {"type": "RaadpleegMetPeildatum", "burgerservicenummer": BSN, "peildatum": "2020-01-01"}),
    (
        HISTORIE,
        {
            "type": "RaadpleegMetPeriode",
            "burgerservicenummer": BSN,
            "datumVan": "2000-01-01",
            "datumTot": "2021-01-01",
        },
    ),
]


@pytest.fixture(scope="module")
def direct(sandbox: SandboxThread) -> Any:
    """A client that calls the sandbox directly, as the broker's afnemer would."""
    afnemer = sandbox.config.afnemer_by_id(AFNEMER)
    assert afnemer is not None
    identity = sandbox.pki.client(afnemer.oin)
    client = httpx.Client(base_url=sandbox.base_url, verify=identity.ssl_context(sandbox.pki.ca_cert))
    token = client.post(
        "/nidp/oauth/nam/token",
        data={
            "grant_type": "client_credentials",
            "client_id": afnemer.client_id,
            "client_secret": afnemer.client_secret.reveal(),
            "scope": f"{AFNEMER}-{afnemer.oin}",
            "resourceServer": "ResourceServer01",
        },
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    yield client
    client.close()


def _ids() -> list[str]:
    return [body["type"] for _, body in QUERIES]


@pytest.mark.parametrize(("path", "body"), QUERIES, ids=_ids())
async def test_every_query_type_answers_as_the_sandbox_does(
    broker: httpx.AsyncClient, direct: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    via_broker = await broker.post(path, json=body)
    straight = direct.post(path, json=body)
    assert via_broker.status_code == 200, via_broker.text
    assert straight.status_code == 200
    assert via_broker.json() == straight.json()
    assert via_broker.headers["content-type"].startswith("application/json")
    answer = via_broker.json()
    assert answer.get("personen") or answer.get("bewoningen") or answer.get("verblijfplaatsen")


async def test_token_is_reused_across_requests(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    for _ in range(5):
        response = await broker.post(PERSONEN, json=QUERIES[0][1])
        assert response.status_code == 200
    assert sandbox_control.token_requests(AFNEMER) == 1
    assert sandbox_control.api_calls(AFNEMER) == 5


async def test_token_scope_is_afnemer_and_oin(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    await broker.post(PERSONEN, json=QUERIES[0][1])
    scopes = sandbox_control.counters()["tokenRequests"][AFNEMER]["scopes"]
    assert list(scopes) == [f"{AFNEMER}-00000001234567890000"]


async def test_fifty_concurrent_requests_after_expiry_fetch_one_token(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl, clock: FakeClock
) -> None:
    assert (await broker.post(PERSONEN, json=QUERIES[0][1])).status_code == 200
    clock.advance(24 * 3600)  # far past any token's life
    responses = await asyncio.gather(*(broker.post(PERSONEN, json=QUERIES[0][1]) for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert sandbox_control.token_requests(AFNEMER) == 2


async def test_refresh_ahead_keeps_serving_and_fetches_once(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl, clock: FakeClock
) -> None:
    await broker.post(PERSONEN, json=QUERIES[0][1])
    clock.advance(3600 * 0.8)  # past the refresh point, before expiry
    responses = await asyncio.gather(*(broker.post(PERSONEN, json=QUERIES[0][1]) for _ in range(10)))
    assert all(r.status_code == 200 for r in responses)
    await broker.app.state.resources.upstream.tokens.settled()  # type: ignore[attr-defined]
    assert sandbox_control.token_requests(AFNEMER) == 2
    # The refreshed token is used from now on: no further token request.
    clock.advance(3600 * 0.5)
    assert (await broker.post(PERSONEN, json=QUERIES[0][1])).status_code == 200
    assert sandbox_control.token_requests(AFNEMER) == 2


async def test_rejected_token_is_replaced_and_the_request_succeeds(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    assert (await broker.post(PERSONEN, json=QUERIES[0][1])).status_code == 200
    sandbox_control.fault("reject_tokens")
    response = await broker.post(PERSONEN, json=QUERIES[0][1])
    assert response.status_code == 200
    assert sandbox_control.token_requests(AFNEMER) == 2


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"kind": "status", "status": 500}, 502, "upstreamError"),
        ({"kind": "status", "status": 503}, 503, "upstreamUnavailable"),
        ({"kind": "too_many_requests", "retry_after": 7}, 429, "tooManyRequests"),
        ({"kind": "drop"}, 503, "upstreamUnreachable"),
        ({"kind": "token_down"}, 503, "tokenUnavailable"),
    ],
    ids=["500", "503", "429", "drop", "token_down"],
)
async def test_fault_maps_to_its_problem_and_recovers(
    broker: httpx.AsyncClient,
    sandbox_control: SandboxControl,
    clock: FakeClock,
    fault: dict[str, Any],
    status: int,
    code: str,
) -> None:
    sandbox_control.fault(**fault)
    failed = await broker.post(PERSONEN, json=QUERIES[0][1])
    assert failed.status_code == status
    assert failed.headers["content-type"] == "application/problem+json"
    problem = failed.json()
    assert problem["code"] == code
    assert problem["instance"] == PERSONEN
    if status in (429, 503):
        assert int(failed.headers["retry-after"]) >= 1
    if fault["kind"] == "too_many_requests":
        assert failed.headers["retry-after"] == "7"
    sandbox_control.clear_faults()
    clock.advance(60)  # past the token backoff, if one was started
    recovered = await broker.post(PERSONEN, json=QUERIES[0][1])
    assert recovered.status_code == 200


async def test_failing_token_endpoint_is_not_hammered(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    sandbox_control.fault("token_down")
    responses = [await broker.post(PERSONEN, json=QUERIES[0][1]) for _ in range(10)]
    assert {r.status_code for r in responses} == {503}
    assert sandbox_control.token_requests(AFNEMER) == 1  # the backoff answered the other nine


async def test_slow_rvig_is_a_504_with_its_protocol_record(
    broker_settings: Any, sandbox_control: SandboxControl, clock: FakeClock, database_url: str
) -> None:
    import msgspec

    from app.main import create_app
    from tests.support.servers import ServerTask

    sandbox_env = broker_settings.environments["sandbox"]
    settings = msgspec.structs.replace(
        broker_settings,
        environments={"sandbox": msgspec.structs.replace(sandbox_env, read_timeout=0.2)},
    )
    sandbox_control.latency(1000)
    cid = request_id("test")
    headers = {"Authorization": f"Bearer {dev_token(sandbox_control.sandbox)}", "x-correlation-id": cid}
    try:
        async with (
            ServerTask(create_app(settings, clock=clock)) as url,
            httpx.AsyncClient(base_url=url, headers=headers) as client,
        ):
            response = await client.post(PERSONEN, json=QUERIES[0][1])
    finally:
        sandbox_control.reset()
    assert response.status_code == 504, response.text
    assert response.json()["code"] == "upstreamTimeout"
    record = await the_one_record(database_url, cid)
    assert (record["status"], record["problem_code"]) == (504, "upstreamTimeout")
    assert record["persons"] == []


# Every resident of this address (31, more than RvIG's 30) is found: RvIG's own `tooManyResults`,
# for a query the broker itself has nothing against.
TOO_MANY = {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "2596TW", "huisnummer": 1, "fields": ["naam"]}
# RvIG's problems as its API gateway answers them (DOMAIN.md §6), on RvIG's own path.
RVIG_PATH = "/lap/api/brp/personen"
RVIG_400 = {
    "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
    "title": "Een of meerdere parameters zijn niet correct.",
    "status": 400,
    "detail": "De foutieve parameter(s) zijn: burgerservicenummer[0].",
    "instance": RVIG_PATH,
    "code": "paramsValidation",
    "invalidParams": [
        {
            "code": "pattern",
            "name": "burgerservicenummer[0]",
            "reason": "Waarde voldoet niet aan patroon ^[0-9]{9}$.",
        }
    ],
}
RVIG_401 = {
    "type": "https://datatracker.ietf.org/doc/html/rfc7235#section-3.1",
    "title": "Niet correct geauthenticeerd.",
    "status": 401,
    "instance": RVIG_PATH,
    "code": "authentication",
}
RVIG_403_API = {
    "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.3",
    "title": "U bent niet geautoriseerd voor het gebruik van deze API.",
    "status": 403,
    "detail": "Niet geautoriseerd voor ad hoc bevragingen.",
    "instance": RVIG_PATH,
    "code": "unauthorized",
}
RVIG_403_FIELD = {
    "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.3",
    "title": "U bent niet geautoriseerd voor één of meerdere opgegeven field waarden.",
    "status": 403,
    "detail": "U bent niet geautoriseerd om de volgende gegevens op te vragen met fields: naam",
    "instance": RVIG_PATH,
    "code": "unauthorizedField",
}


async def test_rvigs_own_400_for_a_query_the_broker_accepts_passes_through(
    broker: httpx.AsyncClient, direct: httpx.Client
) -> None:
    via_broker = await broker.post(PERSONEN, json=TOO_MANY)
    straight = direct.post(PERSONEN, json=TOO_MANY)

    assert straight.status_code == 400
    assert straight.json()["code"] == "tooManyResults"
    assert via_broker.status_code == 400
    assert via_broker.headers["content-type"] == "application/problem+json"
    assert via_broker.json() == straight.json()


@pytest.mark.parametrize("problem", [RVIG_400, RVIG_403_FIELD], ids=["400-paramsValidation", "403-field"])
async def test_rvigs_client_error_passes_through_unchanged_but_for_instance(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl, database_url: str, problem: dict[str, Any]
) -> None:
    sandbox_control.fault("problem", problem=problem)
    cid = request_id("test")

    response = await broker.post(PERSONEN, json=QUERIES[0][1], headers={"x-correlation-id": cid})

    assert response.status_code == problem["status"]
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {**problem, "instance": PERSONEN}
    record = await the_one_record(database_url, cid)
    assert (record["status"], record["problem_code"]) == (problem["status"], problem["code"])


async def test_rvig_refusing_the_new_token_too_is_502_upstream_authentication(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    sandbox_control.fault("problem", problem=RVIG_401)

    response = await broker.post(PERSONEN, json=QUERIES[0][1])

    assert response.status_code == 502
    assert response.json()["code"] == "upstreamAuthentication"
    assert "Niet correct geauthenticeerd" not in response.text  # RvIG's answer is not the client's
    # One new token and one retry, then the broker gives up instead of hammering RvIG.
    assert sandbox_control.token_requests(AFNEMER) == 2
    assert sandbox_control.api_calls(AFNEMER) == 2


async def test_rvig_refusing_the_afnemer_the_whole_api_is_502_upstream_not_authorised(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    sandbox_control.fault("problem", problem=RVIG_403_API)

    response = await broker.post(PERSONEN, json=QUERIES[0][1])

    assert response.status_code == 502
    assert response.json()["code"] == "upstreamNotAuthorised"
    assert response.json()["instance"] == PERSONEN


async def test_unknown_property_is_refused_and_never_reaches_rvig(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    body = {**QUERIES[0][1], "extra": "x"}
    response = await broker.post(PERSONEN, json=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["invalidParams"] == [
        {"code": "unknownParam", "name": "extra", "reason": "Parameter is niet verwacht."}
    ]
    assert sandbox_control.api_calls(AFNEMER) == 0
    assert sandbox_control.token_requests(AFNEMER) == 0


async def test_media_type_errors_are_answered_before_any_upstream_call(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    wrong_accept = await broker.post(PERSONEN, json=QUERIES[0][1], headers={"accept": "application/xml"})
    wrong_type = await broker.post(PERSONEN, content=b"{}", headers={"content-type": "text/csv"})
    wrong_method = await broker.get(PERSONEN)
    assert (wrong_accept.status_code, wrong_accept.json()["code"]) == (406, "notAcceptable")
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (415, "unsupportedMediaType")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "methodNotAllowed")
    assert sandbox_control.api_calls(AFNEMER) == 0


async def test_bsn_is_asked_for_the_protocol_and_stripped_when_not_requested(
    broker: httpx.AsyncClient,
) -> None:
    without = await broker.post(PERSONEN, json=QUERIES[0][1])  # fields: naam
    assert without.status_code == 200
    assert "burgerservicenummer" not in without.json()["personen"][0]
    with_bsn = await broker.post(PERSONEN, json={**QUERIES[0][1], "fields": ["naam", "burgerservicenummer"]})
    assert with_bsn.json()["personen"][0]["burgerservicenummer"] == BSN
    # The forwarder asked RvIG for the BSN all the same: the protocol knows whom it was about.
    resources = broker.app.state.resources  # type: ignore[attr-defined]
    upstream = resources.upstream
    account = resources.directory.snapshot.tenants["testgemeente"].afnemers[AFNEMER].account
    query = parse_query(Api.PERSONEN, json.dumps(QUERIES[0][1]).encode())
    answer = await upstream.forwarder.forward(account, query, PERSONEN)
    assert [(p.bsn, p.role) for p in answer.persons] == [(BSN, PersonRole.CONSULTED)]
    assert "burgerservicenummer" in answer.sent_fields
    assert BSN not in answer.body.decode()


async def test_no_token_secret_or_bsn_in_any_log_line(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl, logs: LogCapture, sandbox: SandboxThread
) -> None:
    for path, body in QUERIES:
        await broker.post(path, json=body)
    sandbox_control.fault("reject_tokens")
    await broker.post(PERSONEN, json=QUERIES[0][1])
    sandbox_control.fault("token_down")
    sandbox_control.fault("status", status=500)
    await broker.post(PERSONEN, json=QUERIES[0][1])
    text = logs.text
    assert "upstream_call" in text  # the capture did see the requests
    afnemer = sandbox.config.afnemer_by_id(AFNEMER)
    assert afnemer is not None
    for secret in (afnemer.client_secret.reveal(), BSN, "Moulin", "Boterdiep", "eyJ"):
        assert secret not in text


async def test_oversized_body_is_413_and_never_forwarded(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl
) -> None:
    body = {**QUERIES[0][1], "fields": ["naam"] * 40_000}
    response = await broker.post(PERSONEN, json=body)
    assert response.status_code == 413
    assert response.json()["code"] == "requestTooLarge"
    assert sandbox_control.api_calls(AFNEMER) == 0
