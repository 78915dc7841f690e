"""Usage for dashboards: `GET /admin/v1/tenants/{slug}/usage?days=30`.

Requests per UTC day by AfnemerID, API, status and problem code for one tenant over the last
`days` days (default 30, at most 366, today included), zero-filled per day (`app.protocol.usage`).
Read as the runtime role under row-level security, so nothing of another tenant can be counted.
For the tenant's admins and the operator. Aggregates only: no BSN, no person data.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, get
from litestar.params import FromPath, QueryParameter

from app.admin.auth import tenant_admin_of_path
from app.brp.problems import InvalidParam, bad_request, not_found
from app.protocol.access import read_unavailable
from app.protocol.tenants import has_own_register
from app.protocol.usage import DEFAULT_DAYS, MAX_DAYS, UsageReport, usage

__all__ = ["USAGE_ROUTES", "tenant_usage"]


@get(
    "/tenants/{slug:str}/usage",
    guards=[tenant_admin_of_path],
    summary="Requests per day by AfnemerID, API, status and problem code",
    description=(
        "The last `days` UTC calendar days, today included, oldest first; every day is listed "
        "(zero-filled), with the groups that occurred on it."
    ),
    tags=["usage"],
)
async def tenant_usage(
    request: Request[Any, Any, Any],
    slug: FromPath[str],
    days: Annotated[
        int | None,
        QueryParameter(description=f"Days back, today included: 1..{MAX_DAYS} (default {DEFAULT_DAYS})"),
    ] = None,
) -> UsageReport:
    """The tenant's usage over the window."""
    window = DEFAULT_DAYS if days is None else days
    if not 1 <= window <= MAX_DAYS:
        raise bad_request(
            [
                InvalidParam(
                    code="minimum" if window < 1 else "maximum",
                    name="days",
                    reason=f"Waarde moet tussen 1 en {MAX_DAYS} liggen.",
                )
            ]
        )
    pool = request.app.state.resources.pool
    async with read_unavailable():
        # Only an operator can name a tenant that is not registered: one the broker never had is 404.
        if slug not in request.app.state.resources.directory.snapshot.tenants and not await has_own_register(
            pool, slug
        ):
            raise not_found()
        return await usage(pool, slug, window)


USAGE_ROUTES: Final = (tenant_usage,)
