"""What every beheerportaal request shares: the portal's services, the session of the request, form
checks (CSRF), cookies, the security headers and rendering a page.

Pages are server-rendered (Jinja, autoescaped) and work without JavaScript. Every answer gets a
Content-Security-Policy without `unsafe-inline` (scripts and styles only from `/beheer/static`),
cannot be framed, is never cached (pages show person data and form tokens), and sends no
Referer outside the portal. The session cookie is `HttpOnly`, `SameSite=Strict`, limited to
`/beheer`, and `Secure` (with the `__Secure-` prefix) whenever the portal is served over TLS.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from app.admin.auth import (
    OPERATOR_TENANT,
    AdminActor,
    AdminAuthenticator,
    AdminRole,
    operator_actor,
    require_tenant_role,
)
from app.brp.problems import forbidden
from app.identity import Principal
from app.portal.login import OidcLogin
from app.portal.sessions import Person, PortalSession, SessionStore
from app.settings import Settings
from app.tenancy import TenantDirectory

__all__ = [
    "CSRF_FIELD",
    "LOGIN_COOKIE",
    "LOGIN_CSP",
    "PORTAL_PATH",
    "SESSION_COOKIE",
    "FormRefused",
    "LoginRequired",
    "NavItem",
    "Portal",
    "cached_session",
    "checked_form",
    "cookie_name",
    "current_actor",
    "expired_cookie",
    "is_tls",
    "navigation",
    "operator_session",
    "page",
    "portal_of",
    "privacy_officer_session",
    "redirect",
    "secure_headers",
    "session_cookie",
    "session_of",
    "tenant_admin_session",
]

PORTAL_PATH: Final = "/beheer"
SESSION_COOKIE: Final = "brp_beheer"
LOGIN_COOKIE: Final = "brp_beheer_login"
CSRF_FIELD: Final = "csrf"
# The admin API's words for what only the operator may do (`app.admin.auth.operator_only`).
_FORBIDDEN_TITLE: Final = "U bent niet geautoriseerd voor deze operatie."
_OPERATOR_ONLY: Final = "Deze operatie is voorbehouden aan de operator."
_SESSION_KEY: Final = "brp_portal_session"

# Scripts, styles and images only from the broker itself: no inline code, no CDN, no framing.
_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# The login page's form goes to /beheer/auth/start, which redirects to the identity provider:
# `form-action` would also cover that redirect, so the login page (no session, no data) omits it.
LOGIN_CSP: Final = _CSP.removesuffix("; form-action 'self'")
_HEADERS: Final = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it a browser sends `Origin: null` on its own forms, which the CSRF check
    # refuses. Same-origin keeps every URL (never one with person data) inside the portal.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True, slots=True)
class Portal:
    """The portal's services, made by the app's lifespan (`app.state.portal`)."""

    settings: Settings
    directory: TenantDirectory
    authenticator: AdminAuthenticator
    sessions: SessionStore
    oidc: OidcLogin


class LoginRequired(Exception):
    """No live session: the person is sent to the login page (with `reason`, a Dutch sentence)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "login required")
        self.reason = reason


class FormRefused(Exception):
    """A POST without this session's form token, or from another origin (CSRF)."""


class NavItem(msgspec.Struct, frozen=True):
    """One entry of the page navigation."""

    key: str
    label: str
    href: str


def portal_of(request: Request[Any, Any, Any]) -> Portal:
    """The app's portal services."""
    portal: Portal = request.app.state.portal
    return portal


def is_tls(request: Request[Any, Any, Any]) -> bool:
    """Whether the portal is served over TLS (its configured address, or this request's scheme)."""
    configured = portal_of(request).settings.portal_url
    if configured is not None:
        return configured.startswith("https://")
    return request.url.scheme == "https"


def cookie_name(request: Request[Any, Any, Any], base: str) -> str:
    """A cookie's name: with the `__Secure-` prefix over TLS, so the browser insists on Secure."""
    return f"__Secure-{base}" if is_tls(request) else base


def session_cookie(request: Request[Any, Any, Any], value: str, *, base: str = SESSION_COOKIE) -> Cookie:
    """The session cookie (or, with `base=LOGIN_COOKIE`, the login cookie) carrying `value`."""
    login = base == LOGIN_COOKIE
    return Cookie(
        key=cookie_name(request, base),
        value=value,
        path=f"{PORTAL_PATH}/auth" if login else PORTAL_PATH,
        httponly=True,
        secure=is_tls(request),
        # The login cookie must come back on the identity provider's redirect (a cross-site
        # navigation), which Strict would withhold; the session cookie never needs that.
        samesite="lax" if login else "strict",
        max_age=600 if login else None,
    )


def expired_cookie(request: Request[Any, Any, Any], base: str) -> Cookie:
    """A cookie that removes the named one from the browser (with the attributes it was set with:
    a browser ignores the removal of a `__Secure-` cookie that is not itself `Secure`)."""
    removal = session_cookie(request, "", base=base)
    removal.max_age = 0
    return removal


