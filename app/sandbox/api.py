"""The sandbox's RvIG-facing HTTP endpoints: the token endpoint and the three BRP APIs.

This module owns the request flow in RvIG's order — 401 (bearer token) → 405 → 406 → 415 → 404 →
400 (`app.brp.validation`) → 403 (`autorisatie`) → data — on RvIG's paths and the proefomgeving's
`/lap/...` aliases, plus where the knobs act (after authentication, so calls are counted per
afnemer: latency, then an injected fault). The body is read raw and parsed by `app.brp` only.

Every route is one catch-all handler, so that a request to an unknown path or with a wrong method
still gets its 401 first, as at RvIG. It never logs a token, a secret, a body or a response.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
import structlog
from litestar import HttpMethod, Request, Response, post, route
from litestar.di import NamedDependency
from litestar.types import Receive

from app.brp.media import RESPONSE_MEDIA_TYPE, check_media_types
from app.brp.problems import ProblemError, method_not_allowed, not_found, unauthenticated
from app.brp.queries import (
    API_PATHS,
    Api,
    BewoningMetPeildatum,
    BewoningMetPeriode,
    Query,
    RaadpleegMetPeildatum,
    RaadpleegMetPeriode,
)
from app.brp.validation import parse_query
from app.sandbox.autorisatie import authorise
from app.sandbox.bewoning import answer_bewoning
from app.sandbox.config import SandboxConfig
from app.sandbox.dataset import Dataset
from app.sandbox.knobs import ApiFault, Knobs
from app.sandbox.pki import peer_oin
from app.sandbox.search import answer_personen, answer_verblijfplaatshistorie
from app.sandbox.tokens import (
    TOKEN_PATH,
    InvalidTokenError,
    OAuthError,
    TokenService,
    VerifiedToken,
    bearer_token,
    parse_token_form,
    requested_client_id,
)

__all__ = ["SANDBOX_API_PATHS", "SandboxServices", "brp_api", "token_endpoint"]

_log = structlog.get_logger("app.sandbox.api")

# RvIG's reference paths plus the proefomgeving's (DOMAIN.md §1; Bewoning has two in use).
SANDBOX_API_PATHS: Final[Mapping[str, Api]] = {
    **{path: api for api, path in API_PATHS.items()},
    "/lap/api/brp/personen": Api.PERSONEN,
    "/lap/api/bewoning/bewoningen": Api.BEWONING,
    "/lap/api/brp/bewoning/bewoningen": Api.BEWONING,
    "/lap/api/brp/verblijfplaatshistorie": Api.VERBLIJFPLAATSHISTORIE,
}
_AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")
_UNKNOWN_AFNEMER: Final = "onbekend"
_UNKNOWN_API: Final = "onbekend"
_ALL_METHODS: Final = [
    HttpMethod.GET,
    HttpMethod.POST,
    HttpMethod.PUT,
    HttpMethod.PATCH,
    HttpMethod.DELETE,
    HttpMethod.OPTIONS,
    HttpMethod.HEAD,
    HttpMethod.TRACE,
]
_FORM_MEDIA_TYPE: Final = "application/x-www-form-urlencoded"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def today_in_the_netherlands() -> dt.date:
    """The date in the Netherlands now: `leeftijd` is "on the day of the query" there."""
    return dt.datetime.now(_AMSTERDAM).date()


class SandboxServices:
    """What the handlers of one sandbox app share (kept in the app's state, one per app)."""

    __slots__ = ("config", "dataset", "knobs", "today", "tokens")

    def __init__(
        self,
        config: SandboxConfig,
        dataset: Dataset,
        tokens: TokenService,
        knobs: Knobs,
        today: Callable[[], dt.date] = today_in_the_netherlands,
    ) -> None:
        self.config = config
        self.dataset = dataset
        self.tokens = tokens
        self.knobs = knobs
        self.today = today


# --- token endpoint ------------------------------------------------------------------------------


@post(TOKEN_PATH, status_code=200)
async def token_endpoint(
    request: Request[Any, Any, Any], services: NamedDependency[SandboxServices]
) -> Response[bytes]:
    """RvIG's `POST /nidp/oauth/nam/token` (client credentials, client certificate required)."""
    knobs = services.knobs
    knobs.note_traceparent("token", request.headers.get("traceparent"))
    authorization = request.headers.get("authorization")
    try:
        form = _token_form(request.headers.get("content-type"), await request.body())
    except OAuthError as error:
        knobs.count_token_request(_UNKNOWN_AFNEMER, None, error.error)
        return _oauth_error(error)
    afnemer_id = _afnemer_hint(services.config, form, authorization)
    scope = form.get("scope")
    await _delay(knobs.take_latency("token"))
    if knobs.take_token_down():
        knobs.count_token_request(afnemer_id, scope, "temporarily_unavailable")
        down = OAuthError("temporarily_unavailable", "The token service is temporarily unavailable.", 503)
        return _oauth_error(down)
    try:
        afnemer, token = services.tokens.grant(form, authorization, peer_oin(request.scope))
    except OAuthError as error:
        knobs.count_token_request(afnemer_id, scope, error.error)
        return _oauth_error(error)
    knobs.count_token_request(afnemer.afnemer_id, scope, "granted")
    return Response(msgspec.json.encode(token), media_type="application/json", headers=_NO_STORE)


def _token_form(content_type: str | None, body: bytes) -> dict[str, str]:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != _FORM_MEDIA_TYPE:
        raise OAuthError("invalid_request", f"The request must be {_FORM_MEDIA_TYPE}.")
    return parse_token_form(body)


def _afnemer_hint(config: SandboxConfig, form: Mapping[str, str], authorization: str | None) -> str:
    # Whom to count a (possibly refused) token request for: the client's afnemer if the client_id
    # is known, else the AfnemerID the scope names.
    afnemer = config.afnemer_by_client_id(requested_client_id(form, authorization) or "")
    if afnemer is not None:
        return afnemer.afnemer_id
    prefix = (form.get("scope") or "").partition("-")[0]
    return prefix if len(prefix) == 6 and prefix.isdigit() else _UNKNOWN_AFNEMER


def _oauth_error(error: OAuthError) -> Response[bytes]:
    headers = dict(_NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="brp-sandbox"'
    return Response(
        msgspec.json.encode(error.body()),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


# --- the three APIs ------------------------------------------------------------------------------


@route(["/", "/{path:path}"], http_method=_ALL_METHODS, status_code=200)
async def brp_api(
    request: Request[Any, Any, Any], services: NamedDependency[SandboxServices]
) -> Response[bytes]:
    """The Personen, Bewoning and Verblijfplaatshistorie APIs (and RvIG's answer to any other path)."""
    api = SANDBOX_API_PATHS.get(request.url.path)
    services.knobs.note_traceparent("api", request.headers.get("traceparent"))
    try:
        token = _authenticate(request, services)
    except ProblemError:
        services.knobs.count_api_call(None, api.value if api else _UNKNOWN_API)
        raise
    services.knobs.count_api_call(token.afnemer_id, api.value if api else _UNKNOWN_API)
    await _delay(services.knobs.take_latency("api"))
    fault = services.knobs.take_api_fault()
    if fault is not None and await _inject(fault, request):
        return Response(b"", status_code=503)  # never sent: the connection is gone
    if request.method != HttpMethod.POST:
        raise method_not_allowed()
    check_media_types(request.headers.get("content-type"), request.headers.get("accept"))
    if api is None:
        raise not_found()
    query = parse_query(api, await request.body())
    afnemer = services.config.afnemer_by_id(token.afnemer_id)
    if afnemer is None:  # the token verifier already checked this; kept for the type checker
        raise unauthenticated()
    authorise(afnemer, token.gemeente_code, query, services.dataset)
    answer = _answer(services, query)
    return Response(msgspec.json.encode(answer), media_type=RESPONSE_MEDIA_TYPE)


def _authenticate(request: Request[Any, Any, Any], services: SandboxServices) -> VerifiedToken:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise unauthenticated()
    try:
        verified = services.tokens.verify(token)
    except InvalidTokenError as error:
        _log.info("api_token_refused", reason=str(error))
        raise unauthenticated() from None
    if services.knobs.rejects_token(verified.serial):
        _log.info("api_token_refused", reason="reject_tokens knob", afnemer_id=verified.afnemer_id)
        raise unauthenticated()
    return verified


def _answer(services: SandboxServices, query: Query) -> dict[str, Any]:
    if isinstance(query, BewoningMetPeildatum | BewoningMetPeriode):
        return answer_bewoning(services.dataset, query)
    if isinstance(query, RaadpleegMetPeildatum | RaadpleegMetPeriode):
        return answer_verblijfplaatshistorie(services.dataset, query)
    return answer_personen(services.dataset, query, services.today())


async def _delay(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def _inject(fault: ApiFault, request: Request[Any, Any, Any]) -> bool:
    """Answer with the fault's problem (raised), or drop the connection and return True."""
    if fault.kind != "drop":
        raise fault.as_problem()
    abort = ((request.scope.get("extensions") or {}).get("brp.sandbox") or {}).get("abort")
    if not callable(abort):  # not behind the sandbox's own server: the best we can do is a 503
        raise fault.as_problem()
    abort()
    # Wait until the server has seen the connection go, so nothing is sent after the abort.
    await _until_disconnected(request.receive)
    return True


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
