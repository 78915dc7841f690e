"""Access rules: who acts for which AfnemerID(s) under which gegevensset(s). The tenant admin's own.

The employee ↔ member-organisation mapping of a samenwerkingsverband met gezamenlijk personeel is
expressed by rules too (`who = ["employee:E2001"]`, `afnemers = ["000301"]`): one model for every
mapping, validated and audited alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, tenant_admin_of_path
from app.admin.body import RawBody
from app.admin.schemas import ChangePlan, RuleBody, plan
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
from app.tenancy import RuleSpec
from app.tenancy.service import TenantState

__all__ = ["RulesController"]


def _rule(name: str) -> Callable[[TenantState], RuleSpec | None]:
    return lambda state: next((r for r in state.spec.rules if r.name == name), None)


class RulesController(Controller):
    """`/admin/v1/tenants/{slug}/rules`."""

    path = "/tenants/{slug:str}/rules"
    tags = ("rules",)
    dependencies = ACTOR_DEPENDENCY
    guards = (tenant_admin_of_path,)

    @get("/", summary="The tenant's access rules")
    async def list_rules(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor], slug: FromPath[str]
    ) -> Response[list[RuleSpec]]:
        """Every access rule, by name."""
        return with_etag(list((await service_of(request).read(slug)).spec.rules))

    @get("/{name:str}", summary="An access rule")
    async def get_rule(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
    ) -> Response[RuleSpec]:
        """One access rule."""
        return with_etag(found(_rule(name)(await service_of(request).read(slug))))

    @put("/{name:str}", dto=RawBody[RuleBody], return_dto=None, summary="Add or change an access rule")
    async def put_rule(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[RuleSpec | ChangePlan]:
        """Add or change the rule `name` (validated as the tenant file's `[rules.<name>]`)."""
        view = _rule(name)
        state, changes = await service_of(request).change(
            change_request(request, actor, slug, view, if_match=if_match, dry_run=dry_run),
            put_section_object("rules", name, data),
        )
        return written(view(state), changes, dry_run=dry_run)

    @delete("/{name:str}", status_code=200, summary="Remove an access rule")
    async def delete_rule(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> ChangePlan:
        """Remove the rule: whom it mapped loses what it granted with the next request."""
        _, changes = await service_of(request).change(
            change_request(request, actor, slug, _rule(name), if_match=if_match, dry_run=dry_run),
            remove_section_object("rules", name),
        )
        return plan(changes, dry_run=dry_run)
