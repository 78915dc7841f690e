"""The dev IdP's OpenID Connect authorization code flow with PKCE (S256), for logins in a browser.

The flow has two halves on the sandbox's two listeners (`app.sandbox.server`):

- the login server (plain HTTP: a browser has no client certificate) serves `<issuer path>/authorize`:
  `GET` checks the authorization request and answers a Dutch login form that carries the OAuth
  parameters as hidden fields; `POST` checks them again, stores a one-time code for whoever was
  chosen, and sends the browser back: 303 to `redirect_uri?code=...&state=...`;
- the sandbox's HTTPS server serves `POST <issuer path>/token`: the code, with the PKCE verifier,
  for an access token (the same as `issue_dev_token` makes for the admin API and the gateway) and
  an ID token (`aud` = the client, `nonce` when the login asked for one).

Both issuers of `app.sandbox.idp` have both halves: the tenants' (tenant, employee and role are
chosen on the form) and the operators' (a user name; the role is always `operator`).

There is no client registration and no password: any `client_id`, and any absolute http(s)
`redirect_uri`, after every parameter is checked. A request that fails a check gets a 400 page and
is never redirected. Whoever reaches the form chooses who they are: development and tests only.

The codes live in `AuthorizationCodes`, one per sandbox, shared by both servers: a code is used
once, within 60 seconds, and a failed exchange uses it up too. This module never logs a code, a
verifier or a token.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any, Final

import msgspec
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from app.sandbox.idp import DEV_IDP_AUDIENCE, DEV_IDP_ISSUERS, DevIdpIssuer, issue_dev_token
from app.sandbox.tokens import OAuthError, parse_token_form

__all__ = [
    "CODE_LIFETIME_SECONDS",
    "TENANT_ROLE_CHOICES",
    "AuthorizationCodes",
    "AuthorizationGrant",
    "AuthorizationRequest",
    "InvalidAuthorizationRequest",
    "create_login_app",
    "dev_idp_token_endpoints",
    "parse_authorization_request",
    "pkce_s256_challenge",
    "redeem_code",
]

CODE_LIFETIME_SECONDS: Final = 60.0
_TOKEN_LIFETIME_SECONDS: Final = 3600
# The `role` choices of the tenants' form: value (space-separated roles) and Dutch label.
TENANT_ROLE_CHOICES: Final = (
    ("brp-admin", "Beheerder (brp-admin)"),
    ("privacy-officer", "Functionaris gegevensbescherming (privacy-officer)"),
    ("brp-admin privacy-officer", "Beheerder én functionaris"),
    ("", "Medewerker zonder beheerrol"),
)
_OPERATOR_ROLE: Final = "operator"
_DEFAULT_EMPLOYEE: Final = "A1"
_DEFAULT_OPERATOR: Final = "operator-1"

# RFC 7636 §4.1: a verifier (and an S256 challenge, 43 characters) uses the unreserved characters.
_PKCE_VALUE: Final = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
# What may be typed as tenant, employee or user: a claim value without spaces.
_NAME: Final = re.compile(r"^[\w.@-]{1,64}$")
_FORM_MEDIA_TYPE: Final = "application/x-www-form-urlencoded"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_CSS: Final = (
    "body{font-family:system-ui,sans-serif;line-height:1.5;color:#1b1b1b;background:#fff;"
    "max-width:36rem;margin:2rem auto;padding:0 1rem}"
    "label{display:block;font-weight:600;margin-top:1.25rem}"
    ".hint{margin:.125rem 0 .375rem;color:#3d3d3d}"
    "input,select{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;"
    "border:2px solid #575757;border-radius:4px;background:#fff;color:#1b1b1b}"
    "button{font:inherit;margin-top:1.5rem;padding:.6rem 1.4rem;border:0;border-radius:4px;"
    "background:#154273;color:#fff;cursor:pointer}"
    "a,input:focus-visible,select:focus-visible,button:focus-visible{outline-offset:2px}"
    "input:focus-visible,select:focus-visible,button:focus-visible{outline:3px solid #154273}"
    ".fout{border-left:5px solid #a4001d;padding:.5rem 1rem;background:#fbeaec;color:#1b1b1b}"
    "[aria-invalid=true]{border-color:#a4001d}"
)
_CSS_HASH: Final = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
_PAGE_HEADERS: Final = {
    **_NO_STORE,
    # No script at all; the one <style> block by its hash. No form-action: browsers apply it to the
    # 303 back to the client too, whose address is not known here.
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_SITE: Final = "brp-broker sandbox"


# --- the one-time codes ----------------------------------------------------------------------------


class AuthorizationGrant(msgspec.Struct, frozen=True, kw_only=True):
    """What a code stands for: the login's request (client, redirect, PKCE challenge) and who logged in."""

    issuer: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    subject: str
    tenant: str | None  # None: an operator
    employee: str | None
    roles: tuple[str, ...]


