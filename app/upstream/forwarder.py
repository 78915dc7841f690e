"""Forwarding one validated query to RvIG and translating what comes back.

- The body sent is the *validated* query re-encoded (`encode_query`), so an unknown property
  can never reach RvIG; exactly one `Accept` and `Content-Type: application/json`.
- Personen: `burgerservicenummer` is always asked for, so the protocol knows whom the answer is
  about; when the client did not ask for it, it is removed from each person before delivery.
- A 401 from RvIG drops that token, fetches one new token and retries once.
- Errors are translated so the client can tell whose fault it is (see `_translate`): the client's
  (400, 403 on a field or parameter: passed through, `instance` rewritten to the broker path),
  the broker's configuration (502), RvIG's availability (503, 504, 429 with its Retry-After).

Never logs a token, a body or a BSN; logs carry the afnemer, API, status and timing only. Each
HTTP call to RvIG is a client span (`BrokerTracer.upstream_call`) with the same identifiers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import msgspec
import structlog

from app.brp import (
    Api,
    InvalidParam,
    PersonenQuery,
    PersonRef,
    Problem,
    Query,
    api_of,
    bad_request,
    encode_query,
    extract_persons,
)
from app.brp.problems import bad_gateway, gateway_timeout, service_unavailable, too_many_requests
from app.telemetry import BrokerMetrics, BrokerTracer, http_outcome
from app.upstream.clients import Reply, UpstreamClient, UpstreamClients, UpstreamTimeout, UpstreamUnreachable
from app.upstream.config import EnvironmentConfig
from app.upstream.tokens import AfnemerAccount, TokenManager, TokenUnavailable

__all__ = ["Forwarder", "Shape", "UpstreamAnswer"]

# Reduces a decoded answer before delivery; must not change the input.
Shape = Callable[[dict[str, Any]], Mapping[str, Any]]

_log = structlog.get_logger("app.upstream.forwarder")

_BSN_FIELD = "burgerservicenummer"
_MAX_FIELDS = 130
_NOT_AUTHORISED_FOR_API = "U bent niet geautoriseerd voor het gebruik van deze API."
_REQUEST_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
_URL_OF: Mapping[Api, str] = {
    Api.PERSONEN: "personen_url",
    Api.BEWONING: "bewoning_url",
    Api.VERBLIJFPLAATSHISTORIE: "verblijfplaatshistorie_url",
}


class UpstreamAnswer(msgspec.Struct, frozen=True):
    """RvIG's answer as it will be delivered: status, body, and the persons it is about."""

    status: int
    body: bytes
    media_type: str
    persons: tuple[PersonRef, ...] = ()
    problem_code: str | None = None
    sent_fields: tuple[str, ...] = ()
    upstream_ms: float = 0.0


