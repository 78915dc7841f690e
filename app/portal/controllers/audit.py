"""Audit: `/beheer/t/{slug}/audit`, every change to a tenant's configuration with its before and after.

Read through `app.audit.AuditService.tenant_page`, as the admin API's `GET .../audit`: in the
tenant's own scope (row-level security), newest first, paged by the service's cursor. The filter
is a GET form (dates, person, resource): its values are employee identifiers and configuration
names, never a citizen's data, so they may be in the address.

- Dates are days in Europe/Amsterdam: `van` from 00:00 that day, `tot` up to and including that day.
  Only the days `app.portal.forms.form_day` takes (1900..9998): other years are a 400 at the field.
- The resource is the service's exact filter.
- The person is "the actor's label contains" (case-insensitive), which the service cannot filter:
  this module reads the service's pages and keeps the matching entries, up to a page of
  `_PAGE` and at most `_SCAN` entries read per request; the service's cursor continues from there.

Secrets are fingerprints in the audit already (`app.audit.entry`); this module shows what it reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import urlencode

import asyncpg
import msgspec
import structlog
from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from app.audit import AuditFilter, AuditQueryError, AuditRecord, AuditService, UnknownAuditTenant
from app.brp.problems import InvalidParam, bad_request, not_found, service_unavailable
from app.portal.dutch import ZONE, dutch_moment
from app.portal.forms import form_day, summary
from app.portal.sessions import PortalSession
from app.portal.web import PORTAL_PATH, page, tenant_admin_session

__all__ = ["AUDIT_ROUTES", "AuditQuery", "EntryView"]

_log = structlog.get_logger("app.portal")

_PAGE: Final = 100
_SCAN: Final = 1000  # entries read per request at most when filtering by person
_PERSON_LIMIT: Final = 200

RESOURCES: Final = {
    "tenant": "Organisatie",
    "member": "Lidorganisatie",
    "issuer": "Identiteitsprovider",
    "afnemer": "Afnemer (AfnemerID)",
    "gegevensset": "Gegevensset",
    "rule": "Toegangsregel",
    "limit": "Limiet",
    "limit_ceiling": "Plafond van een limiet",
}
# The filter's fields: element id and label in the error summary.
_FILTER_FIELDS: Final = {
    "van": ("van", "Vanaf"),
    "tot": ("tot", "Tot en met"),
    "onderdeel": ("onderdeel", "Onderdeel"),
    "persoon": ("persoon", "Persoon"),
}
_ACTIONS: Final = {
    "add": ("toegevoegd", "badge--ok"),
    "change": ("gewijzigd", "badge--warn"),
    "remove": ("verwijderd", "badge--error"),
}
# The keys of limits and their ceilings are scopes: shown in words.
_SCOPES: Final = {"tenant": "hele organisatie", "afnemer": "per AfnemerID", "employee": "per medewerker"}
_ROLES: Final = {
    "operator": "operator",
    "tenant-admin": "beheerder",
    "privacy-officer": "functionaris gegevensbescherming",
}


class AuditQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The filter form's values as sent (`verder`: the service's cursor of the page before)."""

    van: str = ""
    tot: str = ""
    persoon: str = ""
    onderdeel: str = ""
    verder: str = ""

    def link(self, **changed: str) -> str:
        """The query string of this filter with `changed` values (empty ones left out)."""
        values = {**msgspec.structs.asdict(self), **changed}
        return urlencode({name: value for name, value in values.items() if value})


class EntryView(msgspec.Struct, frozen=True, kw_only=True):
    """One audit entry as the page shows it."""

    moment: str
    iso: str
    actor: str
    role: str
    via: str
    action: str
    badge: str
    resource: str
    key: str
    key_is_code: bool
    changed: tuple[str, ...]
    before: str | None
    after: str | None


def _pretty(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return msgspec.json.format(msgspec.json.encode(value, order="sorted"), indent=2).decode()


def _changed(record: AuditRecord) -> tuple[str, ...]:
    """The top-level fields a change altered (nothing for an addition or a removal)."""
    before, after = record.before, record.after
    if before is None or after is None:
        return ()
    return tuple(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)))


def _via(record: AuditRecord) -> str:
    if record.via == "api":
        return "via beheer-API of portaal"
    return f"via tenantbestand {record.source}" if record.source else "via tenantbestand"


def _entry_view(record: AuditRecord) -> EntryView:
    action, badge = _ACTIONS.get(record.action, (record.action, "badge--muted"))
    scoped = record.resource in ("limit", "limit_ceiling")
    return EntryView(
        moment=dutch_moment(record.recorded_at),
        iso=record.recorded_at.isoformat(),
        actor=record.actor,
        role=_ROLES.get(record.role, record.role),
        via=_via(record),
        action=action,
        badge=badge,
        resource=RESOURCES.get(record.resource, record.resource),
        key=_SCOPES.get(record.key, record.key) if scoped else record.key,
        key_is_code=not scoped,
        changed=_changed(record),
        before=_pretty(record.before),
        after=_pretty(record.after),
    )


