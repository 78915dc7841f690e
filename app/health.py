"""`/health/live` (the process answers) and `/health/ready` (its dependencies answer).

Readiness runs each check with a deadline and reports every check by name, so an operator sees
which dependency is down. It never reports a value that could be a secret (no URLs).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get

from app.tenancy import DirectorySnapshot

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


async def _upstream(request: Request[Any, Any, Any]) -> dict[str, Check]:
    """Certificate validity per identity and reachability of each environment an afnemer uses."""
    resources = request.app.state.resources
    checks: dict[str, Check] = {}
    for identity in resources.upstream.identities.values():
        days = identity.days_left()
        status = "fail" if days < 0 else "warn" if identity.expires_soon() else "ok"
        checks[f"certificate:{identity.name}"] = Check(status=status, detail=f"{days} days left")
    for identity_name, environment in _routes_in_use(resources.directory.snapshot):
        url = resources.upstream.environments[environment].token_url
        if url is None:
            continue
        probe = await resources.reachability.check(identity_name, environment, url)
        checks[f"upstream:{environment}:{identity_name}"] = Check(
            status="ok" if probe.reachable else "fail", detail=probe.detail
        )
    return checks


def _routes_in_use(snapshot: DirectorySnapshot) -> list[tuple[str, str]]:
    """The (identity, environment) pairs that some usable afnemer of an active tenant goes through."""
    routes = {
        (afnemer.account.identity, afnemer.account.environment)
        for tenant in snapshot.tenants.values()
        if tenant.active
        for afnemer in tenant.afnemers.values()
        if afnemer.account is not None
    }
    return sorted(routes)


def _ratelimit(request: Request[Any, Any, Any]) -> Check:
    """`warn` while Redis is unreachable: limits still hold, per replica, so the broker stays in service."""
    limiter = request.app.state.resources.limiter
    return Check(status="warn" if limiter.degraded else "ok", detail=limiter.mode)


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
        checks = {
            "database": await _database(request),
            **await _upstream(request),
            "ratelimit": _ratelimit(request),
        }
        # An expiring certificate warns but does not take the broker out of service.
        ok = all(check.status in ("ok", "warn") for check in checks.values())
        body = Readiness(status="ready" if ok else "not ready", checks=checks)
        return Response(body, status_code=200 if ok else 503)
