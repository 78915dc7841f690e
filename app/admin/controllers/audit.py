"""The audit log over HTTP: `GET /admin/v1/tenants/{slug}/audit` and `GET /admin/v1/audit`.

- A tenant's audit: its tenant admins and the operator. Read in the tenant's own scope (runtime
  role, row-level security), so nothing of another tenant can appear whatever the query says.
- Every tenant's audit: the operator only, as the owner role (`app.audit.service`).

Both answer newest first, filtered by `since` (inclusive) and `until` (exclusive) as RFC 3339
times, `resource` and `actor` (exact), and paged by `limit` and the opaque `cursor` of the page
before. Each entry shows the change's before and after, secrets only as fingerprints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final

import asyncpg
import structlog
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, operator_only, tenant_admin_of_path
from app.audit import (
    MAX_PAGE,
    AuditFilter,
    AuditPage,
    AuditQueryError,
    AuditService,
    AuditUnavailable,
    UnknownAuditTenant,
    moment_in_range,
)
from app.brp.problems import InvalidParam, ProblemError, bad_request, not_found, service_unavailable

__all__ = ["AUDIT_ROUTES", "AuditController", "TenantAuditController"]

_log = structlog.get_logger("app.admin.audit")

_DEFAULT_LIMIT: Final = 100
_TIME: Final = "An RFC 3339 time with its offset, e.g. 2026-01-31T12:00:00Z"

Since = Annotated[str | None, QueryParameter(description=f"Entries recorded at or after this time. {_TIME}")]
Until = Annotated[str | None, QueryParameter(description=f"Entries recorded before this time. {_TIME}")]
Resource = Annotated[
    str | None,
    QueryParameter(
        description="Only this kind of object: tenant, member, issuer, afnemer, gegevensset, rule, limit"
    ),
]
ActorFilter = Annotated[
    str | None,
    QueryParameter(
        name="actor",
        description="Only changes by this actor: `<tenant>:<subject>`, `operator:<subject>`, `tenants apply`",
    ),
]
Limit = Annotated[
    int | None, QueryParameter(description=f"Entries per page: 1..{MAX_PAGE} (default {_DEFAULT_LIMIT})")
]
Cursor = Annotated[str | None, QueryParameter(description="`next_cursor` of the page before")]


def _service(request: Request[Any, Any, Any]) -> AuditService:
    resources = request.app.state.resources
    return AuditService(
        resources.pool,
        owner_url=resources.settings.database_owner_url,
        timeout=resources.settings.database_timeout,
    )


class TenantAuditController(Controller):
    """`/admin/v1/tenants/{slug}/audit`."""

    path = "/tenants/{slug:str}/audit"
    tags = ("audit",)
    dependencies = ACTOR_DEPENDENCY

    @get("/", guards=[tenant_admin_of_path], summary="The tenant's audit log")
    async def tenant_audit(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        since: Since = None,
        until: Until = None,
        resource: Resource = None,
        by: ActorFilter = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Every change to the tenant's configuration, newest first, with its before and after."""
        filters = _filters(since, until, resource, by)
        async with _problems():
            return await _service(request).tenant_page(slug, filters, limit=_limit(limit), cursor=cursor)


class AuditController(Controller):
    """`/admin/v1/audit` (operators)."""

    path = "/audit"
    tags = ("audit",)
    dependencies = ACTOR_DEPENDENCY

    @get("/", guards=[operator_only], summary="Every tenant's audit log (operator)")
    async def audit(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        tenant: Annotated[str | None, QueryParameter(description="Only this tenant (slug)")] = None,
        since: Since = None,
        until: Until = None,
        resource: Resource = None,
        by: ActorFilter = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Every change to any tenant's configuration, newest first, with its before and after."""
        filters = _filters(since, until, resource, by)
        async with _problems():
            return await _service(request).all_page(
                filters, tenant=tenant, limit=_limit(limit), cursor=cursor
            )


AUDIT_ROUTES: Final = (TenantAuditController, AuditController)


def _filters(since: str | None, until: str | None, resource: str | None, actor: str | None) -> AuditFilter:
    problems: list[InvalidParam] = []
    moments = {name: _moment(name, text, problems) for name, text in (("since", since), ("until", until))}
    if problems:
        raise bad_request(problems)
    return AuditFilter(since=moments["since"], until=moments["until"], resource=resource, actor=actor)


def _moment(name: str, text: str | None, problems: list[InvalidParam]) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.append(InvalidParam(code="date", name=name, reason=f"{_TIME}."))
        return None
    if not moment_in_range(moment):
        problems.append(InvalidParam(code="date", name=name, reason="Waarde ligt niet tussen 1900 en 9999."))
        return None
    return moment


def _limit(limit: int | None) -> int:
    value = _DEFAULT_LIMIT if limit is None else limit
    if not 1 <= value <= MAX_PAGE:
        code = "minimum" if value < 1 else "maximum"
        raise bad_request(
            [InvalidParam(code=code, name="limit", reason=f"Waarde moet tussen 1 en {MAX_PAGE} liggen.")]
        )
    return value


@asynccontextmanager
async def _problems() -> AsyncIterator[None]:
    """The audit's refusals and a database that cannot answer, as problems (never a 500)."""
    try:
        yield
    except UnknownAuditTenant:
        raise not_found() from None
    except AuditQueryError:
        raise bad_request(
            [InvalidParam(code="invalid", name="cursor", reason="Geen cursor die deze API heeft gegeven.")]
        ) from None
    except AuditUnavailable as exc:
        raise service_unavailable("auditUnavailable", str(exc)) from None
    except (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.InterfaceError) as error:
        _log.warning("audit_read_failed", error=type(error).__name__)
        raise _unavailable() from None


def _unavailable() -> ProblemError:
    return service_unavailable(
        "auditUnavailable", "De audit kan nu niet worden gelezen; probeer het later opnieuw.", retry_after=5
    )
