"""The protocol at the scale of 20 years: inzage per BSN, bytes per record, retention, verify rates.

Run:  .venv/bin/python -m tests.benchmarks.protocol_scale [--records 100000 1000000 10000000]
                                                        [--samples 200] [--verify-records 200000]
                                                        [--population 1000000] [--uncached] [--keep]

Starts an embedded PostgreSQL in a fresh temporary folder (removed afterwards unless `--keep`),
fsync on, with `SETTINGS` (2 GB shared buffers as a production server would have; checkpoints
spaced for a bulk load). One tenant's protocol is grown step by step to each `--records` size,
spread evenly over ~20 years of monthly partitions (243 months: from two months older than the
20-year term up to this month), and at each size it measures:

- **inzage** for one BSN of that tenant through `app.protocol.inzage.inzage`, as the privacy
  officer calls it (the runtime pool under row-level security: the admin API; the heap frozen
  first, as the serving process keeps it) and as the operator does (owner URL: a new connection
  per call, the CLI): p50/p95/max over `--samples` BSNs, half drawn from the whole population (a
  random citizen), half from the hot 1 %; target p95 <= 50 ms.
  Beside it, the single-join query inzage ran before (a baseline), the same BSNs through the pool
  as inzage read them before its last change (`_previous_inzage`, taking turns with today's), and
  for the hottest BSN its records step for 10 to all of its entries with the list of months and
  without it, on the pool and on new connections, and as before (`_lookups`);
- **bytes per record**: records + persons, heap, TOAST and every index, over all partitions;
- **retention**: `apply_retention` (owner URL) with `now` chosen so exactly the oldest month falls
  out, at the smallest and at the largest size (O(1) in the table size), beside the query the
  previous retention used to find the last dropped record (it read the whole dropped month).

The records are generated server-side (`INSERT ... SELECT generate_series`, as the owner), shaped
like the gateway's: 5 % without a person, 87 % one person consulted, 5 % one found, 3 % two to five
found; BSNs (valid 11-proef numbers) from a population of `--population` (10^6), of which a hot 1 %
draws 20 % of the lookups. A population of records/100 gives every BSN the entries it would have at
10^8 records over 10^6 people (a random citizen ~100, a hot one ~2,100) in a protocol that fits.
Their hashes are random bytes (inzage and retention do not check them) and sequence numbers follow
the months with gaps, so the generated tenant is not a chain `verify` would accept.

Then, separately, **verify**: a tenant of `--verify-records` records written through the product's
own `write_batch` in batches of 1000, `verify(full=True)` timed, 10 000 more appended, and the
incremental `verify()` timed; records/s of both. Without incremental verify (no `full` keyword) it
reports the full walk only.

Each size is vacuumed before it is measured, as autovacuum keeps an append-only table.

Everything above is read warm (the machine's page cache holds the data the load just wrote); the
slope from size to size is what tells how a 10^8 or 10^9 protocol behaves. At 10^8 records (~112
GB) little of it would be in memory: `--uncached` ends with inzage after a server restart and with
the kernel's page cache dropped (as root), each BSN looked up once, half of them by today's inzage
and half by the previous one, taking turns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import inspect
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, cast

import asyncpg
import msgspec

from app.brp import PersonRef, PersonRole
from app.db import EmbeddedPostgres, apply_migrations, create_pool, ensure_database, with_user
from app.protocol import ProtocolRecord, apply_retention, inzage, verify, write_batch
from app.protocol.access import Connection, operator_connection, tenant_transaction
from app.protocol.chain import chained, genesis_hash

# The exact statements inzage runs, to EXPLAIN them.
from app.protocol.inzage import (
    _BOUNDS,
    _GENERIC_PLANS,
    _IN_THE_ENTRIES_MONTHS,
    _PERSONS,
    _PRUNE_UP_TO,
    _RECORDS,
    _ROLES,
    InzageEntry,
    _by_month,
    _entry,
)
from app.tuning import freeze_startup_heap, thaw_startup_heap

TENANT: Final = "gemeente-groot"
VERIFY_TENANT: Final = "gemeente-verify"
POPULATION: Final = 1_000_000  # `--population`
HOT_PART: Final = 100  # the hot 1 % ...
HOT_SHARE: Final = 0.2  # ... draws 20 % of the lookups
CHUNK: Final = 500_000  # records per generating statement
VERIFY_BATCH: Final = 1000
VERIFY_EXTRA: Final = 10_000
TERM_YEARS: Final = 20
# Set before the run (the server restarts once): the buffer cache a production server would have,
# and checkpoints that do not dominate a bulk load of a throw-away cluster (no full-page images).
SETTINGS: Final = {
    "shared_buffers": "2GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "full_page_writes": "off",
}

# BSNs that pass the 11-proef: eight digits from a bijective scramble of k (7919 is prime to 9*10^7),
# then the check digit; prefixes whose check would be 10 are skipped.
_POPULATION: Final = """
WITH prefixes AS (
    SELECT k, 10000000 + (k * 7919) % 90000000 AS p FROM generate_series(0::bigint, $1::bigint * 2) AS k
), checked AS (
    SELECT k, p, (9 * (p / 10000000 % 10) + 8 * (p / 1000000 % 10) + 7 * (p / 100000 % 10)
                  + 6 * (p / 10000 % 10) + 5 * (p / 1000 % 10) + 4 * (p / 100 % 10)
                  + 3 * (p / 10 % 10) + 2 * (p % 10)) % 11 AS check_digit
    FROM prefixes
)
SELECT array_agg(p * 10 + check_digit ORDER BY k) FROM (
    SELECT k, p, check_digit FROM checked WHERE check_digit < 10 ORDER BY k LIMIT $1
) AS valid
"""

# A BSN from the population: with probability HOT_SHARE one of the first $7, else any ($6: bigint[]).
_PICK: Final = f"""lpad((($6::bigint[])[1 + CASE WHEN random() < {HOT_SHARE} THEN floor(random() * $7)::int
    ELSE floor(random() * cardinality($6::bigint[]))::int END])::text, 9, '0')"""
_FIELDS: Final = "naam.voornamen,naam.geslachtsnaam,geboorte.datum,verblijfplaats.verblijfadres"

# $1 first ordinal, $2 count, $3 month numbers (int[]), $4/$5 their bounds, $6 population, $7 hot
# size, $8 tenant. Ordinal j goes to month j mod K; seq = (month + 1) * 10^10 + j: unique, and
# ordered like the months, as a real chain is (retention's checkpoint and leftover count rely on it).
_GENERATE: Final = f"""
WITH src AS MATERIALIZED (
    SELECT j, m.month, ((m.month + 1)::bigint * 10000000000 + j) AS seq,
           m.lower + random() * (m.upper - m.lower) AS occurred_at, random() AS kind,
           {_PICK} AS first_bsn
    FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) AS j
    JOIN unnest($3::int[], $4::timestamptz[], $5::timestamptz[]) WITH ORDINALITY AS m(month, lower, upper, i)
      ON m.i = 1 + j % cardinality($3::int[])
), shaped AS MATERIALIZED (
    SELECT *, CASE WHEN kind < 0.05 THEN 0 WHEN kind < 0.97 THEN 1 ELSE 2 + floor(random() * 4)::int END
                  AS persons,
              kind < 0.92 AS by_bsn
    FROM src
), records AS (
    INSERT INTO protocol_records (
        tenant, seq, occurred_at, recorded_at, correlation_id, trace_id, member_organisation, subject,
        employee, client_application, afnemer_id, environment, doelbinding, verwerking, origin_oin, api,
        query_type, search_parameters, requested_fields, sent_fields, status, problem_code, latency_ms,
        prev_hash, hash)
    SELECT $8, seq, occurred_at, occurred_at + interval '40 milliseconds', gen_random_uuid()::text,
           md5(seq::text), NULL, 'client-credentials-sub', 'medewerker' || (seq % 500) || '@gemeente.nl',
           'zaaksysteem', '000001', 'productie', 'BRPACT-Burgerzaken', 'Controle@Aanvraag',
           '00000001234567890000', 'personen',
           CASE WHEN by_bsn THEN 'RaadpleegMetBurgerservicenummer'
                ELSE 'ZoekMetGeslachtsnaamEnGeboortedatum' END,
           (CASE WHEN by_bsn THEN format('{{"burgerservicenummer":["%s"]}}', first_bsn)
                 ELSE '{{"geboortedatum":"1980-01-01","geslachtsnaam":"Jansen"}}' END)::json,
           '{{{_FIELDS}}}'::text[],
           (CASE WHEN persons = 0 THEN '{{}}' ELSE '{{{_FIELDS},burgerservicenummer}}' END)::text[],
           200, NULL, 20 + random() * 80, sha256(int8send(seq - 1)), sha256(int8send(seq))
    FROM shaped
)
INSERT INTO protocol_persons (tenant, seq, occurred_at, position, bsn, role)
SELECT $8, s.seq, s.occurred_at, pos,
       CASE WHEN pos = 0 THEN s.first_bsn ELSE {_PICK} END,
       CASE WHEN s.by_bsn THEN 'consulted' ELSE 'found' END
