"""Rate limits: the tenant admin sets them up to the operator's ceilings; the operator sets those."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, operator_of_path, tenant_admin_of_path
from app.admin.body import RawBody
from app.admin.schemas import ChangePlan, LimitsView, limits_view, plan
from app.admin.writes import DryRun, IfMatch, change_request, service_of, with_etag, written
from app.brp.problems import InvalidParam, bad_request
from app.tenancy import Limits, RateLimit
from app.tenancy.service import LIMIT_SCOPES, Document

__all__ = ["LimitsController"]


def _ceilings(data: JSONBody[Any]) -> dict[str, RateLimit | None]:
    """The ceilings of a request body (`Limits`' shape; a scope set to null has its ceiling removed)."""
    if not isinstance(data, dict):
        raise bad_request([InvalidParam(code="invalid", name="ceilings", reason="must be a table")])
    problems = [
        InvalidParam(
            code="invalid", name=f"ceilings.{scope}", reason=f"unknown key (known: {', '.join(LIMIT_SCOPES)})"
        )
        for scope in data
        if scope not in LIMIT_SCOPES
    ]
    ceilings: dict[str, RateLimit | None] = {}
    for scope in LIMIT_SCOPES:
        if scope not in data:
            continue
        try:
            ceilings[scope] = msgspec.convert(data[scope], RateLimit | None, strict=False)
        except msgspec.ValidationError as error:
            problems.append(InvalidParam(code="invalid", name=f"ceilings.{scope}", reason=str(error)))
    if problems:
        raise bad_request(problems)
    return ceilings


class LimitsController(Controller):
    """`/admin/v1/tenants/{slug}/limits`."""

    path = "/tenants/{slug:str}/limits"
    tags = ("limits",)
    dependencies = ACTOR_DEPENDENCY

    @get("/", guards=[tenant_admin_of_path], summary="The tenant's rate limits and their ceilings")
    async def get_limits(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor], slug: FromPath[str]
    ) -> Response[LimitsView]:
        """Limits per scope (tenant, afnemer, employee; null: the broker's default) and the ceilings."""
        return with_etag(limits_view(await service_of(request).read(slug)))

    @put(
        "/",
        guards=[tenant_admin_of_path],
        dto=RawBody[Limits],
        return_dto=None,
        summary="Set the tenant's rate limits",
    )
    async def put_limits(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[LimitsView | ChangePlan]:
        """Set every limit at once (a scope left out: the default); tenant admins stay under the ceilings."""

        def edit(document: Document) -> None:
            document["limits"] = data

        state, changes = await service_of(request).change(
            change_request(request, actor, slug, limits_view, if_match=if_match, dry_run=dry_run), edit
        )
        return written(limits_view(state), changes, dry_run=dry_run)

    @put(
        "/ceilings",
        guards=[operator_of_path],
        dto=RawBody[Limits],
        return_dto=None,
        summary="Set the ceilings of the tenant's limits (operator)",
    )
    async def put_ceilings(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[LimitsView | ChangePlan]:
        """Set the highest limits the tenant's admins may set (a scope set to null: no ceiling)."""
        ceilings = _ceilings(data)
        state = await service_of(request).set_ceilings(
            change_request(request, actor, slug, limits_view, if_match=if_match, dry_run=dry_run), ceilings
        )
        if dry_run:
            return Response(plan([], dry_run=True))
        return with_etag(limits_view(state))