class AuthorizationCodes:
    """The one-time codes of one sandbox: each redeemable once, within `lifetime` seconds.

    Shared by the login server (which issues) and the HTTPS server (which redeems), so it locks.
    """

    __slots__ = ("_clock", "_codes", "_lifetime", "_lock")

    def __init__(
        self, lifetime: float = CODE_LIFETIME_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[float, AuthorizationGrant]] = {}

    def issue(self, grant: AuthorizationGrant) -> str:
        """A new code for `grant`."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            # Forget the codes nobody came for, so the store stays as small as the logins in flight.
            self._codes = {c: entry for c, entry in self._codes.items() if entry[0] > now}
            self._codes[code] = (now + self._lifetime, grant)
        return code

    def redeem(self, code: str) -> AuthorizationGrant | None:
        """The grant of `code`, once; None when it is unknown, used already or expired."""
        with self._lock:
            entry = self._codes.pop(code, None)
            now = self._clock()
        if entry is None or entry[0] <= now:
            return None
        return entry[1]


# --- the authorization request ---------------------------------------------------------------------


class InvalidAuthorizationRequest(Exception):
    """An authorization request the login server refuses; `str()` is a Dutch sentence to show."""


class AuthorizationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A checked authorization request (`response_type=code`, PKCE S256)."""

    client_id: str
    redirect_uri: str
    state: str
    code_challenge: str
    scope: str | None = None
    nonce: str | None = None
    login_hint: str | None = None

    def parameters(self) -> list[tuple[str, str]]:
        """The request's OAuth parameters, as the login form carries them (hidden fields)."""
        fixed = [("response_type", "code"), ("code_challenge_method", "S256")]
        given = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_challenge": self.code_challenge,
            "scope": self.scope,
            "nonce": self.nonce,
            "login_hint": self.login_hint,
        }
        return fixed + [(name, value) for name, value in given.items() if value is not None]


def parse_authorization_request(params: Mapping[str, Sequence[str]]) -> AuthorizationRequest:
    """Check the parameters of an authorization request (query or login form).

    Raises `InvalidAuthorizationRequest` for a missing, repeated or wrong parameter: a response
    type other than `code`, a PKCE method other than `S256`, a malformed challenge, or a
    `redirect_uri` that is not an absolute http(s) URL without fragment.
    """
    client_id = _required(params, "client_id")
    redirect_uri = _required(params, "redirect_uri")
    if not _acceptable_redirect_uri(redirect_uri):
        raise InvalidAuthorizationRequest(
            "De redirect_uri is geen absolute http(s)-URL (zonder gebruikersnaam en zonder fragment)."
        )
    if _required(params, "response_type") != "code":
        raise InvalidAuthorizationRequest("Alleen response_type=code wordt ondersteund.")
    state = _required(params, "state")
    if _optional(params, "code_challenge_method") != "S256":
        raise InvalidAuthorizationRequest("PKCE is verplicht: code_challenge_method moet S256 zijn.")
    code_challenge = _required(params, "code_challenge")
    if not _PKCE_VALUE.match(code_challenge):
        raise InvalidAuthorizationRequest("De code_challenge is geen geldige PKCE-waarde (RFC 7636).")
    return AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=code_challenge,
        scope=_optional(params, "scope"),
        nonce=_optional(params, "nonce"),
        login_hint=_optional(params, "login_hint"),
    )


def _optional(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name, ())
    if len(values) > 1:
        raise InvalidAuthorizationRequest(f"De parameter {name} komt meer dan één keer voor.")
    return values[0] if values and values[0] else None


