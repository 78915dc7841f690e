"""Running the sandbox: uvicorn over HTTPS with a required client certificate from the dev CA.

This module owns the TLS side: the server context (client certificate required, TLS 1.2+), and
getting the verified peer certificate into the app. uvicorn puts no certificate in the ASGI scope,
so `_TlsHttpProtocol` (passed to uvicorn as `http=`) reads it from the connection's SSL object and
adds the ASGI TLS extension (`scope["extensions"]["tls"]["client_cert_chain"]`) to every request
scope of that connection, plus `scope["extensions"]["brp.sandbox"]["abort"]`, which the `drop`
knob uses to cut the connection without an answer.

Beside it runs the dev IdP's login server (`LoginServer`): plain HTTP on `config.login_port`,
serving only the browser's login pages (`app.sandbox.login`), because a browser has no client
certificate. Its socket is bound when it is built, so the HTTPS app's discovery documents name its
real port; it runs in the HTTPS server's event loop, which starts it first and stops it last, and
it handles no signals of its own. The two share one `AuthorizationCodes` per sandbox.

`serve_sandbox(config)` blocks (the `brp-broker sandbox` command); `SandboxThread` runs the same
servers in a background thread (on free ports when the config says port 0) for tests and
`brp-broker dev`. `build_server` alone (benchmarks) has no login server unless given one. Neither
logs a certificate or key.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.sandbox.app import create_sandbox_app
from app.sandbox.config import SandboxConfig
from app.sandbox.dataset import Dataset, load_dataset
from app.sandbox.login import AuthorizationCodes, create_login_app
from app.sandbox.pki import DevPki, ensure_dev_pki

__all__ = [
    "LoginServer",
    "LoginServerUnavailable",
    "SandboxThread",
    "build_login_server",
    "build_server",
    "serve_sandbox",
]

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


class LoginServerUnavailable(RuntimeError):
    """The login server's port cannot be bound; `str()` is one line naming the address."""


class LoginServer(uvicorn.Server):
    """The dev IdP's login server: plain HTTP on a socket bound in advance (see the module docstring).

    Started and stopped by the HTTPS server it runs beside (`start`, `stop`), never on its own.
    """

    def __init__(self, config: uvicorn.Config, listener: socket.socket, codes: AuthorizationCodes) -> None:
        super().__init__(config)
        self.codes = codes
        self._listener = listener
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Event | None = None

    @property
    def port(self) -> int:
        """The port it listens on (resolved at bind time when the config asked for port 0)."""
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """`http://<host>:<port>`, where a browser finds the login pages."""
        return f"http://{_url_host(self.config.host)}:{self.port}"

    async def start(self) -> None:
        """Serve in the running event loop; return once it listens (raise if it cannot start)."""
        self._started = asyncio.Event()
        self._task = asyncio.create_task(self.serve(sockets=[self._listener]))
        started = asyncio.create_task(self._started.wait())
        await asyncio.wait({self._task, started}, return_when=asyncio.FIRST_COMPLETED)
        if not self._started.is_set():
            started.cancel()
            await self._task  # raises what ended it (uvicorn's SystemExit on a failed startup)
            raise RuntimeError("the dev IdP's login server did not start")

    async def stop(self) -> None:
        """Stop serving and wait until it has; closes the socket."""
        self.should_exit = True
        if self._task is not None:
            await self._task
        self.close()

    def close(self) -> None:
        """Close the socket (e.g. when it never started); safe to call more than once."""
        self._listener.close()

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets=sockets)
        _log.info("dev_idp_login_listening", url=self.url)
        if self._started is not None:
            self._started.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The HTTPS server handles the signals and then stops this one: a second handler would
        # replace its handler and leave it running.
        yield


