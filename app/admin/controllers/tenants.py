"""Tenants: the operator lists, creates, suspends/resumes and removes them; a tenant admin reads its own."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, operator_of_path, operator_only, tenant_admin_of_path
from app.admin.body import RawBody
from app.admin.schemas import (
    ChangePlan,
    TenantCreate,
    TenantPatch,
    TenantSummary,
    TenantView,
    plan,
    tenant_summary,
    tenant_view,
)
from app.admin.writes import DryRun, IfMatch, change_request, service_of, with_etag, written
from app.brp.problems import InvalidParam, ProblemError, bad_request, not_found
from app.tenancy.service import Document

__all__ = ["TenantsController"]

_PATCHABLE = ("name", "status", "admin")


class TenantsController(Controller):
    """`/admin/v1/tenants`."""

    path = "/tenants"
    tags = ("tenants",)
    dependencies = ACTOR_DEPENDENCY

    @get("/", guards=[operator_only], summary="Every tenant (operator)")
    async def list_tenants(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor]
    ) -> list[TenantSummary]:
        """Every tenant of the broker, by slug."""
        service = service_of(request)
        summaries: list[TenantSummary] = []
        for slug in await service.slugs():
            try:
                summaries.append(tenant_summary(await service.read(slug)))
            except ProblemError:  # removed meanwhile
                continue
        return summaries

    @post(
        "/",
        guards=[operator_only],
        dto=RawBody[TenantCreate],
        return_dto=None,
        summary="Create a tenant (operator)",
    )
    async def create_tenant(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        data: JSONBody[Any],
        dry_run: DryRun = False,
    ) -> Response[TenantView | ChangePlan]:
        """A new tenant, managed through this API, from its whole document (the tenant file's shape)."""
        if not isinstance(data, dict) or not isinstance(data.get("slug"), str):
            raise bad_request([InvalidParam(code="invalid", name="slug", reason="is required")])
        document: Document = data
        slug = document["slug"]
        state, changes = await service_of(request).create(
            change_request(request, actor, slug, tenant_view, if_match=None, dry_run=dry_run), document
        )
        return written(tenant_view(state), changes, dry_run=dry_run, status_code=201)

    @get("/{slug:str}", guards=[tenant_admin_of_path], summary="A tenant")
    async def get_tenant(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor], slug: FromPath[str]
    ) -> Response[TenantView]:
        """The tenant's own attributes and who manages it."""
        return with_etag(tenant_view(await service_of(request).read(slug)))

    @patch(
        "/{slug:str}",
        guards=[operator_of_path],
        dto=RawBody[TenantPatch],
        return_dto=None,
        summary="Change, suspend or resume a tenant (operator)",
    )
    async def patch_tenant(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[TenantView | ChangePlan]:
        """Change the tenant's name, status (`suspended` / `active`) or admin role names."""
        if not isinstance(data, dict):
            raise bad_request([InvalidParam(code="invalid", name="tenant", reason="must be a table")])
        unknown = [name for name in data if name not in _PATCHABLE]
        if unknown:
            known = ", ".join(_PATCHABLE)
            raise bad_request(
                InvalidParam(code="invalid", name=name, reason=f"unknown key (known: {known})")
                for name in unknown
            )

        def edit(document: Document) -> None:
            document.update(data)

        state, changes = await service_of(request).change(
            change_request(request, actor, slug, tenant_view, if_match=if_match, dry_run=dry_run), edit
        )
        return written(tenant_view(state), changes, dry_run=dry_run)

    @delete("/{slug:str}", guards=[operator_of_path], status_code=200, summary="Remove a tenant (operator)")
    async def delete_tenant(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> ChangePlan:
        """Remove an API-managed tenant with all of its configuration (its protocol stays)."""
        changes = await service_of(request).delete(
            change_request(request, actor, slug, tenant_view, if_match=if_match, dry_run=dry_run)
        )
        if not changes:
            raise not_found()
        return plan(changes, dry_run=dry_run)
