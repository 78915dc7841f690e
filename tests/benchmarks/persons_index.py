"""Inzage's covering person index (migrations 0022, 0023): the upgrade, and inzage before and after.

Run:  .venv/bin/python -m tests.benchmarks.persons_index [--records 1000000] [--population 10000]
                                                       [--samples 200] [--uncached]

Starts an embedded PostgreSQL in a fresh temporary folder with `protocol_scale`'s production
settings, migrates it up to 0021 (the schema before the index), and grows one tenant's protocol the
way `protocol_scale` does (`--records` over ~20 years of monthly partitions; a population of
records/100 gives every BSN the entries it would have at 10^8). Vacuumed, as autovacuum keeps an
append-only table. Then, on the same BSNs (half random citizens, half the hot 1 %):

1. **before**: inzage through the admin API's pool with `protocol_persons_bsn`, warm (the second of
   two passes), and with `--uncached` (root) once more after a server restart with the kernel's
   page cache dropped, each BSN once;
2. **the upgrade**: `apply_migrations` as `brp-broker migrate` runs it, which builds
   `protocol_persons_lookup` partition by partition concurrently and drops the old index, while a
   writer appends one record at a time through the runtime role; its latency during the upgrade
   beside the same writer's for as long again right after it;
3. **after**: the same inzages with `protocol_persons_lookup`.

Also the bytes of the persons indexes per record before and after (after: the new index as built
at once, denser than as a running broker grows it; `protocol_scale` measures that), and the
hottest BSN's persons step (EXPLAIN ANALYZE: time and buffers) before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import asyncpg
import msgspec

from app.db import apply_migrations, create_pool, ensure_database, with_user
from app.db.migrations import default_migrations_dir, load_migrations
from app.protocol import inzage, write_batch
from app.protocol.access import operator_connection
from app.protocol.chain import chained
from app.protocol.inzage import _BOUNDS, _PERSONS
from tests.benchmarks.protocol_scale import (
    _NO_ONE,
    TENANT,
    CallPath,
    _cell,
    _drop_page_cache,
    _generate,
    _months,
    _prepare,
    _sample,
    _time_inzage,
    _verify_record,
    restarted,
    server_heap,
    tuned_postgres,
)

_BEFORE: Final = 21  # the last migration before the index
_PERSONS_INDEX_BYTES: Final = """
SELECT sum(pg_indexes_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'broker.protocol_persons'::regclass
"""


class Side(msgspec.Struct, frozen=True):
    """Inzage with one of the two indexes."""

    warm: CallPath
    uncached: CallPath | None
    persons_step: str
    index_bytes_per_record: float


class Writes(msgspec.Struct, frozen=True):
    """One record at a time through the runtime role: how many, and their latency in ms."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Writes:
        ordered = sorted(s * 1000 for s in seconds)
        p99 = ordered[min(len(ordered) - 1, round(len(ordered) * 0.99) - 1)]
        return cls(len(ordered), statistics.median(ordered), p99, ordered[-1])


async def _persons_step(url: str, bsn: str) -> str:
    """EXPLAIN ANALYZE of inzage's persons statement for `bsn`: execution time and buffers."""
    async with operator_connection(url) as owner:
        await owner.execute("SELECT set_config('app.tenant_id', $1, false)", TENANT)
        explained = await owner.fetchval(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {_PERSONS.format(bounds=_BOUNDS[False, False])}",
            TENANT,
            bsn,
        )
    plan = json.loads(explained)[0]
    top = plan["Plan"]
    buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    return f"{plan['Execution Time']:.1f} ms, {buffers} buffers, top node {top['Node Type']}"


async def _index_bytes_per_record(url: str) -> float:
    async with operator_connection(url) as owner:
        size = await owner.fetchval(_PERSONS_INDEX_BYTES)
        records = await owner.fetchval("SELECT count(*) FROM protocol_records")
    return float(size) / max(1, int(records))


async def _warm(url: str, cold: Sequence[str], hot: Sequence[str]) -> CallPath:
    """The second of two passes over the BSNs through the admin API's pool."""
    pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=1, max_size=1)
    try:
        with server_heap():
            await _time_inzage(lambda bsn: inzage(pool, TENANT, bsn), cold, hot)
            return await _time_inzage(lambda bsn: inzage(pool, TENANT, bsn), cold, hot)
    finally:
        await pool.close()


async def _uncached(
    restart: Callable[[], str], cold: Sequence[str], hot: Sequence[str]
) -> tuple[CallPath, str]:
    """Each BSN once after a server restart with the page cache dropped (root); and the new URL."""
    url = await ensure_database(restart(), "brp_scale")
    if not _drop_page_cache():
        print("  (page cache NOT dropped: not root)", flush=True)
    pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=1, max_size=1)
    try:
        # Warmed up on a BSN no one has: every timed BSN reads its own pages from disk.
        with server_heap():
            timed = await _time_inzage(lambda bsn: inzage(pool, TENANT, bsn), cold, hot, warm_up=_NO_ONE)
    finally:
        await pool.close()
    return timed, url


async def _side(
    url: str, restart: Callable[[], str] | None, cold: Sequence[str], hot: Sequence[str], hottest: str
) -> tuple[Side, str]:
    """Inzage with the indexes the database has now; and the URL, new when the server restarted."""
    warm = await _warm(url, cold, hot)
    step = await _persons_step(url, hottest)
    index_bytes = await _index_bytes_per_record(url)
    uncached = None
    if restart is not None:
        uncached, url = await _uncached(restart, cold, hot)
    return Side(warm, uncached, step, index_bytes), url


