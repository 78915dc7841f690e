"""Load the broker with RaadpleegMetBurgerservicenummer through the sandbox; compare with the sandbox direct.

Run:  .venv/bin/python -m tests.benchmarks.gateway_load [--latency-ms 100] [--concurrency 256] [--seconds 20]

Starts, as separate processes, the sandbox (HTTPS + mTLS) and the broker (`brp-broker serve`
on an embedded PostgreSQL in a temporary folder, with one SaaS tenant whose afnemer is the
sandbox's 000001; every request carries a dev IdP token, is checked for doelbinding and is
protocolled), then runs an asyncio load generator:
1. directly against the sandbox (mTLS, the afnemer's own token) — the baseline;
2. against the broker (plain HTTP on 127.0.0.1), which forwards to the sandbox.
Reports throughput, p50/p90/p99 latency of each, the latency the broker adds, error counts, and
the broker's CPU time per request (utime + stime from /proc/<pid>/stat, before and after).
Everything runs on this machine; the load generator shares its cores with both servers, so
absolute numbers are lower than on separate hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from app.sandbox.config import load_config
from app.sandbox.idp import issue_dev_token
from app.sandbox.pki import ensure_dev_pki
from tests.benchmarks.gateway_stack import BENCH_TENANT
from tests.support.servers import free_port

BSN_QUERY = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": ["999993653"],
    "fields": ["naam"],
}
PATH = "/haalcentraal/api/brp/personen"
AFNEMER = "000001"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _wait_for_line(process: subprocess.Popen[str], marker: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if marker in line:
            return
    raise RuntimeError(f"process ended before printing {marker!r}")


@contextmanager
def _process(args: list[str], env: dict[str, str], marker: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_line(process, marker)
        # Keep draining output so the child never blocks on a full pipe.
        drain = subprocess.Popen(["cat"], stdin=process.stdout, stdout=subprocess.DEVNULL)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
    drain.wait(timeout=5)


async def _load(client: aiohttp.ClientSession, seconds: float, concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    body = json.dumps(BSN_QUERY).encode()
    headers = {"Content-Type": "application/json"}

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                async with client.post(PATH, data=body, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def _summary(name: str, latencies: list[float], errors: int, seconds: float) -> dict[str, float]:
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    result = {
        "rps": len(latencies) / seconds,
        "p50": q[49],
        "p90": q[89],
        "p99": q[98],
        "errors": float(errors),
    }
    print(
        f"{name:<8} {result['rps']:8.0f} req/s  p50 {result['p50']:7.1f} ms  p90 {result['p90']:7.1f} ms  "
        f"p99 {result['p99']:7.1f} ms  errors {errors}"
    )
    return result


def _session(
    base_url: str, concurrency: int, ssl: Any = None, headers: dict[str, str] | None = None
) -> aiohttp.ClientSession:
    # aiohttp, not httpx: the generator shares the cores with both servers, so it must be cheap.
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=ssl if ssl is not None else False)
    return aiohttp.ClientSession(base_url, connector=connector, headers=headers)


async def _direct_token(client: aiohttp.ClientSession, client_id: str, secret: str, oin: str) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": f"{AFNEMER}-{oin}",
        "resourceServer": "ResourceServer01",
    }
    async with client.post("/nidp/oauth/nam/token", data=form) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def _run(
    args: argparse.Namespace, state: Path, sandbox_port: int, broker_port: int, broker_pid: int
) -> None:
    sandbox = load_config(state_dir=str(state), port=sandbox_port)
    afnemer = sandbox.afnemer_by_id(AFNEMER)
    assert afnemer is not None
    pki = ensure_dev_pki(state, sandbox.oins)
    identity = pki.client(afnemer.oin)
    base = f"https://127.0.0.1:{sandbox_port}"
    context = identity.ssl_context(pki.ca_cert)
    async with _session(base, args.concurrency, ssl=context) as control:
        async with control.put("/sandbox/latency", json={"ms": args.latency_ms, "target": "api"}) as answer:
            answer.raise_for_status()
        token = await _direct_token(control, afnemer.client_id, afnemer.client_secret.reveal(), afnemer.oin)
    async with _session(
        base, args.concurrency, ssl=context, headers={"Authorization": f"Bearer {token}"}
    ) as direct:
        await _load(direct, 2, 8)  # warm up connections
        baseline = _summary("direct", *await _load(direct, args.seconds, args.concurrency), args.seconds)
    token = issue_dev_token(state, tenant=BENCH_TENANT, subject="bench", employee="E0001")
    broker_url = f"http://127.0.0.1:{broker_port}"
    async with _session(broker_url, args.concurrency, headers={"Authorization": f"Bearer {token}"}) as broker:
        await _load(broker, 2, 8)
        cpu_before = _cpu_seconds(broker_pid)
        latencies, errors = await _load(broker, args.seconds, args.concurrency)
        cpu_after = _cpu_seconds(broker_pid)
        via = _summary("broker", latencies, errors, args.seconds)
    requests = len(latencies) + errors
    added_p50, added_p99 = via["p50"] - baseline["p50"], via["p99"] - baseline["p99"]
    cpu_ms = (cpu_after - cpu_before) / max(requests, 1) * 1000
    print(f"added by broker: p50 {added_p50:+.1f} ms  p99 {added_p99:+.1f} ms")
    print(f"broker CPU per request: {cpu_ms:.3f} ms over {requests} requests")


def main() -> None:
    """Parse options, start sandbox and broker, run both loads, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=0, help="latency the sandbox adds to each API call")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="brp-bench-") as folder:
        state = Path(folder)
        sandbox_port, broker_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
        env |= {"BROKER_STATE_DIR": str(state), "BROKER_LOG_FORMAT": "json"}
        stack = [sys.executable, "-m", "tests.benchmarks.gateway_stack"]
        sandbox_cmd = [*stack, "sandbox", str(sandbox_port)]
        with _process(sandbox_cmd, env, "SANDBOX READY"):
            # The benchmark measures the data path, not the limiter's refusals: roomy limits.
            roomy = {
                f"BROKER_RATELIMIT_{k}_{v}": "1000000"
                for k in ("TENANT", "AFNEMER", "EMPLOYEE")
                for v in ("RATE", "BURST")
            }
            broker_env = env | roomy | {"BROKER_PORT": str(broker_port)}
            broker_cmd = [*stack, "broker", str(sandbox_port)]
            with _process(broker_cmd, broker_env, "Application startup complete") as broker:
                print(
                    f"concurrency {args.concurrency}, sandbox latency {args.latency_ms} ms, "
                    f"{args.seconds:.0f} s per run, {os.cpu_count()} cores"
                )
                asyncio.run(_run(args, state, sandbox_port, broker_port, broker.pid))


if __name__ == "__main__":
    main()
