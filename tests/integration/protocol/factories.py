"""Protocol records and database helpers for the protocol tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence

import asyncpg

from app.brp import PersonRef, PersonRole
from app.protocol import ProtocolRecord, write_batch
from app.protocol.chain import chained
from tests.support.ids import tenant_slug

# The `runtime_pool` fixture: a runtime-role pool on the database at an admin URL.
PoolFactory = Callable[[str], Awaitable[asyncpg.Pool]]


def slug() -> str:
    """A tenant slug no other test uses (never nine digits in a row: the metrics refuse those)."""
    return tenant_slug("t")


def consulted(*bsns: str) -> tuple[PersonRef, ...]:
    return tuple(PersonRef(bsn, PersonRole.CONSULTED) for bsn in bsns)


def found(*bsns: str) -> tuple[PersonRef, ...]:
    return tuple(PersonRef(bsn, PersonRole.FOUND) for bsn in bsns)


def record(
    tenant: str,
    persons: Iterable[PersonRef] = (),
    *,
    occurred_at: dt.datetime | None = None,
    **fields: object,
) -> ProtocolRecord:
    """A granted Personen request of `tenant` about `persons`, unless `fields` say otherwise."""
    people = tuple(persons)
    values: dict[str, object] = {
        "tenant": tenant,
        "occurred_at": occurred_at or dt.datetime.now(dt.UTC),
        "correlation_id": str(uuid.uuid4()),
        "api": "personen",
        "status": 200,
        "latency_ms": 12.345,
        "trace_id": uuid.uuid4().hex,
        "subject": "client-credentials-sub",
        "employee": "medewerker@gemeente.nl",
        "client_application": "zaaksysteem",
        "afnemer_id": "000001",
        "environment": "sandbox",
        "doelbinding": "BRPACT-Test",
        "verwerking": "Controle@Aanvraag",
        "origin_oin": "00000001234567890000",
        "query_type": "RaadpleegMetBurgerservicenummer",
        "search_parameters": {
            "burgerservicenummer": [p.bsn for p in people],
            "gemeenteVanInschrijving": "0800",
        },
        "requested_fields": ("naam.voornamen", "geboorte.datum"),
        "sent_fields": ("naam.voornamen", "geboorte.datum", "burgerservicenummer"),
        "persons": people,
    }
    values.update(fields)
    return ProtocolRecord(**values)  # type: ignore[arg-type]


def refused_without_tenant(
    *,
    api: str = "personen",
    status: int = 401,
    problem_code: str | None = "authentication",
    occurred_at: dt.datetime | None = None,
) -> ProtocolRecord:
    """A request refused before its tenant was known, as the pipeline records it: no caller, no body."""
    return ProtocolRecord(
        tenant="",
        occurred_at=occurred_at or dt.datetime.now(dt.UTC),
        correlation_id=str(uuid.uuid4()),
        api=api,
        status=status,
        latency_ms=0.75,
        trace_id=uuid.uuid4().hex,
        problem_code=problem_code,
    )


async def write_protocol(admin_url: str, records: Sequence[ProtocolRecord]) -> None:
    """`records` through `write_batch` as the runtime role, after the partitions of their months."""
    months = sorted({r.occurred_at.astimezone(dt.UTC).date().replace(day=1) for r in records})
    connection = await asyncpg.connect(admin_url)
    try:
        for month in months:
            await connection.execute("SELECT broker.protocol_create_partitions($1)", month)
        await connection.execute("SET search_path = broker; SET ROLE brp_app")
        await write_batch(connection, [chained(r) for r in records], dt.datetime.now(dt.UTC))
    finally:
        await connection.close()


async def stored_records(admin_url: str, correlation_ids: Iterable[str]) -> list[asyncpg.Record]:
    """The stored rows with these correlation ids, read as the (RLS-bypassing) admin."""
    connection = await asyncpg.connect(admin_url)
    try:
        return list(
            await connection.fetch(
                "SELECT * FROM broker.protocol_records WHERE correlation_id = ANY($1::text[]) ORDER BY seq",
                list(correlation_ids),
            )
        )
    finally:
        await connection.close()


async def stored_persons(admin_url: str, tenant: str) -> dict[int, list[tuple[str, str]]]:
    """Per sequence number, the (bsn, role) rows of `tenant` in position order."""
    connection = await asyncpg.connect(admin_url)
    try:
        rows = await connection.fetch(
            "SELECT seq, bsn, role FROM broker.protocol_persons WHERE tenant = $1 ORDER BY seq, position",
            tenant,
        )
    finally:
        await connection.close()
    persons: dict[int, list[tuple[str, str]]] = {}
    for row in rows:
        persons.setdefault(row["seq"], []).append((row["bsn"], row["role"]))
    return persons


async def wait_until_waiting_on_lock(admin: asyncpg.Connection, tasks: list[asyncio.Task[None]]) -> None:
    """Return once a brp_app session waits on a lock; fail fast if a task ends first."""
    while not await admin.fetchval(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.usename = 'brp_app'"
    ):
        await asyncio.wait(tasks, timeout=0.01)  # yields to the writer; fails fast if one finished
        assert not any(task.done() for task in tasks)
