"""Reading committed protocol records back, as the owner role, for the gateway tests."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

__all__ = ["committed_records", "the_one_record"]


async def committed_records(url: str, correlation_ids: list[str]) -> list[dict[str, Any]]:
    """Every committed record (with its persons as `[bsn, role]` pairs) of these correlation ids.

    A list, not a mapping by id, so that a test can see a second record of one request.
    """
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET ROLE brp_owner")
        rows = await connection.fetch(
            "SELECT r.*, coalesce((SELECT json_agg(json_build_array(p.bsn, p.role) ORDER BY p.position) "
            "FROM broker.protocol_persons p WHERE p.tenant = r.tenant AND p.seq = r.seq), '[]') AS persons "
            "FROM broker.protocol_records r WHERE r.correlation_id = ANY($1::text[]) ORDER BY r.seq",
            correlation_ids,
        )
    finally:
        await connection.close()
    return [{**dict(row), "persons": msgspec.json.decode(row["persons"])} for row in rows]


async def the_one_record(url: str, correlation_id: str) -> dict[str, Any]:
    """The committed record of one request; fails unless there is exactly one."""
    records = await committed_records(url, [correlation_id])
    assert len(records) == 1, f"{len(records)} protocol records for one request"
    return records[0]
