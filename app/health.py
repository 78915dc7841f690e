"""`/health/live` (the process answers) and `/health/ready` (its dependencies answer).

Readiness runs each check with a deadline and reports every check by name, so an operator sees
which dependency is down. It never reports a value that could be a secret (no URLs).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get

__all__ = ["Check", "HealthController", "Readiness"]


class Check(msgspec.Struct, frozen=True, omit_defaults=True):
    """The outcome of one readiness check."""

    status: str
    detail: str | None = None


class Readiness(msgspec.Struct, frozen=True):
    """The body of `/health/ready`."""

    status: str
    checks: dict[str, Check]


async def _database(request: Request[Any, Any, Any]) -> Check:
    resources = request.app.state.resources
    try:
        async with asyncio.timeout(resources.settings.ready_timeout):
            await resources.pool.fetchval("SELECT 1")
    except TimeoutError:
        return Check(status="fail", detail="no answer in time")
    except Exception as exc:  # any failure means "not ready"; the type is enough to act on
        return Check(status="fail", detail=type(exc).__name__)
    return Check(status="ok")


class HealthController(Controller):
    """Liveness and readiness probes for Kubernetes."""

    path = "/health"
    include_in_schema = False

    @get("/live")
    async def live(self) -> dict[str, str]:
        """The process is up and serving."""
        return {"status": "ok"}

    @get("/ready")
    async def ready(self, request: Request[Any, Any, Any]) -> Response[Readiness]:
        """All dependencies answer; 503 with the failing checks named otherwise."""
        checks = {"database": await _database(request)}
        ok = all(check.status == "ok" for check in checks.values())
        body = Readiness(status="ready" if ok else "not ready", checks=checks)
        return Response(body, status_code=200 if ok else 503)
