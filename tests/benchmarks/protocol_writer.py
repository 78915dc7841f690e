"""Throughput and added latency of the protocol writer: group commit versus one transaction per record.

Run:  .venv/bin/python -m tests.benchmarks.protocol_writer [--seconds 3] [--callers 50 200 1000]
                                                         [--upstream-ms 50] [--processes 1 2 4]
                                                         [--process-callers 200]
                                                         [--only processes]

Uses `BROKER_DATABASE_URL` (an admin URL) when set, else an embedded PostgreSQL in
`.state/postgres-bench` (fsync on, as shipped), in a fresh database that is dropped afterwards.

1. Added latency: N concurrent requests, each spending `--upstream-ms` (±50%) at "RvIG" (a sleep)
   and then recording, like the gateway does: the p50/p99 of `record()` is the latency the protocol
   adds to a request, at the load N requests generate.
2. Throughput (saturation): every caller records, waits for the commit, and records again at once,
   for `--seconds`, in three modes:
   - `group`        `ProtocolWriter` as the app uses it (one transaction per batch);
   - `single`       `ProtocolWriter(max_batch=1)`: one transaction per record, one after another;
   - `per-request`  no writer: each caller commits its own record in its own transaction on the pool
                    (20 connections) — the naive design; callers of one tenant queue on its chain head.
   Here latency is only queueing (Little's law: callers / throughput), not what a request sees.

3. Scale-out: 1, 2, 4 writer PROCESSES (as `serve --workers N` or replicas: each its own event loop,
   pool and `ProtocolWriter`), `--process-callers` (200) each recording back-to-back, all on ONE
   tenant and then spread over ten. The total must grow with processes until the cores are used,
   and never drop.

Each run starts after a CHECKPOINT, so it does not pay for the WAL of the run before.

Records look like real ones: 10 tenants, 1-3 persons each, search parameters and fields. The load
generator shares the machine's cores with PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from app.brp import PersonRef, PersonRole
from app.db import EmbeddedPostgres, apply_migrations, create_pool, ensure_database, with_user
from app.protocol import ProtocolRecord, ProtocolWriter, write_batch
from app.protocol.chain import chained

REPO = Path(__file__).resolve().parents[2]
TENANTS = [f"gemeente-{i:02d}" for i in range(10)]


def _record(n: int, tenants: int = len(TENANTS)) -> ProtocolRecord:
    persons = tuple(PersonRef(f"{(n * 7 + k) % 10**9:09d}", PersonRole.CONSULTED) for k in range(1 + n % 3))
    return ProtocolRecord(
        tenant=TENANTS[n % tenants],
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=str(uuid.uuid4()),
        api="personen",
        status=200,
        latency_ms=48.5,
        trace_id=uuid.uuid4().hex,
        subject="sub-1234",
        employee="medewerker@gemeente.nl",
        client_application="zaaksysteem",
        afnemer_id="000001",
        environment="proef",
        doelbinding="BRPACT-Test",
        verwerking="Controle@Aanvraag",
        origin_oin="00000001234567890000",
        query_type="RaadpleegMetBurgerservicenummer",
        search_parameters={"burgerservicenummer": [p.bsn for p in persons]},
        requested_fields=("naam.voornamen", "naam.geslachtsnaam", "geboorte.datum", "verblijfplaats"),
        sent_fields=(
            "naam.voornamen",
            "naam.geslachtsnaam",
            "geboorte.datum",
            "verblijfplaats",
            "burgerservicenummer",
        ),
        persons=persons,
    )


class Result:
    """One run: records committed, seconds, per-call latencies, transactions."""

    def __init__(self, mode: str, callers: int) -> None:
        self.mode = mode
        self.callers = callers
        self.latencies: list[float] = []
        self.seconds = 0.0
        self.transactions = 0

    def row(self) -> str:
        count = len(self.latencies)
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(count - 1, int(count * 0.99))] * 1000
        batch = count / self.transactions if self.transactions else 1.0
        return (
            f"{self.mode:<12} {self.callers:>7} {count / self.seconds:>10.0f} {p50:>8.2f} {p99:>8.2f} "
            f"{batch:>10.1f}"
        )


async def _closed_loop(
    record: Callable[[ProtocolRecord], Awaitable[None]],
    callers: int,
    seconds: float,
    upstream: float,
    tenants: int = len(TENANTS),
) -> Result:
    result = Result("", callers)
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def caller() -> None:
        while time.perf_counter() < deadline:
            if upstream:
                await asyncio.sleep(upstream * random.uniform(0.5, 1.5))
            item = _record(next(counter), tenants)
            started = time.perf_counter()
            await record(item)
            result.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    result.seconds = time.perf_counter() - started
    return result


async def _with_writer(
    pool: asyncpg.Pool, callers: int, seconds: float, max_batch: int, mode: str, upstream: float = 0.0
) -> Result:
    writer = ProtocolWriter(pool, max_batch=max_batch, max_pending=100_000)
    await writer.start()
    try:
        result = await _closed_loop(writer.record, callers, seconds, upstream)
    finally:
        await writer.stop()
    result.mode, result.transactions = mode, writer.stats().batches
    return result


async def _per_request(pool: asyncpg.Pool, callers: int, seconds: float) -> Result:
    async def record(item: ProtocolRecord) -> None:
        async with pool.acquire() as connection, connection.transaction():
            await write_batch(connection, [chained(item)], dt.datetime.now(dt.UTC))

    result = await _closed_loop(record, callers, seconds, 0.0)
    result.mode, result.transactions = "per-request", len(result.latencies)
    return result


def _writer_process(url: str, tenants: int, callers: int, seconds: float, start: Any, results: Any) -> None:
    """One writer process: its own pool and writer, `callers` recording back-to-back."""

    async def run() -> tuple[int, float]:
        pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=2, max_size=4)
        writer = ProtocolWriter(pool, max_pending=100_000)
        await writer.start()
        try:
            await asyncio.to_thread(start.wait)
            result = await _closed_loop(writer.record, callers, seconds, 0.0, tenants)
        finally:
            await writer.stop()
            await pool.close()
        return len(result.latencies), result.seconds

    results.put(asyncio.run(run()))


def _scale_out(url: str, processes: int, tenants: int, callers: int, seconds: float) -> float:
    """Records per second of `processes` writer processes together."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_writer_process, args=(url, tenants, callers, seconds, start, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    done: list[tuple[int, float]] = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return sum(count for count, _ in done) / max(elapsed for _, elapsed in done)


