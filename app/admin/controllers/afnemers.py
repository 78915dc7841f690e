"""AfnemerIDs: the operator assigns them (with their RvIG account and secret); the tenant's admins
read them. A client secret is write-only: no response, audit entry or log line carries it, only
its fingerprint. An AfnemerID belongs to one tenant of the whole broker (the database refuses a
second, 409)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, operator_of_path, tenant_admin_of_path
from app.admin.body import RawBody
from app.admin.schemas import AfnemerBody, AfnemerView, ChangePlan, SecretBody, afnemer_view, plan
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
from app.brp.problems import InvalidParam, bad_request, not_found
from app.tenancy.service import Document, TenancyService, TenantState

__all__ = ["AfnemersController"]

_SECRET_FIELDS = ("client_secret", "client_secret_reference")


def _afnemer(afnemer_id: str) -> Callable[[TenantState], AfnemerView | None]:
    def view(state: TenantState) -> AfnemerView | None:
        spec = next((a for a in state.spec.afnemers if a.afnemer_id == afnemer_id), None)
        return None if spec is None else afnemer_view(spec)

    return view


def _stored_secret(
    service: TenancyService, slug: FromPath[str], afnemer_id: FromPath[str], body: dict[str, Any], field: str
) -> str:
    value, reference = body.get("client_secret"), body.get("client_secret_reference")
    if not (value is None or isinstance(value, str)) or not (reference is None or isinstance(reference, str)):
        raise bad_request([InvalidParam(code="invalid", name=field, reason="must be text")])
    return service.stored_secret(slug, afnemer_id, value=value, reference=reference, field=field)


class AfnemersController(Controller):
    """`/admin/v1/tenants/{slug}/afnemers`."""

    path = "/tenants/{slug:str}/afnemers"
    tags = ("afnemers",)
    dependencies = ACTOR_DEPENDENCY

    @get("/", guards=[tenant_admin_of_path], summary="The tenant's AfnemerIDs (never a secret)")
    async def list_afnemers(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor], slug: FromPath[str]
    ) -> Response[list[AfnemerView]]:
        """Every AfnemerID of the tenant, by id."""
        state = await service_of(request).read(slug)
        return with_etag([afnemer_view(a) for a in state.spec.afnemers])

    @get("/{afnemer_id:str}", guards=[tenant_admin_of_path], summary="An AfnemerID (never its secret)")
    async def get_afnemer(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        afnemer_id: FromPath[str],
    ) -> Response[AfnemerView]:
        """One AfnemerID with the fingerprint of its secret."""
        return with_etag(found(_afnemer(afnemer_id)(await service_of(request).read(slug))))

    @put(
        "/{afnemer_id:str}",
        guards=[operator_of_path],
        dto=RawBody[AfnemerBody],
        return_dto=None,
        summary="Assign or change an AfnemerID (operator)",
    )
    async def put_afnemer(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        afnemer_id: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[AfnemerView | ChangePlan]:
        """Assign the AfnemerID to the tenant, or change its account; a new one needs its secret."""
        service = service_of(request)
        body = dict(data) if isinstance(data, dict) else data
        if isinstance(body, dict) and any(field in body for field in _SECRET_FIELDS):
            field = f"afnemers.{afnemer_id}.client_secret"
            stored = _stored_secret(service, slug, afnemer_id, body, field)
            body = {k: v for k, v in body.items() if k not in _SECRET_FIELDS} | {"client_secret": stored}
        view = _afnemer(afnemer_id)
        state, changes = await service.change(
            change_request(request, actor, slug, view, if_match=if_match, dry_run=dry_run),
            put_section_object("afnemers", afnemer_id, body, keep=("client_secret",)),
        )
        return written(view(state), changes, dry_run=dry_run)

    @put(
        "/{afnemer_id:str}/secret",
        guards=[operator_of_path],
        dto=RawBody[SecretBody],
        return_dto=None,
        summary="Set or rotate an AfnemerID's client secret (operator, write-only)",
    )
    async def put_secret(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        afnemer_id: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[AfnemerView | ChangePlan]:
        """Store a new client secret (encrypted, or as a reference); the answer shows its fingerprint."""
        service = service_of(request)
        if not isinstance(data, dict):
            raise bad_request([InvalidParam(code="invalid", name="client_secret", reason="must be a table")])
        unknown = [name for name in data if name not in _SECRET_FIELDS]
        if unknown:
            raise bad_request(
                InvalidParam(
                    code="invalid", name=n, reason=f"unknown key (known: {', '.join(_SECRET_FIELDS)})"
                )
                for n in unknown
            )
        stored = _stored_secret(service, slug, afnemer_id, data, "client_secret")

        def edit(document: Document) -> None:
            afnemer = (document.get("afnemers") or {}).get(afnemer_id)
            if afnemer is None:
                raise not_found()
            afnemer["client_secret"] = stored

        view = _afnemer(afnemer_id)
        state, changes = await service.change(
            change_request(request, actor, slug, view, if_match=if_match, dry_run=dry_run), edit
        )
        return written(view(state), changes, dry_run=dry_run)

    @delete(
        "/{afnemer_id:str}",
        guards=[operator_of_path],
        status_code=200,
        summary="Take an AfnemerID from the tenant (operator)",
    )
    async def delete_afnemer(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        afnemer_id: FromPath[str],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> ChangePlan:
        """Remove the AfnemerID (no rule may still name it)."""
        _, changes = await service_of(request).change(
            change_request(request, actor, slug, _afnemer(afnemer_id), if_match=if_match, dry_run=dry_run),
            remove_section_object("afnemers", afnemer_id),
        )
        return plan(changes, dry_run=dry_run)