FROM shaped AS s, generate_series(0, s.persons - 1) AS pos
"""

_SIZES: Final = """
SELECT sum(pg_table_size(i.inhrelid)) FILTER (WHERE i.inhparent = 'broker.protocol_records'::regclass)
           AS records_heap,
       sum(pg_indexes_size(i.inhrelid)) FILTER (WHERE i.inhparent = 'broker.protocol_records'::regclass)
           AS records_indexes,
       sum(pg_table_size(i.inhrelid)) FILTER (WHERE i.inhparent = 'broker.protocol_persons'::regclass)
           AS persons_heap,
       sum(pg_indexes_size(i.inhrelid)) FILTER (WHERE i.inhparent = 'broker.protocol_persons'::regclass)
           AS persons_indexes
FROM pg_inherits i
WHERE i.inhparent IN ('broker.protocol_records'::regclass, 'broker.protocol_persons'::regclass)
"""
# The single join inzage ran before this change (the baseline): the planner hash-joined the person
# rows with every record of the tenant, over all partitions.
_OLD_INZAGE: Final = """
SELECT r.tenant, r.occurred_at, p.role, r.employee, r.subject, r.client_application,
       r.member_organisation, r.afnemer_id, r.environment, r.doelbinding, r.verwerking,
       r.origin_oin, r.api, r.query_type,
       ARRAY(SELECT k FROM json_object_keys(r.search_parameters) AS k ORDER BY k) AS search_parameter_names,
       r.requested_fields AS fields, r.correlation_id
