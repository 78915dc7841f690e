"""Label values for metrics: each kind of label has a shape, and nothing else gets through.

A label value is exported to every dashboard and kept for months, so it must never be person data
(a BSN, a name, an address), an employee id, a token or free text. Every value passes
`clean_label(kind, value)`:

- it must match the shape of its kind (a tenant slug, a six-digit AfnemerID, an RvIG problem
  code, ...) — no spaces, no `@`, no diacritics, at most 64 characters, so a name, a street with a
  house number, an e-mail address or a sentence is refused;
- whatever the kind, a run of nine or more digits is refused: a BSN can never become a label value.

A refused value becomes `INVALID`; the value itself goes nowhere (not even to the log).
This is a check on shape, not on meaning: the callers pass identifiers of the broker's own
configuration (tenant, afnemer, environment) and closed vocabularies (API, query type, status).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

__all__ = ["INVALID", "NO_VALUE", "LabelKind", "clean_label"]

INVALID: Final = "invalid"
"""What a refused label value becomes."""

NO_VALUE: Final = ""
"""What `None` becomes: not known for this request (e.g. no tenant before authentication)."""

# A BSN is nine digits; refuse any run of nine or more, whatever the label.
_NINE_DIGITS: Final = re.compile(r"[0-9]{9}")


class LabelKind(StrEnum):
    """The kinds of label value the broker's metrics carry; the value is the label name."""

    TENANT = "tenant"
    API = "api"
    QUERY_TYPE = "query_type"
    STATUS = "status"
    STATUS_CLASS = "status_class"
    PROBLEM_CODE = "problem_code"
    ENVIRONMENT = "environment"
    AFNEMER_ID = "afnemer_id"
    OUTCOME = "outcome"
    KEY_KIND = "key_kind"
    IDENTITY = "identity"


_SHAPES: Final[dict[LabelKind, re.Pattern[str]]] = {
    # The slug rule of tenancy/files.py, kept here too so telemetry stays domain-free.
    LabelKind.TENANT: re.compile(r"[a-z0-9][a-z0-9-]{0,62}"),
    LabelKind.API: re.compile(r"[a-z][a-z0-9_-]{0,31}"),
    # A query's `type` (RvIG's own names, e.g. RaadpleegMetBurgerservicenummer).
    LabelKind.QUERY_TYPE: re.compile(r"[A-Z][A-Za-z0-9]{0,63}"),
    # HTTP status, or what happened instead of a response (timeout, unreachable).
    LabelKind.STATUS: re.compile(r"[1-5][0-9][0-9]|[a-z]{1,16}"),
    # A histogram carries the class (2xx, 4xx, 5xx), not the status: buckets multiply labels.
    LabelKind.STATUS_CLASS: re.compile(r"[1-5]xx"),
    # RvIG's problem codes and the broker's own (paramsValidation, tokenUnavailable, ...).
    LabelKind.PROBLEM_CODE: re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}"),
    LabelKind.ENVIRONMENT: re.compile(r"[a-z][a-z0-9_-]{0,31}"),
    LabelKind.AFNEMER_ID: re.compile(r"[0-9]{6}"),
    LabelKind.OUTCOME: re.compile(r"[a-z][a-z_]{0,31}"),
    LabelKind.KEY_KIND: re.compile(r"[a-z][a-z_]{0,31}"),
    # The name of one of the broker's OIN identities (settings), e.g. `supplier`.
    LabelKind.IDENTITY: re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"),
}


def clean_label(kind: LabelKind, value: str | int | None) -> str:
    """`value` as a label value of `kind`, or `INVALID` when it does not have that shape.

    `None` becomes `NO_VALUE`; an `int` is taken in its decimal form (HTTP status).
    """
    if value is None:
        return NO_VALUE
    text = str(value) if isinstance(value, int) else value
    if not isinstance(text, str) or _NINE_DIGITS.search(text):
        return INVALID
    return text if _SHAPES[kind].fullmatch(text) else INVALID
