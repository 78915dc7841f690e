"""CPU time of the broker's HTTP client per RvIG call: aiohttp (what the broker uses) against httpx.

Run:  .venv/bin/python -m tests.benchmarks.upstream_client [--calls 4000] [--concurrency 32] [--rounds 2]

Starts the sandbox (HTTPS + mTLS) as a separate process, as `gateway_load` does, takes a token for
afnemer 000001, and then makes the broker's call to RvIG — POST RaadpleegMetBurgerservicenummer to
the Personen URL with the forwarder's headers — `--calls` times at `--concurrency` with each client:

- aiohttp: the broker's own `UpstreamClient` (app/upstream/clients.py);
- httpx: an `httpx.AsyncClient` configured as the broker's upstream client was before aiohttp
  (same SSLContext from `load_identity`, keep-alive, same limits and timeouts).

Both run in this one process, one after the other, against the same sandbox; rounds alternate the
order. CPU time is this process's own (`time.process_time`: user + system of all its threads), so
the sandbox's work is not counted; the event loop and the load loop cost the same for both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import msgspec

from app.sandbox.config import load_config
from app.sandbox.pki import ensure_dev_pki
from app.sandbox.server import build_server
from app.upstream.clients import UpstreamClient
from app.upstream.config import EnvironmentConfig, IdentityConfig
from app.upstream.identities import load_identity
from tests.support.servers import free_port

AFNEMER = "000001"
BODY = json.dumps(
    {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": ["999993653"], "fields": ["naam"]}
).encode()
# The forwarder's headers (app/upstream/forwarder.py), plus the afnemer's token.
HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}

READY = "SANDBOX READY"

Call = Callable[[], Awaitable[int]]


class Measurement(msgspec.Struct, frozen=True):
    """One client's run: calls made, failures, this process's CPU seconds and the wall time."""

    client: str
    calls: int
    errors: int
    cpu: float
    wall: float

    def line(self) -> str:
        """The report line of this run."""
        return (
            f"{self.client:<8} {self.calls / self.wall:8.0f} req/s  "
            f"CPU {self.cpu / self.calls * 1000:6.3f} ms/call  errors {self.errors}"
        )


async def _measure(name: str, call: Call, calls: int, concurrency: int) -> Measurement:
    remaining = calls
    errors = 0

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            try:
                ok = await call() == 200
            except Exception:  # a benchmark counts failures, it does not stop on them
                ok = False
            errors += not ok

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Measurement(name, calls, errors, time.process_time() - cpu, time.perf_counter() - wall)


def _httpx_client(config: IdentityConfig, environment: EnvironmentConfig) -> httpx.AsyncClient:
    """The broker's upstream client as it was with httpx (git show 2759d0f^:app/upstream/clients.py)."""
    return httpx.AsyncClient(
        verify=load_identity(config).ssl_context,
        timeout=httpx.Timeout(
            connect=environment.connect_timeout,
            read=environment.read_timeout,
            write=environment.read_timeout,
            pool=environment.pool_timeout,
        ),
        limits=httpx.Limits(
            max_connections=environment.max_connections,
            max_keepalive_connections=environment.max_keepalive_connections,
        ),
        follow_redirects=False,
        trust_env=False,
    )


async def _token(
    client: UpstreamClient, environment: EnvironmentConfig, client_id: str, secret: str, oin: str
) -> str:
    assert environment.token_url is not None
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": f"{AFNEMER}-{oin}",
        "resourceServer": "ResourceServer01",
    }
    reply = await client.post(environment.token_url, headers={}, form=form)
    if reply.status != 200:
        raise RuntimeError(f"token request answered {reply.status}")
    return str(json.loads(reply.body)["access_token"])