FROM protocol_persons p
JOIN protocol_records r ON r.tenant = p.tenant AND r.seq = p.seq AND r.occurred_at = p.occurred_at
WHERE p.tenant = $1 AND p.bsn = $2
  AND ($3::timestamptz IS NULL OR p.occurred_at >= $3)
  AND ($4::timestamptz IS NULL OR p.occurred_at < $4)
ORDER BY p.occurred_at, p.seq, p.position
"""
OLD_INZAGE_SAMPLES: Final = 5
# The records step inzage ran before (the baseline of `officer_before`): a lookup per entry, each
# of them pruning the ~240 monthly partitions again.
_PREVIOUS_RECORDS: Final = """
SELECT k.seq, k.occurred_at, r.employee, r.subject, r.client_application, r.member_organisation,
       r.afnemer_id, r.environment, r.doelbinding, r.verwerking, r.origin_oin, r.api, r.query_type,
       r.search_parameter_names, r.fields, r.correlation_id
FROM unnest($2::bigint[], $3::timestamptz[]) AS k(seq, occurred_at)
CROSS JOIN LATERAL (
    SELECT employee, subject, client_application, member_organisation, afnemer_id, environment,
           doelbinding, verwerking, origin_oin, api, query_type,
           ARRAY(SELECT json_object_keys(search_parameters)) AS search_parameter_names,
           requested_fields AS fields, correlation_id
    FROM protocol_records
    WHERE tenant = $1 AND seq = k.seq AND occurred_at = k.occurred_at
    LIMIT 1
) AS r
"""
# What retention ran before this change to find each tenant's last dropped record: it reads every
# record of the dropped months (kept here as the baseline it is measured against).
_OLD_LAST_DROPPED: Final = """
SELECT DISTINCT ON (tenant) tenant, seq, hash FROM protocol_records
WHERE occurred_at < $1 ORDER BY tenant, seq DESC
"""


class Month(msgspec.Struct, frozen=True):
    """One monthly partition of the generated history: its number (0: oldest) and bounds."""

    number: int
    lower: dt.datetime
    upper: dt.datetime


class Latencies(msgspec.Struct, frozen=True):
    """Inzage timings in ms, and the entries the answers held."""

    p50: float
    p95: float
    max: float
    mean_entries: float
    max_entries: int

    @classmethod
    def of(cls, seconds: Sequence[float], entries: Sequence[int]) -> Latencies:
        """Summarise `seconds` (one per call) and the entries of the answers."""
        ordered = sorted(s * 1000 for s in seconds)
        p95 = ordered[min(len(ordered) - 1, round(len(ordered) * 0.95) - 1)]
        return cls(statistics.median(ordered), p95, ordered[-1], statistics.fmean(entries), max(entries))


class CallPath(msgspec.Struct, frozen=True):
    """One way of calling inzage, timed over the random citizens, the hot ones, and both."""

    cold: Latencies
    hot: Latencies
    all: Latencies


class SizeRow(msgspec.Struct, frozen=True):
    """What one size of the protocol measured."""

    records: int
    persons: int
    generate_s: float
    load: float
    bytes_per_record: float
    sizes: dict[str, int]
    officer: CallPath
    officer_before: CallPath  # the same BSNs through `_previous_inzage`
    operator: CallPath
    old_ms: float
    plans: list[str]
    lookups: list[str]


class RetentionRow(msgspec.Struct, frozen=True):
    """One retention run that dropped one month."""

    table_records: int
    month_records: int
    old_query_ms: float
    apply_ms: float
    dropped: tuple[str, ...]


class VerifyRow(msgspec.Struct, frozen=True):
    """A verify run: which, records checked, seconds."""

    kind: str
    records: int
    seconds: float


def _months(now: dt.datetime) -> list[Month]:
    """The months from two before the one 20 years ago up to this one (UTC), upper bounds capped at now."""
    first = _add_months(_month_start(now.replace(year=now.year - TERM_YEARS)), -2)
    months: list[Month] = []
    start = first
    while start <= now:
        upper = _add_months(start, 1)
        months.append(Month(len(months), start, min(upper, now)))
        start = upper
    return months


def _month_start(moment: dt.datetime) -> dt.datetime:
    return dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC)


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC)


async def _prepare(url: str, months: Sequence[Month], size: int) -> list[int]:
    """Partitions for every month, the tenant's chain head; return the BSN population."""
    async with operator_connection(url) as owner:
        for month in months:
            await owner.execute("SELECT broker.protocol_create_partitions($1)", month.lower.date())
        async with owner.transaction():
            await owner.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
            await owner.execute(
                "INSERT INTO protocol_chain_heads (tenant, seq, hash) VALUES ($1, 0, $2)",
                TENANT,
                genesis_hash(TENANT),
            )
        population: list[int] = await owner.fetchval(_POPULATION, size)
    return population


async def _generate(url: str, first: int, count: int, months: Sequence[Month], population: list[int]) -> None:
    """Insert `count` records (ordinals `first`...) of TENANT over `months`, in chunks, as the owner."""
    async with operator_connection(url) as owner:
        await owner.execute("SET synchronous_commit = off")
        for start in range(first, first + count, CHUNK):
            size = min(CHUNK, first + count - start)
            async with owner.transaction():
                await owner.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
                await owner.execute(
                    _GENERATE,
                    start,
                    size,
                    [m.number for m in months],
                    [m.lower for m in months],
                    [m.upper for m in months],
                    population,
                    len(population) // HOT_PART,
                    TENANT,
                )
        async with owner.transaction():
            await owner.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
            await owner.execute(
                "UPDATE protocol_chain_heads "
                "SET seq = (SELECT max(seq) FROM protocol_records WHERE tenant = $1) WHERE tenant = $1",
                TENANT,
            )


