"""Logboek Dataverwerkingen (`[ldv]` of the tenant file): the tenant admin's own, but for the endpoint.

The whole table is one resource, read and replaced at once and validated as the tenant file's
`[ldv]` (`app.tenancy.files`: the same problems, named `ldv.<field>`). The processing activities,
the calling organisation and the public key are the tenant's business. `endpoint` is where the
broker itself sends records from inside the supplier's network, so, like the URLs of identity
providers, only the operator sets or changes it; a tenant admin's write that would change it is
refused (403), one that keeps it is not.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, tenant_admin_of_path
from app.admin.body import RawBody
from app.admin.schemas import ChangePlan
from app.admin.writes import DryRun, IfMatch, change_request, service_of, with_etag, written
from app.brp.problems import forbidden
from app.tenancy import LdvSettings
from app.tenancy.service import Document, TenantState

__all__ = ["LdvController"]

_FORBIDDEN_TITLE = "U bent niet geautoriseerd voor deze operatie."
_ENDPOINT_IS_THE_OPERATORS = (
    "Alleen de operator stelt ldv.endpoint in of wijzigt het: de broker verstuurt daarheen."
)


def _ldv(state: TenantState) -> LdvSettings:
    return state.spec.ldv


class LdvController(Controller):
    """`/admin/v1/tenants/{slug}/ldv`."""

    path = "/tenants/{slug:str}/ldv"
    tags = ("ldv",)
    dependencies = ACTOR_DEPENDENCY

    @get("/", guards=[tenant_admin_of_path], summary="The tenant's Logboek Dataverwerkingen settings")
    async def get_ldv(
        self, *, request: Request[Any, Any, Any], actor: NamedDependency[AdminActor], slug: FromPath[str]
    ) -> Response[LdvSettings]:
        """Processing activities, calling organisation, public subject key and Logboek endpoint."""
        return with_etag(_ldv(await service_of(request).read(slug)))

    @put(
        "/",
        guards=[tenant_admin_of_path],
        dto=RawBody[LdvSettings],
        return_dto=None,
        summary="Set the tenant's Logboek Dataverwerkingen settings",
    )
    async def put_ldv(
        self,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Response[LdvSettings | ChangePlan]:
        """Replace the whole `[ldv]` table (a field left out: its default); `endpoint`: the operator's."""

        def edit(document: Document) -> None:
            stored = document.get("ldv") or {}
            changes_endpoint = isinstance(data, dict) and data.get("endpoint") != stored.get("endpoint")
            if changes_endpoint and not actor.is_operator:
                raise forbidden("unauthorized", _FORBIDDEN_TITLE, _ENDPOINT_IS_THE_OPERATORS)
            document["ldv"] = data

        state, changes = await service_of(request).change(
            change_request(request, actor, slug, _ldv, if_match=if_match, dry_run=dry_run), edit
        )
        return written(_ldv(state), changes, dry_run=dry_run)
