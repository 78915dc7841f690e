"""The sandbox's second listener, the dev IdP's login server: started, named and stopped with the sandbox."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import msgspec
import pytest

from app.sandbox.server import LoginServerUnavailable, SandboxThread
from tests.integration.sandbox.conftest import sandbox_config_for


def can_bind(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_login_server_serves_plain_http_without_a_client_certificate(sandbox: SandboxThread) -> None:
    assert sandbox.login_url == f"http://127.0.0.1:{sandbox.login_port}"
    # No authorization request: the login server answers (a 400 page) instead of asking for a certificate.
    answer = httpx.get(f"{sandbox.login_url}/dev-idp/authorize", timeout=10)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")


def test_login_server_serves_only_the_login_pages(sandbox: SandboxThread) -> None:
    for path in (
        "/dev-idp/jwks.json",
        "/dev-idp/token",
        "/haalcentraal/api/brp/personen",
        "/sandbox/counters",
    ):
        assert httpx.get(f"{sandbox.login_url}{path}", timeout=10).status_code in {404, 405}


def test_a_taken_login_port_is_named_before_anything_starts(tmp_path: Path, sandbox_data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        config = msgspec.structs.replace(sandbox_config_for(tmp_path, sandbox_data_dir), login_port=port)
        with pytest.raises(LoginServerUnavailable, match=f"127.0.0.1:{port}"):
            SandboxThread(config)


def test_stopping_the_sandbox_frees_the_login_port(tmp_path: Path, sandbox_data_dir: Path) -> None:
    with SandboxThread(sandbox_config_for(tmp_path, sandbox_data_dir)) as running:
        port = running.login_port
        assert httpx.get(f"{running.login_url}/dev-idp/authorize", timeout=10).status_code == 400
    assert can_bind(port)


def test_a_sandbox_that_cannot_listen_frees_its_login_port(sandbox: SandboxThread) -> None:
    failed = SandboxThread(msgspec.structs.replace(sandbox.config, port=sandbox.port))
    login_port = failed.login_port
    with pytest.raises(RuntimeError, match="did not start"):
        failed.start(timeout=30)
    failed.stop()
    assert can_bind(login_port)
