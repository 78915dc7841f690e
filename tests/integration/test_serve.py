"""`brp-broker serve` running well: a graceful stop on SIGTERM, and worker processes for a VM.

The broker runs as an operator runs it (a subprocess with a config file and `BROKER_*`
variables) in front of the sandbox RvIG with added latency, so requests are really in flight
when the signal arrives. A request whose client got no answer must never have reached the
pipeline (every request that did leaves a protocol record), and every delivered 200 must be
protocolled once the process has exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import signal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from app.db import with_user
from app.main import create_app
from app.sandbox.server import SandboxThread
from app.server import usable_cpus
from app.settings import Settings
from tests.integration.conftest import SandboxControl, dev_token
from tests.integration.serving import ServeProcess, serve_environment
from tests.support.ids import request_id
from tests.support.servers import ServerTask

PERSONEN = "/haalcentraal/api/brp/personen"
_TCP_LISTEN = "0A"  # the state column of /proc/net/tcp
RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": ["999993653"],
    "fields": ["naam"],
}


async def _records(database_url: str, correlation_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The committed protocol records of these requests, by correlation id (read as the owner)."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SET ROLE brp_owner")
        rows = await connection.fetch(
            "SELECT correlation_id, status, problem_code FROM broker.protocol_records "
            "WHERE correlation_id = ANY($1::text[])",
            correlation_ids,
        )
    finally:
        await connection.close()
    return {row["correlation_id"]: dict(row) for row in rows}


def _headers(sandbox: SandboxThread) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(sandbox)}", "x-doelbinding": "test"}


async def test_sigterm_under_load_drains_every_request_in_flight_and_protocols_every_answer(
    broker_settings: Settings,
    database_url: str,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    tmp_path: Path,
) -> None:
    sandbox_control.reset()
    sandbox_control.latency(300)  # every RvIG call takes 300 ms: there is always a request in flight
    env = serve_environment(
        broker_settings,
        tmp_path,
        with_user(database_url, "brp_app"),
        BROKER_SHUTDOWN_DELAY_SECONDS="1",
        BROKER_SHUTDOWN_DRAIN_SECONDS="20",
    )
    run = secrets.token_hex(4)
    outcomes: dict[str, str] = {}  # correlation id → "delivered", "refused" or what went wrong
    sent_after_signal: list[httpx.Response] = []
    enough, signalled = asyncio.Event(), asyncio.Event()

    async def client(number: int, base_url: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=_headers(sandbox), timeout=30) as http:
            for n in itertools.count():
                cid = f"drain-{run}-{number}-{n}"
                after_signal = signalled.is_set()
                try:
                    response = await http.post(PERSONEN, json=RAADPLEEG, headers={"x-correlation-id": cid})
                except httpx.ConnectError:
                    outcomes[cid] = "refused"  # the listener is closed: never sent, nothing to cut off
                    return
                except httpx.HTTPError as error:
                    outcomes[cid] = type(error).__name__
                    return
                delivered = response.status_code == 200 and "Moulin" in response.text
                outcomes[cid] = "delivered" if delivered else f"status {response.status_code}"
                if after_signal:
                    sent_after_signal.append(response)
                if sum(outcome == "delivered" for outcome in outcomes.values()) >= 30:
                    enough.set()

    with ServeProcess(env) as broker:
        await asyncio.to_thread(broker.started)
        clients = [asyncio.create_task(client(number, broker.base_url)) for number in range(12)]
        await enough.wait()
        broker.process.send_signal(signal.SIGTERM)
        signalled.set()
        async with httpx.AsyncClient(base_url=broker.base_url) as probe:
            readiness = await probe.get("/health/ready")
            liveness = await probe.get("/health/live")
        await asyncio.gather(*clients)
        status = await asyncio.to_thread(broker.wait)
    sandbox_control.reset()

    assert status == 0, broker.output
    assert readiness.status_code == 503
    assert readiness.json()["status"] == "draining"
    assert liveness.status_code == 200
    # During the delay the broker kept serving, and told every client not to reuse the connection.
    assert sent_after_signal
    assert all(response.headers["connection"] == "close" for response in sent_after_signal)

    records = await _records(database_url, list(outcomes))
    delivered = [cid for cid, outcome in outcomes.items() if outcome == "delivered"]
    failed = {cid: outcome for cid, outcome in outcomes.items() if outcome not in ("delivered", "refused")}
    assert not [cid for cid in delivered if cid not in records], "a delivered answer has no protocol record"
    # A request that reached the pipeline was answered: a failure never concerns a recorded request.
    assert not [cid for cid in failed if cid in records], f"requests cut off: {failed}"
    assert not [outcome for outcome in failed.values() if outcome.startswith("status")], failed
    assert "timeout graceful shutdown exceeded" not in broker.output
    assert "Traceback" not in broker.output


async def test_requests_beyond_the_drain_bound_are_cancelled_protocolled_and_the_exit_is_clean(
    broker_settings: Settings,
    database_url: str,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    tmp_path: Path,
) -> None:
    sandbox_control.reset()
    sandbox_control.latency(4_000)  # beyond the drain bound
    env = serve_environment(
        broker_settings,
        tmp_path,
        with_user(database_url, "brp_app"),
        BROKER_SHUTDOWN_DRAIN_SECONDS="1",
    )
    cids = [f"{request_id('bound')}-{n}" for n in range(4)]
    with ServeProcess(env) as broker:
        await asyncio.to_thread(broker.started)
        async with httpx.AsyncClient(base_url=broker.base_url, headers=_headers(sandbox), timeout=60) as http:
            calls = [
                asyncio.create_task(http.post(PERSONEN, json=RAADPLEEG, headers={"x-correlation-id": cid}))
                for cid in cids
            ]
            while sandbox_control.api_calls("000001") < len(cids):  # all four wait at RvIG now
                await asyncio.sleep(0)
            broker.process.send_signal(signal.SIGTERM)
            answers = await asyncio.gather(*calls, return_exceptions=True)
            status = await asyncio.to_thread(broker.wait)
    sandbox_control.reset()

    assert status == 0, broker.output
    # Cut off at the bound, but answered: a clear 503 to retry elsewhere, no person data.
    for answer in answers:
        assert isinstance(answer, httpx.Response), answer
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["code"] == "brokerStopping"
    assert "timeout graceful shutdown exceeded" in broker.output
    assert "Traceback" not in broker.output
    records = await _records(database_url, cids)
    assert {cid: (record["status"], record["problem_code"]) for cid, record in records.items()} == {
        cid: (499, "requestCancelled") for cid in cids
    }


def _worker_pids(parent: int) -> set[int]:
    """The worker processes of `parent`, found in /proc (multiprocessing's spawned children)."""
    workers = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and b"spawn_main" in command:
            workers.add(int(entry))
    return workers


async def test_serve_with_two_workers_answers_from_two_processes_and_stops_cleanly(
    broker_settings: Settings,
    database_url: str,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    tmp_path: Path,
) -> None:
    sandbox_control.reset()
    env = serve_environment(broker_settings, tmp_path, with_user(database_url, "brp_app"))
    with ServeProcess(env, "--workers", "2") as broker:
        await asyncio.to_thread(broker.started, 2)
        workers = _worker_pids(broker.process.pid)
        async with httpx.AsyncClient(base_url=broker.base_url, headers=_headers(sandbox), timeout=30) as http:
            answers = await asyncio.gather(*(http.post(PERSONEN, json=RAADPLEEG) for _ in range(16)))
            ready = await http.get("/health/ready")
            # Whichever worker answers the scrape, it counts the requests of both.
            scrapes = [(await http.get("/metrics")).text for _ in range(4)]
        status = await asyncio.to_thread(broker.stop)
    assert len(workers) == 2, broker.output
    assert bool(_lines(broker.output, "workers_exceed_cpus")) == (usable_cpus() < 2)
    assert [_personen_requests(scrape) for scrape in scrapes] == [16.0] * 4
    assert broker.process.pid not in workers
    assert [answer.status_code for answer in answers] == [200] * 16
    assert ready.status_code == 200
    assert status == 0, broker.output
    assert not _worker_pids(broker.process.pid)
    assert "Traceback" not in broker.output


def _lines(output: str, event: str) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line) for line in output.splitlines() if f'"{event}"' in line]


