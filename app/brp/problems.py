"""RvIG's problem+json shape (RFC 9457) and the problems the BRP API defines.

This module owns the wire format of every error the broker or the sandbox returns: the fields,
their order, RvIG's `type` URIs, titles and codes (DOMAIN.md §6). Domain code raises
`ProblemError`; only `app.errors` turns it into an HTTP response.

A problem must never carry person data, a token or a secret: `detail` and `reason` are fixed
texts or name parameters, never their values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "InvalidParam",
    "Problem",
    "ProblemError",
    "bad_gateway",
    "bad_request",
    "forbidden",
    "gateway_timeout",
    "internal_error",
    "invalid_json",
    "method_not_allowed",
    "not_acceptable",
    "not_found",
    "request_too_large",
    "service_unavailable",
    "too_many_requests",
    "too_many_results",
    "type_for_status",
    "unauthenticated",
    "unsupported_media_type",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"

_RFC7231 = "https://datatracker.ietf.org/doc/html/rfc7231#section-"
_TYPES: Mapping[int, str] = {
    400: _RFC7231 + "6.5.1",
    401: "https://datatracker.ietf.org/doc/html/rfc7235#section-3.1",
    403: _RFC7231 + "6.5.3",
    404: _RFC7231 + "6.5.4",
    405: _RFC7231 + "6.5.5",
    406: _RFC7231 + "6.5.6",
    413: _RFC7231 + "6.5.11",
    415: _RFC7231 + "6.5.13",
    429: "https://datatracker.ietf.org/doc/html/rfc6585#section-4",
    500: _RFC7231 + "6.6.1",
    502: _RFC7231 + "6.6.3",
    503: _RFC7231 + "6.6.4",
    504: _RFC7231 + "6.6.5",
}

_MEDIA_DETAIL = "Ondersteunde content type: application/json; charset=utf-8."


class InvalidParam(msgspec.Struct, frozen=True, omit_defaults=True):
    """One invalid parameter: `name` is a JSON path such as `burgerservicenummer[0]`."""

    code: str
    name: str
    reason: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True, rename={"invalid_params": "invalidParams"}):
    """A problem+json body in RvIG's shape; `instance` is the request path."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = None
    invalid_params: tuple[InvalidParam, ...] | None = None

    def at(self, instance: str) -> Problem:
        """The same problem with `instance` set to the given request path."""
        return msgspec.structs.replace(self, instance=instance)


class ProblemError(Exception):
    """An error a client can cause or must be told about, carried as a value to `app.errors`.

    `headers` holds response headers that belong to the problem (`Retry-After`, ...).
    """

    def __init__(self, problem: Problem, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{problem.status} {problem.code or problem.title}")
        self.problem = problem
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def status(self) -> int:
        """The HTTP status of the problem."""
        return self.problem.status


def type_for_status(status: int) -> str:
    """RvIG's `type` URI for an HTTP status (the RFC 7231 section of that status)."""
    return _TYPES.get(status, _TYPES[500] if status >= 500 else _TYPES[400])


def _problem(status: int, title: str, code: str | None, detail: str | None = None) -> Problem:
    return Problem(type=type_for_status(status), title=title, status=status, detail=detail, code=code)


def bad_request(invalid_params: Iterable[InvalidParam]) -> ProblemError:
    """400 `paramsValidation` listing every invalid parameter at once, as RvIG does."""
    params = tuple(invalid_params)
    names = ", ".join(p.name for p in params)
    problem = Problem(
        type=type_for_status(400),
        title="Een of meerdere parameters zijn niet correct.",
        status=400,
        detail=f"De foutieve parameter(s) zijn: {names}.",
        code="paramsValidation",
        invalid_params=params,
    )
    return ProblemError(problem)


def invalid_json() -> ProblemError:
    """400 for a body that is not JSON (RvIG gives it no `code`)."""
    return ProblemError(
        _problem(400, "De bevraging bevat een fout.", None, "Request body is geen geldige JSON.")
    )


def request_too_large(limit: int | None) -> ProblemError:
    """413: the body is larger than any valid BRP query."""
    detail = f"De body is groter dan {limit} bytes." if limit else "De body is groter dan toegestaan."
    return ProblemError(_problem(413, "De bevraging is te groot.", "requestTooLarge", detail))


def too_many_results(maximum: int) -> ProblemError:
    """400 `tooManyResults` for a search above RvIG's maximum."""
    detail = f"Meer dan maximum van {maximum} zoekresultaten gevonden. Verfijn de zoekopdracht."
    return ProblemError(_problem(400, "Teveel zoekresultaten.", "tooManyResults", detail))


def unauthenticated(detail: str | None = None) -> ProblemError:
    """401 `authentication`: no or no valid bearer token."""
    return ProblemError(
        _problem(401, "Niet correct geauthenticeerd.", "authentication", detail),
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(code: str, title: str, detail: str | None = None) -> ProblemError:
    """403 with one of RvIG's codes: `unauthorized`, `unauthorizedParameter`, `unauthorizedField`."""
    return ProblemError(_problem(403, title, code, detail))


def not_found() -> ProblemError:
    """404 for an unknown path."""
    return ProblemError(_problem(404, "Opgevraagde resource bestaat niet.", None))


def method_not_allowed() -> ProblemError:
    """405: the BRP APIs accept POST only."""
    return ProblemError(
        _problem(405, "Gebruikte bevragingsmethode is niet toegestaan.", "methodNotAllowed"),
        headers={"Allow": "POST"},
    )


def not_acceptable() -> ProblemError:
    """406 for an `Accept` header other than JSON."""
    return ProblemError(
        _problem(406, "Gevraagde content type wordt niet ondersteund.", "notAcceptable", _MEDIA_DETAIL)
    )


def unsupported_media_type() -> ProblemError:
    """415 for a `Content-Type` other than JSON in UTF-8."""
    return ProblemError(
        _problem(415, "Media Type wordt niet ondersteund.", "unsupportedMediaType", _MEDIA_DETAIL)
    )


def too_many_requests(retry_after: int, detail: str | None = None) -> ProblemError:
    """429 `tooManyRequests` with `Retry-After` in whole seconds."""
    return ProblemError(
        _problem(429, "Te veel verzoeken.", "tooManyRequests", detail),
        headers={"Retry-After": str(max(1, retry_after))},
    )


def internal_error() -> ProblemError:
    """500 that tells nothing about the cause."""
    return ProblemError(_problem(500, "Internal Server error.", "serverError"))


def service_unavailable(code: str, detail: str, retry_after: int | None = None) -> ProblemError:
    """503: a dependency (database, token endpoint, RvIG connection) is not available."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return ProblemError(
        _problem(503, "Bronservice is tijdelijk niet beschikbaar.", code, detail), headers=headers
    )


def bad_gateway(code: str, detail: str) -> ProblemError:
    """502: RvIG answered in a way that points at the broker's own configuration."""
    return ProblemError(_problem(502, "Bronservice gaf een onverwacht antwoord.", code, detail))


def gateway_timeout(detail: str) -> ProblemError:
    """504: RvIG did not answer in time."""
    return ProblemError(_problem(504, "Bronservice antwoordde niet op tijd.", "upstreamTimeout", detail))
