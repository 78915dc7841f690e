"""Serving the broker with uvicorn, stopping it gracefully, and saying in one line why it could not start.

Owns what happens around the app in the process(es) that serve it:

- Before the first request: that this process can listen on its port (`require_free_port`, also
  used for the sandbox of `dev`), and that the `OTEL_*` variables ask for a trace export the
  broker can make (`app.telemetry.otlp`). uvicorn only logs "Application startup failed" when the
  app's lifespan raises; `run_broker` keeps the exception and raises `StartupError` with its class
  and message instead. Never prints a setting's value that could be a secret.
- Workers: `settings.workers` processes under uvicorn's supervisor; on Linux each worker (and each
  one it restarts) listens on a socket of its own in a SO_REUSEPORT group, so the kernel spreads
  connections over them; elsewhere they share one socket. Each worker builds its own app from the
  same settings (`_BrokerApp`, which crosses to the worker by pickling) with its own pool, protocol
  writer and tracer; the workers' metrics meet in a shared folder, so `/metrics` counts all of
  them; a worker that cannot start reports its one line to the parent, which stops the others and
  raises it. More workers than the CPUs the process may run on only take turns: the start says so
  (`workers_exceed_cpus`).
- Graceful stop (`_GracefulStop`), in every serving process: the first SIGTERM or SIGINT marks the
  process draining at once (`/health/ready` answers 503 `draining`, every response carries
  `Connection: close`); `shutdown_delay_seconds` later uvicorn stops listening and gives the
  requests in flight `shutdown_drain_seconds` to finish. It cancels the rest: the pipeline
  protocols them as 499, their clients get 503 `brokerStopping` (not uvicorn's bare 500), and the
  lifespan's end waits for those records before the protocol writer stops. Then the writer writes
  every record it accepted, the spans are flushed, and the process exits 0. A second signal stops
  at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any, Final
from urllib.parse import urlsplit

import asyncpg
import msgspec
import structlog
from uvicorn.supervisors import Multiprocess

from app.brp.problems import PROBLEM_MEDIA_TYPE, service_unavailable
from app.draining import Drain
from app.logging import configure_logging
from app.settings import Settings
from app.telemetry import (
    MULTIPROCESS_DIR,
    OtlpExport,
    TracingConfigError,
    otlp_export_from_environment,
    shared_between_processes,
)
from app.tuning import freeze_startup_heap, size_tls_read_buffers, thaw_startup_heap

__all__ = [
    "StartupError",
    "WorkersWithOwnListeners",
    "require_free_port",
    "reuse_port_listener",
    "run_broker",
    "tcp_listener",
    "usable_cpus",
    "uvicorn_config",
]

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Send = Callable[[_Message], Awaitable[None]]
_ASGIApp = Callable[..., Awaitable[None]]
_SignalHandler = Callable[[int, FrameType | None], Any]

# What the lifespan's first queries raise on a database that `brp-broker migrate` has not (fully) set up.
_SCHEMA_ERRORS: Final = (
    asyncpg.UndefinedTableError,
    asyncpg.UndefinedColumnError,
    asyncpg.UndefinedFunctionError,
    asyncpg.InvalidSchemaNameError,
)

# uvicorn's exit status when the app's lifespan or the bind failed (uvicorn.config.STARTUP_FAILURE).
_STARTUP_FAILURE: Final = 3
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
_CONNECTION_CLOSE: Final = (b"connection", b"close")
# How long the lifespan's end waits for cancelled requests to write their protocol records.
_CANCELLED_REQUESTS_SECONDS: Final = 10.0
_STOPPING: Final = service_unavailable(
    "brokerStopping", "De broker stopt; stuur het verzoek opnieuw.", retry_after=1
)

_log = structlog.get_logger("app.server")


class StartupError(Exception):
    """The broker (or the sandbox of `dev`) cannot start; `str()` is the one line the operator sees."""


def require_free_port(host: str, port: int, setting: str) -> None:
    """Raise `StartupError` naming `setting` unless this process could listen on `host:port` now.

    Port 0 (the OS picks one) always passes. Binds the way uvicorn does (SO_REUSEADDR), so a port
    in TIME_WAIT passes and a port something listens on does not.
    """
    if port == 0:
        return
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from None
    for family, kind, protocol, _name, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise StartupError(_bind_failure(host, port, setting, exc)) from None


def _bind_failure(host: str, port: int, setting: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is in use (another `make dev`?): stop that, "
            f"or set {setting} to a free port"
        )
    return f"cannot listen on {host}:{port} ({exc.strerror}): check {setting}"


def run_broker(settings: Settings) -> None:
    """Serve the broker until SIGINT/SIGTERM, then stop gracefully; `StartupError` if it cannot start."""
    require_free_port(settings.host, settings.port, "BROKER_PORT")
    try:
        export = otlp_export_from_environment(os.environ)
    except TracingConfigError as exc:
        raise StartupError(str(exc)) from None
    if export is not None:
        _log.info(
            "traces_exported",
            collector=urlsplit(export.endpoint).hostname,  # never the URL: it may carry credentials
            service_name=export.service_name,
            sample_ratio=export.sample_ratio,
        )
    if settings.workers > 1:
        _serve_workers(settings, export)
    else:
        _serve_in_process(settings, export)


def _serve_in_process(settings: Settings, export: OtlpExport | None) -> None:
    import uvicorn

    app = _BrokerApp(settings, export)()
    server = uvicorn.Server(uvicorn_config(settings, app))
    try:
        server.run()
    except SystemExit as exit_:
        if server.started or exit_.code != _STARTUP_FAILURE:
            raise
        raise StartupError(_startup_failure(app.error, settings)) from None


def _serve_workers(settings: Settings, export: OtlpExport | None) -> None:
    """`settings.workers` processes under uvicorn's supervisor (which restarts a dead one)."""
    if settings.workers > (cpus := usable_cpus()):
        # Each worker is CPU-bound under load; beyond the CPUs they only take turns. Measured
        # (README, Performance): four workers on two cores served ~30 % less than two.
        _log.warning("workers_exceed_cpus", workers=settings.workers, cpus=cpus)
    failures, report = multiprocessing.get_context("spawn").Pipe(duplex=False)
    factory = _BrokerApp(settings, export, report)
    config = uvicorn_config(settings, factory, workers=settings.workers, factory=True)
    listeners: list[socket.socket] = []
    try:
        if _listener_per_worker(config):
            # Bound once here, so a port taken meanwhile fails now, in one line, not in each worker.
            reuse_port_listener(config).close()
            supervisor: Multiprocess = WorkersWithOwnListeners(config)
            _log.info("workers_listen", host=config.host, port=config.port, listeners="one per worker")
        else:
            listeners.append(tcp_listener(config))
            supervisor = Multiprocess(config, sockets=listeners)
    except (SystemExit, OSError):  # uvicorn logged why, or the bind said it
        raise StartupError(
            f"the broker could not listen on {settings.host}:{settings.port} (see the log line above)"
        ) from None
    try:
        with _shared_metrics():
            supervisor.run()
    finally:
        for listener in listeners:
            listener.close()
    if any(process.exitcode == _STARTUP_FAILURE for process in supervisor.processes):
        reason = failures.recv() if failures.poll() else "a worker did not start (see the log above)"
        raise StartupError(reason)