async def _run(args: argparse.Namespace, state: Path, port: int) -> None:
    sandbox = load_config(state_dir=str(state), port=port)
    afnemer = sandbox.afnemer_by_id(AFNEMER)
    assert afnemer is not None
    pki = ensure_dev_pki(state, sandbox.oins)
    client_cert = pki.client(afnemer.oin)
    config = IdentityConfig(
        name="bench",
        oin=afnemer.oin,
        certificate=client_cert.cert,
        private_key=client_cert.key,
        ca_bundle=pki.ca_cert,
    )
    base = f"https://127.0.0.1:{port}"
    environment = EnvironmentConfig(
        token_url=f"{base}/nidp/oauth/nam/token", personen_url=f"{base}/haalcentraal/api/brp/personen"
    )
    url = environment.personen_url
    assert url is not None
    if args.latency_ms:
        async with httpx.AsyncClient(verify=load_identity(config).ssl_context) as control:
            answer = await control.put(
                f"{base}/sandbox/latency", json={"ms": args.latency_ms, "target": "api"}
            )
            answer.raise_for_status()
    aiohttp_client = UpstreamClient(load_identity(config), environment)
    httpx_client = _httpx_client(config, environment)
    try:
        token = await _token(
            aiohttp_client, environment, afnemer.client_id, afnemer.client_secret.reveal(), afnemer.oin
        )
        headers = {**HEADERS, "Authorization": f"Bearer {token}"}

        async def via_aiohttp() -> int:
            return (await aiohttp_client.post(url, headers=headers, body=BODY)).status

        async def via_httpx() -> int:
            response = await httpx_client.post(url, content=BODY, headers=headers)
            return response.status_code

        clients: list[tuple[str, Call]] = [("aiohttp", via_aiohttp), ("httpx", via_httpx)]
        for name, call in clients:  # warm up: open the connections first
            await _measure(name, call, args.concurrency * 10, args.concurrency)
        results: dict[str, list[Measurement]] = {name: [] for name, _ in clients}
        for round_number in range(args.rounds):
            for name, call in clients if round_number % 2 == 0 else clients[::-1]:
                result = await _measure(name, call, args.calls, args.concurrency)
                results[name].append(result)
                print(f"round {round_number + 1}  {result.line()}", flush=True)
    finally:
        await aiohttp_client.aclose()
        await httpx_client.aclose()
    summary = {name: _total(name, runs) for name, runs in results.items()}
    for total in summary.values():
        print(f"total    {total.line()}")
    ratio = (summary["httpx"].cpu / summary["httpx"].calls) / (
        summary["aiohttp"].cpu / summary["aiohttp"].calls
    )
    print(f"httpx uses {ratio:.1f}x the CPU of aiohttp per call")


def _total(name: str, runs: list[Measurement]) -> Measurement:
    return Measurement(
        name,
        sum(r.calls for r in runs),
        sum(r.errors for r in runs),
        sum(r.cpu for r in runs),
        sum(r.wall for r in runs),
    )


def serve_sandbox(port: int, state: str) -> None:
    """The sandbox process: serve in the foreground, print `READY` once it listens."""
    server, _ = build_server(
        load_config(port=port, state_dir=state), access_log=False, on_started=lambda: print(READY, flush=True)
    )
    server.run()


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


@contextmanager
def _sandbox_process(port: int, state: Path) -> Iterator[None]:
    """The sandbox in a child process, so its CPU time is not this process's."""
    command = [
        sys.executable,
        "-m",
        "tests.benchmarks.upstream_client",
        "--serve-sandbox",
        str(port),
        str(state),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        if not any(READY in line for line in process.stdout):
            raise RuntimeError("the sandbox ended before it listened")
        # Keep draining its output, so the sandbox never blocks on a full pipe.
        threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    """Parse options, start the sandbox, measure both clients, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000, help="calls per client per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="rounds; each alternates the order")
    parser.add_argument("--latency-ms", type=int, default=0, help="latency the sandbox adds to each call")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="brp-bench-") as folder:
        state = Path(folder)
        port = free_port()
        with _sandbox_process(port, state):
            print(
                f"{args.calls} calls per client per round, {args.rounds} rounds, "
                f"concurrency {args.concurrency}, sandbox +{args.latency_ms} ms, {os.cpu_count()} cores"
            )
            asyncio.run(_run(args, state, port))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-sandbox"]:
        serve_sandbox(int(sys.argv[2]), sys.argv[3])
    else:
        main()