async def _run_scale_out(
    url: str, admin: asyncpg.Connection, processes: list[int], callers: int, seconds: float
) -> None:
    print(f"\n3. scale-out: writer processes, {callers} callers each, back-to-back")
    print(f"{'tenants':>7} " + " ".join(f"{f'{n} proc/s':>10}" for n in processes))
    for tenants in (1, len(TENANTS)):
        rates = []
        for count in processes:
            await admin.execute("CHECKPOINT")
            rates.append(await asyncio.to_thread(_scale_out, url, count, tenants, callers, seconds))
        print(f"{tenants:>7} " + " ".join(f"{rate:>10.0f}" for rate in rates), flush=True)


async def _run(
    admin_url: str,
    callers: list[int],
    seconds: float,
    upstream_ms: float,
    processes: list[int],
    process_callers: int,
    only: str | None,
) -> None:
    name = f"brp_bench_{uuid.uuid4().hex[:8]}"
    url = await ensure_database(admin_url, name)
    await apply_migrations(url)
    pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=20, max_size=20)
    admin = await asyncpg.connect(url)
    header = f"{'mode':<12} {'callers':>7} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'mean batch':>10}"

    async def report(run: Awaitable[Result]) -> None:
        # Every run starts from a clean checkpoint, so none pays for the WAL of the run before it.
        await admin.execute("CHECKPOINT")
        print((await run).row(), flush=True)

    try:
        if only == "processes":
            await _run_scale_out(url, admin, processes, process_callers, seconds)
            return
        print(f"1. added latency (each request spends {upstream_ms:g} ms ±50% upstream, then records)")
        print(header)
        for count in callers:
            await report(_with_writer(pool, count, seconds, 1000, "group", upstream_ms / 1000))
        print("\n2. throughput (callers record back-to-back)")
        print(header)
        for count in callers:
            await report(_with_writer(pool, count, seconds, 1000, "group"))
            await report(_with_writer(pool, count, seconds, 1, "single"))
            await report(_per_request(pool, count, seconds))
        await _run_scale_out(url, admin, processes, process_callers, seconds)
    finally:
        await admin.close()
        await pool.close()
        server = await asyncpg.connect(admin_url)
        try:
            await server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await server.close()


def main() -> None:
    """Parse the options, find a PostgreSQL, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each run")
    parser.add_argument("--callers", type=int, nargs="+", default=[50, 200, 1000], help="concurrent callers")
    parser.add_argument("--upstream-ms", type=float, default=50.0, help="time a request spends upstream")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4], help="writer processes")
    parser.add_argument("--process-callers", type=int, default=200, help="callers per writer process")
    parser.add_argument("--only", choices=["processes"], help="run only the scale-out part")
    args = parser.parse_args()
    external = os.environ.get("BROKER_DATABASE_URL")
    embedded = None if external else EmbeddedPostgres(REPO / ".state" / "postgres-bench")
    admin_url = external or embedded.start()  # type: ignore[union-attr]
    try:
        asyncio.run(
            _run(
                admin_url,
                args.callers,
                args.seconds,
                args.upstream_ms,
                args.processes,
                args.process_callers,
                args.only,
            )
        )
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