class Forwarder:
    """Sends queries to RvIG for an afnemer account; one instance for the app's lifetime."""

    def __init__(
        self,
        clients: UpstreamClients,
        environments: Mapping[str, EnvironmentConfig],
        tokens: TokenManager,
        metrics: BrokerMetrics,
        *,
        tracer: BrokerTracer | None = None,
    ) -> None:
        self._clients = clients
        self._environments = environments
        self._tokens = tokens
        self._metrics = metrics
        self._tracer = tracer or BrokerTracer()

    async def forward(
        self, account: AfnemerAccount, query: Query, broker_path: str, shape: Shape | None = None
    ) -> UpstreamAnswer:
        """Send `query` to RvIG as `account`; raise `ProblemError` for what must not pass through.

        `shape` may reduce a successful answer before delivery (doelbinding: persons with
        geheimhouding withheld); the persons recorded are those of the shaped answer.
        """
        api = api_of(query)
        upstream_query, bsn_added = _with_bsn_field(query)
        body = encode_query(upstream_query)
        url = self._url(account.environment, api)
        started = time.perf_counter()
        response = await self._send_with_token(account, url, body, api)
        upstream_ms = (time.perf_counter() - started) * 1000
        _log.debug(
            "upstream_call",
            afnemer_id=account.afnemer_id,
            api=api.value,
            status=response.status,
            upstream_ms=round(upstream_ms, 2),
        )
        sent_fields = upstream_query.fields if isinstance(upstream_query, PersonenQuery) else ()
        if response.status == 200:
            return _delivered(query, response, bsn_added, sent_fields, upstream_ms, shape)
        return _translate(response, broker_path, sent_fields, upstream_ms)

    def _url(self, environment: str, api: Api) -> str:
        url: str | None = getattr(self._environments[environment], _URL_OF[api])
        if url is None:
            raise service_unavailable("upstreamNotConfigured", f"Geen URL voor {api.value} in {environment}.")
        return url

    async def _send_with_token(self, account: AfnemerAccount, url: str, body: bytes, api: Api) -> Reply:
        client = self._clients.client(account.identity, account.environment)
        token = await self._token(account)
        response = await self._post(client, url, body, token, account, api)
        if response.status == 401:
            # RvIG may have revoked or rotated it: one new token, one retry.
            self._tokens.invalidate(account, token)
            token = await self._token(account)
            response = await self._post(client, url, body, token, account, api)
            if response.status == 401:
                _log.error("upstream_rejected_token", afnemer_id=account.afnemer_id)
                detail = "RvIG accepteert het token van de broker niet; controleer de koppeling."
                raise bad_gateway("upstreamAuthentication", detail)
        return response

    async def _token(self, account: AfnemerAccount) -> str:
        try:
            return await self._tokens.token_for(account)
        except TokenUnavailable as failure:
            raise service_unavailable(
                "tokenUnavailable",
                "Er kon geen toegangstoken bij RvIG worden verkregen.",
                retry_after=failure.retry_after,
            ) from None

    async def _post(  # noqa: PLR0917 - private, called twice with the same arguments
        self, client: UpstreamClient, url: str, body: bytes, token: str, account: AfnemerAccount, api: Api
    ) -> Reply:
        headers = {**_REQUEST_HEADERS, "Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        outcome: int | Literal["timeout", "unreachable"] = "unreachable"
        span_of = self._tracer.upstream_call(
            tenant=account.tenant,
            afnemer_id=account.afnemer_id,
            environment=account.environment,
            api=api.value,
            url=url,
        )
        with span_of as span:
            try:
                reply = await client.post(url, body=body, headers=headers)
                outcome = reply.status
                return reply
            except UpstreamTimeout:
                outcome = "timeout"
                raise gateway_timeout("RvIG antwoordde niet binnen de ingestelde tijd.") from None
            except UpstreamUnreachable as failure:
                # Connection refused or dropped, TLS failure: the path to RvIG is down, not the request.
                _log.warning("upstream_unreachable", error_type=failure.error_type)
                raise service_unavailable(
                    "upstreamUnreachable", "De verbinding met RvIG is niet beschikbaar.", retry_after=5
                ) from None
            finally:
                http_outcome(span, outcome)
                self._metrics.upstream_call(
                    environment=account.environment,
                    afnemer_id=account.afnemer_id,
                    api=api.value,
                    status=outcome,
                    seconds=time.perf_counter() - started,
                )


def _with_bsn_field(query: Query) -> tuple[Query, bool]:
    if not isinstance(query, PersonenQuery) or _BSN_FIELD in query.fields:
        return query, False
    if len(query.fields) >= _MAX_FIELDS:
        # RvIG allows 130 fields; the broker needs one of them for the protocol.
        reason = f"Array bevat meer dan {_MAX_FIELDS - 1} items (burgerservicenummer wordt toegevoegd)."
        raise bad_request([InvalidParam(code="maxItems", name="fields", reason=reason)])
    return msgspec.structs.replace(query, fields=(*query.fields, _BSN_FIELD)), True


def _delivered(  # noqa: PLR0917 - one private call site, every argument is needed
    query: Query,
    response: Reply,
    bsn_added: bool,
    sent_fields: tuple[str, ...],
    upstream_ms: float,
    shape: Shape | None,
) -> UpstreamAnswer:
    try:
        received = msgspec.json.decode(response.body)
    except msgspec.DecodeError:
        raise bad_gateway("upstreamInvalidResponse", "RvIG gaf een antwoord dat geen JSON is.") from None
    if not isinstance(received, dict):
        raise bad_gateway("upstreamInvalidResponse", "RvIG gaf een onverwacht antwoord.")
    shaped = shape(received) if shape is not None else received
    data = shaped if isinstance(shaped, dict) else dict(shaped)
    persons = tuple(extract_persons(query, data))
    body = response.body
    if bsn_added or shaped is not received:
        if bsn_added:
            data = _without_bsn(data)
        body = msgspec.json.encode(data)
    return UpstreamAnswer(
        status=200,
        body=body,
        media_type="application/json; charset=utf-8",
        persons=persons,
        sent_fields=sent_fields,
        upstream_ms=upstream_ms,
    )


def _without_bsn(data: dict[str, Any]) -> dict[str, Any]:
    personen = [
        {k: v for k, v in persoon.items() if k != _BSN_FIELD} if isinstance(persoon, dict) else persoon
        for persoon in data.get("personen", ())
    ]
    return {**data, "personen": personen}


def _translate(
    response: Reply, broker_path: str, sent_fields: tuple[str, ...], upstream_ms: float
) -> UpstreamAnswer:
    status = response.status
    problem = _problem_of(response)
    if status == 429:
        raise too_many_requests(_retry_after(response, default=1), "RvIG beperkt het aantal verzoeken.")
    if status == 403 and problem is not None and problem.title == _NOT_AUTHORISED_FOR_API:
        raise bad_gateway(
            "upstreamNotAuthorised", "De afnemer van de broker is niet geautoriseerd voor deze API."
        )
    if status in (400, 403) and problem is not None:
        body = msgspec.json.encode(problem.at(broker_path))
        return UpstreamAnswer(
            status=status,
            body=body,
            media_type="application/problem+json",
            problem_code=problem.code,
            sent_fields=sent_fields,
            upstream_ms=upstream_ms,
        )
    if status == 503:
        raise service_unavailable(
            "upstreamUnavailable", "RvIG is tijdelijk niet beschikbaar.", _retry_after(response, default=5)
        )
    raise bad_gateway("upstreamError", f"RvIG antwoordde met status {status}.")


def _problem_of(response: Reply) -> Problem | None:
    try:
        return msgspec.json.decode(response.body, type=Problem)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _retry_after(response: Reply, default: int) -> int:
    value = response.retry_after or ""
    return int(value) if value.isdigit() else default
