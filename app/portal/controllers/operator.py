"""The operator's tenants: `GET /beheer/operator`, every tenant with its status, and suspend/resume.

Every tenant (`TenancyService.slugs` + `read`, as the admin API's list) with its status and who
manages it. An API-managed tenant gets a suspend/resume button: the admin API's `PATCH
/tenants/{slug}` edit (`status`) through `TenancyService.change`, with the ETag the page was
rendered with. A suspension ends the tenant's portal sessions at once (the session check would
also end them lazily). A file-managed tenant is read-only here. Onboarding a tenant ("Nieuwe
organisatie aansluiten") is `onboarding`.

Operators only: anyone else gets 403 with the admin API's words (`app.admin.auth.operator_only`).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.admin.schemas import tenant_view
from app.admin.writes import change_request, service_of
from app.brp.problems import ProblemError
from app.portal.forms import CHANGED_MEANWHILE, first
from app.portal.sessions import PortalSession
from app.portal.web import PORTAL_PATH, checked_form, operator_session, page, portal_of, redirect
from app.tenancy.service import Document, TenantState, etag_of

__all__ = ["KIND_LABELS", "OPERATOR_PATH", "OPERATOR_ROUTES", "PATTERN_LABELS"]

OPERATOR_PATH: Final = f"{PORTAL_PATH}/operator"

KIND_LABELS: Final = {"organisation": "organisatie", "samenwerkingsverband": "samenwerkingsverband"}
PATTERN_LABELS: Final = {
    "saas": "SaaS (eigen AfnemerID)",
    "delegatie": "samenwerkingsverband onder delegatie",
    "gezamenlijk_personeel": "samenwerkingsverband met gezamenlijk personeel",
}


# -- the tenants list -------------------------------------------------------------------------------


class TenantRow(msgspec.Struct, frozen=True, kw_only=True):
    """One tenant in the operator's list, with the ETag its status form carries."""

    slug: str
    name: str
    kind: str
    pattern: str
    active: bool
    file_managed: bool
    afnemers: int
    etag: str


def _row(state: TenantState) -> TenantRow:
    spec = state.spec
    return TenantRow(
        slug=spec.slug,
        name=spec.name,
        kind=KIND_LABELS.get(spec.kind, spec.kind),
        pattern=PATTERN_LABELS.get(spec.pattern, spec.pattern),
        active=spec.status == "active",
        file_managed=state.managed_by != "api",
        afnemers=len(spec.afnemers),
        etag=etag_of(tenant_view(state)) or "",
    )


async def _tenant_rows(request: Request[Any, Any, Any]) -> list[TenantRow]:
    service = service_of(request)
    rows: list[TenantRow] = []
    for slug in await service.slugs():
        try:
            rows.append(_row(await service.read(slug)))
        except ProblemError:  # removed meanwhile
            continue
    return rows


def _notice(request: Request[Any, Any, Any], rows: list[TenantRow]) -> str | None:
    """The confirmation a redirect asked for (only about a tenant that is in the list)."""
    known = {row.slug for row in rows}
    texts = {
        "aangemaakt": "Organisatie {} is aangemaakt en aangesloten.",
        "opgeschort": "Organisatie {} is opgeschort. Haar sessies in het beheerportaal zijn beëindigd.",
        "hervat": "Organisatie {} is weer actief.",
    }
    for key, text in texts.items():
        slug = request.query_params.get(key)
        if slug in known:
            return text.format(slug)
    return None


async def _list_page(
    request: Request[Any, Any, Any],
    session: PortalSession,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    rows = await _tenant_rows(request)
    return page(
        "operator.html",
        session,
        title="Tenants",
        current="operator",
        status_code=status_code,
        context={"rows": rows, "notice": None if error else _notice(request, rows), "error": error},
    )


@get("/operator")
async def tenants_page(request: Request[Any, Any, Any]) -> Template:
    """Every tenant of the broker with its status; suspend/resume for API-managed tenants."""
    session = await operator_session(request)
    return await _list_page(request, session)


@post("/operator/t/{slug:str}/status", status_code=200)
async def change_status(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Suspend (`status=suspended`) or resume (`status=active`) a tenant, as the admin API's PATCH."""
    session = await operator_session(request)
    form = await checked_form(request, session)
    status = first(form, "status", strip=True)
    if status not in ("active", "suspended"):
        return await _list_page(request, session, error="Kies opschorten of hervatten.", status_code=400)

    def edit(document: Document) -> None:
        document.update({"status": status})

    etag = first(form, "etag", strip=True) or None
    try:
        await service_of(request).change(
            change_request(request, session.actor, slug, tenant_view, if_match=etag, dry_run=False), edit
        )
    except ProblemError as error:
        if error.status in (400, 409, 412, 428):
            return await _list_page(
                request, session, error=_status_refusal(error, slug), status_code=error.status
            )
        raise
    if status == "suspended":
        # At once, on every replica: the session check would only notice on the next request.
        await portal_of(request).sessions.close_tenant(slug)
    done = "opgeschort" if status == "suspended" else "hervat"
    return redirect(f"{OPERATOR_PATH}?{urlencode({done: slug})}")


def _status_refusal(error: ProblemError, slug: str) -> str:
    code = error.problem.code
    if code == "tenantManagedByFile":
        return (
            f"Organisatie {slug} wordt beheerd met een tenantbestand (GitOps): "
            "wijzig de status in dat bestand, niet in dit portaal."
        )
    if error.status in (412, 428):
        return CHANGED_MEANWHILE
    return error.problem.detail or error.problem.title


OPERATOR_ROUTES: Final = (tenants_page, change_status)
