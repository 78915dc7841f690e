"""Serving the broker with uvicorn, stopping it gracefully, and saying in one line why it could not start.

Owns what happens around the app in the process(es) that serve it:

- Before the first request: that this process can listen on its port (`require_free_port`, also
  used for the sandbox of `dev`), and that the `OTEL_*` variables ask for a trace export the
  broker can make (`app.telemetry.otlp`). uvicorn only logs "Application startup failed" when the
  app's lifespan raises; `run_broker` keeps the exception and raises `StartupError` with its class
  and message instead. Never prints a setting's value that could be a secret.
- Workers: `settings.workers` processes (uvicorn's supervisor, one shared listening socket). Each
  worker builds its own app from the same settings (`_BrokerApp`, which crosses to the worker by
  pickling) with its own pool, protocol writer and tracer; a worker that cannot start reports its
  one line to the parent, which stops the others and raises it.
- Graceful stop (`_GracefulStop`), in every serving process: the first SIGTERM or SIGINT marks the
  process draining at once (`/health/ready` answers 503 `draining`, every response carries
  `Connection: close`); `shutdown_delay_seconds` later uvicorn stops listening and gives the
  requests in flight `shutdown_drain_seconds` to finish (it cancels the rest, which the pipeline
  protocols as 499); then the lifespan stops, so the protocol writer writes every record it
  accepted and the spans are flushed, and the process exits 0. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any, Final
from urllib.parse import urlsplit

import structlog

from app.draining import Drain
from app.logging import configure_logging
from app.settings import Settings
from app.telemetry import OtlpExport, TracingConfigError, otlp_export_from_environment

__all__ = ["StartupError", "require_free_port", "run_broker"]

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Send = Callable[[_Message], Awaitable[None]]
_ASGIApp = Callable[..., Awaitable[None]]
_SignalHandler = Callable[[int, FrameType | None], Any]

# uvicorn's exit status when the app's lifespan or the bind failed (uvicorn.config.STARTUP_FAILURE).
_STARTUP_FAILURE: Final = 3
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
_CONNECTION_CLOSE: Final = (b"connection", b"close")

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
    server = uvicorn.Server(_uvicorn_config(settings, app))
    try:
        server.run()
    except SystemExit as exit_:
        if server.started or exit_.code != _STARTUP_FAILURE:
            raise
        raise StartupError(_startup_failure(app.error, settings)) from None


def _serve_workers(settings: Settings, export: OtlpExport | None) -> None:
    """`settings.workers` processes on one socket, under uvicorn's supervisor (which restarts a dead one)."""
    from uvicorn.supervisors import Multiprocess

    failures, report = multiprocessing.get_context("spawn").Pipe(duplex=False)
    factory = _BrokerApp(settings, export, report)
    config = _uvicorn_config(settings, factory, workers=settings.workers, factory=True)
    try:
        listener = config.bind_socket()
    except SystemExit:  # uvicorn logged why
        raise StartupError(
            f"the broker could not listen on {settings.host}:{settings.port} (see the log line above)"
        ) from None
    supervisor = Multiprocess(config, sockets=[listener])
    try:
        supervisor.run()
    finally:
        listener.close()
    if any(process.exitcode == _STARTUP_FAILURE for process in supervisor.processes):
        reason = failures.recv() if failures.poll() else "a worker did not start (see the log above)"
        raise StartupError(reason)


def _uvicorn_config(settings: Settings, app: Any, **options: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        http="httptools",
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
    return f"the broker did not start: {type(error).__name__}: {detail}"


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
            started = started or message["type"] == "lifespan.startup.complete"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except BaseException as exc:
            self.error = exc
            if not started and self.on_failure is not None and isinstance(exc, Exception):
                self.on_failure(exc)
            raise


class _GracefulStop:
    """The app, stopped gracefully on SIGTERM/SIGINT (see the module docstring).

    uvicorn installs its own handlers for both signals before the lifespan starts; once the app
    has started, this wraps them: the first signal marks the process draining at once and calls
    uvicorn's handler `delay` seconds later (on the event loop); a second one calls it at once. The
    wrapping is undone when the lifespan ends. Outside the main thread (an app in a test's
    thread) no signal is touched.
    """

    __slots__ = ("_delay", "_drain", "_installed", "_stopping", "app")

    def __init__(self, app: _ASGIApp, drain: Drain, delay: float) -> None:
        self.app = app
        self._drain = drain
        self._delay = delay
        self._installed: dict[int, tuple[_SignalHandler, _SignalHandler]] = {}
        self._stopping = False

    async def __call__(self, scope: _Scope, receive: Any, send: _Send) -> None:
        if scope["type"] == "http":
            await self.app(scope, receive, functools.partial(self._send, send))
            return
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()

        async def send_and_intercept(message: _Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self._intercept(loop)
            await send(message)

        try:
            await self.app(scope, receive, send_and_intercept)
        finally:
            self._release()

    async def _send(self, send: _Send, message: _Message) -> None:
        # While draining, clients must not reuse the connection: the listener is about to close.
        if message["type"] == "http.response.start" and self._drain.draining:
            message = {**message, "headers": [*message.get("headers", ()), _CONNECTION_CLOSE]}
        await send(message)

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
