"""Random request ids for tests, which pass the broker's redaction unchanged.

The broker redacts every standalone run of nine digits in its logs and spans (it could be a BSN).
Random hex holds such a run in about one of forty 16-character ids, so a test that compares a hex
id after it passed a log line or a span fails now and then. These ids have no digits.
"""

from __future__ import annotations

import secrets

__all__ = ["request_id"]

_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def request_id(prefix: str) -> str:
    """`prefix-` and 16 random letters (64 bits, as `secrets.token_hex(8)`)."""
    return f"{prefix}-{secrets.token_hex(8).translate(_NO_DIGITS)}"
