"""Inzage: who consulted or found a person, when, why and which data — as a citizen's request needs it.

`inzage(source, tenant, bsn, from_, to)` lists, for one tenant (the afnemer the citizen asked),
every request whose answer was about that BSN, oldest first:

- who:  employee (`x-gebruiker` or the token's employee claim), token subject, client application,
        member organisation (samenwerkingsverband), AfnemerID, environment;
- when: the moment the request arrived (UTC);
- why:  `x-doelbinding`, `x-verwerking`, `x-origin-oin`;
- what: API and query type, the NAMES of the search parameters, the fields asked for, and whether
        the person was `consulted` (asked for by BSN) or `found` (delivered by a search).

The values of the search parameters are left out on purpose: a search for twenty BSNs or by name
names other people, and a citizen's inzage must not show them. The correlation id lets the tenant
look up the full record when it has to. `render` gives the answer as JSON or CSV (RFC 4180; cells
that a spreadsheet would read as a formula are prefixed with `'`).

Reads as the runtime role (a pool: the admin API, for one tenant under row-level security) or as
the operator (owner URL), in one read-only snapshot. Never logs a BSN or an entry. Its cost grows
with the months kept (one index probe per monthly partition) and with the entries found, not with
the size of the protocol (`tests/benchmarks/protocol_scale.py`).

An inzage through the admin API is itself a processing of the person's data, so
`protocolled_inzage` protocols it like a gateway request: one record of the tenant (api `inzage`,
the officer as subject and employee, the BSN as `consulted`), committed through the app's
`ProtocolWriter` after the entries were read and before they may be answered; a record that
cannot be committed raises the writer's 503 and the entries are never returned. The record shows
up in later inzages for the same BSN, as it should: the citizen sees that the officer looked.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Sequence
from typing import Final, Literal, NamedTuple, Protocol

import asyncpg
import msgspec

from app.brp import PersonRef, PersonRole
from app.protocol.access import Connection, ProtocolSource, operator_connection, tenant_transaction
from app.protocol.chain import normalise_time
from app.protocol.record import ProtocolRecord

__all__ = [
    "INZAGE_API",
    "InzageEntry",
    "InzageFormat",
    "InzageOfficer",
    "Recorder",
    "inzage",
    "inzage_record",
    "protocolled_inzage",
    "render",
]

InzageFormat = Literal["json", "csv"]
# The `api` of the protocol record of an inzage through the admin API (no BRP API is called).
INZAGE_API: Final = "inzage"

_BSN: Final = re.compile(r"[0-9]{9}")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
# Two statements, not one join. With a partition per month (240 over 20 years) the planner costs a
# join to the records as if every person row probed every partition, and so prefers a hash join
# over ALL the tenant's records: the time grew with the size of the protocol. Here the person rows
# come first (one index probe per month), then their records, looked up month by month: a nested
# loop that touches only the partitions of the entries' months. Both in one snapshot.
_PERSONS: Final = """
SELECT seq, occurred_at, role FROM protocol_persons
WHERE tenant = $1 AND bsn = $2{bounds}
ORDER BY occurred_at, seq, position
"""
# Written out, not `$3 IS NULL OR ...`: a bound the planner can see prunes the months outside it.
_BOUNDS: Final = {
    (False, False): "",
    (True, False): " AND occurred_at >= $3",
    (False, True): " AND occurred_at < $3",
    (True, True): " AND occurred_at >= $3 AND occurred_at < $4",
}
# The records month by month: one lookup per month the entries fall in (at most ~240 over 20
# years), each fetching that month's keys at once (its slice of $6), instead of one lookup per
# entry. Every lookup makes PostgreSQL prune the ~240 monthly partitions again, and per entry that
# was a third of a hot BSN's records step (~2,250 entries in ~242 months: 20-27 -> 13-19 ms; 10 to
# 200 entries spread over as many months: alike within 0.4 ms; `tests.benchmarks.protocol_scale`,
# its records-step lines, 10^6 and 10^7 records). Nothing here joins the months to the records by
# equality, so the planner can neither hash nor merge them (either would read all the tenant's
# records): the plan is a loop over the months with a lookup in each
# (`tests/integration/protocol/test_inzage_plans.py` reads it). The names of the search parameters
# come out in the order the record holds them and are sorted here: a sort node per entry in the
# database cost ~4 µs an entry.
_RECORDS: Final = """
SELECT r.seq, r.occurred_at, r.employee, r.subject, r.client_application, r.member_organisation,
       r.afnemer_id, r.environment, r.doelbinding, r.verwerking, r.origin_oin, r.api, r.query_type,
       ARRAY(SELECT json_object_keys(r.search_parameters)) AS search_parameter_names,
       r.requested_fields AS fields, r.correlation_id
