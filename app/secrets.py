"""Secret references: a setting names where a secret lives (`env:NAME`, `file:/path`), never the secret.

`Secret` wraps a resolved value so that printing, logging or encoding it by accident shows
nothing. Only the code that must send the secret (the token request) calls `reveal()`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["Secret", "SecretReferenceError", "resolve_secret", "validate_reference"]


class SecretReferenceError(Exception):
    """A reference is malformed or points at nothing; the message never holds a secret."""


class Secret:
    """A secret value whose repr and str are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself; call only where it is sent."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def validate_reference(reference: str) -> None:
    """Raise `SecretReferenceError` unless `reference` is `env:NAME` or `file:PATH`."""
    scheme, _, target = reference.partition(":")
    if scheme not in ("env", "file") or not target:
        raise SecretReferenceError(
            "a secret must be given as a reference, env:VARIABLE or file:/path (plain values are refused)"
        )


def resolve_secret(reference: str) -> Secret:
    """Read the secret a reference points at (a mounted Kubernetes Secret file, or a variable)."""
    validate_reference(reference)
    scheme, _, target = reference.partition(":")
    if scheme == "env":
        value = os.environ.get(target)
        if not value:
            raise SecretReferenceError(f"environment variable {target} is not set")
        return Secret(value)
    try:
        value = Path(target).read_text("utf-8").strip()
    except OSError as exc:
        raise SecretReferenceError(f"cannot read secret file {target} ({exc.strerror})") from None
    if not value:
        raise SecretReferenceError(f"secret file {target} is empty")
    return Secret(value)