class _Server(uvicorn.Server):
    """uvicorn's server that reports the moment it listens (so tests wait on an event, not a timer).

    With a login server, it starts that first (its own startup may fail on a taken port) and
    stops it after its own shutdown.
    """

    def __init__(
        self, config: uvicorn.Config, on_started: Callable[[], None] | None, login: LoginServer | None
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._login = login

    async def startup(self, sockets: list[Any] | None = None) -> None:
        if self._login is not None:
            await self._login.start()
        try:
            await super().startup(sockets=sockets)
        except BaseException:  # uvicorn's SystemExit when the port is taken
            if self._login is not None:
                await self._login.stop()
            raise
        if self._on_started is not None:
            self._on_started()

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        if self._login is not None:
            await self._login.stop()

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
    login: LoginServer | None = None,
) -> tuple[uvicorn.Server, DevPki]:
    """A configured (not yet started) uvicorn server for the sandbox, and its dev PKI.

    With `login` (`build_login_server`) it serves the dev IdP's token endpoints for that login
    server's codes, names it in the discovery documents, and runs it beside itself.
    """
    pki = pki or ensure_dev_pki(config.state_path, config.oins)
    dataset = dataset or load_dataset(Path(config.data_dir) if config.data_dir else None)
    app = create_sandbox_app(
        config,
        dataset,
        pki,
        login_url=login.url if login is not None else None,
        codes=login.codes if login is not None else None,
    )
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
    return _Server(server_config, on_started, login), pki


def build_login_server(
    config: SandboxConfig, *, log_config: dict[str, Any] | None = None, access_log: bool = True
) -> LoginServer:
    """The dev IdP's login server on `config.host:config.login_port`, its socket bound now.

    Raises `LoginServerUnavailable` when its address cannot be bound (e.g. the port is taken).
    """
    listener = _bound_socket(config.host, config.login_port)
    codes = AuthorizationCodes()
    server_config = uvicorn.Config(
        create_login_app(codes),
        host=config.host,
        port=config.login_port,
        lifespan="on",
        log_config=log_config,
        access_log=access_log,
        server_header=False,
    )
    return LoginServer(server_config, listener, codes)


def _bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn binds: a port in TIME_WAIT is free, a port something listens on is not.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise LoginServerUnavailable(
            f"the dev IdP's login server cannot listen on {host}:{port} ({exc.strerror})"
        ) from None
    return listener


def serve_sandbox(config: SandboxConfig) -> None:
    """Run the sandbox and its login server in the foreground until interrupted (`brp-broker sandbox`)."""
    # Logging stays as the caller (the CLI) configured it: structlog, with redaction.
    login = build_login_server(config)
    try:
        server, pki = build_server(config, login=login)
    except BaseException:
        login.close()
        raise
    _log.info(
        "sandbox_starting",
        url=f"https://{config.host}:{config.port}",
        login_url=login.url,
        ca_cert=str(pki.ca_cert),
        client_certs=sorted(str(c.cert) for c in pki.clients.values()),
    )
    server.run()


class SandboxThread:
    """The sandbox and its login server in a background thread (port 0: a free port), for tests.

    Use as a context manager; `start()` returns once both servers accept connections (it waits on
    uvicorn's startup, not on a timer) and raises if they failed to start. Building it binds the
    login server's socket, and raises `LoginServerUnavailable` when that port is taken.
    """

    def __init__(self, config: SandboxConfig, *, dataset: Dataset | None = None) -> None:
        self.config = config
        self._ready = threading.Event()
        self.login = build_login_server(config, access_log=False)
        try:
            self.server, self.pki = build_server(
                config, dataset=dataset, access_log=False, on_started=self._ready.set, login=self.login
            )
        except BaseException:
            self.login.close()
            raise
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

    @property
    def login_port(self) -> int:
        """The port of the dev IdP's login server (plain HTTP)."""
        return self.login.port

    @property
    def login_url(self) -> str:
        """`http://<host>:<port>` of the dev IdP's login server."""
        return self.login.url

    def start(self, timeout: float = 30.0) -> SandboxThread:
        """Start the server and block until it is listening."""
        self._thread.start()
        self._wait_until_started(timeout)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server to exit and wait for the thread to finish."""
        self.server.should_exit = True
        self._thread.join(timeout)
        self.login.close()  # already closed by a server that ran; not yet by one that never did

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
