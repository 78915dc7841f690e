"""Reachability probes: cached per (identity, environment), and the latest one readable without probing."""

from __future__ import annotations

import datetime as dt
from typing import cast

from app.upstream.clients import Reply, UpstreamClients, UpstreamUnreachable
from app.upstream.reachability import ReachabilityProbe

URL = "https://rvig.example/token"


class _Rvig:
    """Answers GETs (or fails to connect) and counts them."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    def client(self, identity: str, environment: str) -> _Rvig:
        return self

    async def get(self, url: str, *, within: float) -> Reply:
        self.calls += 1
        if not self.up:
            raise UpstreamUnreachable("ClientConnectorError")
        return Reply(status=405, body=b"")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _probe(rvig: _Rvig, clock: _Clock, wall: dt.datetime) -> ReachabilityProbe:
    return ReachabilityProbe(cast(UpstreamClients, rvig), ttl=30, clock=clock, wall_clock=lambda: wall)


async def test_last_seen_tells_the_latest_probe_and_when_without_probing() -> None:
    rvig, clock = _Rvig(), _Clock()
    wall = dt.datetime.now(dt.UTC).replace(microsecond=0)
    probe = _probe(rvig, clock, wall)
    assert probe.last_seen("dev", "sandbox") is None
    assert rvig.calls == 0

    assert (await probe.check("dev", "sandbox", URL)).reachable
    seen = probe.last_seen("dev", "sandbox")
    assert seen is not None and seen.probe.reachable and seen.checked_at == wall
    assert probe.last_seen("dev", "proef") is None
    assert rvig.calls == 1


async def test_an_unreachable_environment_is_seen_as_such_once_probed_again() -> None:
    rvig, clock = _Rvig(), _Clock()
    probe = _probe(rvig, clock, dt.datetime.now(dt.UTC))
    await probe.check("dev", "sandbox", URL)
    rvig.up = False
    assert (await probe.check("dev", "sandbox", URL)).reachable  # cached within the ttl
    clock.now += 31
    assert not (await probe.check("dev", "sandbox", URL)).reachable
    seen = probe.last_seen("dev", "sandbox")
    assert seen is not None and not seen.probe.reachable
    assert seen.probe.detail == "ClientConnectorError"
    assert rvig.calls == 2
