"""`Drain`: whether this broker process is shutting down, so readiness can say so at once.

`brp-broker serve` marks it on the first SIGTERM or SIGINT (`app.server`); from then on
`/health/ready` answers 503 with status `draining`, every response carries `Connection: close`,
and load balancers that poll readiness stop sending here while requests in flight finish. It is
one flag per process, set from the signal handler and read on the event loop (both on the main
thread), so it needs no lock. Nothing here stops anything: uvicorn does, after the delay.
"""

from __future__ import annotations

__all__ = ["Drain"]


class Drain:
    """The shutdown flag of one process; it only ever goes from not draining to draining."""

    __slots__ = ("_draining",)

    def __init__(self) -> None:
        self._draining = False

    @property
    def draining(self) -> bool:
        """True from the first stop signal on."""
        return self._draining

    def begin(self) -> None:
        """Mark the process as shutting down (idempotent)."""
        self._draining = True
