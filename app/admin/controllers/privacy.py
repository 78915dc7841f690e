"""The privacy officer's part of the admin API: protocol inzage for a BSN, and the chain status.

- `POST /admin/v1/tenants/{slug}/inzage` — body `{"bsn": "...", "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`
  (the BSN only ever in the body: never in a URL, a query string or a log line). Answers the
  entries of `app.protocol.inzage` as JSON, or as CSV for `Accept: text/csv` (the privacy
  officer's export; the full protocol export is a separate function). `from` is inclusive, `to`
  exclusive (midnight UTC of that day), exactly as `brp-broker protocol inzage --from --to`.
  Only the tenant's own privacy officer may ask. The inzage is protocolled (one record, api
  `inzage`, the BSN as consulted) and committed before the answer leaves; otherwise 503.
- `GET /admin/v1/tenants/{slug}/protocol/status` — `app.protocol.verify` for that tenant, read as
  the runtime role under row-level security: records checked, the head, ok or the first break.
  For the tenant's privacy officer and the operator. One verify runs at a time per process (it
  holds a pool connection for as long as the walk takes); others wait for their turn.

Thin: parse, call `app.protocol`, answer. Never logs a BSN, an entry or a request body. The
parsing (`parse_inzage_request`, `utc_midnight`) and the chain status (`tenant_chain_status`, with
its lock) are public so that the beheerportaal's Inzage page does exactly what this API does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated, Any, Final, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody

from app.admin.auth import (
    ACTOR_DEPENDENCY,
    AdminActor,
    AdminRole,
    actor_of,
    privacy_officer_of_path,
    require_tenant_role,
)
from app.admin.body import RawBody
from app.brp.problems import InvalidParam, ProblemError, bad_request, not_found
from app.correlation import correlation_id_of
from app.protocol import BreakKind, ChainReport, InzageEntry, render, verify
from app.protocol.access import read_unavailable
from app.protocol.inzage import InzageOfficer, protocolled_inzage
from app.protocol.tenants import has_own_register
from app.telemetry.tracing import current_trace_id

__all__ = [
    "PRIVACY_ROUTES",
    "ChainBreakOut",
    "ChainStatus",
    "InzageRequest",
    "chain_status",
    "chain_status_of",
    "parse_inzage_request",
    "protocol_inzage",
    "require_register",
    "tenant_chain_status",
    "utc_midnight",
    "verify_lock",
]

_BSN_PATTERN: Final = r"^[0-9]{9}$"
_BSN: Final = re.compile("[0-9]{9}")
_CSV: Final = "text/csv"
# `... - at `$.bsn``, `Object missing required field `bsn``, `Object contains unknown field `tenant``
_ERROR_FIELD: Final = re.compile(r"(?:at `\$\.|field `)([A-Za-z_][A-Za-z0-9_]*)")
_VERIFY_LOCK: Final = "brp_admin_verify_lock"


class InzageRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename={"from_": "from"}
):
    """Whose inzage, over which period (UTC days; `from` included, `to` excluded; both optional)."""

    bsn: Annotated[str, msgspec.Meta(pattern=_BSN_PATTERN, description="The BSN: nine digits.")]
    from_: Annotated[dt.date | None, msgspec.Meta(description="The first day (UTC), included.")] = None
    to: Annotated[dt.date | None, msgspec.Meta(description="The day (UTC) the period ends, excluded.")] = None


class ChainBreakOut(msgspec.Struct, frozen=True, kw_only=True):
    """The first broken link: its sequence number, what is wrong, and a description."""

    seq: int
    kind: BreakKind
    detail: str


class ChainStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant's protocol chain as `brp-broker protocol verify --tenant` reports it."""

    tenant: str
    state: Literal["ok", "broken"]
    records: int
    head: str
    head_seq: int
    head_hash: str
    first_break: ChainBreakOut | None = None


