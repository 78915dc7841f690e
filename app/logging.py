"""Structured logging: JSON lines (or readable console output on a TTY), one redaction processor.

Every event, from our own code and from libraries through the standard `logging` module, passes
`redact` before it is rendered. It removes secrets and tokens by key, bearer tokens and JWTs by
shape, and every value that looks like a BSN (nine digits); a value of any other type is redacted
in the form it is rendered in (its repr). Redaction is the last line of defence, not the first:
code must not log person data in the first place.

Our own lines take structlog's short path, which matters on the data path (one line per request):
a line below the level costs one comparison and no processor, and a line above it runs the
processors and is written, without a round trip through the standard library's `LogRecord`,
handler and formatter. Libraries' lines come through a `logging.Handler` into the same processors
and the same output, so both kinds of line are alike and never interleave.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import msgspec
import structlog
from structlog.types import EventDict, Processor, WrappedLogger

__all__ = ["REDACTED", "configure_logging", "redact", "redact_value"]

REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|authorization|api[-_]?key|credential|private[-_]?key|cookie)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/=]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# A BSN is nine digits; redact any standalone run of nine digits, whatever it is.
_BSN = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")
# Whether any of the patterns above could match: one search instead of four substitutions for the
# many values (methods, paths, names) that hold none of them.
_MAY_HOLD_SECRET = re.compile(r"(?i)bearer|basic|eyj|://|[0-9]{9}")
_TRACEBACK = "Traceback (most recent call last)"
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def redact_value(value: Any) -> Any:
    """Return `value` with secrets, tokens and BSN-like numbers replaced, recursing into containers.

    Values of other types than text, numbers and containers come back as their redacted repr:
    that is how they would be rendered, and a repr can quote anything the object holds.
    """
    if isinstance(value, str):
        return _redact_text(value)
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return REDACTED if 100_000_000 <= abs(value) <= 999_999_999 else value
    if isinstance(value, Mapping):
        return {k: (REDACTED if _is_secret_key(k) else redact_value(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    return _redact_text(repr(value))


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _secret_key_name(key)


@functools.lru_cache(maxsize=1024)
def _secret_key_name(key: str) -> bool:
    # Event keys are a small, fixed vocabulary: each is judged once.
    return _SECRET_KEY.search(key) is not None


def _redact_text(text: str) -> str:
    if _MAY_HOLD_SECRET.search(text) is None:
        return text
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _PASSWORD_IN_URL.sub(rf"\1{REDACTED}@", text)
    return _BSN.sub(REDACTED, text)


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact every key and value of the event."""
    for key in list(event_dict):
        event_dict[key] = REDACTED if _is_secret_key(key) else redact_value(event_dict[key])
    return event_dict


def _drop_exception_text(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # Tracebacks and exception messages can quote request bodies; keep only the type.
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            event_dict["exception_type"] = type(exc_info).__qualname__
        elif isinstance(exc_info, tuple) and exc_info[0] is not None:
            event_dict["exception_type"] = exc_info[0].__qualname__
    event_dict.pop("exception", None)
    event_dict.pop("stack_info", None)
    # Some libraries (uvicorn on a failed startup) format the traceback into the message itself.
    event = event_dict.get("event")
    if isinstance(event, str) and _TRACEBACK in event:
        event_dict["event"] = event.split(_TRACEBACK, 1)[0].rstrip(" +|-\n") or "exception"
        event_dict["traceback_removed"] = True
    return event_dict


_Renderer = Callable[[WrappedLogger, str, EventDict], str]

# After `redact` every value is text, a number, a bool, None or a container of those.
_JSON = msgspec.json.Encoder()


def _render_json(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> str:
    return _JSON.encode(event_dict).decode()


class _Output:
    """Where lines go and which pass, as `configure_logging` last set it.

    Read on every line, so that loggers structlog has cached (on first use) follow a new
    configuration (tests reconfigure; a worker configures after its parent). Lines are written
    whole, each flushed, in order, from any thread.
    """

    __slots__ = ("_lock", "renderer", "stream", "threshold")

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr
        self.renderer: _Renderer = _render_json
        self.threshold = logging.INFO
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        """Write one line and flush it."""
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


_OUTPUT = _Output()


def _render(logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
    return _OUTPUT.renderer(logger, method, event_dict)


# Level, logger name and timestamp are ours and overwrite any such key of the caller's, so they
# are added after `redact`: it need not look at them.
_PROCESSORS: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    _drop_exception_text,
    redact,
    structlog.processors.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _render,
]


class _LineLogger:
    """What structlog's bound loggers wrap: a name (the `logger` key) and the output."""

    __slots__ = ("name",)

    def __init__(self, name: str = "root") -> None:
        self.name = name

    def msg(self, line: str) -> None:
        """Write one rendered line (structlog calls the method named like the level)."""
        _OUTPUT.write(line)

    debug = info = warning = error = critical = msg


class _BoundLogger(structlog.BoundLoggerBase):
    """structlog's bound logger for our lines: one below the level returns before any processor."""

    def _line(self, level: int, event: str, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
        if level >= _OUTPUT.threshold:
            self._proxy_to_logger(_LEVEL_NAMES[level], event % args if args else event, **kw)

    def debug(self, event: str, *args: Any, **kw: Any) -> None:
        """Log `event` at debug level."""
        self._line(logging.DEBUG, event, args, kw)

    def info(self, event: str, *args: Any, **kw: Any) -> None:
        """Log `event` at info level."""
        self._line(logging.INFO, event, args, kw)

    def warning(self, event: str, *args: Any, **kw: Any) -> None:
        """Log `event` at warning level."""
        self._line(logging.WARNING, event, args, kw)

    def error(self, event: str, *args: Any, **kw: Any) -> None:
        """Log `event` at error level."""
        self._line(logging.ERROR, event, args, kw)

    def exception(self, event: str, *args: Any, **kw: Any) -> None:
        """Log `event` at error level with the type of the exception being handled."""
        kw.setdefault("exc_info", True)
        self._line(logging.ERROR, event, args, kw)

    def critical(self, event: str, *args: Any, **kw: Any) -> None:
        """Log `event` at critical level."""
        self._line(logging.CRITICAL, event, args, kw)


_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


class _LibraryLines(logging.Handler):
    """The standard library's records (uvicorn, asyncpg, ...) through the same processors and output."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event: Any = {"event": record.getMessage()}
            if record.exc_info:
                event["exc_info"] = record.exc_info
            logger, method = _LineLogger(record.name), record.levelname.lower()
            for processor in _PROCESSORS:
                event = processor(logger, method, event)
            _OUTPUT.write(event)
        except Exception:
            self.handleError(record)


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library through the redacting processors to one stream."""
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    _OUTPUT.stream = out
    _OUTPUT.renderer = structlog.dev.ConsoleRenderer(colors=False) if use_console else _render_json
    _OUTPUT.threshold = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=_PROCESSORS,
        logger_factory=_LineLogger,
        wrapper_class=_BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers[:] = [_LibraryLines()]
    root.setLevel(_OUTPUT.threshold)
    # Uvicorn's access log repeats what our request log says, without the correlation id;
    # httpx logs every request line at INFO, which our upstream_call event already covers.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
