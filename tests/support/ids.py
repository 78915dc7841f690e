"""Random request ids and tenant slugs for tests, which pass the broker's redaction unchanged.

The broker redacts every standalone run of nine digits in its logs and spans (it could be a BSN),
its metrics refuse such a label value, and its tenant validator refuses such a slug. Random hex
holds such a run in about one of forty 16-character ids (one of fifty 10-character ones), so a
test that compares a hex id after it passed a log line, a span or a metric fails now and then.
These ids have no digits.
"""

from __future__ import annotations

import secrets

__all__ = ["request_id", "tenant_slug"]

_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def request_id(prefix: str) -> str:
    """`prefix-` and 16 random letters (64 bits, as `secrets.token_hex(8)`)."""
    return f"{prefix}-{secrets.token_hex(8).translate(_NO_DIGITS)}"


def tenant_slug(prefix: str) -> str:
    """`prefix-` and 10 random letters: a tenant slug no other test uses."""
    return f"{prefix}-{secrets.token_hex(5).translate(_NO_DIGITS)}"
