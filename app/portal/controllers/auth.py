"""Login and logout under `/beheer`: `/inloggen`, `/auth/start`, `/auth/callback/…`, `/uitloggen`.

1. The login page asks for the organisation (its slug; the page never lists tenants, so it does
   not tell who the broker's customers are), or offers the operator's login.
2. `start` remembers state and PKCE verifier server-side under a fresh login cookie and sends the
   browser to the identity provider (`app.portal.login`).
3. The identity provider answers at the callback address of its owner (`/auth/callback/operator`,
   `/auth/callback/t/<slug>`: one per owner, so an answer cannot complete another owner's login).
   The callback takes the login (once), checks the address, `state` and `iss`, redeems the code,
   decides who the person is as the admin API would, and opens a session only when the token's
   issuer and tenant are those of the login that was started. Its answer is a page that moves on
   to `/beheer` itself: the browser withholds a `SameSite=Strict` cookie on a redirect chain that
   another site started, so a plain redirect would arrive without the new session.
4. Logout is a POST with the form token; it ends the session server-side.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

import structlog
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.admin.auth import Identified
from app.brp.problems import ProblemError
from app.portal.login import LoginFailed, LoginTarget, login_targets, new_login_secrets, operator_target
from app.portal.sessions import PendingLogin, Person
from app.portal.web import (
    LOGIN_COOKIE,
    LOGIN_CSP,
    PORTAL_PATH,
    SESSION_COOKIE,
    checked_form,
    cookie_name,
    expired_cookie,
    portal_of,
    redirect,
    session_cookie,
    session_of,
)

__all__ = ["AUTH_ROUTES", "callback_path"]

_log = structlog.get_logger("app.portal")

_NO_LOGIN: Final = (
    "Voor deze organisatie is inloggen in het beheerportaal niet ingericht. Vraag uw leverancier."
)
_FAILED: Final = "Inloggen is niet gelukt. Probeer het opnieuw."
_NO_ROLE: Final = (
    "U bent ingelogd, maar u heeft geen beheerrol (beheerder of functionaris gegevensbescherming) "
    "voor het beheerportaal. Vraag uw beheerder om de rol."
)
_SLUG_LIMIT: Final = 63
_SUBJECT_LIMIT: Final = 512
_ISSUER_LIMIT: Final = 2048


def _login_page(
    request: Request[Any, Any, Any], *, message: str | None = None, organisation: str = "", status: int = 200
) -> Template:
    portal = portal_of(request)
    return Template(
        template_name="login.html",
        status_code=status,
        context={
            "title": "Inloggen",
            "portal": PORTAL_PATH,
            "message": message,
            "organisation": organisation,
            "operator_login": operator_target(portal.settings) is not None,
            "logged_out": request.query_params.get("uitgelogd") == "1",
            "reason": request.query_params.get("reden") == "sessie",
        },
        headers={"Content-Security-Policy": LOGIN_CSP},
    )


@get("/inloggen", sync_to_thread=False)
def login_page(request: Request[Any, Any, Any]) -> Template:
    """The login page."""
    return _login_page(request)


@get("/auth/start")
async def start_login(request: Request[Any, Any, Any]) -> Redirect | Template:
    """Send the browser to the chosen organisation's (or the operator's) identity provider."""
    portal = portal_of(request)
    organisation = (request.query_params.get("organisatie") or "").strip().lower()[:_SLUG_LIMIT]
    target: LoginTarget | None
    if request.query_params.get("operator") == "1":
        target = operator_target(portal.settings)
    else:
        targets = login_targets(portal.directory, organisation)
        target = targets[0] if targets else None
    if target is None:
        return _login_page(request, message=_NO_LOGIN, organisation=organisation, status=400)
    state, verifier = new_login_secrets()
    try:
        url = await portal.oidc.authorization_url(
            target, _callback_uri(request, target.tenant), state=state, code_verifier=verifier
        )
    except LoginFailed as failed:
        return _login_page(request, message=str(failed), organisation=organisation, status=502)
    cookie = await portal.sessions.begin_login(
        PendingLogin(state=state, code_verifier=verifier, tenant=target.tenant, issuer=target.issuer)
    )
    return Redirect(path=url, status_code=303, cookies=[session_cookie(request, cookie, base=LOGIN_COOKIE)])


@get("/auth/callback/operator")
async def operator_callback(request: Request[Any, Any, Any]) -> Template:
    """Complete a login at the operator's identity provider."""
    return await _complete_login(request, None)


