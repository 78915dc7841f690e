"""`brp-broker dev` from nothing: embedded PostgreSQL, migrations, broker answering ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dev_starts_embedded_postgres_and_serves_ready(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    env |= {
        "BROKER_STATE_DIR": str(tmp_path / "state"),
        "BROKER_PORT": str(port),
        "BROKER_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # blocks until the server says it listens, or the process ends
            seen.append(line)
            if "Uvicorn running on" in line:
                break
        else:
            raise AssertionError("dev ended before serving:\n" + "".join(seen))
        response = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=10)
        assert response.status_code == 200
        assert response.json()["checks"]["database"] == {"status": "ok"}
        assert (tmp_path / "state" / "postgres" / "PG_VERSION").exists()
        assert any("0002_tenants.sql" in line for line in seen)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0
    # The embedded server was stopped with the broker.
    assert not (tmp_path / "state" / "postgres" / "postmaster.pid").exists()
