"""The one interface both rate-limit backends implement: all-or-nothing GCRA over a few keys.

A backend owns the storage of theoretical arrival times (TATs) and the atomicity of one check;
the decision itself is `app.ratelimit.gcra`. It knows nothing of tenants, afnemers or
employees: keys arrive already built by `RateLimiter`, and a backend must never log them (the
employee key holds an employee id).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, NamedTuple

from app.ratelimit.gcra import Decision, Limit

__all__ = ["BackendUnavailable", "Quota", "RateLimitBackend"]


class Quota(NamedTuple):
    """One key to check and consume from, with its limit."""

    key: str
    limit: Limit


class BackendUnavailable(Exception):
    """The backend's store cannot be reached; the limiter falls back to the in-process backend."""


class RateLimitBackend(ABC):
    """Stores TATs; `acquire` is atomic per backend."""

    __slots__ = ()

    # For logs and health details: "redis" or "in-process".
    name: ClassVar[str]

    @abstractmethod
    async def acquire(self, quotas: Sequence[Quota]) -> tuple[Decision, ...]:
        """Decide every quota at one instant; consume from all of them only if all allow.

        Returns one decision per quota, in order. A refusal leaves every key as it was, so a
        request refused by one key costs nothing on the others. Raises `BackendUnavailable`
        when the store cannot answer.
        """

    async def close(self) -> None:  # noqa: B027  (a no-op default, not an abstract method)
        """Release connections; the default has none."""
