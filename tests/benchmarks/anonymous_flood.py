"""Real tenants' protocol latency during a flood of 401s: the anonymous lane versus shared batches.

Run:  .venv/bin/python -m tests.benchmarks.anonymous_flood [--seconds 5] [--callers 200] [--upstream-ms 50]
                                                          [--flood-rate 2000 8000 16000] [--interval 0.1]

Uses `BROKER_DATABASE_URL` (an admin URL) when set, else an embedded PostgreSQL in
`.state/postgres-bench` (fsync on, as shipped), in a fresh database that is dropped afterwards.
Loopback only; every run lasts `--seconds` (11 runs with the defaults, about a minute in all).

Tenants: `--callers` concurrent requests of 10 tenants, each spending `--upstream-ms` (±50%) at
"RvIG" (a sleep) and then recording, as the gateway does; the p50/p99 of `record()` is the
latency the protocol adds to a tenant's request. Flood: `--flood-rate` requests per second with a
garbage token, each recorded as its 401 (without a tenant), open loop (an attacker with many
connections does not slow down when the answers do), in the same process and event loop as the
tenants, as in the broker. The same rate in every mode, so each pays the same CPU to make it.

Without a flood and at each flood rate, side by side:
- `lane`    the writer as shipped: requests without a tenant go to the anonymous lane (aggregate
            records, own transactions, at most one commit per `--interval`);
- `shared`  the behaviour before the lane, as the baseline: the flood's records are handed to the
            writer under an ordinary tenant name, which takes them exactly where `-` records went
            before — one record per request, in the tenants' queue and batches, on one chain;
- `none`    (flood runs only) the flood's requests are made and answered but not protocolled:
            what the load generator alone costs the tenants, so the rest is the protocol's share.

Reported per run: tenants' records/s, p50/p99/max latency and 503s; flood requests answered
(counted) per second and refused with 503, the protocol rows they cost per second, the mean
records per transaction of the tenants' writer, and the CPU this process used (writer and load
generator; 100% is one core). Each run starts after a CHECKPOINT. The load generator shares the
machine's cores with PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import time
import uuid
from pathlib import Path

import asyncpg

from app.brp import PersonRef, PersonRole, ProblemError
from app.db import EmbeddedPostgres, apply_migrations, create_pool, ensure_database, with_user
from app.protocol import ProtocolRecord, ProtocolWriter
from app.protocol.anonymous import DEFAULT_INTERVAL

REPO = Path(__file__).resolve().parents[2]
TENANTS = [f"gemeente-{i:02d}" for i in range(10)]
# `shared` mode: an ordinary tenant name, so the writer treats the flood as it treated `-` before.
BASELINE_FLOOD_TENANT = "flood-baseline"


def _granted(n: int) -> ProtocolRecord:
    persons = tuple(PersonRef(f"{(n * 7 + k) % 10**9:09d}", PersonRole.CONSULTED) for k in range(1 + n % 3))
    return ProtocolRecord(
        tenant=TENANTS[n % len(TENANTS)],
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
        sent_fields=("naam.voornamen", "naam.geslachtsnaam", "geboorte.datum", "verblijfplaats"),
        persons=persons,
    )


def _refused(tenant: str, n: int) -> ProtocolRecord:
    """What the pipeline records for a garbage token: no caller, no body, nothing but the refusal."""
    return ProtocolRecord(
        tenant=tenant,
        occurred_at=dt.datetime.now(dt.UTC),
        # Cheap ids: making them is the load generator's cost, not the protocol's.
        correlation_id=f"flood-{n:012d}",
        api="personen",
        status=401,
        latency_ms=0.4,
        trace_id=f"{n:032x}",
        problem_code="authentication",
    )


class Run:
    """One run: the tenants' latencies and refusals, the flood's answered requests and rows."""

    def __init__(self, mode: str, flood: float) -> None:
        self.mode = mode
        self.flood = flood
        self.latencies: list[float] = []
        self.tenant_503 = 0
        self.flood_answered = 0
        self.flood_503 = 0
        self.flood_rows = 0
        # Records per transaction of the tenants' writer (in `shared` mode the flood's share them).
        self.mean_batch = 0.0
        self.seconds = 0.0
        self.cpu = 0.0

    def row(self) -> str:
        ordered = sorted(self.latencies)
        count = len(ordered)
        p50 = statistics.median(ordered) * 1000 if ordered else 0.0
        p99 = ordered[min(count - 1, int(count * 0.99))] * 1000 if ordered else 0.0
        worst = ordered[-1] * 1000 if ordered else 0.0
        return (
            f"{self.mode:<7} {self.flood:>6.0f} {count / self.seconds:>9.0f} {p50:>7.2f} "
            f"{p99:>7.2f} {worst:>8.2f} {self.tenant_503:>5} {self.flood_answered / self.seconds:>9.0f} "
            f"{self.flood_503:>6} {self.flood_rows / self.seconds:>8.1f} {self.mean_batch:>6.1f} "
            f"{self.cpu / self.seconds:>5.0%}"
        )


HEADER = (
    f"{'mode':<7} {'flood':>6} {'tenant/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'503':>5} "
    f"{'flood/s':>9} {'f.503':>6} {'rows/s':>8} {'batch':>6} {'cpu':>5}"
)


async def _run(
    pool: asyncpg.Pool, mode: str, flood: float, args: argparse.Namespace, admin: asyncpg.Connection
) -> Run:
    run = Run(mode, flood)
    writer = ProtocolWriter(pool, anonymous_interval=args.interval)
    flood_tenant = "" if mode == "lane" else BASELINE_FLOOD_TENANT
    stored_tenant = "-" if mode == "lane" else BASELINE_FLOOD_TENANT
    rows_before = await _rows(admin, stored_tenant)
    await writer.start()
    deadline = time.perf_counter() + args.seconds
    counter = iter(range(10**9))
    upstream = args.upstream_ms / 1000

    async def tenant() -> None:
        while time.perf_counter() < deadline:
            # The simulated RvIG call (the model of the workload), not a wait for a condition.
            await asyncio.sleep(upstream * random.uniform(0.5, 1.5))
            item = _granted(next(counter))
            started = time.perf_counter()
            try:
                await writer.record(item)
            except ProblemError:
                run.tenant_503 += 1
                continue
            run.latencies.append(time.perf_counter() - started)

    async def refused(n: int) -> None:
        item = _refused(flood_tenant, n)
        try:
            await (asyncio.sleep(0) if mode == "none" else writer.record(item))
        except ProblemError:
            run.flood_503 += 1
        else:
            run.flood_answered += 1

    in_flight: set[asyncio.Task[None]] = set()

    async def attacker() -> None:
        # Open loop: `--flood-rate` requests a second in ticks of 10 ms, whatever the answers do.
        tick, owed, due = 0.01, 0.0, time.perf_counter()
        while time.perf_counter() < deadline:
            owed += flood * tick
            while owed >= 1:
                owed -= 1
                task = asyncio.create_task(refused(next(counter)))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            due += tick
            # Open-loop pacing of the flood: the next tick of its arrival schedule.
            await asyncio.sleep(max(0.0, due - time.perf_counter()))

    started, cpu = time.perf_counter(), time.process_time()
    try:
        await asyncio.gather(*(tenant() for _ in range(args.callers)), *([attacker()] if flood > 0 else []))
        run.seconds = time.perf_counter() - started
        run.cpu = time.process_time() - cpu
        # The flood's last requests are still waiting for their commit: let them finish.
        await asyncio.gather(*in_flight)
    finally:
        await writer.stop()
    stats = writer.stats()
    run.mean_batch = stats.records / stats.batches if stats.batches else 0.0
    run.flood_rows = await _rows(admin, stored_tenant) - rows_before
    return run


async def _rows(connection: asyncpg.Connection, tenant: str) -> int:
    count: int = await connection.fetchval(
        "SELECT count(*) FROM broker.protocol_records WHERE tenant = $1", tenant
    )
    return count


async def _main(admin_url: str, args: argparse.Namespace) -> None:
    name = f"brp_bench_{uuid.uuid4().hex[:8]}"
    url = await ensure_database(admin_url, name)
    await apply_migrations(url)
    pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=4, max_size=8)
    admin = await asyncpg.connect(url)
    print(
        f"{args.callers} tenant requests in flight ({args.upstream_ms:g} ms ±50% upstream each), "
        f"flood: 0 or {' or '.join(f'{rate:g}' for rate in args.flood_rate)} requests/s with a garbage "
        f"token, {args.seconds:g} s per run",
        flush=True,
    )
    print(HEADER, flush=True)
    try:
        # Modes side by side at each rate, so that a change in the machine's load hits all of them.
        for flood in (0.0, *args.flood_rate):
            for mode in ("shared", "lane", "none") if flood else ("shared", "lane"):
                await admin.execute("CHECKPOINT")
                print((await _run(pool, mode, flood, args, admin)).row(), flush=True)
    finally:
        await admin.close()
        await pool.close()
        server = await asyncpg.connect(admin_url)
        try:
            await server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await server.close()


def main() -> None:
    """Parse the options, find a PostgreSQL, run every mode and flood rate, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each run")
    parser.add_argument("--callers", type=int, default=200, help="tenant requests in flight")
    parser.add_argument(
        "--upstream-ms", type=float, default=50.0, help="time a tenant request spends upstream"
    )
    parser.add_argument(
        "--flood-rate",
        type=float,
        nargs="+",
        default=[2000.0, 8000.0, 16000.0],
        help="401 requests per second",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help="seconds between the anonymous lane's commits",
    )
    args = parser.parse_args()
    external = os.environ.get("BROKER_DATABASE_URL")
    embedded = None if external else EmbeddedPostgres(REPO / ".state" / "postgres-bench")
    admin_url = external or embedded.start()  # type: ignore[union-attr]
    try:
        asyncio.run(_main(admin_url, args))
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
