"""How `serve --workers N` spreads connections: one shared socket against a socket per worker.

Run:  .venv/bin/python -m tests.benchmarks.worker_balance [--workers 2] [--connections 16] [--bursts 30]

Serves a trivial app (it answers with the pid of the worker that took the connection) the way
`serve` serves the broker's workers (`app.server`): uvicorn's supervisor with

- `shared`: one listening socket for every worker (`tcp_listener`, uvicorn's way);
- `own`: a socket per worker in a SO_REUSEPORT group (`WorkersWithOwnListeners`, Linux);

then opens `--connections` connections at once, as wrk does when it starts, asks once on each,
and counts which worker answered, `--bursts` times. Reported: the busiest worker's share of each
burst's connections (1/N is even; 100 % is one worker holding them all), and how many bursts left a
worker with none. A connection stays with the worker that accepted it, so a skew at the start of a
load lasts as long as its keep-alive connections do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import Counter

import uvicorn
from litestar.types import Receive, Scope, Send

from app.server import WorkersWithOwnListeners, tcp_listener
from tests.support.servers import free_port

READY = "Application startup complete"
_MODULE = "tests.benchmarks.worker_balance"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every request with this worker's pid."""
    if scope["type"] != "http":
        return
    body = str(os.getpid()).encode()
    length = str(len(body)).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def serve(mode: str, port: int, workers: int) -> None:
    """The supervisor process: `workers` workers in `mode`, until SIGTERM."""
    config = uvicorn.Config(f"{_MODULE}:app", port=port, workers=workers, log_level="info")
    if mode == "own":
        WorkersWithOwnListeners(config).run()
    else:
        uvicorn.supervisors.Multiprocess(config, sockets=[tcp_listener(config)]).run()


async def _answering_pid(port: int) -> tuple[int, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: balance\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    return int(await reader.readexactly(length)), writer


async def _burst(port: int, connections: int) -> Counter[int]:
    answers = await asyncio.gather(*(_answering_pid(port) for _ in range(connections)))
    for _, writer in answers:
        writer.close()
    return Counter(pid for pid, _ in answers)


def _measure(mode: str, workers: int, connections: int, bursts: int) -> tuple[list[float], int]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        _MODULE,
        "--serve",
        mode,
        str(port),
        str(workers),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        started = 0
        for line in process.stdout:
            started += READY in line
            if started == workers:
                break
        shares, idle = [], 0
        for _ in range(bursts):
            counts = asyncio.run(_burst(port, connections))
            shares.append(max(counts.values()) / connections)
            idle += len(counts) < workers
        return shares, idle
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    """Parse options, measure both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--bursts", type=int, default=30)
    args = parser.parse_args()
    print(f"{args.workers} workers, {args.bursts} bursts of {args.connections} connections")
    print("| listening | busiest worker's share: median | p90 | max | bursts with an idle worker |")
    print("|---|---:|---:|---:|---:|")
    for mode in ("shared", "own"):
        started = time.perf_counter()
        shares, idle = _measure(mode, args.workers, args.connections, args.bursts)
        # Inclusive: the default method extrapolates past the largest share when bursts are few.
        deciles = statistics.quantiles(shares, n=10, method="inclusive")
        print(
            f"| {mode} | {statistics.median(shares):.0%} | {deciles[8]:.0%} | {max(shares):.0%} "
            f"| {idle} of {len(shares)} | ({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
