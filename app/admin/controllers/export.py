"""The privacy officer's protocol export through the admin API (the CLI's `protocol export`, jsonl).

`POST /admin/v1/tenants/{slug}/protocol/export` — body `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`,
both required (`from` included, `to` excluded, midnight UTC, as `brp-broker protocol export`).
Only the tenant's own privacy officer may ask (never the operator; another tenant's officer 404).

Delivery: one ZIP archive, streamed, holding `protocol-<slug>-<from>-<to>.jsonl` and its
`protocol-<slug>-<from>-<to>.jsonl.manifest.json`, exactly the two files `brp-broker protocol export`
writes. So the auditor unpacks it and runs `brp-broker protocol verify --export FILE` unchanged.
Why not the alternatives:

- the manifest holds the file's SHA-256, count and last hash, known only after the last byte; a
  trailer is not something HTTP/1.1 clients read, and a last line breaks `verify_export`;
- a second endpoint for the manifest would read the stretch again in another snapshot: the head
  and checkpoint differ, and for a period that reaches into today the records differ too, so the
  two downloads need not belong together. One archive is one read-only snapshot.

The archive is written as it is read (`zipfile` on a non-seekable sink, data descriptors, ZIP64),
so memory stays at one batch of the export's cursor for any size. The read is the runtime role's
under row-level security (the officer's tenant only), one REPEATABLE READ read-only transaction.

The export holds person data, so it is protocolled like an inzage: one record of the tenant (api
`protocol-export`, the officer as subject and employee, the period as search parameters, no
persons: it names no one in particular), committed before the first byte leaves; a record that
cannot be committed is the writer's 503 and nothing is exported. A database that fails while the
archive streams cuts the response off: the archive is then incomplete and does not unpack.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

import asyncpg
import msgspec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor, privacy_officer_of_path
from app.admin.body import RawBody
from app.brp.problems import InvalidParam, bad_request
from app.correlation import correlation_id_of
from app.protocol.access import tenant_transaction
from app.protocol.export import ExportTally, export_lines, export_manifest, manifest_bytes
from app.protocol.record import ProtocolRecord
from app.telemetry.tracing import current_trace_id

__all__ = ["EXPORT_API", "EXPORT_ROUTES", "ExportRequest", "parse_export_request", "protocol_export"]

# The `api` of the protocol record of an export through the admin API (no BRP API is called).
EXPORT_API: Final = "protocol-export"
_ZIP: Final = "application/zip"
_ERROR_FIELD: Final = re.compile(r"(?:at `\$\.|field `)([A-Za-z_][A-Za-z0-9_]*)")


class ExportRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename={"from_": "from"}
):
    """Which stretch of the protocol: UTC days, `from` included, `to` excluded; both required."""

    from_: Annotated[dt.date, msgspec.Meta(description="The first day (UTC), included.")]
    to: Annotated[dt.date, msgspec.Meta(description="The day (UTC) the period ends, excluded.")]


class _Sink:
    """A write-only, non-seekable file for `zipfile`: collects what it writes until taken."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the chunks leave through `take`."""

    def close(self) -> None:
        """Nothing to close: the response ends when the archive does."""

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


@post(
    "/tenants/{slug:str}/protocol/export",
    guards=[privacy_officer_of_path],
    dependencies=ACTOR_DEPENDENCY,
    dto=RawBody[ExportRequest],
    return_dto=None,
    status_code=200,
    summary="Export a stretch of the tenant's protocol (privacy officer)",
    description=(
        "A ZIP archive with the JSONL export of the records of the period and its manifest, "
        "as `brp-broker protocol export --format jsonl` writes them; verify it offline with "
        "`brp-broker protocol verify --export FILE`. The export itself is protocolled."
    ),
    tags=["privacy"],
    responses={
        200: ResponseSpec(
            data_container=bytes,
            media_type=_ZIP,
            generate_examples=False,
            description="protocol-<slug>-<from>-<to>.jsonl and its .manifest.json, zipped",
        )
    },
)
async def protocol_export(
    request: Request[Any, Any, Any],
    slug: FromPath[str],
    data: JSONBody[Any],
    actor: NamedDependency[AdminActor],
) -> Stream:
    """Commit the export's protocol record, then stream the archive."""
    asked = parse_export_request(data)
    start, end = _midnight(asked.from_), _midnight(asked.to)
    resources = request.app.state.resources
    await resources.protocol.record(
        ProtocolRecord(
            tenant=slug,
            occurred_at=dt.datetime.now(dt.UTC),
            correlation_id=correlation_id_of(request.scope),
            trace_id=current_trace_id(),
            api=EXPORT_API,
            status=200,
            latency_ms=0.0,
            subject=actor.subject,
            employee=actor.subject,
            search_parameters={"from": start.isoformat(), "to": end.isoformat()},
        )
    )
    name = f"protocol-{slug}-{asked.from_.isoformat()}-{asked.to.isoformat()}"
    return Stream(
        _archive(resources.pool, slug, start, end, f"{name}.jsonl"),
        media_type=_ZIP,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.zip"',
            "Cache-Control": "no-store",
        },
    )


EXPORT_ROUTES: Final = (protocol_export,)


def parse_export_request(data: JSONBody[Any]) -> ExportRequest:
    """The body as an `ExportRequest`, or 400 naming the field; never echoes a value."""
    try:
        asked = msgspec.convert(data, ExportRequest)
    except msgspec.ValidationError as error:
        # msgspec names the path (`$.to`) or the key, never the value.
        message = str(error)
        found = _ERROR_FIELD.search(message)
        name = found.group(1) if found else "body"
        raise bad_request([InvalidParam(code="invalid", name=name, reason=message)]) from None
    if asked.to <= asked.from_:
        raise bad_request([InvalidParam(code="date", name="to", reason="Waarde ligt niet na from.")])
    return asked


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


async def _archive(
    pool: asyncpg.Pool, slug: str, start: dt.datetime, end: dt.datetime, name: str
) -> AsyncIterator[bytes]:
    """The ZIP archive of the export and its manifest, chunk by chunk, in one read-only snapshot."""
    sink, written = _Sink(), ExportTally()
    async with tenant_transaction(pool, slug, isolation="repeatable_read", readonly=True) as connection:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            with archive.open(name, "w", force_zip64=True) as entry:
                async for line in export_lines(
                    connection, slug, start=start, end=end, fmt="jsonl", written=written
                ):
                    entry.write(line)
                    if chunk := sink.take():
                        yield chunk
            manifest = await export_manifest(connection, slug, written, start=start, end=end, fmt="jsonl")
            archive.writestr(f"{name}.manifest.json", manifest_bytes(manifest))
    yield sink.take()
