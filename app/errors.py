"""Every error response is problem+json in RvIG's shape; this is the only place that builds one.

Domain code raises `app.brp.problems.ProblemError`; Litestar's own HTTP exceptions (unknown
route, wrong method, unparseable request) and anything unexpected are mapped here as well. An
unexpected exception is logged with its type only — never its message, which may hold person
data — and answered with a 500 that says nothing about the cause.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
)
from litestar.types import ExceptionHandlersMap

from app.brp.problems import (
    PROBLEM_MEDIA_TYPE,
    InvalidParam,
    Problem,
    ProblemError,
    bad_request,
    internal_error,
    invalid_json,
    method_not_allowed,
    not_found,
    request_too_large,
    type_for_status,
    unauthenticated,
    unsupported_media_type,
)

__all__ = ["exception_handlers", "problem_response", "unexpected_error"]

_log = structlog.get_logger("app.errors")

# Where Litestar says a value it could not convert came from, other than the body.
_PARAMETER_SOURCES = frozenset({"query", "path", "header", "cookie"})


def problem_response(error: ProblemError, path: str) -> Response[bytes]:
    """The HTTP response for a problem, with `instance` set to the request path."""
    problem = error.problem if error.problem.instance else error.problem.at(path)
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=error.headers,
    )


def _on_problem(request: Request[Any, Any, Any], exc: ProblemError) -> Response[bytes]:
    return problem_response(exc, request.url.path)


def _on_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    return problem_response(_problem_for_http_exception(exc), request.url.path)


def _problem_for_http_exception(exc: HTTPException) -> ProblemError:
    if isinstance(exc, NotFoundException):
        return not_found()
    if isinstance(exc, MethodNotAllowedException):
        # The router names the methods the path has (the admin API's are not the gateway's POST).
        refused = method_not_allowed()
        allowed = (exc.headers or {}).get("allow")
        if allowed:
            refused.headers = {"Allow": allowed}
        return refused
    if isinstance(exc, NotAuthorizedException):
        return unauthenticated()
    if exc.status_code == 415:
        return unsupported_media_type()
    if exc.status_code == 413:
        return request_too_large(None)
    if exc.status_code == 400:
        return _problem_for_bad_input(exc)
    if exc.status_code >= 500:
        return internal_error()
    # Any other framework status keeps its code but gets a generic, detail-free body.
    title = "De bevraging bevat een fout."
    return ProblemError(Problem(type=type_for_status(exc.status_code), title=title, status=exc.status_code))


def _problem_for_bad_input(exc: HTTPException) -> ProblemError:
    """Litestar's own 400: a parameter it could not convert is named; anything else is the body."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    names = [
        str(message["key"])
        for message in extra
        if isinstance(message, dict) and "key" in message and message.get("source") in _PARAMETER_SOURCES
    ]
    if not names or len(names) != len(extra):
        return invalid_json()
    # The converter's message can quote the value a client sent: a fixed reason instead.
    return bad_request(
        InvalidParam(code="invalid", name=name, reason="Waarde heeft een ongeldig formaat.") for name in names
    )


def unexpected_error(exc: BaseException, path: str) -> ProblemError:
    """The 500 for an exception nobody foresaw, logged by its type only (never its message)."""
    # The exception's message may quote a request body; log its type only.
    _log.error("unhandled_exception", exception_type=type(exc).__qualname__, path=path)
    return internal_error()


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    return problem_response(unexpected_error(exc, request.url.path), request.url.path)


exception_handlers: ExceptionHandlersMap = {
    ProblemError: _on_problem,
    HTTPException: _on_http_exception,
    Exception: _on_unexpected,
}