async def _write_while(pool: asyncpg.Pool, going_on: Callable[[], bool]) -> Writes:
    """Append one record at a time through the runtime role while `going_on()`, timing each."""
    timed: list[float] = []
    while going_on():
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        async with pool.acquire() as connection:
            await write_batch(connection, [chained(_verify_record(len(timed), now))], now)
        timed.append(time.perf_counter() - started)
    return Writes.of(timed)


def _for(seconds: float) -> Callable[[], bool]:
    deadline = time.perf_counter() + seconds
    return lambda: time.perf_counter() < deadline


async def _upgrade(url: str) -> tuple[float, int, Writes, Writes]:
    """The upgrade with a writer going on; the writer alone for as long, after it."""
    pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=1, max_size=1)
    try:
        await _write_while(pool, _for(1.0))  # the writer's chain and plans exist before the upgrade
        done = asyncio.Event()
        writer = asyncio.create_task(_write_while(pool, lambda: not done.is_set()))
        started = time.perf_counter()
        try:
            result = await apply_migrations(url)
        finally:
            done.set()
        upgrade_s = time.perf_counter() - started
        during = await writer
        alone = await _write_while(pool, _for(upgrade_s))
    finally:
        await pool.close()
    return upgrade_s, len(result.indexes_built), alone, during


def _previous_migrations(directory: Path) -> Path:
    """The broker's migrations up to `_BEFORE`, written into `directory`."""
    for migration in load_migrations(default_migrations_dir()):
        if migration.version <= _BEFORE:
            (directory / migration.filename).write_text(migration.sql)
    return directory


async def _run(
    admin_url: str,
    records: int,
    population_size: int,
    samples: int,
    restart: Callable[[], str] | None,
) -> None:
    url = await ensure_database(admin_url, "brp_scale")
    with tempfile.TemporaryDirectory() as directory:
        await apply_migrations(url, _previous_migrations(Path(directory)))
    async with operator_connection(url) as owner:
        now: dt.datetime = await owner.fetchval("SELECT now()")
    months = _months(now)
    population = await _prepare(url, months, population_size)
    started = time.perf_counter()
    await _generate(url, 0, records, months, population)
    async with operator_connection(url) as owner:
        await owner.execute("VACUUM (ANALYZE) protocol_records")
        await owner.execute("VACUUM (ANALYZE) protocol_persons")
    print(
        f"{records:,} records over {len(months)} months in {time.perf_counter() - started:.0f} s", flush=True
    )
    cold, hot = _sample(population, samples, random.Random(records))
    async with operator_connection(url) as owner:
        hottest: str = await owner.fetchval(
            "SELECT bsn FROM protocol_persons WHERE tenant = $1 AND bsn = ANY($2::text[]) "
            "GROUP BY bsn ORDER BY count(*) DESC LIMIT 1",
            TENANT,
            hot,
        )
    before, url = await _side(url, restart, cold, hot, hottest)
    upgrade_s, built, alone, during = await _upgrade(url)
    after, url = await _side(url, restart, cold, hot, hottest)
    _print(records, before, after, upgrade_s, built, alone, during)


def _print(
    records: int, before: Side, after: Side, upgrade_s: float, built: int, alone: Writes, during: Writes
) -> None:
    print(f"\n=== inzage's person index, {records:,} records ===")
    print("inzage through the admin API's pool, ms p50 / p95 (max) [entries per answer: mean]; the same BSNs")
    for name, side in (("before (protocol_persons_bsn)", before), ("after (protocol_persons_lookup)", after)):
        print(f"  {name}")
        print(f"    warm      random citizens {_cell(side.warm.cold)}   hot 1 % {_cell(side.warm.hot)}")
        if side.uncached is not None:
            uncached = side.uncached
            print(f"    uncached  random citizens {_cell(uncached.cold)}   hot 1 % {_cell(uncached.hot)}")
        print(f"    hottest BSN's persons step: {side.persons_step}")
        print(f"    persons indexes: {side.index_bytes_per_record:.0f} bytes per record")
    print(f"upgrade (apply_migrations 0022, 0023): {upgrade_s:.1f} s, {built} partition indexes built")
    print("a writer appending one record at a time through the runtime role, ms p50 / p99 / max:")
    for name, writes in (("during the upgrade", during), ("alone, as long again", alone)):
        print(
            f"  {name:<22} {writes.count:7,} records  {writes.p50:.2f} / {writes.p99:.2f} / {writes.max:.1f}"
        )


def main() -> None:
    """Parse the options, start a PostgreSQL in a temporary folder, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--population", type=int, default=None, help="BSNs (default: records/100)")
    parser.add_argument("--samples", type=int, default=200, help="BSNs looked up, half of them hot")
    parser.add_argument(
        "--uncached", action="store_true", help="also from disk: restart, drop the page cache (root)"
    )
    args = parser.parse_args()
    with tuned_postgres("brp-persons-index-") as embedded:
        asyncio.run(
            _run(
                embedded.start(),
                args.records,
                args.population or args.records // 100,
                args.samples,
                (lambda: restarted(embedded)) if args.uncached else None,
            )
        )


if __name__ == "__main__":
    main()