# -- the filter ----------------------------------------------------------------------------------------


def _query(request: Request[Any, Any, Any]) -> AuditQuery:
    params = request.query_params

    def text(name: str) -> str:
        return (params.get(name) or "").strip()

    return AuditQuery(
        van=text("van"),
        tot=text("tot"),
        persoon=text("persoon")[:_PERSON_LIMIT],
        onderdeel=text("onderdeel"),
        verder=text("verder"),
    )


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZONE)


def _filter(query: AuditQuery) -> tuple[AuditFilter, dict[str, str]]:
    """The service's filter, and messages by field id for what cannot be one."""
    errors: dict[str, str] = {}
    since = until = None
    try:
        since = _start_of(form_day(query.van)) if query.van else None
    except ValueError as problem:
        errors["van"] = str(problem)
    try:
        # `form_day` keeps the day after inside `datetime`'s years.
        until = _start_of(form_day(query.tot) + dt.timedelta(days=1)) if query.tot else None
    except ValueError as problem:
        errors["tot"] = str(problem)
    if since is not None and until is not None and until <= since:
        errors["tot"] = "Deze datum ligt vóór de datum bij 'Vanaf'."
    if query.onderdeel and query.onderdeel not in RESOURCES:
        errors["onderdeel"] = "Kies een onderdeel uit de lijst."
    resource = query.onderdeel or None
    return AuditFilter(since=since, until=until, resource=resource), errors


# -- reading ---------------------------------------------------------------------------------------------


def _service(request: Request[Any, Any, Any]) -> AuditService:
    resources = request.app.state.resources
    return AuditService(
        resources.pool,
        owner_url=resources.settings.database_owner_url,
        timeout=resources.settings.database_timeout,
    )


@asynccontextmanager
async def _problems() -> AsyncIterator[None]:
    """The audit's refusals and a database that cannot answer, as problems (the error page)."""
    try:
        yield
    except UnknownAuditTenant:
        raise not_found() from None
    except AuditQueryError:
        raise bad_request(
            [InvalidParam(code="invalid", name="verder", reason="Deze vervolgpagina bestaat niet.")]
        ) from None
    except (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.InterfaceError) as error:
        _log.warning("portal_audit_read_failed", error=type(error).__name__)
        raise service_unavailable(
            "auditUnavailable",
            "De audit kan nu niet worden gelezen; probeer het later opnieuw.",
            retry_after=5,
        ) from None


async def _read(
    service: AuditService, slug: str, filters: AuditFilter, query: AuditQuery
) -> tuple[list[AuditRecord], str | None]:
    """One page of entries and the cursor after it (None: no older ones)."""
    cursor = query.verder or None
    if not query.persoon:
        found = await service.tenant_page(slug, filters, limit=_PAGE, cursor=cursor)
        return list(found.entries), found.next_cursor
    needle = query.persoon.casefold()
    matching: list[AuditRecord] = []
    scanned = 0
    while scanned < _SCAN:
        # Never more than the page still holds, so the cursor continues right after the last kept.
        batch = await service.tenant_page(slug, filters, limit=_PAGE - len(matching), cursor=cursor)
        scanned += len(batch.entries)
        matching += [entry for entry in batch.entries if needle in entry.actor.casefold()]
        cursor = batch.next_cursor
        if cursor is None or len(matching) >= _PAGE:
            break
    return matching, cursor


@get("/t/{slug:str}/audit")
async def audit_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The tenant's changes, newest first, filtered by date, person and resource."""
    session = await tenant_admin_session(request, slug)
    query = _query(request)
    filters, errors = _filter(query)
    if errors:
        return _render(session, slug, query, errors=errors, status=400)
    async with _problems():
        records, cursor = await _read(_service(request), slug, filters, query)
    return _render(session, slug, query, entries=[_entry_view(r) for r in records], cursor=cursor)


def _render(
    session: PortalSession,
    slug: str,
    query: AuditQuery,
    *,
    entries: list[EntryView] | None = None,
    cursor: str | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Template:
    base = f"{PORTAL_PATH}/t/{slug}/audit"
    context = {
        "query": query,
        "entries": entries or [],
        "resources": RESOURCES,
        "errors": dict(errors or {}),
        "summary": summary(errors or {}, _FILTER_FIELDS),
        "filtered": bool(query.van or query.tot or query.persoon or query.onderdeel),
        "older": _href(base, query.link(verder=cursor)) if cursor else None,
        "newest": _href(base, query.link(verder="")) if query.verder else None,
        "base": base,
    }
    return page(
        "audit.html", session, title="Audit", slug=slug, current="audit", status_code=status, context=context
    )


def _href(base: str, query_string: str) -> str:
    return f"{base}?{query_string}" if query_string else base


AUDIT_ROUTES: Final = (audit_page,)