async def _counts(connection: asyncpg.Connection) -> tuple[int, int]:
    records = await connection.fetchval(
        "SELECT count(*) FROM broker.protocol_records WHERE tenant = $1", TENANT
    )
    persons = await connection.fetchval(
        "SELECT count(*) FROM broker.protocol_persons WHERE tenant = $1", TENANT
    )
    return int(records), int(persons)


async def _sizes(connection: asyncpg.Connection) -> dict[str, int]:
    row = await connection.fetchrow(_SIZES)
    assert row is not None
    return {key: int(value) for key, value in row.items()}


def _sample(population: Sequence[int], count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """`count` BSNs to look up: half from the whole population (cold), half from the hot 1 %."""
    cold = [population[rng.randrange(len(population))] for _ in range(count - count // 2)]
    hot = [population[rng.randrange(len(population) // HOT_PART)] for _ in range(count // 2)]
    return [f"{bsn:09d}" for bsn in cold], [f"{bsn:09d}" for bsn in hot]


@contextlib.contextmanager
def server_heap() -> Iterator[None]:
    """The heap as a serving process keeps it (`app.tuning`): everything alive now is frozen.

    The admin API's inzage runs in a process that froze its startup heap. Without this, every full
    collection the timed calls trigger walks this benchmark's own heap (the app's modules, the
    population) as well, and those pauses land in the p95: at 10^6, hottest BSNs, p95 57–60 ms with
    the collector off or the heap frozen against 59–79 ms with neither (measured by hand).
    """
    freeze_startup_heap()
    try:
        yield
    finally:
        thaw_startup_heap()


async def _time_inzage(
    call: Callable[[str], Awaitable[list[Any]]],
    cold: Sequence[str],
    hot: Sequence[str],
    warm_up: str | None = None,
) -> CallPath:
    """Time `call` per BSN, cold and hot interleaved (neither profits from the other's cache).

    First one call that is not timed (a first connection, the catalog cache): on `warm_up`, by
    default on the first random citizen.
    """
    await call(warm_up or cold[0])
    timed: dict[bool, tuple[list[float], list[int]]] = {False: ([], []), True: ([], [])}
    for index in range(max(len(cold), len(hot))):
        for is_hot, bsns in ((False, cold), (True, hot)):
            if index < len(bsns):
                started = time.perf_counter()
                entries = await call(bsns[index])
                timed[is_hot][0].append(time.perf_counter() - started)
                timed[is_hot][1].append(len(entries))
    both = (timed[False][0] + timed[True][0], timed[False][1] + timed[True][1])
    return CallPath(Latencies.of(*timed[False]), Latencies.of(*timed[True]), Latencies.of(*both))


async def _time_side_by_side(
    now: Callable[[str], Awaitable[list[Any]]],
    before: Callable[[str], Awaitable[list[Any]]],
    cold: Sequence[str],
    hot: Sequence[str],
    *,
    once: bool = False,
) -> tuple[CallPath, CallPath]:
    """Time `now` and `before` on every BSN, taking turns at going first (the second finds it cached).

    With `once`, each BSN is looked up once only, by `now` and `before` in turn: from disk, each
    reads its own answers' pages.
    """
    if not once:
        await now(cold[0])
        await before(cold[0])
    timed: dict[tuple[int, bool], tuple[list[float], list[int]]] = {
        (path, is_hot): ([], []) for path in (0, 1) for is_hot in (False, True)
    }
    for index in range(max(len(cold), len(hot))):
        for is_hot, bsns in ((False, cold), (True, hot)):
            if index >= len(bsns):
                continue
            order = ((0, now), (1, before)) if index % 2 == 0 else ((1, before), (0, now))
            for path, call in order[:1] if once else order:
                started = time.perf_counter()
                entries = await call(bsns[index])
                timed[path, is_hot][0].append(time.perf_counter() - started)
                timed[path, is_hot][1].append(len(entries))

    def call_path(path: int) -> CallPath:
        cold_timed, hot_timed = timed[path, False], timed[path, True]
        both = (cold_timed[0] + hot_timed[0], cold_timed[1] + hot_timed[1])
        return CallPath(Latencies.of(*cold_timed), Latencies.of(*hot_timed), Latencies.of(*both))

    return call_path(0), call_path(1)


async def _previous_inzage(pool: asyncpg.Pool, bsn: str) -> list[InzageEntry]:
    """Inzage through the admin API's pool as it ran before (the baseline): a lookup per entry."""
    async with tenant_transaction(pool, TENANT, isolation="repeatable_read", readonly=True) as connection:
        await connection.execute(_GENERIC_PLANS)
        persons = await connection.fetch(_PERSONS.format(bounds=_BOUNDS[False, False]), TENANT, bsn)
        keys = [(row["seq"], row["occurred_at"]) for row in persons]
        unique = list(dict.fromkeys(keys))
        rows = await connection.fetch(
            _PREVIOUS_RECORDS, TENANT, [seq for seq, _ in unique], [moment for _, moment in unique]
        )
    records = {(row["seq"], row["occurred_at"]): row for row in rows}
    return [
        _entry(TENANT, records[key], _ROLES[person["role"]])
        for key, person in zip(keys, persons, strict=True)
        if key in records
    ]


async def _explain(connection: asyncpg.Connection, statement: str, *args: object) -> str:
    """Planning/execution time, buffers and the scans of one statement (EXPLAIN ANALYZE)."""
    explained = await connection.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", *args)
    document = msgspec.json.decode(explained)[0]
    scans: dict[str, int] = {}

    def walk(node: dict[str, Any]) -> None:
        if node["Node Type"].endswith("Scan"):
            target = node.get("Index Name", node.get("Relation Name", "?"))
            key = f"{node['Node Type']} {target.split('_y')[0]}"
            scans[key] = scans.get(key, 0) + 1
        for child in node.get("Plans", []):
            walk(child)

    walk(document["Plan"])
    buffers = document["Plan"].get("Shared Hit Blocks", 0) + document["Plan"].get("Shared Read Blocks", 0)
    shown = ", ".join(f"{count}x {key}" for key, count in sorted(scans.items()))
    return (
        f"plan {document['Planning Time']:.1f} ms, run {document['Execution Time']:.1f} ms, "
        f"{buffers} buffers: {shown}"
    )


async def _plans(connection: asyncpg.Connection, bsn: str) -> list[str]:
    """EXPLAIN of inzage's two statements for `bsn`, as generic plans (as inzage runs them)."""
    await connection.execute("SET plan_cache_mode = force_generic_plan")
    persons_sql = _PERSONS.format(bounds=_BOUNDS[False, False])
    persons = await connection.fetch(persons_sql, TENANT, bsn)
    keys = list(dict.fromkeys((row["seq"], row["occurred_at"]) for row in persons))
    months = _by_month(keys)
    records_sql = _RECORDS.format(months="")
    await connection.fetch(records_sql, TENANT, *months)
    explained = [
        f"persons: {await _explain(connection, persons_sql, TENANT, bsn)}",
        f"records: {await _explain(connection, records_sql, TENANT, *months)}",
    ]
    await connection.execute("RESET plan_cache_mode")
    return explained


async def _hottest_keys(connection: asyncpg.Connection, bsn: str) -> list[tuple[int, dt.datetime]]:
    persons = await connection.fetch(_PERSONS.format(bounds=_BOUNDS[False, False]), TENANT, bsn)
    return list(dict.fromkeys((row["seq"], row["occurred_at"]) for row in persons))


async def _lookup_ms(
    connection: Connection,
    keys: Sequence[tuple[int, dt.datetime]],
    pruned: bool,
    previous: bool = False,
) -> float:
    moments = [moment for _, moment in keys]
    arguments: tuple[object, ...]
    if previous:
        statement, arguments = _PREVIOUS_RECORDS, ([seq for seq, _ in keys], moments)
    else:
        statement = _RECORDS.format(months=_IN_THE_ENTRIES_MONTHS if pruned else "")
        arguments = (*_by_month(keys), *([moments] if pruned else []))
    started = time.perf_counter()
    await connection.fetch(statement, TENANT, *arguments)
    return (time.perf_counter() - started) * 1000


async def _lookups(url: str, pool: asyncpg.Pool, bsn: str) -> list[str]:
    """The records step for N entries of `bsn`, with the list of months and without; pooled, as before.

    Pooled: a connection of the runtime pool under the tenant's row-level security, with generic
    plans, as the admin API's (`_pooled_lookups_ms`). New connection: one per call, as the CLI's
    (the owner), after the persons step opened those partitions (median of 3). The entries are
    spread over the years, as a person's are. Inzage uses the list on a new connection up to
    `_PRUNE_UP_TO` entries, and never on the pool. Before: the statement inzage ran before
    (`_PREVIOUS_RECORDS`), pooled, without the list.
    """
    async with operator_connection(url) as owner:
        keys = await _hottest_keys(owner, bsn)
    lines = []
    for count in sorted(n for n in {10, _PRUNE_UP_TO, 30, 50, 100, 200, 400, len(keys)} if n <= len(keys)):
        chosen = keys[:: len(keys) // count][:count]
        async with tenant_transaction(pool, TENANT, isolation="repeatable_read", readonly=True) as pooled:
            await pooled.execute(_GENERIC_PLANS)
            times = await _pooled_lookups_ms(pooled, chosen)
        fresh = [
            statistics.median([await _fresh_lookup_ms(url, bsn, chosen, pruned) for _ in range(3)])
            for pruned in (True, False)
        ]
        lines.append(
            f"{count:>5} entries: pooled {times[0]:.1f} / {times[1]:.1f} ms (before {times[2]:.1f}); "
            f"new connection {fresh[0]:.0f} / {fresh[1]:.0f} ms"
        )
    return lines


async def _pooled_lookups_ms(connection: Connection, keys: Sequence[tuple[int, dt.datetime]]) -> list[float]:
    """With the list, without, before: each once, then the median of 9 rounds taking turns at going first."""
    variants = [(True, False), (False, False), (False, True)]
    for pruned, previous in variants:
        await _lookup_ms(connection, keys, pruned, previous)
    timed: dict[tuple[bool, bool], list[float]] = {variant: [] for variant in variants}
    for round_ in range(9):
        for pruned, previous in variants[round_ % 3 :] + variants[: round_ % 3]:
            timed[pruned, previous].append(await _lookup_ms(connection, keys, pruned, previous))
    return [statistics.median(timed[variant]) for variant in variants]


async def _fresh_lookup_ms(
    url: str, bsn: str, keys: Sequence[tuple[int, dt.datetime]], pruned: bool
) -> float:
    async with operator_connection(url) as new:
        await _hottest_keys(new, bsn)
        return await _lookup_ms(new, keys, pruned)


async def _old_inzage_ms(connection: asyncpg.Connection, bsns: Sequence[str]) -> float:
    """The median time of the previous single-join query (the baseline), on a warm connection."""
    await connection.fetch(_OLD_INZAGE, TENANT, bsns[0], None, None)
    seconds = []
    for bsn in bsns:
        started = time.perf_counter()
        await connection.fetch(_OLD_INZAGE, TENANT, bsn, None, None)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000


async def _measure_size(
    url: str, pool: asyncpg.Pool, population: Sequence[int], samples: int, generate_s: float, seed: int
) -> SizeRow:
    cold, hot = _sample(population, samples, random.Random(seed))
    async with operator_connection(url) as owner:
        # Vacuumed, as autovacuum keeps an append-only table: hint bits set, pages marked all-visible
        # (inzage's persons step reads only its index where they are).
        await owner.execute("VACUUM (ANALYZE) broker.protocol_records")
        await owner.execute("VACUUM (ANALYZE) broker.protocol_persons")
        records, persons = await _counts(owner)
        sizes = await _sizes(owner)
        old_ms = await _old_inzage_ms(owner, (cold[:2] + hot)[:OLD_INZAGE_SAMPLES])
        hottest = await owner.fetchval(
            "SELECT bsn FROM protocol_persons WHERE tenant = $1 AND bsn = ANY($2::text[]) "
            "GROUP BY bsn ORDER BY count(*) DESC LIMIT 1",
            TENANT,
            hot,
        )
        plans = await _plans(owner, hottest)
    lookups = await _lookups(url, pool, hottest)
    with server_heap():
        officer, officer_before = await _time_side_by_side(
            lambda bsn: inzage(pool, TENANT, bsn), lambda bsn: _previous_inzage(pool, bsn), cold, hot
        )
    # The CLI's process freezes nothing: a command runs one inzage and ends.
    operator = await _time_inzage(lambda bsn: inzage(url, TENANT, bsn), cold, hot)
    return SizeRow(
        records=records,
        persons=persons,
        generate_s=generate_s,
        load=os.getloadavg()[0],
        bytes_per_record=sum(sizes.values()) / records,
        sizes=sizes,
        officer=officer,
        officer_before=officer_before,
        operator=operator,
        old_ms=old_ms,
        plans=plans,
        lookups=lookups,
    )


async def _drop_oldest(url: str, oldest: Month) -> RetentionRow:
    """Retention with `now` so exactly `oldest` falls out of the 20-year term; time it."""
    now = oldest.upper.replace(year=oldest.upper.year + TERM_YEARS)
    async with operator_connection(url) as owner:
        table_records, _ = await _counts(owner)
        month_records = int(
            await owner.fetchval(
                "SELECT count(*) FROM broker.protocol_records WHERE occurred_at >= $1 AND occurred_at < $2",
                oldest.lower,
                oldest.upper,
            )
        )
        started = time.perf_counter()
        await owner.fetch(_OLD_LAST_DROPPED, oldest.upper)
        old_query_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    report = await apply_retention(url, now=now)
    apply_ms = (time.perf_counter() - started) * 1000
    return RetentionRow(table_records, month_records, old_query_ms, apply_ms, report.dropped)


def _verify_record(n: int, occurred_at: dt.datetime) -> ProtocolRecord:
    bsn = f"{999990000 + n % 10000:09d}"
    return ProtocolRecord(
        tenant=VERIFY_TENANT,
        occurred_at=occurred_at,
        correlation_id=str(uuid.uuid4()),
        api="personen",
        status=200,
        latency_ms=48.5,
        trace_id=uuid.uuid4().hex,
        subject="client-credentials-sub",
        employee=f"medewerker{n % 500}@gemeente.nl",
        client_application="zaaksysteem",
        afnemer_id="000001",
        environment="productie",
        doelbinding="BRPACT-Burgerzaken",
        verwerking="Controle@Aanvraag",
        origin_oin="00000001234567890000",
        query_type="RaadpleegMetBurgerservicenummer",
        search_parameters={"burgerservicenummer": [bsn]},
        requested_fields=(
            "naam.voornamen",
            "naam.geslachtsnaam",
            "geboorte.datum",
            "verblijfplaats.verblijfadres",
        ),
        sent_fields=(
            "naam.voornamen",
            "naam.geslachtsnaam",
            "geboorte.datum",
            "verblijfplaats.verblijfadres",
            "burgerservicenummer",
        ),
        persons=(PersonRef(bsn, PersonRole.CONSULTED),),
    )


async def _write(pool: asyncpg.Pool, first: int, count: int) -> float:
    """Append `count` records of VERIFY_TENANT through `write_batch`, 1000 a batch; return seconds."""
    started = time.perf_counter()
    async with pool.acquire() as connection:
        for start in range(first, first + count, VERIFY_BATCH):
            now = dt.datetime.now(dt.UTC)
            entries = [
                chained(_verify_record(n, now))
                for n in range(start, min(start + VERIFY_BATCH, first + count))
            ]
            async with connection.transaction():
                await write_batch(connection, entries, now)
    return time.perf_counter() - started


def _incremental_available() -> bool:
    return "full" in inspect.signature(verify).parameters


async def _timed_verify(url: str, kind: str, **options: bool) -> VerifyRow:
    # `full` exists once incremental verify has landed; called through Any so this module type-checks
    # before and after.
    run = cast(Callable[..., Awaitable[Any]], verify)
    started = time.perf_counter()
    report = await run(url, VERIFY_TENANT, **options)
    seconds = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"the benchmark chain does not verify: {report.first_break}")
    return VerifyRow(kind, int(report.chains[0].records), seconds)


async def _verify_rates(url: str, pool: asyncpg.Pool, count: int) -> tuple[list[VerifyRow], float, float]:
    """Write, verify fully, append, verify incrementally; also bytes per record as written by the product."""
    async with operator_connection(url) as owner:
        before = sum((await _sizes(owner)).values())
    write_s = await _write(pool, 0, count)
    async with operator_connection(url) as owner:
        written_bytes = (sum((await _sizes(owner)).values()) - before) / count
    if not _incremental_available():
        return [await _timed_verify(url, "full (incremental verify not available)")], write_s, written_bytes
    rows = [await _timed_verify(url, "full", full=True)]
    rows.append(await _timed_verify(url, "incremental, nothing new"))
    await _write(pool, count, VERIFY_EXTRA)
    rows.append(await _timed_verify(url, f"incremental, {VERIFY_EXTRA} new"))
    return rows, write_s, written_bytes


def _cell(latencies: Latencies) -> str:
    p50, p95, top, entries = latencies.p50, latencies.p95, latencies.max, latencies.mean_entries
    return f"{p50:>5.1f} /{p95:>6.1f} ({top:>4.0f}) [{entries:>4.0f}]"


def _print_sizes(rows: Sequence[SizeRow]) -> None:
    print(
        "\ninzage of one BSN, ms p50 / p95 (max) [entries per answer: mean], target p95 <= 50 ms."
        "\nofficer: through the runtime pool, as the admin API calls it; operator: through the owner URL,"
        "\nas the CLI calls it (a new connection per call). cold: random citizens; hot: the hot 1 %."
        "\nold join: the previous single-join query, warm connection, median of 5. load: 1-min load average."
    )
    print(
        f"{'records':>11} {'officer cold':>26} {'officer hot':>26} {'operator cold + hot':>26} "
        f"{'old join':>9} {'B/record':>9} {'load s':>7} {'load':>5}"
    )
    for row in rows:
        print(
            f"{row.records:>11,} {_cell(row.officer.cold)} {_cell(row.officer.hot)} "
            f"{_cell(row.operator.all)} {row.old_ms:>9.0f} {row.bytes_per_record:>9.0f} "
            f"{row.generate_s:>7.0f} {row.load:>5.1f}"
        )
    for row in rows:
        officer = row.officer.all
        parts = ", ".join(f"{key} {value / row.records:.0f}" for key, value in row.sizes.items())
        print(f"  {row.records:,} records, {row.persons:,} person rows; bytes per record: {parts}")
        print(
            f"    officer cold + hot: p50 {officer.p50:.1f} / p95 {officer.p95:.1f} / max "
            f"{officer.max:.0f} ms, entries max {officer.max_entries}"
        )
        print(
            f"    officer, the same BSNs as inzage ran before (a lookup per entry): cold "
            f"{_cell(row.officer_before.cold)}, hot {_cell(row.officer_before.hot)}"
        )
        for plan in row.plans:
            print(f"    hottest BSN, {plan}")
        print(
            "    hottest BSN, records step with the list of months / without (used only on a new"
            f" connection, up to {_PRUNE_UP_TO} entries); pooled as before (a lookup per entry)"
        )
        for line in row.lookups:
            print(f"    {line}")


def _print_retention(rows: Sequence[RetentionRow]) -> None:
    print("\nretention: drop the oldest month")
    print(
        f"{'table records':>14} {'month records':>14} {'old last-dropped query ms':>26} "
        f"{'apply_retention ms':>19}"
    )
    for row in rows:
        print(
            f"{row.table_records:>14,} {row.month_records:>14,} {row.old_query_ms:>26.1f} "
            f"{row.apply_ms:>19.1f}"
        )


def _print_verify(rows: Sequence[VerifyRow], write_s: float, written_bytes: float, count: int) -> None:
    print(
        f"\nverify ({count:,} records written through write_batch in {write_s:.1f} s, "
        f"{count / write_s:,.0f} records/s; {written_bytes:.0f} bytes/record on disk)"
    )
    print(f"{'run':<40} {'records':>10} {'seconds':>8} {'records/s':>10}")
    for row in rows:
        rate = row.records / row.seconds if row.seconds else 0.0
        print(f"{row.kind:<40} {row.records:>10,} {row.seconds:>8.2f} {rate:>10,.0f}")


async def _tune(admin_url: str) -> None:
    """Settings of a production server rather than the embedded default; a throw-away cluster's WAL."""
    server = await asyncpg.connect(admin_url)
    try:
        for name, value in SETTINGS.items():
            await server.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    finally:
        await server.close()


async def _run(
    admin_url: str,
    sizes: Sequence[int],
    samples: int,
    verify_records: int,
    population_size: int,
    restart: Callable[[], str] | None,
) -> None:
    url = await ensure_database(admin_url, "brp_scale")
    await apply_migrations(url)
    server = await asyncpg.connect(admin_url)
    try:
        now: dt.datetime = await server.fetchval("SELECT now()")
    finally:
        await server.close()
    months = _months(now)
    population = await _prepare(url, months, population_size)
    print(
        f"{len(months)} months from {months[0].lower:%Y-%m} to {months[-1].lower:%Y-%m}, "
        f"{len(population):,} BSNs, sizes {', '.join(f'{s:,}' for s in sizes)}",
        flush=True,
    )
    pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=1, max_size=2)
    size_rows: list[SizeRow] = []
    retention_rows: list[RetentionRow] = []
    live = list(months)
    generated = 0
    try:
        for index, size in enumerate(sizes):
            started = time.perf_counter()
            await _generate(url, generated, size - generated, live, population)
            generate_s = time.perf_counter() - started
            generated = size
            size_rows.append(await _measure_size(url, pool, population, samples, generate_s, index))
            _print_sizes(size_rows[-1:])
            if index in (0, len(sizes) - 1):
                retention_rows.append(await _drop_oldest(url, live.pop(0)))
                _print_retention(retention_rows[-1:])
        verify_rows, write_s, written_bytes = await _verify_rates(url, pool, verify_records)
    finally:
        await pool.close()
    uncached = await _uncached(restart, population, samples) if restart is not None else []
    print("\n=== protocol at scale ===")
    _print_sizes(size_rows)
    _print_retention(retention_rows)
    _print_verify(verify_rows, write_s, written_bytes, verify_records)
    if uncached:
        print("", *uncached, sep="\n")
    if not _incremental_available():
        print("incremental verify not available (verify has no `full` keyword yet): only the full walk ran")


# A server restart empties PostgreSQL's buffers; this empties the kernel's page cache (root only).
_DROP_CACHES: Final = Path("/proc/sys/vm/drop_caches")
_NO_ONE: Final = "000000000"  # below the population (it starts at 10^8): a warm-up that reads no one's pages


def _drop_page_cache() -> bool:
    os.sync()
    try:
        _DROP_CACHES.write_text("3\n")
    except OSError:
        return False
    return True


async def _uncached(restart: Callable[[], str], population: Sequence[int], samples: int) -> list[str]:
    """Inzage with nothing in memory, as at 10^8 records (~112 GB) nearly all of it would be.

    The server restarts and the kernel's page cache is dropped once; then `samples` new BSNs (half
    random citizens, half hot) are each looked up once through a new pool (warmed up with a BSN no
    one has), so every page an answer needs is read from disk unless an earlier answer read it
    (the indexes' upper pages, mostly): by today's inzage and by the previous one in turn, each on
    half of the BSNs. Returns the lines to print.
    """
    url = await ensure_database(restart(), "brp_scale")
    dropped = _drop_page_cache()
    cold, hot = _sample(population, samples, random.Random(len(population) + samples))
    pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=1, max_size=1)
    try:
        await inzage(pool, TENANT, _NO_ONE)
        await _previous_inzage(pool, _NO_ONE)
        with server_heap():
            officer, before = await _time_side_by_side(
                lambda bsn: inzage(pool, TENANT, bsn),
                lambda bsn: _previous_inzage(pool, bsn),
                cold,
                hot,
                once=True,
            )
    finally:
        await pool.close()
    emptied = (
        "server restarted, page cache dropped"
        if dropped
        else "server restarted; page cache NOT dropped (root)"
    )
    return [
        f"inzage with nothing cached ({emptied}), officer, ms p50 / p95 (max) [entries], each BSN once,"
        " half of them now, half as inzage ran before:",
        f"  random citizens {_cell(officer.cold)}   before {_cell(before.cold)}",
        f"  hot 1 %         {_cell(officer.hot)}   before {_cell(before.hot)}",
        f"  all             {_cell(officer.all)}   before {_cell(before.all)}",
    ]


@contextlib.contextmanager
def tuned_postgres(prefix: str, *, keep: bool = False) -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL with `SETTINGS` in a new temporary folder, removed afterwards unless `keep`."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    embedded = EmbeddedPostgres(folder / "postgres")
    try:
        asyncio.run(_tune(embedded.start()))
        embedded.stop()  # the last handle: the server stops, and starts again with the settings
        yield embedded
    finally:
        embedded.stop()
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def restarted(embedded: EmbeddedPostgres) -> str:
    """Stop the server and start it again, its buffers empty; its admin URL."""
    embedded.stop()
    return embedded.start()


def main() -> None:
    """Parse the options, start a PostgreSQL in a temporary folder, run, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--samples", type=int, default=200, help="BSNs looked up per size")
    parser.add_argument(
        "--population",
        type=int,
        default=POPULATION,
        help="BSNs the lookups are drawn from; records/100 gives each BSN as many entries as 10^8 over 10^6",
    )
    parser.add_argument("--verify-records", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL folder")
    parser.add_argument(
        "--uncached",
        action="store_true",
        help="at the end, inzage again after a server restart and with the page cache dropped (root)",
    )
    args = parser.parse_args()
    with tuned_postgres("brp-protocol-scale-", keep=args.keep) as embedded:
        asyncio.run(
            _run(
                embedded.start(),
                sorted(args.records),
                args.samples,
                args.verify_records,
                args.population,
                (lambda: restarted(embedded)) if args.uncached else None,
            )
        )


if __name__ == "__main__":
    main()