def current_actor(portal: Portal, person: Person) -> AdminActor | None:
    """What `person` may do now, by the configuration as it is now (None: nothing any more).

    The operator: while `person.issuer` is still the operator's identity provider. A tenant's
    person: while the tenant is active and still trusts the issuer, with the roles its current
    admin role names give the roles the token carried at login (as `AdminAuthenticator` would).
    """
    if person.tenant is None:
        if portal.settings.operator_issuer != person.issuer:
            return None
        return operator_actor(
            Principal(tenant=OPERATOR_TENANT, subject=person.subject, roles=person.idp_roles)
        )
    tenant = portal.directory.snapshot.tenants.get(person.tenant)
    if tenant is None or not tenant.active:
        return None
    if not any(issuer.issuer == person.issuer for issuer in tenant.spec.issuers):
        return None
    principal = Principal(tenant=person.tenant, subject=person.subject, roles=person.idp_roles)
    return portal.authenticator.tenant_actor(principal)


def cached_session(request: Request[Any, Any, Any]) -> PortalSession | None:
    """The request's session if `session_of` has found it already (an error page shows who is logged in)."""
    cached = request.state.get(_SESSION_KEY)
    return cached if isinstance(cached, PortalSession) else None


async def session_of(request: Request[Any, Any, Any]) -> PortalSession:
    """The request's live session (cached per request), or `LoginRequired`.

    The person is judged anew on every request (`current_actor`): a tenant suspended or gone, an
    issuer the tenant no longer trusts, or roles its admin role names no longer grant end the
    session there and then.
    """
    cached = request.state.get(_SESSION_KEY)
    if isinstance(cached, PortalSession):
        return cached
    portal = portal_of(request)
    value = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    stored = await portal.sessions.find(value) if value else None
    if value is None or stored is None:
        raise LoginRequired("Uw sessie is verlopen of beëindigd. Log opnieuw in." if value else None)
    actor = current_actor(portal, stored.person)
    if actor is None or not actor.roles:
        await portal.sessions.close(value)
        raise LoginRequired("U heeft hier geen toegang meer. Log opnieuw in.")
    session = PortalSession(actor=actor, csrf_token=stored.csrf_token, expires_at=stored.expires_at)
    request.state[_SESSION_KEY] = session
    return session


async def tenant_admin_session(request: Request[Any, Any, Any], slug: str) -> PortalSession:
    """The session of an admin of tenant `slug`, or of the operator (another tenant: 404; no role: 403)."""
    session = await session_of(request)
    require_tenant_role(session.actor, slug, AdminRole.TENANT_ADMIN, operator=True)
    return session


async def privacy_officer_session(request: Request[Any, Any, Any], slug: str) -> PortalSession:
    """The session of tenant `slug`'s own privacy officer (another tenant: 404; operator, no role: 403)."""
    session = await session_of(request)
    require_tenant_role(session.actor, slug, AdminRole.PRIVACY_OFFICER, operator=False)
    return session


async def operator_session(request: Request[Any, Any, Any]) -> PortalSession:
    """The request's session, if it is the operator's; 403 otherwise (as `operator_only`)."""
    session = await session_of(request)
    if not session.actor.is_operator:
        raise forbidden("unauthorized", _FORBIDDEN_TITLE, _OPERATOR_ONLY)
    return session


async def checked_form(request: Request[Any, Any, Any], session: PortalSession) -> dict[str, list[str]]:
    """The POSTed form, after checking it carries this session's form token and comes from here."""
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        raise FormRefused
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    sent = (fields.get(CSRF_FIELD) or [""])[0]
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise FormRefused
    return fields


def _own_origin(request: Request[Any, Any, Any]) -> str:
    configured = portal_of(request).settings.portal_url
    if configured is not None:
        parts = urlsplit(configured)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.url.scheme}://{request.url.netloc}"


def navigation(actor: AdminActor, slug: str | None) -> list[NavItem]:
    """The pages this person may open, for the tenant `slug` (None: the operator's own pages)."""
    items: list[NavItem] = []
    if actor.is_operator:
        items.append(NavItem("operator", "Tenants", f"{PORTAL_PATH}/operator"))
    if slug is None:
        return items
    base = f"{PORTAL_PATH}/t/{slug}"
    admin = actor.is_operator or AdminRole.TENANT_ADMIN in actor.roles
    if admin:
        items += [
            NavItem("overzicht", "Overzicht", base),
            NavItem("toegang", "Toegang", f"{base}/toegang"),
            NavItem("gegevenssets", "Gegevenssets", f"{base}/gegevenssets"),
            NavItem("limieten", "Limieten", f"{base}/limieten"),
            NavItem("audit", "Audit", f"{base}/audit"),
        ]
    if AdminRole.PRIVACY_OFFICER in actor.roles:
        items.append(NavItem("inzage", "Inzage", f"{base}/inzage"))
    return items


def page(
    name: str,
    session: PortalSession,
    *,
    title: str,
    slug: str | None = None,
    current: str = "",
    status_code: int = 200,
    context: Mapping[str, Any] | None = None,
) -> Template:
    """A portal page: the template `name` with what the layout needs (title, navigation, form token)."""
    actor = session.actor
    return Template(
        template_name=name,
        status_code=status_code,
        context={
            "title": title,
            "actor": actor,
            "slug": slug,
            "current": current,
            "nav": navigation(actor, slug),
            "csrf": session.csrf_token,
            "csrf_field": CSRF_FIELD,
            "portal": PORTAL_PATH,
            **(context or {}),
        },
    )


def redirect(path: str, cookies: Sequence[Cookie] = ()) -> Redirect:
    """A 303 to a path of the portal (after a POST, the browser GETs the result)."""
    return Redirect(path=path, status_code=303, cookies=list(cookies))


def secure_headers(response: Response[Any]) -> Response[Any]:
    """The portal's security headers on every answer (`after_request` of the portal's router)."""
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("Cache-Control", "no-store")
    return response
