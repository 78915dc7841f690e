"""Redis for the rate-limit tests: the shared one from `REDIS_URL`, or a private `redis-server`.

The shared Redis (CI sets `REDIS_URL`) serves the backend cases and the two-replica test; every
test gets its own key prefix under `brp:rl:` and deletes its keys afterwards. The fallback test
needs a Redis it may kill and restart, so it starts its own `redis-server` on a free port.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.support.servers import free_port

# Up to 5 s for a fresh redis-server to listen (500 polls, 10 ms apart), and it usually takes 10 ms.
_READY_POLLS = 500


@pytest.fixture
def redis_url() -> str:
    """The shared test Redis."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis backend needs a real Redis (CI sets it)")
    return url


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key namespace of this test's own (still under `brp:rl:`), emptied afterwards."""
    prefix = f"brp:rl:test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


class RedisServer:
    """A private `redis-server` without persistence, stopped and restarted on the same port."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start it and return once it accepts connections."""
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await self._wait_until_listening()

    def kill(self) -> None:
        """Stop it at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    async def _wait_until_listening(self) -> None:
        for _ in range(_READY_POLLS):
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.01)  # poll interval, not a wait for a result
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise RuntimeError("redis-server did not accept connections")


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A private Redis for this test only."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: the fallback test needs a Redis it can stop")
    server = RedisServer(binary, tmp_path)
    await server.start()
    yield server
    server.kill()