@get("/auth/callback/t/{slug:str}")
async def tenant_callback(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """Complete a login at an identity provider of the tenant `slug`."""
    return await _complete_login(request, slug)


async def _complete_login(request: Request[Any, Any, Any], tenant: str | None) -> Template:
    """Check the state and that the answer comes back for the login that was started, redeem the
    code, and open a session for the person the token proves — only if it is that login's."""
    portal = portal_of(request)
    cookie = request.cookies.get(cookie_name(request, LOGIN_COOKIE))
    pending = await portal.sessions.take_login(cookie) if cookie else None
    query = request.query_params
    code = query.get("code") or ""
    if pending is None or not code or not _answers(pending, tenant, query.get("state"), query.get("iss")):
        _log.info("portal_login_refused", reason="state")
        return _login_page(request, message=_FAILED, status=400)
    target = _target_of(request, pending)
    if target is None:
        return _login_page(request, message=_NO_LOGIN, status=400)
    try:
        token = await portal.oidc.redeem(
            target, _callback_uri(request, tenant), code=code, code_verifier=pending.code_verifier
        )
        identified = await portal.authenticator.identify(token)
    except LoginFailed as failed:
        _log.info("portal_login_refused", reason="code")
        return _login_page(request, message=str(failed), status=502)
    except ProblemError:
        _log.info("portal_login_refused", reason="token")
        return _login_page(request, message=_FAILED, status=401)
    actor = identified.actor
    if identified.issuer != pending.issuer or actor.tenant != pending.tenant or not _storable(identified):
        # A token of another provider or tenant than the login went to (an identity provider
        # answering for another one: the OAuth mix-up) never becomes a session.
        _log.info("portal_login_refused", reason="mix_up", tenant=pending.tenant)
        return _login_page(request, message=_FAILED, status=401)
    if not actor.roles:
        _log.info("portal_login_refused", reason="no_role", tenant=actor.tenant)
        return _login_page(request, message=_NO_ROLE, status=403)
    person = Person(
        tenant=actor.tenant,
        subject=actor.subject,
        issuer=identified.issuer,
        idp_roles=identified.principal.roles,
    )
    value, _ = await portal.sessions.open(person)
    _log.info("portal_login", tenant=actor.tenant, role=actor.role())
    return Template(
        template_name="signed_in.html",
        context={"title": "Ingelogd", "portal": PORTAL_PATH, "next": PORTAL_PATH},
        cookies=[session_cookie(request, value), expired_cookie(request, LOGIN_COOKIE)],
    )


def _answers(pending: PendingLogin, tenant: str | None, state: str | None, issuer: str | None) -> bool:
    """Whether a callback answers this browser's login: its own callback address (one per
    identity provider's owner, RFC 9700 §4.4.2), its `state`, and its issuer when the provider
    names it (`iss`, RFC 9207)."""
    if pending.tenant != tenant or not hmac.compare_digest((state or "").encode(), pending.state.encode()):
        return False
    return issuer is None or issuer == pending.issuer


def _storable(identified: Identified) -> bool:
    """Whether a session can hold who the token names (the limits of migration 0015)."""
    return 0 < len(identified.actor.subject) <= _SUBJECT_LIMIT and len(identified.issuer) <= _ISSUER_LIMIT


@post("/uitloggen")
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    """End the session (server-side) and forget its cookie."""
    session = await session_of(request)
    await checked_form(request, session)
    value = request.cookies.get(cookie_name(request, SESSION_COOKIE)) or ""
    await portal_of(request).sessions.close(value)
    return redirect(f"{PORTAL_PATH}/inloggen?uitgelogd=1", [expired_cookie(request, SESSION_COOKIE)])


def _target_of(request: Request[Any, Any, Any], pending: PendingLogin) -> LoginTarget | None:
    """The identity provider the login went to, if it is still configured for the portal."""
    portal = portal_of(request)
    if pending.tenant is None:
        target = operator_target(portal.settings)
        return target if target is not None and target.issuer == pending.issuer else None
    return next(
        (t for t in login_targets(portal.directory, pending.tenant) if t.issuer == pending.issuer), None
    )


def _callback_uri(request: Request[Any, Any, Any], tenant: str | None) -> str:
    """Where the identity provider sends the browser back: one address per owner of identity
    providers (the operator, each tenant), so an answer cannot complete another's login."""
    configured = portal_of(request).settings.portal_url
    base = configured.rstrip("/") if configured else f"{request.url.scheme}://{request.url.netloc}"
    return f"{base}{callback_path(tenant)}"


def callback_path(tenant: str | None) -> str:
    """The portal's redirect URI path for the operator's (None) or a tenant's identity providers:
    the one to register at that identity provider."""
    return f"{PORTAL_PATH}/auth/callback/" + ("operator" if tenant is None else f"t/{tenant}")


AUTH_ROUTES: Final = (login_page, start_login, operator_callback, tenant_callback, logout)
