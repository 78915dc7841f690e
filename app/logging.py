"""Structured logging: JSON lines (or readable console output on a TTY), one redaction processor.

Every event, from our own code and from libraries through the standard `logging` module, passes
`redact` before it is rendered. It removes secrets and tokens by key, bearer tokens and JWTs by
shape, and every value that looks like a BSN (nine digits). Redaction is the last line of
defence, not the first: code must not log person data in the first place.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

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
    """Return `value` with secrets, tokens and BSN-like numbers replaced, recursing into containers."""
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and 100_000_000 <= abs(value) <= 999_999_999:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: (REDACTED if _is_secret_key(k) else redact_value(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    return value


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


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_exception_text,
        redact,
    ]


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library through the redacting processors to one handler."""
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=False) if use_console else structlog.processors.JSONRenderer()
    )
    shared = _shared_processors()
    structlog.configure(
        # A line below the level is dropped before any processor runs (it cost ~50 µs otherwise).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Uvicorn's access log repeats what our request log says, without the correlation id;
    # httpx logs every request line at INFO, which our upstream_call event already covers.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
