"""`CallerHeaders`: the caller's own statements about a request, checked before anything else uses them.

This module owns the syntax of the inbound `x-*` headers (DESIGN.md, "Interfaces") and who the
employee of a request is. Every invalid header is reported at once in one 400 `paramsValidation`
problem in RvIG's shape, `name` being the header name; reasons name the rule, never the value.

| header          | rule                                                                   |
|-----------------|------------------------------------------------------------------------|
| `x-doelbinding` | ≤ 242 characters (`maxLength`), no control characters (`pattern`)      |
| `x-verwerking`  | ≤ 242 characters, no control characters, at most one `@` (`pattern`)  |
| `x-gebruiker`   | ≤ 242 characters, no control characters; `required` for application tokens |
| `x-origin-oin`  | an OIN: 20 digits (`pattern`)                                          |
| `x-afnemer-id`  | an AfnemerID: 6 digits (`pattern`)                                     |

Choices:
- An empty or blank header counts as absent (as RvIG treats blank required parameters).
- A header sent twice is refused (`value`): which of two doelbindingen applies is not for the
  broker to guess, and the protocol must record exactly one.
- Values are read as UTF-8 (what clients send for names with accents); bytes that are not UTF-8
  are kept as ISO-8859-1, HTTP's historical charset.
- `x-gebruiker` and user tokens: the employee in the token is authoritative and `x-gebruiker` is
  only checked for syntax, then ignored. Clients such as zaaksystemen send their own user name
  there, which need not be the identity provider's employee id; refusing a mismatch would break
  them, and nothing downstream reads the header, only `CallerHeaders.gebruiker`.
- Application tokens (no employee claim) must name the employee in `x-gebruiker`; it is an
  assertion of the tenant's task application, so `Principal.kind` stays `"application"` and
  policy decides how far it trusts it.

It never logs, and never puts a header value in an error.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec
from litestar.datastructures import Headers

from app.brp.problems import InvalidParam, bad_request
from app.identity.principal import Principal

__all__ = [
    "AFNEMER_ID_PATTERN",
    "MAX_TEXT_LENGTH",
    "OIN_PATTERN",
    "TEXT_PATTERN",
    "VERWERKING_PATTERN",
    "CallerHeaders",
    "parse_caller_headers",
]

MAX_TEXT_LENGTH: Final = 242
# Patterns as the reason echoes them, RvIG-style; `\x7F-\x9F` are the C1 controls and DEL.
TEXT_PATTERN: Final = r"^[^\x00-\x1F\x7F-\x9F]*$"
VERWERKING_PATTERN: Final = r"^[^@\x00-\x1F\x7F-\x9F]*@?[^@\x00-\x1F\x7F-\x9F]*$"
OIN_PATTERN: Final = r"^[0-9]{20}$"
AFNEMER_ID_PATTERN: Final = r"^[0-9]{6}$"

_TEXT: Final = re.compile(TEXT_PATTERN)
_VERWERKING: Final = re.compile(VERWERKING_PATTERN)
_OIN: Final = re.compile(OIN_PATTERN)
_AFNEMER_ID: Final = re.compile(AFNEMER_ID_PATTERN)

_REQUIRED: Final = ("required", "Parameter is verplicht.")
_TWICE: Final = ("value", "Header mag maar één keer voorkomen.")
_TOO_LONG: Final = ("maxLength", f"Waarde is langer dan maximale lengte {MAX_TEXT_LENGTH}.")

# (header, pattern shown, compiled pattern, length limit) in the order problems are reported.
_RULES: Final = (
    ("x-doelbinding", TEXT_PATTERN, _TEXT, MAX_TEXT_LENGTH),
    ("x-verwerking", VERWERKING_PATTERN, _VERWERKING, MAX_TEXT_LENGTH),
    ("x-gebruiker", TEXT_PATTERN, _TEXT, MAX_TEXT_LENGTH),
    ("x-origin-oin", OIN_PATTERN, _OIN, None),
    ("x-afnemer-id", AFNEMER_ID_PATTERN, _AFNEMER_ID, None),
)


class CallerHeaders(msgspec.Struct, frozen=True):
    """The checked `x-*` headers of one request.

    `gebruiker` is the employee the request is made for: the token's employee for a user token,
    `x-gebruiker` for an application token.
    """

    doelbinding: str | None = None
    verwerking: str | None = None
    gebruiker: str | None = None
    origin_oin: str | None = None
    afnemer_id: str | None = None


def parse_caller_headers(headers: Headers, principal: Principal) -> CallerHeaders:
    """The caller headers of a request by `principal`, or `ProblemError` 400 naming each bad header."""
    values: dict[str, str | None] = {}
    problems: list[InvalidParam] = []
    for name, shown, pattern, limit in _RULES:
        value, problem = _checked(headers, name, shown, pattern, limit)
        values[name] = value
        if problem is not None:
            problems.append(problem)
    gebruiker = principal.employee if principal.kind == "user" else values["x-gebruiker"]
    if gebruiker is None and principal.kind == "application" and not _named(problems, "x-gebruiker"):
        problems.append(_param(_REQUIRED, "x-gebruiker"))
    if problems:
        raise bad_request(problems)
    return CallerHeaders(
        doelbinding=values["x-doelbinding"],
        verwerking=values["x-verwerking"],
        gebruiker=gebruiker,
        origin_oin=values["x-origin-oin"],
        afnemer_id=values["x-afnemer-id"],
    )


def _checked(
    headers: Headers, name: str, shown: str, pattern: re.Pattern[str], limit: int | None
) -> tuple[str | None, InvalidParam | None]:
    given = [_as_utf8(v).strip() for v in headers.getall(name, [])]
    present = [v for v in given if v]
    if not present:
        return None, None
    if len(given) > 1:
        return None, _param(_TWICE, name)
    value = present[0]
    if limit is not None and len(value) > limit:
        return None, _param(_TOO_LONG, name)
    if pattern.fullmatch(value) is None:
        return None, InvalidParam(
            code="pattern", name=name, reason=f"Waarde voldoet niet aan patroon {shown}."
        )
    return value, None


def _as_utf8(value: str) -> str:
    # ASGI servers hand header bytes over as ISO-8859-1 text; most clients meant UTF-8.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _param(code_reason: tuple[str, str], name: str) -> InvalidParam:
    return InvalidParam(code=code_reason[0], name=name, reason=code_reason[1])


def _named(problems: list[InvalidParam], name: str) -> bool:
    return any(p.name == name for p in problems)
