"""The serving process freezes what its app loaded at start, so full collections skip it.

Measured (README → Performance): with the startup heap in the oldest generation, every full
collection walked all of it again with the loop stopped (~65 ms, about once a second at c256);
frozen, it walks only what came later. The app's lifespan ending gives them back.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from app.server import _LifespanWatch


async def _lifespan_messages(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


async def test_the_heap_is_frozen_once_the_app_started_and_given_back_when_it_ends() -> None:
    seen: dict[str, int] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        seen["before start"] = gc.get_freeze_count()
        await send({"type": "lifespan.startup.complete"})
        seen["serving"] = gc.get_freeze_count()
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def send(message: dict[str, Any]) -> None:
        return None

    receive = await _lifespan_messages({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await _LifespanWatch(app)({"type": "lifespan"}, receive, send)
    assert seen["before start"] == 0
    assert seen["serving"] > 10_000  # the interpreter, the app's modules and what they loaded
    assert gc.get_freeze_count() == 0


async def test_an_app_that_fails_to_start_freezes_nothing() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise RuntimeError("no database")

    async def send(message: dict[str, Any]) -> None:
        return None

    receive = await _lifespan_messages({"type": "lifespan.startup"})
    watch = _LifespanWatch(app)
    with pytest.raises(RuntimeError):
        await watch({"type": "lifespan"}, receive, send)
    assert gc.get_freeze_count() == 0
