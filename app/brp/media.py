"""RvIG's media-type rules for the `Accept` and `Content-Type` request headers (DOMAIN.md §2).

This module owns which header values the BRP APIs accept; it raises RvIG's 406 / 415 problems.
It must never look at the body or at any other header, and never log header values.

Each header value is compared whole, case- and whitespace-insensitively, as RvIG does: a list such
as `Accept: application/json, text/plain` is not accepted (406). An absent or empty header is
accepted. `Accept` is checked before `Content-Type` (RvIG: 406 before 415).
"""

from __future__ import annotations

from typing import Final

from app.brp.problems import not_acceptable, unsupported_media_type

__all__ = ["ACCEPTED_ACCEPT", "ACCEPTED_CONTENT_TYPES", "RESPONSE_MEDIA_TYPE", "check_media_types"]

# Normalised (lower case, no whitespace) values RvIG accepts.
ACCEPTED_ACCEPT: Final = frozenset(
    {"*/*", "*/*;charset=utf-8", "application/json", "application/json;charset=utf-8"}
)
ACCEPTED_CONTENT_TYPES: Final = frozenset({"application/json", "application/json;charset=utf-8"})

# What RvIG answers with (Personen/Bewoning spec); errors are `application/problem+json`.
RESPONSE_MEDIA_TYPE: Final = "application/json; charset=utf-8"


def check_media_types(content_type: str | None, accept: str | None) -> None:
    """Raise RvIG's 406 for an unsupported `Accept`, else its 415 for an unsupported `Content-Type`."""
    if not _accepted(accept, ACCEPTED_ACCEPT):
        raise not_acceptable()
    if not _accepted(content_type, ACCEPTED_CONTENT_TYPES):
        raise unsupported_media_type()


def _accepted(value: str | None, accepted: frozenset[str]) -> bool:
    normalised = "".join((value or "").split()).lower()
    return not normalised or normalised in accepted
