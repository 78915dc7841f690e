"""The `/beheer` router: every portal page, its static files, its error pages and its headers.

The portal answers HTML, never problem+json: a `ProblemError` from the domain (403, 404, 409, a
503 when the database is down...) becomes the error page with the same status and its Dutch
words; no session sends the person to the login page; a form without this session's token is 403.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import structlog
from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from app.admin.auth import AdminRole
from app.admin.text import refuse_nul_in_address
from app.brp.problems import ProblemError
from app.portal.controllers import PAGES
from app.portal.web import (
    PORTAL_PATH,
    FormRefused,
    LoginRequired,
    cached_session,
    page,
    secure_headers,
    session_of,
)

__all__ = ["portal_router", "portal_template_config"]

_log = structlog.get_logger("app.portal")

_HERE: Final = Path(__file__).parent
TEMPLATES: Final = _HERE / "templates"
STATIC: Final = _HERE / "static"


def portal_template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The portal's templates (Jinja, autoescaped)."""
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)


@get("/", name="portal_home")
async def home(request: Request[Any, Any, Any]) -> Redirect:
    """Where a person starts: the operator's tenants, a tenant's overview, or an officer's inzage."""
    actor = (await session_of(request)).actor
    if actor.is_operator:
        return Redirect(path=f"{PORTAL_PATH}/operator", status_code=303)
    base = f"{PORTAL_PATH}/t/{actor.tenant}"
    if AdminRole.TENANT_ADMIN in actor.roles:
        return Redirect(path=base, status_code=303)
    return Redirect(path=f"{base}/inzage", status_code=303)


_NOT_FOUND: Final = "Deze pagina bestaat niet"
_NOT_FOUND_DETAIL: Final = "Het adres klopt niet, of de pagina hoort niet bij uw organisatie."


def _to_login(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    query = "?reden=sessie" if exc.reason else ""
    return secure_headers(Redirect(path=f"{PORTAL_PATH}/inloggen{query}", status_code=303))


def _error_page(
    request: Request[Any, Any, Any], status: int, title: str, detail: str | None
) -> Response[Any]:
    context = {"detail": detail, "status": status}
    session = cached_session(request)
    if session is None:
        answer = Template(
            template_name="error.html",
            status_code=status,
            context={**context, "title": title, "portal": PORTAL_PATH},
        )
    else:  # the person stays logged in: the page keeps their menu and logout
        slug = request.path_params.get("slug")
        own = slug if isinstance(slug, str) and slug == session.actor.tenant else None
        answer = page("error.html", session, title=title, slug=own, status_code=status, context=context)
    return secure_headers(answer)


def _on_problem(request: Request[Any, Any, Any], exc: ProblemError) -> Response[Any]:
    problem = exc.problem
    if problem.status == 404:
        # One answer for a page that does not exist and another tenant's page (which must not be
        # told apart), in plain words rather than the API's.
        return _error_page(request, 404, _NOT_FOUND, _NOT_FOUND_DETAIL)
    return _error_page(request, problem.status, problem.title, problem.detail)


def _on_form_refused(request: Request[Any, Any, Any], _: FormRefused) -> Response[Any]:
    _log.info("portal_form_refused", path=request.url.path)
    detail = (
        "Het formulier is verlopen of kwam niet van deze pagina. "
        "Open de pagina opnieuw en probeer het nog eens."
    )
    return _error_page(request, 403, "Formulier geweigerd", detail)


def portal_router() -> Router:
    """The portal as served under `/beheer`."""
    static = create_static_files_router(
        path="/static",
        directories=[STATIC],
        name="portal_static",
        cache_control=CacheControlHeader(max_age=3600, public=True),
        include_in_schema=False,
    )
    return Router(
        path=PORTAL_PATH,
        route_handlers=[home, *PAGES, static],
        include_in_schema=False,
        before_request=refuse_nul_in_address,
        after_request=secure_headers,
        exception_handlers={
            LoginRequired: _to_login,
            FormRefused: _on_form_refused,
            ProblemError: _on_problem,
        },
    )
