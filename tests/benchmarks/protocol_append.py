"""PostgreSQL's time per protocol batch: generic plans (as shipped) against plans chosen per call.

Run:  .venv/bin/python -m tests.benchmarks.protocol_append [--shapes 1x1 1x2 1x8 8x1 8x2] [--rounds 3]

`broker.protocol_append_linked` runs its main statement once per tenant in a batch. Migration 0021
makes it plan that statement once per connection (`plan_cache_mode = force_generic_plan`); left to
itself, PostgreSQL chose a new custom plan for every tenant of every small batch. This measures
both on the same database, alternating, `--rounds` times:

- `generic`: the function as migrated;
- `per call`: the same function after `ALTER FUNCTION … RESET plan_cache_mode` (before 0021).

A shape TxR is a batch of T tenants with R records each (1-3 persons per record, as in
`protocol_writer`). Each measurement opens a new connection as the runtime role, warms it up and
appends batches back-to-back, 200 to a transaction (so a WAL flush per batch does not drown what is
measured). Reported per batch: the CPU time of that connection's server process (from /proc, when
the server runs on this machine, as the embedded one does) and the wall time seen by the client.

Uses `BROKER_DATABASE_URL` (an admin URL) when set, else an embedded PostgreSQL in
`.state/postgres-bench`, in a fresh database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import time
from pathlib import Path

import asyncpg
import msgspec

from app.db import EmbeddedPostgres, apply_migrations, ensure_database, with_user
from app.protocol import write_batch
from app.protocol.chain import ChainedRecord, chained
from tests.benchmarks.protocol_writer import TENANTS, _record

REPO = Path(__file__).resolve().parents[2]
DATABASE = "brp_bench_append"
MODES = {
    "generic": "ALTER FUNCTION broker.protocol_append_linked(jsonb) SET plan_cache_mode = force_generic_plan",
    "per call": "ALTER FUNCTION broker.protocol_append_linked(jsonb) RESET plan_cache_mode",
}
PER_TRANSACTION = 200
WARM_UP = 20


class Shape(msgspec.Struct, frozen=True):
    """T tenants with R records each in one batch."""

    tenants: int
    records: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        """`8x2` → 8 tenants, 2 records each."""
        tenants, records = (int(part) for part in text.lower().split("x"))
        if not 1 <= tenants <= len(TENANTS) or records < 1:
            raise argparse.ArgumentTypeError(f"{text}: 1-{len(TENANTS)} tenants x 1 or more records")
        return cls(tenants, records)

    @property
    def name(self) -> str:
        """As on the command line."""
        return f"{self.tenants}x{self.records}"

    def batches(self) -> int:
        """Enough batches for about a second of server time."""
        return max(600, 3000 // (self.tenants * self.records))


class Cost(msgspec.Struct, frozen=True):
    """Milliseconds per batch: server CPU (None when the server is not on this machine) and wall."""

    cpu_ms: float | None
    wall_ms: float


def _server_cpu(pid: int) -> float | None:
    """utime + stime of a local server process, in seconds; None when it is not on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _batch(shape: Shape, counter: list[int]) -> list[ChainedRecord]:
    entries = []
    for tenant in range(shape.tenants):
        for _ in range(shape.records):
            counter[0] += 1
            # _record picks the tenant as n modulo the tenant count: n = tenant + 10·k names it.
            entries.append(chained(_record(tenant + len(TENANTS) * counter[0])))
    return entries


async def _measure(url: str, shape: Shape, counter: list[int]) -> Cost:
    connection = await asyncpg.connect(with_user(url, "brp_app"))
    try:
        pid = int(await connection.fetchval("SELECT pg_backend_pid()"))
        for _ in range(WARM_UP):
            await write_batch(connection, _batch(shape, counter), dt.datetime.now(dt.UTC))
        batches = [_batch(shape, counter) for _ in range(shape.batches())]
        cpu, wall = _server_cpu(pid), time.perf_counter()
        for start in range(0, len(batches), PER_TRANSACTION):
            async with connection.transaction():
                for entries in batches[start : start + PER_TRANSACTION]:
                    await write_batch(connection, entries, dt.datetime.now(dt.UTC))
        wall = time.perf_counter() - wall
        cpu_after = _server_cpu(pid)
    finally:
        await connection.close()
    cpu_ms = None if cpu is None or cpu_after is None else (cpu_after - cpu) / len(batches) * 1000
    return Cost(cpu_ms, wall / len(batches) * 1000)


def _mean(costs: list[Cost]) -> Cost:
    cpus = [c.cpu_ms for c in costs if c.cpu_ms is not None]
    return Cost(
        sum(cpus) / len(cpus) if len(cpus) == len(costs) else None,
        sum(c.wall_ms for c in costs) / len(costs),
    )


def _cell(cost: Cost) -> str:
    cpu = "–" if cost.cpu_ms is None else f"{cost.cpu_ms:.3f}"
    return f"{cpu} / {cost.wall_ms:.3f}"


async def _run(admin_url: str, shapes: list[Shape], rounds: int) -> None:
    url = await ensure_database(admin_url, DATABASE, drop_existing=True)
    try:
        await apply_migrations(url)
        admin = await asyncpg.connect(url)
        counter = [0]
        results: dict[tuple[str, str], list[Cost]] = {}
        try:
            for number in range(rounds):
                for mode, statement in MODES.items() if number % 2 == 0 else reversed(MODES.items()):
                    await admin.execute(statement)
                    for shape in shapes:
                        cost = await _measure(url, shape, counter)
                        results.setdefault((mode, shape.name), []).append(cost)
                        print(f"round {number + 1}  {mode:<8}  {shape.name:<5} {_cell(cost)} ms", flush=True)
        finally:
            await admin.close()
    finally:
        drop = await asyncpg.connect(admin_url)
        try:
            await drop.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        finally:
            await drop.close()
    columns = ["batch (tenants x records)", "per call: server CPU / wall ms", "generic: server CPU / wall ms"]
    print(f"\n| {' | '.join(columns)} | CPU change |")
    print("|---|---:|---:|---:|")
    for shape in shapes:
        before, after = _mean(results["per call", shape.name]), _mean(results["generic", shape.name])
        change = (
            "–"
            if before.cpu_ms is None or after.cpu_ms is None or before.cpu_ms == 0
            else f"{(after.cpu_ms / before.cpu_ms - 1) * 100:+.0f} %"
        )
        print(f"| {shape.name} | {_cell(before)} | {_cell(after)} | {change} |")


def main() -> None:
    """Parse the options, find a PostgreSQL, measure both plan settings, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shapes",
        type=Shape.parse,
        nargs="+",
        default=[Shape.parse(s) for s in ("1x1", "1x2", "1x8", "8x1", "8x2")],
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each alternates the order")
    args = parser.parse_args()
    external = os.environ.get("BROKER_DATABASE_URL")
    embedded = None if external else EmbeddedPostgres(REPO / ".state" / "postgres-bench")
    admin_url = external or embedded.start()  # type: ignore[union-attr]
    try:
        asyncio.run(_run(admin_url, args.shapes, args.rounds))
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
