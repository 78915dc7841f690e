"""The context of Logboek Dataverwerkingen in the protocol (migration 0016): stored, chained, verified.

Records carrying span ids, the processing activity and the calling organisation are written and
verified in the database and offline (an export); a change to any of those values breaks the chain.
Writers and functions of the previous release keep working during a rolling upgrade.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest

from app.db import with_user
from app.protocol import BreakKind, ProtocolRecord, ProtocolWriter, export, verify, verify_export
from app.protocol.append import _group
from app.protocol.chain import chained
from tests.integration.protocol.factories import PoolFactory, consulted, record, stored_records

TENANT = "gemeente-ldv"
MIGRATIONS = Path(__file__).parents[3] / "migrations"
LDV_COLUMNS = ("span_id", "parent_span_id", "processing_activity", "foreign_processor")


def _context(n: int) -> dict[str, str]:
    return {
        "span_id": f"{n:016x}",
        "parent_span_id": uuid.uuid4().hex[:16],
        "processing_activity": f"https://register.example.nl/verwerkingsactiviteiten/{n}",
        "foreign_processor": "https://app.example.nl",
    }


@pytest.fixture
async def chain(fresh_url: str, runtime_pool: PoolFactory) -> tuple[str, list[ProtocolRecord]]:
    """Four records of TENANT, three with LDV context and one (as before 0016) without; admin URL."""
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    written = []
    try:
        for n in range(1, 5):
            fields: dict[str, Any] = _context(n) if n != 2 else {}
            entry = record(TENANT, consulted(f"99999{n:04d}"), **fields)
            written.append(entry)
            await writer.record(entry)
    finally:
        await writer.stop()
    return fresh_url, written


async def test_records_with_ldv_context_are_stored_as_given_and_verify(
    chain: tuple[str, list[ProtocolRecord]],
) -> None:
    url, written = chain
    rows = await stored_records(url, [entry.correlation_id for entry in written])
    assert [row["seq"] for row in rows] == [1, 2, 3, 4]
    for entry, row in zip(written, rows, strict=True):
        assert {name: row[name] for name in LDV_COLUMNS} == {
            name: getattr(entry, name) for name in LDV_COLUMNS
        }
    assert rows[1]["span_id"] is None
    report = await verify(url, full=True)
    assert report.ok, report.first_break


async def test_an_export_with_ldv_context_verifies_offline(
    chain: tuple[str, list[ProtocolRecord]], tmp_path: Path
) -> None:
    url, _ = chain
    out = tmp_path / "ldv.jsonl"
    today = dt.datetime.now(dt.UTC)
    manifest = await export(
        url, TENANT, fmt="jsonl", out=out, from_=today - dt.timedelta(days=1), to=today + dt.timedelta(days=1)
    )
    assert manifest.records == 4
    assert "https://register.example.nl/verwerkingsactiviteiten/3" in out.read_text()
    report = verify_export(out)
    assert report.ok, report.first_break


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("span_id", "ffffffffffffffff"),
        ("parent_span_id", None),
        ("processing_activity", "https://register.example.nl/verwerkingsactiviteiten/other"),
        ("foreign_processor", "https://someone-else.example.nl"),
    ],
)
async def test_a_changed_ldv_value_breaks_the_chain_at_its_record(
    chain: tuple[str, list[ProtocolRecord]], column: str, value: str | None
) -> None:
    url, _ = chain
    owner = await asyncpg.connect(url)
    try:
        await owner.execute("SET session_replication_role = replica")  # triggers off: a tamperer
        # Static SQL per column: the name comes from the test's own list above.
        assert column in LDV_COLUMNS
        await owner.execute(
            f"UPDATE broker.protocol_records SET {column} = $1 WHERE tenant = $2 AND seq = 3", value, TENANT
        )
    finally:
        await owner.close()
    report = await verify(url, full=True)
    (broken,) = report.chains
    assert broken.first_break is not None
    assert (broken.first_break.seq, broken.first_break.kind) == (3, BreakKind.CHANGED)


async def test_the_database_refuses_a_span_id_that_is_not_16_hex_digits(fresh_url: str) -> None:
    entry = chained(record(TENANT, consulted("999990001"), span_id="ABCDEF0123456789"))
    groups = [_group(TENANT, [entry], dt.datetime.now(dt.UTC))]
    connection = await asyncpg.connect(with_user(fresh_url, "brp_app"))
    try:
        with pytest.raises(asyncpg.CheckViolationError, match="protocol_records_span_id"):
            await connection.fetch(
                "SELECT * FROM broker.protocol_append_linked($1::jsonb)", msgspec.json.encode(groups).decode()
            )
    finally:
        await connection.close()


async def test_a_writer_of_the_previous_release_still_appends_and_verifies(fresh_url: str) -> None:
    # Its rows end at correlation_ids (element 24): the new function reads NULL for the rest.
    entries = [chained(record(TENANT, consulted(f"99999{n:04d}"))) for n in range(3)]
    groups = msgspec.to_builtins([_group(TENANT, entries, dt.datetime.now(dt.UTC))])
    for row in groups[0]["records"]:
        del row[25:]
        assert len(row) == 25
    connection = await asyncpg.connect(with_user(fresh_url, "brp_app"))
    try:
        (head,) = await connection.fetch(
            "SELECT * FROM broker.protocol_append_linked($1::jsonb)", msgspec.json.encode(groups).decode()
        )
    finally:
        await connection.close()
    assert head["head_seq"] == 3
    rows = await stored_records(fresh_url, [entry.correlation_id for entry in entries])
    assert all(row[name] is None for row in rows for name in LDV_COLUMNS)
    report = await verify(fresh_url, full=True)
    assert report.ok, report.first_break


async def test_the_previous_function_ignores_the_new_elements_of_a_row(fresh_url: str) -> None:
    # A replica of the new release may write while the previous function is still in place.
    previous = (MIGRATIONS / "0012_protocol_chain_links_in_one_statement.sql").read_text()
    function = re.search(r"CREATE FUNCTION broker\.protocol_append_linked.*?\n\$\$;\n", previous, re.DOTALL)
    assert function is not None
    context: dict[str, Any] = _context(7)
    entry = chained(record(TENANT, consulted("999990001"), **context))
    groups = [_group(TENANT, [entry], dt.datetime.now(dt.UTC))]
    owner = await asyncpg.connect(fresh_url)
    try:
        await owner.execute(
            function.group(0).replace("protocol_append_linked", "protocol_append_linked_0012")
        )
        (head,) = await owner.fetch(
            "SELECT * FROM broker.protocol_append_linked_0012($1::jsonb)",
            msgspec.json.encode(groups).decode(),
        )
    finally:
        await owner.close()
    assert head["head_seq"] == 1
    (row,) = await stored_records(fresh_url, [entry.correlation_id])
    assert all(row[name] is None for name in LDV_COLUMNS)