FROM unnest($2::timestamptz[], $3::timestamptz[], $4::int[], $5::int[]) AS m(earliest, latest, first, last)
JOIN protocol_records AS r
  ON r.tenant = $1 AND r.occurred_at BETWEEN m.earliest AND m.latest
 AND r.seq = ANY(($6::bigint[])[m.first:m.last]){months}
"""
# On a new connection (the operator's) the plan is made for the values at hand, and repeating the
# entries' moments lets it leave the other months out: fewer of the ~240 partitions to open. But
# the planner weighs the list against every partition and the filter checks it against every row
# found, so its cost grows with the square of the entries (and with the protocol's statistics).
# With the list / without, one BSN's entries spread over 20 years, new connection, three runs at
# 10^6 records and two at 10^7 (`tests.benchmarks.protocol_scale`, its records-step lines):
# 10 entries 9-20 / 44-53 ms, 20 14-53 / 42-55, 50 33-119 / 45-57, 100 62-184 / 47-60.
_IN_THE_ENTRIES_MONTHS: Final = " AND r.occurred_at = ANY($7::timestamptz[])"
_PRUNE_UP_TO: Final = 20
# On a pooled connection: planned once, pruned when it runs. A custom plan would plan all ~240
# partitions again at every call (tens of milliseconds), and PostgreSQL keeps choosing custom plans
# here because it counts planning as nearly free.
_GENERIC_PLANS: Final = "SET LOCAL plan_cache_mode = force_generic_plan"
# `PersonRole(value)` costs ~1 µs, about a fifth of building an entry.
_ROLES: Final = {role.value: role for role in PersonRole}


class InzageEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One request that processed the person's data."""

    tenant: str
    occurred_at: dt.datetime
    role: PersonRole
    employee: str | None
    subject: str | None
    client_application: str | None
    member_organisation: str | None
    afnemer_id: str | None
    environment: str | None
    doelbinding: str | None
    verwerking: str | None
    origin_oin: str | None
    api: str
    query_type: str | None
    search_parameter_names: tuple[str, ...]
    fields: tuple[str, ...]
    correlation_id: str


