"""Member organisations of a samenwerkingsverband: the operator manages them, its admins read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, operator_of_path, tenant_admin_of_path
from app.admin.body import RawBody
from app.admin.schemas import ChangePlan, MemberBody, plan
from app.admin.writes import (
    DryRun,
    IfMatch,
    change_request,
    found,
    put_section_object,
    remove_section_object,
    service_of,
    with_etag,
    written,
)
from app.tenancy import MemberOrganisation
from app.tenancy.service import TenantState

__all__ = ["MembersController"]


def _member(code: str) -> Callable[[TenantState], MemberOrganisation | None]:
    return lambda state: next((m for m in state.spec.members if m.code == code), None)


class MembersController(Controller):
    """`/admin/v1/tenants/{slug}/members`."""

    path = "/tenants/{slug:str}/members"
    tags = ("members",)
    dependencies = ACTOR_DEPENDENCY

    @get("/", guards=[tenant_admin_of_path], summary="The tenant's member organisations")
    async def list_members(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor], slug: FromPath[str]
    ) -> Response[list[MemberOrganisation]]:
        """Every member organisation, by code."""
        return with_etag(list((await service_of(request).read(slug)).spec.members))

    @get("/{code:str}", guards=[tenant_admin_of_path], summary="A member organisation")
    async def get_member(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        code: FromPath[str],
    ) -> Response[MemberOrganisation]:
        """One member organisation."""
        return with_etag(found(_member(code)(await service_of(request).read(slug))))

    @put(
        "/{code:str}",
        guards=[operator_of_path],
        dto=RawBody[MemberBody],
        return_dto=None,
        summary="Add or change a member organisation (operator)",
    )
    async def put_member(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        code: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[MemberOrganisation | ChangePlan]:
        """Add or change the member organisation `code` (its value in the organisation claim)."""
        view = _member(code)
        state, changes = await service_of(request).change(
            change_request(request, actor, slug, view, if_match=if_match, dry_run=dry_run),
            put_section_object("members", code, data),
        )
        return written(view(state), changes, dry_run=dry_run)

    @delete(
        "/{code:str}",
        guards=[operator_of_path],
        status_code=200,
        summary="Remove a member organisation (operator)",
    )
    async def delete_member(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        code: FromPath[str],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> ChangePlan:
        """Remove the member organisation (no afnemer or rule may still name it)."""
        _, changes = await service_of(request).change(
            change_request(request, actor, slug, _member(code), if_match=if_match, dry_run=dry_run),
            remove_section_object("members", code),
        )
        return plan(changes, dry_run=dry_run)
