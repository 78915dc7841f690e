"""`brp-broker dev` from nothing: embedded PostgreSQL, migrations, sandbox, demo tenants, broker.

Every test runs `dev` in a subprocess on ports the OS hands out and in its own state folder, so it
passes while a developer's own `make dev` holds 8080 and 8443 — which `make_dev_ports_taken` makes
sure of by holding them itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port

MAKE_DEV_PORTS = (8080, 8443)  # the broker and the sandbox of `make dev`
PERSONEN = "/haalcentraal/api/brp/personen"


def _env(state: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    return env | {"BROKER_STATE_DIR": str(state), "BROKER_LOG_FORMAT": "json", **settings}


def _start_dev(state: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev"],
        env=_env(state, BROKER_PORT=str(port), BROKER_SANDBOX_PORT="0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_until_serving(process: subprocess.Popen[str]) -> list[str]:
    """The lines `dev` printed until the broker listens (blocks on the pipe, not on a timer)."""
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:
        seen.append(line)
        if "Uvicorn running on" in line:
            return seen
    raise AssertionError("dev ended before serving:\n" + "".join(seen))


def _stop(process: subprocess.Popen[str]) -> int:
    process.terminate()
    return process.wait(timeout=60)


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@pytest.fixture
def make_dev_ports_taken() -> Iterator[None]:
    """8080 and 8443 are listened on, as while a developer's `make dev` runs."""
    held: list[socket.socket] = []
    for port in MAKE_DEV_PORTS:
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:  # a real `make dev` (or another test) has it: taken all the same
            listener.close()
            continue
        listener.listen()
        held.append(listener)
    try:
        assert all(_port_taken(port) for port in MAKE_DEV_PORTS)
        yield
    finally:
        for listener in held:
            listener.close()


def _postmaster(state: Path) -> Path:
    return state / "postgres" / "postmaster.pid"


@pytest.fixture
def state() -> Iterator[Path]:
    """A fresh state folder for `dev`; afterwards any PostgreSQL left running in it is stopped.

    Not under pytest's tmp_path: run as root, the embedded server runs as another user, and each
    new pytest session (of another test run on this machine) makes pytest's base folder 0700 again.
    """
    folder = Path(tempfile.mkdtemp(prefix="brp-dev-test-"))
    try:
        yield folder / "state"
    finally:
        pid_file = _postmaster(folder / "state")
        if pid_file.exists():  # a failed test: stop its server (fast shutdown)
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        shutil.rmtree(folder, ignore_errors=True)


def test_dev_serves_the_demo_tenants_while_make_dev_ports_are_taken(
    state: Path, make_dev_ports_taken: None
) -> None:
    port = free_port()
    process = _start_dev(state, port)
    try:
        seen = _wait_until_serving(process)
        ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == {"status": "ok"}
        assert (state / "postgres" / "PG_VERSION").exists()
        assert any("0002_tenants.sql" in line for line in seen)
        # The README's first request: the demo tenant's token (dev IdP keys fetched from this
        # sandbox, not from 8443) and RvIG's answer (this sandbox's token endpoint and API).
        command = ["dev", "token", "--tenant", "amsterdam", "--employee", "E1001", "--role", "burgerzaken"]
        token = subprocess.run(
            [sys.executable, "-m", "app.cli", *command],
            env=_env(state),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        answer = httpx.post(
            f"http://127.0.0.1:{port}{PERSONEN}",
            json={
                "type": "RaadpleegMetBurgerservicenummer",
                "burgerservicenummer": ["999993653"],
                "fields": ["naam"],
            },
            headers={"authorization": f"Bearer {token}", "x-doelbinding": "demo"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["personen"][0]["naam"]
    finally:
        code = _stop(process)
    assert code == 0
    # The embedded server was stopped with the broker.
    assert not _postmaster(state).exists()


@pytest.mark.parametrize("setting", ["BROKER_PORT", "BROKER_SANDBOX_PORT"])
def test_dev_on_a_taken_port_says_which_in_one_line(state: Path, setting: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        settings = {"BROKER_PORT": str(free_port()), "BROKER_SANDBOX_PORT": "0", setting: str(port)}
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "dev"],
            env=_env(state, **settings),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("brp-broker: ")
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert setting in line


def test_a_postgres_left_by_a_killed_dev_is_stopped_when_the_next_dev_ends(state: Path) -> None:
    killed = _start_dev(state, free_port())
    _wait_until_serving(killed)
    killed.kill()
    killed.wait(timeout=30)
    assert _postmaster(state).exists()  # SIGKILL gave it no chance to stop its PostgreSQL

    second = _start_dev(state, free_port())
    _wait_until_serving(second)
    assert _stop(second) == 0
    assert not _postmaster(state).exists()
