"""How an admin request becomes a `ChangeRequest` of `app.tenancy.service`, and its answer.

Shared by the controllers: the actor as the audit names it, `If-Match` and `?dry_run=true`, the
`ETag` header on every resource returned, and the edits that put or remove one object of a tenant
file section (`rules.<name>`, `afnemers.<id>`, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from litestar import Request, Response
from litestar.params import HeaderParameter, QueryParameter

from app.admin.auth import AdminActor
from app.admin.schemas import ChangePlan, plan
from app.brp.problems import InvalidParam, bad_request, not_found
from app.correlation import correlation_id_of
from app.tenancy import Change
from app.tenancy.service import Actor, ChangeRequest, Document, Edit, TenancyService, TenantState, etag_of

__all__ = [
    "DryRun",
    "IfMatch",
    "change_request",
    "found",
    "put_section_object",
    "remove_section_object",
    "service_of",
    "with_etag",
    "written",
]

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description="The ETag of the resource as last read; required to change or remove an existing one.",
    ),
]
DryRun = Annotated[
    bool,
    QueryParameter(
        name="dry_run",
        description="true: validate and show the changes the write would make; nothing is written.",
    ),
]


def service_of(request: Request[Any, Any, Any]) -> TenancyService:
    """The app's tenancy service."""
    service: TenancyService = request.app.state.tenancy_service
    return service


def change_request(
    request: Request[Any, Any, Any],
    actor: AdminActor,
    slug: str,
    view: Callable[[TenantState], Any],
    *,
    if_match: str | None,
    dry_run: bool,
) -> ChangeRequest:
    """The service's request for a write by `actor` to tenant `slug` about the resource `view` gives."""
    return ChangeRequest(
        actor=Actor(label=actor.label(), role=actor.role(), bound_by_ceilings=not actor.is_operator),
        slug=slug,
        view=view,
        if_match=if_match,
        dry_run=dry_run,
        correlation_id=correlation_id_of(request.scope),
    )


def found(value: Any) -> Any:
    """`value`, or 404 when the resource does not exist."""
    if value is None:
        raise not_found()
    return value


def with_etag(content: Any, status_code: int = 200) -> Response[Any]:
    """A resource with its `ETag`."""
    etag = etag_of(content)
    return Response(content, status_code=status_code, headers={"ETag": etag} if etag else None)


def written(content: Any, changes: list[Change], *, dry_run: bool, status_code: int = 200) -> Response[Any]:
    """The answer to a write: the resource as it now is (with its ETag), or for a dry run the plan."""
    if dry_run:
        result: ChangePlan = plan(changes, dry_run=True)
        return Response(result, status_code=200)
    return with_etag(content, status_code)


def put_section_object(section: str, key: str, body: Any, keep: tuple[str, ...] = ()) -> Edit:
    """An edit that puts `body` as `[section.key]` (keeping the named fields of what is there)."""
    if not isinstance(body, dict):
        raise bad_request([InvalidParam(code="invalid", name=f"{section}.{key}", reason="must be a table")])

    def edit(document: Document) -> None:
        table = document.setdefault(section, {})
        existing = table.get(key) or {}
        table[key] = {**{name: existing[name] for name in keep if name in existing}, **body}

    return edit


def remove_section_object(section: str, key: str) -> Edit:
    """An edit that removes `[section.key]` (404 when there is none)."""

    def edit(document: Document) -> None:
        table = document.get(section) or {}
        if key not in table:
            raise not_found()
        del table[key]

    return edit