async def test_more_workers_than_the_cpus_it_may_use_is_said_at_the_start(
    broker_settings: Settings, database_url: str, tmp_path: Path
) -> None:
    # A child process inherits the CPU affinity of the thread that starts it.
    allowed = os.sched_getaffinity(0)
    env = serve_environment(broker_settings, tmp_path, with_user(database_url, "brp_app"))
    os.sched_setaffinity(0, {min(allowed)})
    try:
        broker = ServeProcess(env, "--workers", "2")
    finally:
        os.sched_setaffinity(0, allowed)
    with broker:
        await asyncio.to_thread(broker.started, 2)
        status = await asyncio.to_thread(broker.stop)
    warned = _lines(broker.output, "workers_exceed_cpus")
    assert [(line["workers"], line["cpus"], line["level"]) for line in warned] == [(2, 1, "warning")]
    assert status == 0, broker.output


def _sockets_on_port(pid: int, port: int) -> dict[str, list[int]]:
    """The TCP sockets of process `pid` on local port `port`: their inodes, listening and connected."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # an fd closed while we look
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    found: dict[str, list[int]] = {"listening": [], "connected": []}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rpartition(":")[2], 16), fields[3], int(fields[9])
            if local_port == port and inode in inodes:
                found["listening" if state == _TCP_LISTEN else "connected"].append(inode)
    return found


async def _connected_and_answered(port: int, connections: int) -> list[asyncio.StreamWriter]:
    """`connections` connections, each answered once and kept open (a worker holds each of them)."""
    writers = []
    for _ in range(connections):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: broker\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        writers.append(writer)
    return writers


async def test_each_worker_listens_on_a_socket_of_its_own_and_both_take_connections(
    broker_settings: Settings, database_url: str, tmp_path: Path
) -> None:
    # With one shared socket a burst of connections could all land on one worker while the other
    # idled (tests/benchmarks/worker_balance.py); with a socket per worker in a SO_REUSEPORT group
    # the kernel spreads them by a hash of the addresses.
    env = serve_environment(broker_settings, tmp_path, with_user(database_url, "brp_app"))
    with ServeProcess(env, "--workers", "2") as broker:
        await asyncio.to_thread(broker.started, 2)
        workers = sorted(_worker_pids(broker.process.pid))
        writers = await _connected_and_answered(broker.port, 32)
        sockets = {pid: _sockets_on_port(pid, broker.port) for pid in workers}
        for writer in writers:
            writer.close()
        status = await asyncio.to_thread(broker.stop)
    listening = [sockets[pid]["listening"] for pid in workers]
    connected = [len(sockets[pid]["connected"]) for pid in workers]
    assert all(len(inodes) == 1 for inodes in listening), sockets
    assert listening[0] != listening[1], "the workers share one listening socket"
    assert sum(connected) == 32, sockets
    # 32 connections hashed over two queues: one of them empty has a chance of 2 in 4 billion.
    assert min(connected) > 0, sockets
    assert status == 0, broker.output


async def test_a_worker_the_supervisor_restarts_gets_a_socket_of_its_own_and_the_dead_one_s_is_gone(
    broker_settings: Settings, database_url: str, tmp_path: Path
) -> None:
    env = serve_environment(broker_settings, tmp_path, with_user(database_url, "brp_app"))
    with ServeProcess(env, "--workers", "2") as broker:
        await asyncio.to_thread(broker.started, 2)
        survivor, killed = sorted(_worker_pids(broker.process.pid))
        os.kill(killed, signal.SIGKILL)
        await asyncio.to_thread(broker.started, 3)  # the replacement's app has started
        (replacement,) = _worker_pids(broker.process.pid) - {survivor}
        listening = {pid: _sockets_on_port(pid, broker.port)["listening"] for pid in (survivor, replacement)}
        supervisor = _sockets_on_port(broker.process.pid, broker.port)["listening"]
        writers = await _connected_and_answered(broker.port, 32)
        for writer in writers:
            writer.close()
        status = await asyncio.to_thread(broker.stop)
    assert replacement != killed
    assert listening[survivor] != listening[replacement], listening
    # The supervisor keeps no copy: a worker's socket closes with it, so no connection can wait in
    # the queue of a dead worker (every one of the 32 connections above was answered).
    assert supervisor == []
    assert status == 0, broker.output


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_serve_runs_on_the_event_loop_the_setting_names_and_stops_cleanly(
    loop: str,
    broker_settings: Settings,
    database_url: str,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    tmp_path: Path,
) -> None:
    sandbox_control.reset()
    env = serve_environment(
        broker_settings, tmp_path, with_user(database_url, "brp_app"), BROKER_EVENT_LOOP=loop
    )
    with ServeProcess(env) as broker:
        await asyncio.to_thread(broker.started)
        async with httpx.AsyncClient(base_url=broker.base_url, headers=_headers(sandbox), timeout=30) as http:
            answer = await http.post(PERSONEN, json=RAADPLEEG)
        status = await asyncio.to_thread(broker.stop)
    started = [line for line in broker.output.splitlines() if '"broker_started"' in line]
    assert len(started) == 1, broker.output
    assert msgspec.json.decode(started[0])["event_loop"] == loop
    assert answer.status_code == 200
    assert status == 0, broker.output
    assert "Traceback" not in broker.output


def _personen_requests(exposition: str) -> float:
    """`brp_broker_requests_total` of the Personen API, summed over its label values."""
    return sum(
        float(line.rpartition(" ")[2])
        for line in exposition.splitlines()
        if line.startswith("brp_broker_requests_total{") and 'api="personen"' in line
    )


async def test_without_redis_each_worker_enforces_its_share_of_a_limit(
    broker_settings: Settings, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> None:
    # One worker of two: like one replica of two, it allows half the burst on its own.
    settings = msgspec.structs.replace(
        broker_settings, workers=2, ratelimit_employee_rate=0.001, ratelimit_employee_burst=4
    )
    sandbox_control.reset()
    async with (
        ServerTask(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, headers=_headers(sandbox), timeout=30) as http,
    ):
        statuses = [(await http.post(PERSONEN, json=RAADPLEEG)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


@pytest.mark.redis
async def test_with_redis_two_workers_enforce_one_limit_together(
    broker_settings: Settings,
    database_url: str,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    tmp_path: Path,
) -> None:
    redis_url = os.environ.get("REDIS_URL") or pytest.skip("REDIS_URL is not set (CI sets it)")
    sandbox_control.reset()
    env = serve_environment(
        broker_settings,
        tmp_path,
        with_user(database_url, "brp_app"),
        BROKER_REDIS_URL=redis_url,
        BROKER_WORKERS="2",
        BROKER_RATELIMIT_EMPLOYEE_RATE="0.001",
        BROKER_RATELIMIT_EMPLOYEE_BURST="4",
    )
    # An employee of this test alone: the limit's key in the shared Redis is new.
    token = dev_token(sandbox, employee=f"E{secrets.randbelow(10**6):06d}")
    headers = {"Authorization": f"Bearer {token}", "x-doelbinding": "test"}
    with ServeProcess(env) as broker:
        await asyncio.to_thread(broker.started, 2)
        statuses = []
        for _ in range(6):  # a new connection each time: either worker may take it
            async with httpx.AsyncClient(base_url=broker.base_url, headers=headers, timeout=30) as http:
                statuses.append((await http.post(PERSONEN, json=RAADPLEEG)).status_code)
        assert await asyncio.to_thread(broker.stop) == 0
    # The whole burst, once: not 2 per worker (their share without Redis), not 4 per worker.
    assert statuses == [200, 200, 200, 200, 429, 429]
