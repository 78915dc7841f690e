"""`/health/live` (the process answers) and `/health/ready` (this replica can serve).

Readiness is about this replica's own ability to serve: its database answers, its protocol writer
runs (no person data leaves without a committed record) and its tenant configuration is loaded.
Only those checks can `fail`, which answers 503 and takes the replica out of the Service.

What every replica shares is reported, never a reason to be not-ready: RvIG's reachability per
(environment, identity) in use, each OIN certificate's validity, the rate-limit backend. Taking
all replicas out during an RvIG outage would only turn the clients' clear 503 problems into
connection errors; an expired certificate stops the afnemers of that one identity, not the
others. These checks `warn`, and RvIG's reachability and the certificates' expiry are also in
`/metrics` (`brp_broker_upstream_reachable`, `brp_broker_certificate_expiry_timestamp_seconds`),
updated by each readiness probe, for alerting.

From the first SIGTERM on (`app.draining`) it answers 503 with status `draining` at once, without
running the checks.

Every check is reported by name, with a deadline; it never reports a value that could be a secret
(no URLs).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from app.tenancy import DirectorySnapshot, TenantDirectory

if TYPE_CHECKING:
    from app.main import Resources
    from app.protocol import ProtocolWriter
    from app.ratelimit import RateLimiter
    from app.upstream import OinIdentity

__all__ = ["Check", "HealthController", "Readiness"]

Status = Literal["ok", "warn", "fail"]


class Check(msgspec.Struct, frozen=True, omit_defaults=True):
    """The outcome of one readiness check: `fail` makes the replica not ready, `warn` does not."""

    status: Status
    detail: str | None = None


class Readiness(msgspec.Struct, frozen=True):
    """The body of `/health/ready`."""

    status: Literal["ready", "not ready", "draining"]
    checks: dict[str, Check]


# -- this replica: may fail -------------------------------------------------------------------------


async def _database(resources: Resources) -> Check:
    try:
        async with asyncio.timeout(resources.settings.ready_timeout):
            await resources.pool.fetchval("SELECT 1")
    except TimeoutError:
        return Check(status="fail", detail="no answer in time")
    except Exception as exc:  # any failure means "not ready"; the type is enough to act on
        return Check(status="fail", detail=type(exc).__name__)
    return Check(status="ok")


def _protocol(writer: ProtocolWriter) -> Check:
    """Without a running writer no record can be committed, so no answer can be given."""
    return Check(status="ok") if writer.running else Check(status="fail", detail="not running")


def _tenants(directory: TenantDirectory) -> Check:
    """The tenant configuration has been read (a snapshot after the first load); it may be empty."""
    snapshot = directory.snapshot
    if snapshot.generation == 0:
        return Check(status="fail", detail="not loaded")
    return Check(status="ok", detail=f"{len(snapshot.tenants)} tenants loaded")


# -- shared by every replica: reported, warn at most --------------------------------------------------


def _certificate(identity: OinIdentity) -> Check:
    """Expired: this identity's afnemers get 502/503 problems, the other identities' are served."""
    now = dt.datetime.now(dt.UTC)
    if identity.not_after <= now:
        ago = (now - identity.not_after).days
        return Check(status="warn", detail=f"expired {ago} days ago: its afnemers cannot be served")
    days = identity.days_left(now)
    return Check(status="warn" if identity.expires_soon(now) else "ok", detail=f"{days} days left")


async def _upstream(resources: Resources) -> dict[str, Check]:
    """Each OIN certificate, and RvIG's reachability for each route an afnemer uses; also as metrics."""
    checks: dict[str, Check] = {}
    for identity in resources.upstream.identities.values():
        checks[f"certificate:{identity.name}"] = _certificate(identity)
        resources.metrics.certificate_expiry(identity.name, identity.not_after.timestamp())
    for identity_name, environment in _routes_in_use(resources.directory.snapshot):
        url = resources.upstream.environments[environment].token_url
        if url is None:
            continue
        probe = await resources.reachability.check(identity_name, environment, url)
        resources.metrics.upstream_reachable(environment, identity_name, probe.reachable)
        if probe.reachable:
            check = Check(status="ok")
        else:
            check = Check(
                status="warn", detail=f"unreachable ({probe.detail})" if probe.detail else "unreachable"
            )
        checks[f"upstream:{environment}:{identity_name}"] = check
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


def _ratelimit(limiter: RateLimiter) -> Check:
    """`warn` while Redis is unreachable: limits still hold, per replica, so the broker stays in service."""
    return Check(status="warn" if limiter.degraded else "ok", detail=limiter.mode)


class HealthController(Controller):
    """Liveness and readiness probes for Kubernetes."""

    path = "/health"

    @get("/live")
    async def live(self) -> dict[str, str]:
        """The process is up and serving."""
        return {"status": "ok"}

    @get(
        "/ready",
        responses={503: ResponseSpec(Readiness, description="Not ready: the failing checks named")},
    )
    async def ready(self, request: Request[Any, Any, Any]) -> Response[Readiness]:
        """This replica can serve (database, protocol writer, tenants); 503 naming what failed otherwise.

        RvIG's reachability, the OIN certificates and the rate-limit backend are reported too, as
        `ok` or `warn`; they never make the replica not ready.
        """
        resources: Resources = request.app.state.resources
        if resources.drain.draining:
            # Shutting down (SIGTERM): out of the Service at once, while requests in flight finish.
            draining = {"shutdown": Check(status="fail", detail="draining")}
            return Response(Readiness(status="draining", checks=draining), status_code=503)
        checks = {
            "database": await _database(resources),
            "protocol": _protocol(resources.protocol),
            "tenants": _tenants(resources.directory),
            **await _upstream(resources),
            "ratelimit": _ratelimit(resources.limiter),
        }
        ready = all(check.status != "fail" for check in checks.values())
        body = Readiness(status="ready" if ready else "not ready", checks=checks)
        return Response(body, status_code=200 if ready else 503)