def _required(params: Mapping[str, Sequence[str]], name: str) -> str:
    value = _optional(params, name)
    if value is None:
        raise InvalidAuthorizationRequest(f"De parameter {name} ontbreekt.")
    return value


def _acceptable_redirect_uri(uri: str) -> bool:
    if any(c.isspace() or ord(c) < 32 for c in uri):
        return False
    try:
        parts = urllib.parse.urlsplit(uri)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and not parts.fragment
        and "#" not in uri
    )


# --- who logs in -----------------------------------------------------------------------------------


class _InvalidLogin(Exception):
    """A login form field that cannot be used; `field` is its name, `str()` a Dutch sentence."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Person(msgspec.Struct, frozen=True):
    subject: str
    tenant: str | None
    employee: str | None
    roles: tuple[str, ...]


_LABELS: Final = {"tenant": "Tenant", "employee": "Medewerker", "role": "Rol", "subject": "Gebruiker"}


def _form_fields(idp: DevIdpIssuer) -> tuple[str, ...]:
    return ("subject",) if idp.operator else ("tenant", "employee", "role")


def _defaults(idp: DevIdpIssuer, request: AuthorizationRequest) -> dict[str, str]:
    if idp.operator:
        return {"subject": _DEFAULT_OPERATOR}
    role = TENANT_ROLE_CHOICES[0][0]
    return {"tenant": request.login_hint or "", "employee": _DEFAULT_EMPLOYEE, "role": role}


def _person(idp: DevIdpIssuer, values: Mapping[str, str]) -> _Person:
    if idp.operator:
        subject = _name(values, "subject")
        return _Person(subject=subject, tenant=None, employee=None, roles=(_OPERATOR_ROLE,))
    tenant = _name(values, "tenant")
    employee = _name(values, "employee")
    role = values.get("role", "")
    if role not in {value for value, _label in TENANT_ROLE_CHOICES}:
        raise _InvalidLogin("role", "Kies een van de rollen in de lijst.")
    return _Person(
        subject=f"{tenant}-{employee}", tenant=tenant, employee=employee, roles=tuple(role.split())
    )


def _name(values: Mapping[str, str], field: str) -> str:
    value = values.get(field, "").strip()
    if not _NAME.match(value):
        raise _InvalidLogin(
            field,
            f"Vul bij {_LABELS[field]} een waarde in van hoogstens 64 tekens, zonder spaties "
            "(letters, cijfers, punt, streepje, liggend streepje of @).",
        )
    return value


# --- the login server ------------------------------------------------------------------------------


def create_login_app(codes: AuthorizationCodes) -> Litestar:
    """The login server's app: both issuers' authorize pages (GET the form, POST it), nothing else."""
    handlers = [handler for idp in DEV_IDP_ISSUERS for handler in _authorize_handlers(idp, codes)]
    # Logging belongs to whoever runs the sandbox (the CLI configures structlog with redaction).
    return Litestar(route_handlers=handlers, openapi_config=None, logging_config=None)


def _authorize_handlers(idp: DevIdpIssuer, codes: AuthorizationCodes) -> list[HTTPRouteHandler]:
    def show(request: Request[Any, Any, Any]) -> Response[str]:
        try:
            authorization = parse_authorization_request(request.query_params.dict())
        except InvalidAuthorizationRequest as problem:
            return _error_page(str(problem))
        return _form_page(idp, authorization, _defaults(idp, authorization))

    async def submit(request: Request[Any, Any, Any]) -> Response[str]:
        form = (await request.form()).dict()
        try:
            authorization = parse_authorization_request(form)
        except InvalidAuthorizationRequest as problem:
            return _error_page(str(problem))
        values = {name: str(form[name][0]) if form.get(name) else "" for name in _form_fields(idp)}
        try:
            person = _person(idp, values)
        except _InvalidLogin as problem:
            return _form_page(idp, authorization, values, problem)
        code = codes.issue(
            AuthorizationGrant(
                issuer=idp.issuer,
                client_id=authorization.client_id,
                redirect_uri=authorization.redirect_uri,
                code_challenge=authorization.code_challenge,
                nonce=authorization.nonce,
                subject=person.subject,
                tenant=person.tenant,
                employee=person.employee,
                roles=person.roles,
            )
        )
        location = _with_query(authorization.redirect_uri, code=code, state=authorization.state)
        headers = {**_NO_STORE, "Location": location, "Referrer-Policy": "no-referrer"}
        return Response("", status_code=303, headers=headers, media_type=MediaType.TEXT)

    name = f"dev-idp-authorize{idp.path}"
    return [
        get(idp.authorize_path, name=f"{name}-form", sync_to_thread=False)(show),
        post(idp.authorize_path, name=f"{name}-login")(submit),
    ]


def _with_query(uri: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _page(title: str, content: str, status: int) -> Response[str]:
    html = (
        '<!DOCTYPE html>\n<html lang="nl">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{content}</main>\n</body>\n</html>\n"
    )
    return Response(html, status_code=status, media_type=MediaType.HTML, headers=_PAGE_HEADERS)


def _error_page(message: str) -> Response[str]:
    content = (
        "<h1>Ongeldig inlogverzoek</h1>\n"
        f'<p class="fout">{escape(message)}</p>\n'
        "<p>De applicatie die u hierheen stuurde, vroeg iets wat deze identiteitsprovider niet "
        "kan geven. Ga terug naar die applicatie en begin opnieuw met inloggen.</p>\n"
    )
    return _page(f"Ongeldig inlogverzoek – ontwikkel-identiteitsprovider – {_SITE}", content, 400)


def _form_page(
    idp: DevIdpIssuer,
    authorization: AuthorizationRequest,
    values: Mapping[str, str],
    problem: _InvalidLogin | None = None,
) -> Response[str]:
    heading = f"Inloggen{' als operator' if idp.operator else ''} bij de ontwikkel-identiteitsprovider"
    who = "operators van de leverancier" if idp.operator else "medewerkers van een tenant"
    parts = [f"<h1>{heading}</h1>\n"]
    if problem is not None:
        parts.append(
            '<div class="fout" role="alert">\n<h2>Er is iets niet goed ingevuld</h2>\n'
            f'<p><a href="#{problem.field}">{escape(str(problem))}</a></p>\n</div>\n'
        )
    parts.append(
        f"<p>Voor {who}, in de ontwikkelomgeving (sandbox): er is geen wachtwoord, u kiest zelf "
        f"als wie u inlogt bij <strong>{escape(authorization.client_id)}</strong>.</p>\n"
        f'<form method="post" action="{escape(idp.authorize_path)}">\n'
    )
    parts.extend(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">\n'
        for name, value in authorization.parameters()
    )
    invalid = problem.field if problem is not None else None
    parts.append(_operator_fields(values, invalid) if idp.operator else _tenant_fields(values, invalid))
    parts.append('<button type="submit">Inloggen</button>\n</form>\n')
    title = heading if problem is None else f"Fout: {heading}"
    return _page(f"{title} – {_SITE}", "".join(parts), 200 if problem is None else 400)


def _tenant_fields(values: Mapping[str, str], invalid: str | None) -> str:
    chosen = values.get("role", "")
    options = "".join(
        f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>{escape(label)}</option>\n'
        for value, label in TENANT_ROLE_CHOICES
    )
    return (
        _text_field(
            "tenant",
            "De korte naam van de tenant, zoals in tenants/ (bijvoorbeeld amsterdam).",
            values,
            invalid,
        )
        + _text_field("employee", "Het medewerkernummer (claim employee_id).", values, invalid)
        + '<label for="role">Rol</label>\n'
        + '<p class="hint" id="role-hint">Beheerrollen in het beheerportaal en de beheer-API.</p>\n'
        + f'<select id="role" name="role" aria-describedby="role-hint"{_invalid("role", invalid)}>\n'
        + f"{options}</select>\n"
    )


def _operator_fields(values: Mapping[str, str], invalid: str | None) -> str:
    return (
        _text_field("subject", "De naam van de operator (claim sub).", values, invalid)
        + "<p>Rol: <strong>operator</strong> (vast).</p>\n"
    )


def _text_field(field: str, hint: str, values: Mapping[str, str], invalid: str | None) -> str:
    value = escape(values.get(field, ""))
    return (
        f'<label for="{field}">{_LABELS[field]}</label>\n'
        f'<p class="hint" id="{field}-hint">{escape(hint)}</p>\n'
        f'<input id="{field}" name="{field}" type="text" value="{value}" required '
        f'autocomplete="off" spellcheck="false" aria-describedby="{field}-hint"{_invalid(field, invalid)}>\n'
    )


def _invalid(field: str, invalid: str | None) -> str:
    return ' aria-invalid="true"' if field == invalid else ""


# --- the token endpoint (HTTPS server) -------------------------------------------------------------


def pkce_s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redeem_code(idp: DevIdpIssuer, form: Mapping[str, str], codes: AuthorizationCodes) -> AuthorizationGrant:
    """The grant of a token request's code, after every check of RFC 6749 §4.1.3 and RFC 7636 §4.6.

    Raises `OAuthError` (`unsupported_grant_type`, `invalid_request`, `invalid_grant`). The code is
    used up by the attempt, whatever its outcome.
    """
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "Missing parameter: grant_type.")
    if grant_type != "authorization_code":
        raise OAuthError("unsupported_grant_type", "Only the authorization_code grant is supported.")
    for name in ("code", "redirect_uri", "client_id", "code_verifier"):
        if not form.get(name):
            raise OAuthError("invalid_request", f"Missing parameter: {name}.")
    grant = codes.redeem(form["code"])
    if grant is None:
        raise OAuthError("invalid_grant", "The authorization code is unknown, expired or already used.")
    if grant.issuer != idp.issuer:
        raise OAuthError("invalid_grant", "The authorization code was issued by another issuer.")
    if grant.client_id != form["client_id"]:
        raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
    if grant.redirect_uri != form["redirect_uri"]:
        raise OAuthError("invalid_grant", "The redirect_uri differs from the authorization request's.")
    verifier = form["code_verifier"]
    if not _PKCE_VALUE.match(verifier) or not secrets.compare_digest(
        pkce_s256_challenge(verifier), grant.code_challenge
    ):
        raise OAuthError("invalid_grant", "The code_verifier does not match the code_challenge.")
    return grant


def _issue_tokens(state_dir: Path, grant: AuthorizationGrant) -> dict[str, Any]:
    person: dict[str, Any] = {
        "tenant": grant.tenant,
        "subject": grant.subject,
        "employee": grant.employee,
        "roles": grant.roles,
        "client": grant.client_id,
        "issuer": grant.issuer,
        "lifetime": _TOKEN_LIFETIME_SECONDS,
    }
    nonce = {"nonce": grant.nonce} if grant.nonce is not None else None
    return {
        "access_token": issue_dev_token(state_dir, audience=DEV_IDP_AUDIENCE, **person),
        "id_token": issue_dev_token(state_dir, audience=grant.client_id, extra_claims=nonce, **person),
        "token_type": "Bearer",
        "expires_in": _TOKEN_LIFETIME_SECONDS,
        "scope": "openid",
    }


def dev_idp_token_endpoints(state_dir: Path, codes: AuthorizationCodes) -> list[HTTPRouteHandler]:
    """Both issuers' `POST .../token` (authorization code + PKCE; public clients) for the HTTPS app."""
    return [_token_handler(idp, state_dir, codes) for idp in DEV_IDP_ISSUERS]


def _token_handler(idp: DevIdpIssuer, state_dir: Path, codes: AuthorizationCodes) -> HTTPRouteHandler:
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            form = _token_form(request.headers.get("content-type"), await request.body())
            grant = redeem_code(idp, form, codes)
        except OAuthError as error:
            return _json(error.body(), error.status)
        return _json(_issue_tokens(state_dir, grant), 200)

    return post(idp.token_path, name=f"dev-idp-token{idp.path}")(token)


def _token_form(content_type: str | None, body: bytes) -> dict[str, str]:
    if (content_type or "").split(";")[0].strip().lower() != _FORM_MEDIA_TYPE:
        raise OAuthError("invalid_request", f"The request must be {_FORM_MEDIA_TYPE}.")
    return parse_token_form(body)


def _json(body: Mapping[str, Any], status: int) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body), status_code=status, media_type=MediaType.JSON, headers=_NO_STORE
    )
