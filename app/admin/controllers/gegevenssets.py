"""Gegevenssets: what one purpose may see, checked against RvIG's fields catalogue (as in a tenant
file). The tenant admin's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, tenant_admin_of_path
from app.admin.body import RawBody
from app.admin.schemas import ChangePlan, GegevenssetBody, plan
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
from app.policy import Gegevensset
from app.tenancy.service import TenantState

__all__ = ["GegevenssetsController"]


def _gegevensset(name: str) -> Callable[[TenantState], Gegevensset | None]:
    return lambda state: next((g for g in state.spec.gegevenssets if g.name == name), None)


class GegevenssetsController(Controller):
    """`/admin/v1/tenants/{slug}/gegevenssets`."""

    path = "/tenants/{slug:str}/gegevenssets"
    tags = ("gegevenssets",)
    dependencies = ACTOR_DEPENDENCY
    guards = (tenant_admin_of_path,)

    @get("/", summary="The tenant's gegevenssets")
    async def list_gegevenssets(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor], slug: FromPath[str]
    ) -> Response[list[Gegevensset]]:
        """Every gegevensset, by name."""
        return with_etag(list((await service_of(request).read(slug)).spec.gegevenssets))

    @get("/{name:str}", summary="A gegevensset")
    async def get_gegevensset(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
    ) -> Response[Gegevensset]:
        """One gegevensset."""
        return with_etag(found(_gegevensset(name)(await service_of(request).read(slug))))

    @put("/{name:str}", dto=RawBody[GegevenssetBody], return_dto=None, summary="Add or change a gegevensset")
    async def put_gegevensset(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[Gegevensset | ChangePlan]:
        """Add or change the gegevensset `name` (fields and parameters checked against RvIG's)."""
        view = _gegevensset(name)
        state, changes = await service_of(request).change(
            change_request(request, actor, slug, view, if_match=if_match, dry_run=dry_run),
            put_section_object("gegevenssets", name, data),
        )
        return written(view(state), changes, dry_run=dry_run)

    @delete("/{name:str}", status_code=200, summary="Remove a gegevensset")
    async def delete_gegevensset(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> ChangePlan:
        """Remove the gegevensset (no rule may still name it)."""
        _, changes = await service_of(request).change(
            change_request(request, actor, slug, _gegevensset(name), if_match=if_match, dry_run=dry_run),
            remove_section_object("gegevenssets", name),
        )
        return plan(changes, dry_run=dry_run)
