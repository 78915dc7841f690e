"""Run an ASGI app on a real socket inside the test's own event loop (no threads, no sleeps)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn

__all__ = ["ServerTask", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):  # type: ignore[misc]
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class ServerTask:
    """`async with ServerTask(app) as base_url:` serves `app` on a free port until the block ends."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.port = free_port()
        options = {"log_config": None, "access_log": False, "lifespan": "on", **config}
        self._server = _Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, **options))
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> str:
        self._task = asyncio.create_task(self._server.serve())
        ready = asyncio.create_task(self._server.ready.wait())
        done, _ = await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            raise RuntimeError("the server stopped during startup")
        return self.base_url

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