async def _officer_or_operator(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the operator, or a privacy officer of the tenant `{slug}` of the path."""
    actor = await actor_of(connection)
    require_tenant_role(actor, str(connection.path_params["slug"]), AdminRole.PRIVACY_OFFICER, operator=True)


@post(
    "/tenants/{slug:str}/inzage",
    guards=[privacy_officer_of_path],
    dependencies=ACTOR_DEPENDENCY,
    dto=RawBody[InzageRequest],
    return_dto=None,
    status_code=200,
    summary="Protocol inzage for one BSN (privacy officer)",
    description=(
        "Every request of this tenant whose answer was about the BSN, oldest first. "
        "JSON by default, CSV with `Accept: text/csv`. The inzage itself is protocolled."
    ),
    tags=["privacy"],
    responses={
        200: ResponseSpec(
            data_container=list[InzageEntry],
            generate_examples=False,
            description="The entries (JSON; CSV with a header row for `Accept: text/csv`)",
        )
    },
)
async def protocol_inzage(
    request: Request[Any, Any, Any],
    slug: FromPath[str],
    data: JSONBody[Any],
    actor: NamedDependency[AdminActor],
) -> Response[bytes]:
    """Answer the protocol entries about one BSN, after this inzage's own record is committed."""
    asked = parse_inzage_request(data)
    resources = request.app.state.resources
    officer = InzageOfficer(
        tenant=slug,
        subject=actor.subject,
        correlation_id=correlation_id_of(request.scope),
        trace_id=current_trace_id(),
    )
    async with read_unavailable():
        entries = await protocolled_inzage(
            resources.pool,
            resources.protocol,
            officer,
            asked.bsn,
            from_=utc_midnight(asked.from_),
            to=utc_midnight(asked.to),
        )
    return _entries_response(entries, request.headers.get("accept", ""))


@get(
    "/tenants/{slug:str}/protocol/status",
    guards=[_officer_or_operator],
    summary="The tenant's protocol chain: records, head, ok or the first break",
    tags=["privacy"],
)
async def chain_status(request: Request[Any, Any, Any], slug: FromPath[str]) -> ChainStatus:
    """Verify the tenant's hash chain as the runtime role and report it."""
    return await tenant_chain_status(request, slug)


PRIVACY_ROUTES: Final = (protocol_inzage, chain_status)


async def tenant_chain_status(request: Request[Any, Any, Any], slug: str) -> ChainStatus:
    """The tenant's chain verified as the runtime role, one verify at a time (also the portal's).

    404 for a tenant the broker never had; 503 when the database cannot answer.
    """
    pool = request.app.state.resources.pool
    async with read_unavailable():
        await require_register(request, slug)
        async with verify_lock(request):
            report = await verify(pool, slug)
    return chain_status_of(report.chains[0])


def parse_inzage_request(data: JSONBody[Any]) -> InzageRequest:
    """The body as an `InzageRequest`, or 400 naming the field; never echoes a value (also the portal's)."""
    try:
        asked = msgspec.convert(data, InzageRequest)
    except msgspec.ValidationError as error:
        # msgspec names the path (`$.bsn`) or the key, never the value.
        message = str(error)
        name = _field_of(message)
        if "matching regex" in message:
            raise _bsn_problem(name) from None
        raise bad_request([InvalidParam(code="invalid", name=name, reason=message)]) from None
    if _BSN.fullmatch(asked.bsn) is None:  # the pattern's `$` also lets "…\n" through
        raise _bsn_problem("bsn")
    if asked.from_ is not None and asked.to is not None and asked.to <= asked.from_:
        raise bad_request([InvalidParam(code="date", name="to", reason="Waarde ligt niet na from.")])
    return asked


def _bsn_problem(name: str) -> ProblemError:
    """The BRP APIs' own rule and words for a burgerservicenummer."""
    return bad_request(
        [InvalidParam(code="pattern", name=name, reason=f"Waarde voldoet niet aan patroon {_BSN_PATTERN}.")]
    )


def _field_of(message: str) -> str:
    found = _ERROR_FIELD.search(message)
    return found.group(1) if found else "body"


def utc_midnight(day: dt.date | None) -> dt.datetime | None:
    """The start (midnight UTC) of `day`, the bound an inzage period is read with."""
    return None if day is None else dt.datetime.combine(day, dt.time(), dt.UTC)


def _entries_response(entries: list[InzageEntry], accept: str) -> Response[bytes]:
    if _CSV in accept.lower():
        return Response(
            render(entries, "csv").encode(),
            media_type=f"{_CSV}; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="inzage.csv"', "Cache-Control": "no-store"},
        )
    return Response(
        msgspec.json.encode(entries), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


async def require_register(request: Request[Any, Any, Any], slug: str) -> None:
    """404 for a tenant the broker never had (only an operator can name one), as the CLI refuses it."""
    resources = request.app.state.resources
    if slug not in resources.directory.snapshot.tenants and not await has_own_register(resources.pool, slug):
        raise not_found()


def verify_lock(request: Request[Any, Any, Any]) -> asyncio.Lock:
    """The app's lock that lets one chain verify run at a time (it holds a pool connection)."""
    # Per app (never module-level: each app has its own event loop in the tests).
    lock = request.app.state.get(_VERIFY_LOCK)
    if lock is None:
        lock = request.app.state[_VERIFY_LOCK] = asyncio.Lock()
    return lock


def chain_status_of(chain: ChainReport) -> ChainStatus:
    """One chain's verify report as the `ChainStatus` the API answers."""
    broken = chain.first_break
    return ChainStatus(
        tenant=chain.tenant,
        state="ok" if broken is None else "broken",
        records=chain.records,
        head=f"{chain.head_seq}:{chain.head_hash}",
        head_seq=chain.head_seq,
        head_hash=chain.head_hash,
        first_break=None
        if broken is None
        else ChainBreakOut(seq=broken.seq, kind=broken.kind, detail=broken.detail),
    )