def usable_cpus() -> int:
    """The CPUs this process may run on: its CPU affinity where the system keeps one.

    A container's CPU quota (cgroups) is not read: in Kubernetes the broker runs one worker per pod.
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _listener_per_worker(config: Any) -> bool:
    # Linux spreads a SO_REUSEPORT group's connections over its sockets; other systems may hand
    # them all to one. Port 0 would give every worker a port of its own.
    return sys.platform == "linux" and config.uds is None and config.fd is None and config.port != 0


def reuse_port_listener(config: Any) -> socket.socket:
    """A TCP socket bound to the configured address in its SO_REUSEPORT group; the worker listens.

    Made as uvicorn's `bind_socket` makes one (IPv6 when the host has a colon, SO_REUSEADDR,
    inheritable), but with protocol IPPROTO_TCP (see `tcp_listener`) and SO_REUSEPORT.
    """
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((config.host, config.port))
    except OSError as exc:
        listener.close()
        _log.error("listen_failed", host=config.host, port=config.port, error=exc.strerror or str(exc))
        raise
    listener.set_inheritable(True)
    return listener


class WorkersWithOwnListeners(Multiprocess):
    """uvicorn's supervisor, giving every worker it starts or restarts a listening socket of its own.

    With one shared socket the kernel wakes the worker that waited last, and asyncio then accepts
    every queued connection at once: under wrk, one of two workers did nearly all the work of a
    whole run while the other idled. Sockets in a SO_REUSEPORT group each have
    their own queue, and Linux spreads new connections over them by a hash of the addresses.
    uvicorn reads `sockets` each time it starts a worker; here that read binds a new socket.
    """

    def __init__(self, config: Any) -> None:
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        """A new socket for the worker about to start.

        multiprocessing drops a started process's arguments in the parent, so the socket then lives
        in that worker alone and closes with it: no connection waits in a dead worker's queue.
        """
        return [reuse_port_listener(self.config)]

    @sockets.setter
    def sockets(self, shared: list[socket.socket]) -> None:
        """uvicorn's constructor stores the shared list here; every worker gets its own instead."""