async def inzage(
    source: ProtocolSource,
    tenant: str,
    bsn: str,
    from_: dt.datetime | None = None,
    to: dt.datetime | None = None,
) -> list[InzageEntry]:
    """The requests of `tenant` about `bsn` with `from_ <= occurred_at < to` (either bound optional)."""
    if not _BSN.fullmatch(bsn):
        raise ValueError("a BSN is nine digits")
    bounds = (None if from_ is None else normalise_time(from_), None if to is None else normalise_time(to))
    if isinstance(source, str):
        async with (
            operator_connection(source) as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await _entries(connection, tenant, bsn, *bounds, new_connection=True)
    async with tenant_transaction(source, tenant, isolation="repeatable_read", readonly=True) as pooled:
        await pooled.execute(_GENERIC_PLANS)
        return await _entries(pooled, tenant, bsn, *bounds, new_connection=False)


class Recorder(Protocol):
    """Commits one protocol record, or raises `ProblemError` 503 (the `ProtocolWriter`)."""

    async def record(self, record: ProtocolRecord) -> None: ...


class InzageOfficer(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks for an inzage, and under which request ids, for its protocol record."""

    tenant: str
    subject: str
    correlation_id: str
    trace_id: str | None = None


async def protocolled_inzage(
    pool: asyncpg.Pool,
    recorder: Recorder,
    officer: InzageOfficer,
    bsn: str,
    *,
    from_: dt.datetime | None = None,
    to: dt.datetime | None = None,
) -> list[InzageEntry]:
    """The officer's tenant's requests about `bsn`, returned only once this inzage is protocolled.

    Reads as the runtime role under row-level security (the officer's tenant only), then commits
    the inzage's own record through `recorder`; raises its `ProblemError` 503 when it cannot.
    """
    occurred_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    entries = await inzage(pool, officer.tenant, bsn, from_, to)
    await recorder.record(
        inzage_record(
            officer,
            bsn,
            from_=from_,
            to=to,
            occurred_at=occurred_at,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
    )
    return entries


def inzage_record(
    officer: InzageOfficer,
    bsn: str,
    *,
    from_: dt.datetime | None,
    to: dt.datetime | None,
    occurred_at: dt.datetime,
    latency_ms: float,
) -> ProtocolRecord:
    """The protocol record of one inzage: who looked at whom, when, over which period."""
    parameters: dict[str, object] = {"bsn": bsn}
    if from_ is not None:
        parameters["from"] = normalise_time(from_).isoformat()
    if to is not None:
        parameters["to"] = normalise_time(to).isoformat()
    return ProtocolRecord(
        tenant=officer.tenant,
        occurred_at=occurred_at,
        correlation_id=officer.correlation_id,
        trace_id=officer.trace_id,
        api=INZAGE_API,
        status=200,
        latency_ms=round(latency_ms, 3),
        subject=officer.subject,
        employee=officer.subject,
        search_parameters=parameters,
        persons=(PersonRef(bsn, PersonRole.CONSULTED),),
    )


def render(entries: Sequence[InzageEntry], fmt: InzageFormat) -> str:
    """The entries as a JSON array (indented) or as CSV with a header row."""
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(list(entries)), indent=2).decode()
    if fmt == "csv":
        return _csv(entries)
    raise ValueError(f"unknown inzage format {fmt!r}; use json or csv")


async def _entries(
    connection: Connection,
    tenant: str,
    bsn: str,
    from_: dt.datetime | None,
    to: dt.datetime | None,
    *,
    new_connection: bool,
) -> list[InzageEntry]:
    bounds = [bound for bound in (from_, to) if bound is not None]
    persons = await connection.fetch(
        _PERSONS.format(bounds=_BOUNDS[from_ is not None, to is not None]), tenant, bsn, *bounds
    )
    if not persons:
        return []
    keys = [(row["seq"], row["occurred_at"]) for row in persons]
    unique = list(dict.fromkeys(keys))  # a search may find the person twice in one answer
    prune = new_connection and len(unique) <= _PRUNE_UP_TO
    rows = await connection.fetch(
        _RECORDS.format(months=_IN_THE_ENTRIES_MONTHS if prune else ""),
        tenant,
        *_by_month(unique),
        *([[moment for _, moment in unique]] if prune else []),
    )
    # A person row without its record (it cannot be, but the owner could forge one) is left out.
    records = {(row["seq"], row["occurred_at"]): row for row in rows}
    return [
        _entry(tenant, records[key], _ROLES[person["role"]])
        for key, person in zip(keys, persons, strict=True)
        if key in records
    ]


class _MonthsOfKeys(NamedTuple):
    """Record keys grouped by calendar month (UTC), as `_RECORDS` takes them ($2 to $6).

    Month i holds the keys `seqs[first[i] - 1 : last[i]]`, which occurred from `earliest[i]` to
    `latest[i]` (both included).
    """

    earliest: list[dt.datetime]
    latest: list[dt.datetime]
    first: list[int]
    last: list[int]
    seqs: list[int]


def _by_month(keys: Sequence[tuple[int, dt.datetime]]) -> _MonthsOfKeys:
    """The (seq, occurred_at) keys grouped by month: one group per run of keys in the same month.

    Keys in the order of their moments (as the person rows come) give one group per month.
    """
    months = _MonthsOfKeys([], [], [], [], [])
    month: tuple[int, int] | None = None
    for seq, moment in keys:
        months.seqs.append(seq)
        position = len(months.seqs)
        if (moment.year, moment.month) == month:
            months.earliest[-1] = min(months.earliest[-1], moment)
            months.latest[-1] = max(months.latest[-1], moment)
            months.last[-1] = position
            continue
        month = (moment.year, moment.month)
        months.earliest.append(moment)
        months.latest.append(moment)
        months.first.append(position)
        months.last.append(position)
    return months


def _entry(tenant: str, row: asyncpg.Record, role: PersonRole) -> InzageEntry:
    return InzageEntry(
        tenant=tenant,
        occurred_at=row["occurred_at"],
        role=role,
        employee=row["employee"],
        subject=row["subject"],
        client_application=row["client_application"],
        member_organisation=row["member_organisation"],
        afnemer_id=row["afnemer_id"],
        environment=row["environment"],
        doelbinding=row["doelbinding"],
        verwerking=row["verwerking"],
        origin_oin=row["origin_oin"],
        api=row["api"],
        query_type=row["query_type"],
        search_parameter_names=tuple(sorted(row["search_parameter_names"])),
        fields=tuple(row["fields"]),
        correlation_id=row["correlation_id"],
    )


def _csv(entries: Sequence[InzageEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = InzageEntry.__struct_fields__
    writer.writerow(names)
    for entry in entries:
        writer.writerow([_cell(getattr(entry, name)) for name in names])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        text = ""
    elif isinstance(value, dt.datetime):
        text = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    elif isinstance(value, tuple):
        text = " ".join(str(item) for item in value)
    else:
        text = str(value)
    # A cell starting like a formula would run as one in a spreadsheet (CSV injection).
    return "'" + text if text.startswith(_FORMULA_START) else text
