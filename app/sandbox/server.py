"""Running the sandbox: uvicorn over HTTPS with a required client certificate from the dev CA.

This module owns the TLS side: the server context (client certificate required, TLS 1.2+), and
getting the verified peer certificate into the app. uvicorn puts no certificate in the ASGI scope,
so `_TlsHttpProtocol` (passed to uvicorn as `http=`) reads it from the connection's SSL object and
adds the ASGI TLS extension (`scope["extensions"]["tls"]["client_cert_chain"]`) to every request
scope of that connection, plus `scope["extensions"]["brp.sandbox"]["abort"]`, which the `drop`
knob uses to cut the connection without an answer.

`serve_sandbox(config)` blocks (the `brp-broker sandbox` command); `SandboxThread` runs the same
server in a background thread (on a free port when the config says port 0) for tests, benchmarks
and `brp-broker dev`. Neither logs a certificate or key.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.sandbox.app import create_sandbox_app
from app.sandbox.config import SandboxConfig
from app.sandbox.dataset import Dataset, load_dataset
from app.sandbox.pki import DevPki, ensure_dev_pki

__all__ = ["SandboxThread", "build_server", "serve_sandbox"]

_log = structlog.get_logger("app.sandbox.server")

_ASGIApp = Callable[..., Any]


def _with_connection_extensions(app: _ASGIApp, tls: dict[str, Any], abort: Callable[[], None]) -> _ASGIApp:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") in {"http", "websocket"}:
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = tls
            extensions["brp.sandbox"] = {"abort": abort}
            scope = {**scope, "extensions": extensions}
        await app(scope, receive, send)

    return wrapped


def _tls_extension(transport: asyncio.Transport) -> dict[str, Any]:
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return {"client_cert_chain": [], "client_cert_error": "no TLS"}
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": ssl_object.version(),
        "cipher_suite": cipher[0] if cipher else None,
    }


class _TlsHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the ASGI TLS extension for each connection's requests."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        # One protocol instance per connection: wrapping `self.app` here scopes the peer
        # certificate to exactly the requests of this connection.
        self.app = _with_connection_extensions(self.app, _tls_extension(transport), transport.abort)


def _tls_context_factory(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Server(uvicorn.Server):
    """uvicorn's server that reports the moment it listens (so tests wait on an event, not a timer)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self._on_started is not None:
            self._on_started()

    def _log_started_message(self, listeners: Sequence[socket.SocketType]) -> None:
        # Not uvicorn's "Uvicorn running on ...": beside the broker (`brp-broker dev`) that line
        # must keep meaning "the broker listens".
        for listener in listeners:
            host, port = listener.getsockname()[:2]
            _log.info("sandbox_listening", url=f"https://{_url_host(str(host))}:{port}")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def build_server(
    config: SandboxConfig,
    *,
    dataset: Dataset | None = None,
    pki: DevPki | None = None,
    log_config: dict[str, Any] | None = None,
    access_log: bool = True,
    on_started: Callable[[], None] | None = None,
) -> tuple[uvicorn.Server, DevPki]:
    """A configured (not yet started) uvicorn server for the sandbox, and its dev PKI."""
    pki = pki or ensure_dev_pki(config.state_path, config.oins)
    dataset = dataset or load_dataset(Path(config.data_dir) if config.data_dir else None)
    app = create_sandbox_app(config, dataset, pki)
    server_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        http=_TlsHttpProtocol,
        lifespan="on",
        ssl_certfile=str(pki.server_cert),
        ssl_keyfile=str(pki.server_key),
        ssl_ca_certs=str(pki.ca_cert),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        ssl_context_factory=_tls_context_factory,
        log_config=log_config,
        access_log=access_log,
        server_header=False,
    )
    return _Server(server_config, on_started), pki


def serve_sandbox(config: SandboxConfig) -> None:
    """Run the sandbox in the foreground until interrupted (`brp-broker sandbox`)."""
    # Logging stays as the caller (the CLI) configured it: structlog, with redaction.
    server, pki = build_server(config)
    _log.info(
        "sandbox_starting",
        url=f"https://{config.host}:{config.port}",
        ca_cert=str(pki.ca_cert),
        client_certs=sorted(str(c.cert) for c in pki.clients.values()),
    )
    server.run()


class SandboxThread:
    """The sandbox in a background thread (config port 0: a free port), for tests and benchmarks.

    Use as a context manager; `start()` returns once the server accepts connections (it waits on
    uvicorn's startup, not on a timer) and raises if it failed to start.
    """

    def __init__(self, config: SandboxConfig, *, dataset: Dataset | None = None) -> None:
        self.config = config
        self._ready = threading.Event()
        self.server, self.pki = build_server(
            config, dataset=dataset, access_log=False, on_started=self._ready.set
        )
        self._thread = threading.Thread(target=self._run, name="brp-sandbox", daemon=True)
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (resolved when the config asked for port 0)."""
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        """`https://<host>:<port>` of the running server."""
        return f"https://{self.config.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> SandboxThread:
        """Start the server and block until it is listening."""
        self._thread.start()
        self._wait_until_started(timeout)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server to exit and wait for the thread to finish."""
        self.server.should_exit = True
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # SystemExit from uvicorn's startup failure included
            self._error = exc
        finally:
            self._ready.set()

    def _wait_until_started(self, timeout: float) -> None:
        if not self._ready.wait(timeout) or not self.server.started:
            detail = type(self._error).__name__ if self._error else "timeout"
            raise RuntimeError(f"the sandbox did not start ({detail})")

    def __enter__(self) -> SandboxThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