def tcp_listener(config: Any) -> socket.socket:
    """uvicorn's listening socket for the workers, marked as TCP so every connection gets TCP_NODELAY.

    uvicorn creates it with protocol 0, and asyncio sets TCP_NODELAY only on sockets whose protocol
    is IPPROTO_TCP. Without it each response, written in two parts (headers, body), waited for the
    client's delayed ACK (~40 ms): two workers answered a quarter of what one process did.
    """
    listener: socket.socket = config.bind_socket()
    if listener.family in (socket.AF_INET, socket.AF_INET6) and listener.proto == 0:
        return socket.socket(listener.family, listener.type, socket.IPPROTO_TCP, fileno=listener.detach())
    return listener


@contextlib.contextmanager
def _shared_metrics() -> Iterator[None]:
    """A folder the workers share their metrics through (`app.telemetry.metrics`), for this run.

    Set before the workers start: prometheus-client picks its mode when a worker imports it. An
    operator's own `PROMETHEUS_MULTIPROC_DIR` (emptied before each start) is used as it is.
    """
    if shared_between_processes():
        yield
        return
    with tempfile.TemporaryDirectory(prefix="brp-broker-metrics-") as folder:
        os.environ[MULTIPROCESS_DIR] = folder
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]


def uvicorn_config(settings: Settings, app: Any, **options: Any) -> Any:
    """How the broker's processes are served: httptools, `settings.event_loop`, no access log, ours."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        http="httptools",
        loop=settings.event_loop,
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_drain_seconds,
        **options,
    )


def _startup_failure(error: BaseException | None, settings: Settings) -> str:
    if error is None:  # the lifespan started; the bind failed (uvicorn logged why)
        return f"the broker could not listen on {settings.host}:{settings.port} (see the log line above)"
    return _describe(error)


def _describe(error: BaseException) -> str:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]  # the lifespan's own exception, not the task group around it
    detail = " ".join(str(error).split()) or "no detail"
    cause = f"{type(error).__name__}: {detail}"
    if isinstance(error, _SCHEMA_ERRORS):
        cause = f"the database has no broker schema, or an older one (run `brp-broker migrate`): {cause}"
    return f"the broker did not start: {cause}"


class _BrokerApp:
    """Builds the broker's served app in the process that serves it.

    Plain data (settings, the trace export, the end of a pipe), so uvicorn can pickle it into each
    worker, where it is called once (uvicorn's `factory=True`). A worker reports a failed start
    through `report` as its one line, and exits with uvicorn's startup-failure status.
    """

    __slots__ = ("export", "report", "settings")

    def __init__(
        self, settings: Settings, export: OtlpExport | None, report: Connection | None = None
    ) -> None:
        self.settings = settings
        self.export = export
        self.report = report

    def __call__(self) -> _LifespanWatch:
        from app.main import create_app

        settings, export = self.settings, self.export
        size_tls_read_buffers()  # this process's own connections, to RvIG and its identity providers
        if self.report is not None:  # a worker: a new process, whose logging is not set up yet
            configure_logging(settings.log_level, settings.log_format)
        drain = Drain()
        try:
            app = create_app(
                settings,
                span_exporter=export.exporter() if export is not None else None,
                service_name=export.service_name if export is not None else "brp-broker",
                sample_ratio=export.sample_ratio if export is not None else 1.0,
                drain=drain,
            )
        except Exception as exc:
            if self.report is None:
                raise StartupError(_describe(exc)) from None
            self._report(exc)
            sys.exit(_STARTUP_FAILURE)  # a worker that cannot start must not be restarted forever
        stoppable = _GracefulStop(app, drain, settings.shutdown_delay_seconds)
        return _LifespanWatch(stoppable, on_failure=self._report)

    def _report(self, error: BaseException) -> None:
        """Tell the parent why this worker cannot start (uvicorn then exits it as a startup failure)."""
        if self.report is not None:
            self.report.send(_describe(error))


class _LifespanWatch:
    """The app, plus the exception its lifespan raised when starting (uvicorn only logs that one did)."""

    __slots__ = ("app", "error", "on_failure")

    def __init__(self, app: _ASGIApp, on_failure: Callable[[BaseException], None] | None = None) -> None:
        self.app = app
        self.error: BaseException | None = None
        self.on_failure = on_failure

    async def __call__(self, scope: _Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: _Message) -> None:
            nonlocal started
            if message["type"] == "lifespan.startup.complete" and not started:
                started = True
                freeze_startup_heap()
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except BaseException as exc:
            self.error = exc
            if not started and self.on_failure is not None and isinstance(exc, Exception):
                self.on_failure(exc)
            raise
        finally:
            if started:
                thaw_startup_heap()


class _GracefulStop:
    """The app, stopped gracefully on SIGTERM/SIGINT (see the module docstring).

    uvicorn installs its own handlers for both signals before the lifespan starts; once the app
    has started, this wraps them: the first signal marks the process draining at once and calls
    uvicorn's handler `delay` seconds later (on the event loop); a second one calls it at once. The
    wrapping is undone when the lifespan ends. Outside the main thread (an app in a test's
    thread) no signal is touched.
    """

    __slots__ = ("_active", "_delay", "_drain", "_idle", "_installed", "_stopping", "app")

    def __init__(self, app: _ASGIApp, drain: Drain, delay: float) -> None:
        self.app = app
        self._drain = drain
        self._delay = delay
        self._installed: dict[int, tuple[_SignalHandler, _SignalHandler]] = {}
        self._stopping = False
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, scope: _Scope, receive: Any, send: _Send) -> None:
        if scope["type"] == "http":
            await self._request(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _request(self, scope: _Scope, receive: Any, send: _Send) -> None:
        started = False

        async def send_draining(message: _Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if self._drain.draining:
                    # Clients must not reuse the connection: the listener is about to close.
                    message = {**message, "headers": [*message.get("headers", ()), _CONNECTION_CLOSE]}
            await send(message)

        self._active += 1
        self._idle.clear()
        try:
            await self.app(scope, receive, send_draining)
        except asyncio.CancelledError:
            if not self._drain.draining:
                raise
            # uvicorn cancels what still runs when the drain bound is reached (the pipeline has
            # protocolled it as 499): answer a clear 503 instead of its bare 500 and traceback.
            if not started:
                await _send_stopping(scope, send)
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    async def _lifespan(self, scope: _Scope, receive: Any, send: _Send) -> None:
        loop = asyncio.get_running_loop()

        async def send_and_intercept(message: _Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self._intercept(loop)
            await send(message)

        async def receive_after_requests() -> _Message:
            message: _Message = await receive()
            if message["type"] == "lifespan.shutdown":
                # uvicorn does not wait for the requests it cancelled: let them leave their
                # protocol records before the writer stops.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), _CANCELLED_REQUESTS_SECONDS)
            return message

        try:
            await self.app(scope, receive_after_requests, send_and_intercept)
        finally:
            self._release()

    def _intercept(self, loop: asyncio.AbstractEventLoop) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _STOP_SIGNALS:
            server_handler = signal.getsignal(signum)
            if not callable(server_handler):
                continue
            ours = functools.partial(self._on_signal, loop, server_handler)
            signal.signal(signum, ours)
            self._installed[signum] = (server_handler, ours)

    def _release(self) -> None:
        for signum, (server_handler, ours) in self._installed.items():
            if signal.getsignal(signum) is ours:
                signal.signal(signum, server_handler)
        self._installed.clear()

    def _on_signal(
        self,
        loop: asyncio.AbstractEventLoop,
        server_handler: _SignalHandler,
        signum: int,
        frame: FrameType | None,
    ) -> None:
        """The signal handler (main thread, between two bytecodes): only flags and a loop callback."""
        second = self._drain.draining
        self._drain.begin()
        if second or self._delay <= 0:
            self._stopping = True
            server_handler(signum, frame)
            return
        loop.call_soon_threadsafe(self._stop_later, loop, server_handler, signum)

    def _stop_later(
        self, loop: asyncio.AbstractEventLoop, server_handler: _SignalHandler, signum: int
    ) -> None:
        _log.info("shutdown_draining", delay_seconds=self._delay)
        loop.call_later(self._delay, self._stop_after_delay, server_handler, signum)

    def _stop_after_delay(self, server_handler: _SignalHandler, signum: int) -> None:
        if not self._stopping:  # a second signal stopped it already
            self._stopping = True
            server_handler(signum, None)


async def _send_stopping(scope: _Scope, send: _Send) -> None:
    """503 `brokerStopping` (problem+json, Retry-After): the request was cancelled at the drain bound."""
    body = msgspec.json.encode(_STOPPING.problem.at(str(scope.get("path", ""))))
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in _STOPPING.headers.items()),
        _CONNECTION_CLOSE,
    ]
    await send({"type": "http.response.start", "status": _STOPPING.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
