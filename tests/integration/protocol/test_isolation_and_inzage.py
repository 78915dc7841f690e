"""Tenant isolation of the protocol, and inzage: exactly the records about one BSN, as JSON or CSV."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json

import asyncpg
import pytest

from app.brp import PersonRole
from app.db import tenant_scope
from app.protocol import NO_TENANT, InzageEntry, ProtocolWriter, inzage, render
from app.protocol.inzage import _PRUNE_UP_TO
from tests.integration.protocol.factories import consulted, found, record, slug

BSN = "999993653"
OTHER_BSN = "999990019"


async def test_tenant_a_cannot_read_tenant_b_protocol(writer: ProtocolWriter, app_pool: asyncpg.Pool) -> None:
    a, b = slug(), slug()
    await writer.record(record(a, consulted(BSN)))
    await writer.record(record(b, consulted(BSN)))
    async with tenant_scope(app_pool, a) as connection:
        for table in ("protocol_records", "protocol_persons", "protocol_chain_heads"):
            tenants = {row["tenant"] for row in await connection.fetch(f"SELECT tenant FROM {table}")}
            assert tenants == {a}, table


async def test_without_a_tenant_nothing_is_visible_and_nothing_can_be_appended(
    writer: ProtocolWriter, app_pool: asyncpg.Pool
) -> None:
    await writer.record(record(slug(), consulted(BSN)))
    async with app_pool.acquire() as connection:
        assert await connection.fetch("SELECT 1 FROM protocol_records") == []
        assert await connection.fetch("SELECT 1 FROM protocol_persons") == []
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "INSERT INTO protocol_persons (tenant, seq, occurred_at, position, bsn, role) "
                "VALUES ('x-tenant', 1, now(), 0, $1, 'found')",
                BSN,
            )


async def test_tenant_a_cannot_append_to_tenant_b_protocol(app_pool: asyncpg.Pool) -> None:
    async with tenant_scope(app_pool, slug()) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "INSERT INTO protocol_persons (tenant, seq, occurred_at, position, bsn, role) "
                "VALUES ($1, 1, now(), 0, $2, 'found')",
                slug(),
                BSN,
            )


async def test_records_without_a_tenant_are_visible_to_no_tenant(
    writer: ProtocolWriter, app_pool: asyncpg.Pool, database_url: str
) -> None:
    denied = record("", status=401, problem_code="authentication", query_type=None, search_parameters={})
    await writer.record(denied)
    async with tenant_scope(app_pool, slug()) as connection:
        assert (
            await connection.fetchval("SELECT count(*) FROM protocol_records WHERE tenant = $1", NO_TENANT)
            == 0
        )
    admin = await asyncpg.connect(database_url)
    try:
        # The operator does see them.
        seen = await admin.fetchval(
            "SELECT count(*) FROM broker.protocol_records WHERE correlation_id = $1", denied.correlation_id
        )
    finally:
        await admin.close()
    assert seen == 1


@pytest.fixture
async def inzage_case(writer: ProtocolWriter) -> tuple[str, list[str]]:
    """A tenant with requests about BSN and others; returns the tenant and the ids about BSN, in order."""
    tenant = slug()
    day = dt.datetime.now(dt.UTC).replace(day=1, hour=8, minute=0, second=0, microsecond=0)
    about = [
        # Consulted together with another person: that person's BSN is in the search parameters.
        record(tenant, consulted(BSN, OTHER_BSN), occurred_at=day),
        # Found by a search on name and birth date.
        record(
            tenant,
            found(OTHER_BSN, BSN),
            occurred_at=day + dt.timedelta(hours=1),
            query_type="ZoekMetGeslachtsnaamEnGeboortedatum",
            search_parameters={"geslachtsnaam": "Jansen", "geboortedatum": "1980-01-01"},
            doelbinding='=HYPERLINK("https://evil")',
        ),
        record(
            tenant, consulted(BSN), occurred_at=day + dt.timedelta(hours=2), employee="tweede@gemeente.nl"
        ),
    ]
    unrelated = [
        record(tenant, consulted(OTHER_BSN), occurred_at=day + dt.timedelta(minutes=30)),
        record(tenant, occurred_at=day + dt.timedelta(minutes=40), status=403, problem_code="unauthorized"),
        record(slug(), consulted(BSN), occurred_at=day + dt.timedelta(minutes=50)),  # another tenant
    ]
    for r in [*about, *unrelated]:
        await writer.record(r)
    return tenant, [r.correlation_id for r in about]


async def test_inzage_returns_exactly_the_records_of_that_bsn_with_their_role(
    inzage_case: tuple[str, list[str]], database_url: str
) -> None:
    tenant, expected = inzage_case
    entries = await inzage(database_url, tenant, BSN)
    assert [e.correlation_id for e in entries] == expected
    assert [e.role for e in entries] == [PersonRole.CONSULTED, PersonRole.FOUND, PersonRole.CONSULTED]
    first = entries[0]
    assert first.tenant == tenant
    assert first.employee == "medewerker@gemeente.nl"
    assert first.doelbinding == "BRPACT-Test"
    assert first.verwerking == "Controle@Aanvraag"
    assert first.api == "personen"
    assert first.query_type == "RaadpleegMetBurgerservicenummer"
    assert first.search_parameter_names == ("burgerservicenummer", "gemeenteVanInschrijving")
    assert first.fields == ("naam.voornamen", "geboorte.datum")
    assert entries[1].search_parameter_names == ("geboortedatum", "geslachtsnaam")


async def test_inzage_honours_the_period(inzage_case: tuple[str, list[str]], database_url: str) -> None:
    tenant, expected = inzage_case
    everything = await inzage(database_url, tenant, BSN)
    start = everything[1].occurred_at
    window = await inzage(database_url, tenant, BSN, from_=start, to=start + dt.timedelta(hours=1))
    assert [e.correlation_id for e in window] == [expected[1]]


async def test_inzage_as_the_tenant_equals_inzage_as_the_operator(
    inzage_case: tuple[str, list[str]], database_url: str, app_pool: asyncpg.Pool
) -> None:
    tenant, _ = inzage_case
    assert await inzage(app_pool, tenant, BSN) == await inzage(database_url, tenant, BSN)
    assert await inzage(app_pool, slug(), BSN) == []


async def test_inzage_as_json_names_no_other_person(
    inzage_case: tuple[str, list[str]], database_url: str
) -> None:
    tenant, expected = inzage_case
    text = render(await inzage(database_url, tenant, BSN), "json")
    body = json.loads(text)
    assert [item["correlation_id"] for item in body] == expected
    assert body[1]["role"] == "found"
    assert body[0]["occurred_at"].endswith("Z")
    assert set(body[0]) == set(InzageEntry.__struct_fields__)
    # The other person consulted in the same request, and the searched name, stay out of it.
    assert OTHER_BSN not in text
    assert "Jansen" not in text


async def test_inzage_as_csv(inzage_case: tuple[str, list[str]], database_url: str) -> None:
    tenant, expected = inzage_case
    text = render(await inzage(database_url, tenant, BSN), "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["correlation_id"] for row in rows] == expected
    assert [row["role"] for row in rows] == ["consulted", "found", "consulted"]
    assert rows[0]["fields"] == "naam.voornamen geboorte.datum"
    assert rows[2]["employee"] == "tweede@gemeente.nl"
    # A value a spreadsheet would run as a formula is defused.
    assert rows[1]["doelbinding"] == '\'=HYPERLINK("https://evil")'
    assert OTHER_BSN not in text


async def test_inzage_refuses_what_is_not_a_bsn(database_url: str) -> None:
    with pytest.raises(ValueError, match="nine digits"):
        await inzage(database_url, slug(), "12345")


async def test_inzage_with_only_a_start_or_only_an_end(
    inzage_case: tuple[str, list[str]], database_url: str
) -> None:
    tenant, expected = inzage_case
    second = (await inzage(database_url, tenant, BSN))[1].occurred_at
    assert [e.correlation_id for e in await inzage(database_url, tenant, BSN, from_=second)] == expected[1:]
    assert [e.correlation_id for e in await inzage(database_url, tenant, BSN, to=second)] == expected[:1]


async def test_inzage_pairs_each_person_row_with_its_own_record_only(
    inzage_case: tuple[str, list[str]], database_url: str, app_pool: asyncpg.Pool
) -> None:
    """Forged rows (owner rights) neither add entries nor mix one record's data into another's."""
    tenant, expected = inzage_case
    admin = await asyncpg.connect(database_url)
    try:
        rows = await admin.fetch(
            "SELECT r.seq, r.occurred_at FROM broker.protocol_records r "
            "JOIN broker.protocol_persons p USING (tenant, seq, occurred_at) "
            "WHERE r.tenant = $1 AND p.bsn = $2 ORDER BY r.occurred_at",
            tenant,
            BSN,
        )
        (first_seq, first_at), (second_seq, second_at) = rows[0], rows[1]
        # A record with the second's number at the first's moment: both match the keys looked up.
        await admin.execute(
            "INSERT INTO broker.protocol_records (tenant, seq, occurred_at, recorded_at, correlation_id, "
            "api, search_parameters, requested_fields, sent_fields, status, latency_ms, prev_hash, hash) "
            "VALUES ($1, $2, $3, now(), 'forged', 'personen', '{}', '{}', '{}', 200, 1, $4, $4)",
            tenant,
            second_seq,
            first_at,
            bytes(32),
        )
        # A person row without a record.
        await admin.execute(
            "INSERT INTO broker.protocol_persons (tenant, seq, occurred_at, position, bsn, role) "
            "VALUES ($1, $2, $3, 0, $4, 'consulted')",
            tenant,
            first_seq,
            second_at,
            BSN,
        )
    finally:
        await admin.close()
    for source in (database_url, app_pool):
        entries = await inzage(source, tenant, BSN)
        assert [e.correlation_id for e in entries] == expected
        assert [e.occurred_at for e in entries[:2]] == [first_at, second_at]


async def test_inzage_of_a_person_with_many_entries_is_whole_on_every_connection(
    writer: ProtocolWriter, database_url: str, app_pool: asyncpg.Pool
) -> None:
    """Past `_PRUNE_UP_TO` entries the operator's lookup leaves the months list out; nothing is lost."""
    tenant = slug()
    month = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    count = _PRUNE_UP_TO + 10
    written = [
        record(
            tenant,
            consulted(BSN) if i % 3 else found(OTHER_BSN, BSN),
            occurred_at=month + dt.timedelta(seconds=i),
        )
        for i in range(count)
    ]
    await asyncio.gather(*(writer.record(r) for r in written))
    await writer.record(record(tenant, consulted(OTHER_BSN), occurred_at=month))
    expected = [r.correlation_id for r in written]
    as_operator = await inzage(database_url, tenant, BSN)
    assert [e.correlation_id for e in as_operator] == expected
    assert [e.role for e in as_operator[:3]] == [PersonRole.FOUND, PersonRole.CONSULTED, PersonRole.CONSULTED]
    assert await inzage(app_pool, tenant, BSN) == as_operator
    # Below the threshold the operator's plan leaves the other months out; the answer is the same.
    window = await inzage(database_url, tenant, BSN, to=month + dt.timedelta(seconds=10))
    assert [e.correlation_id for e in window] == expected[:10]


