"""Identity providers a tenant trusts: the operator decides (the whole list, one resource); the
tenant's admins read it. Sharing an issuer between tenants follows `app.tenancy.ownership`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, operator_of_path, tenant_admin_of_path
from app.admin.body import RawBody
from app.admin.schemas import ChangePlan, IssuerBody
from app.admin.writes import DryRun, IfMatch, change_request, service_of, with_etag, written
from app.identity import IssuerConfig
from app.tenancy.service import Document, TenantState

__all__ = ["IssuersController"]


def _issuers(state: TenantState) -> list[IssuerConfig]:
    return list(state.spec.issuers)


class IssuersController(Controller):
    """`/admin/v1/tenants/{slug}/issuers`."""

    path = "/tenants/{slug:str}/issuers"
    tags = ("issuers",)
    dependencies = ACTOR_DEPENDENCY

    @get("/", guards=[tenant_admin_of_path], summary="The identity providers the tenant trusts")
    async def list_issuers(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor], slug: FromPath[str]
    ) -> Response[list[IssuerConfig]]:
        """Every trusted issuer, by URL."""
        return with_etag(_issuers(await service_of(request).read(slug)))

    @put(
        "/",
        guards=[operator_of_path],
        dto=RawBody[list[IssuerBody]],
        return_dto=None,
        summary="Set the trusted identity providers (operator)",
    )
    async def put_issuers(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[list[IssuerConfig] | ChangePlan]:
        """Replace the list of trusted issuers (validated as the tenant file's `[[issuers]]`)."""

        def edit(document: Document) -> None:
            document["issuers"] = data

        state, changes = await service_of(request).change(
            change_request(request, actor, slug, _issuers, if_match=if_match, dry_run=dry_run), edit
        )
        return written(_issuers(state), changes, dry_run=dry_run)