async def test_inzage_finds_the_entries_on_both_sides_of_a_month_boundary(
    writer: ProtocolWriter, database_url: str, app_pool: asyncpg.Pool
) -> None:
    """The records are looked up month by month: none is lost at a month's edges or between years."""
    tenant, other = slug(), slug()
    this_month = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    a_year_earlier = last_month.replace(year=last_month.year - 1)
    admin = await asyncpg.connect(database_url)
    try:
        for month in (a_year_earlier, last_month):
            await admin.execute("SELECT broker.protocol_create_partitions($1)", month.date())
    finally:
        await admin.close()
    tick = dt.timedelta(microseconds=1)
    # The same month a year apart, a month's first and last microsecond, one moment twice.
    moments = [a_year_earlier, last_month, this_month - tick, this_month, this_month, this_month + tick]
    written = [
        record(tenant, consulted(BSN) if i % 2 else found(OTHER_BSN, BSN), occurred_at=moment)
        for i, moment in enumerate(moments)
    ]
    for each in written:  # one by one: records of one moment come in the order of their numbers
        await writer.record(each)
    await writer.record(record(other, consulted(BSN), occurred_at=this_month))
    as_operator = await inzage(database_url, tenant, BSN)
    assert [e.correlation_id for e in as_operator] == [r.correlation_id for r in written]
    assert [e.occurred_at for e in as_operator] == moments
    assert await inzage(app_pool, tenant, BSN) == as_operator
