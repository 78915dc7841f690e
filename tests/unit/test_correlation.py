"""The per-request log line tells what the client got: a request cancelled before its answer is 499."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.correlation import CorrelationIdMiddleware
from tests.conftest import LogCapture

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/haalcentraal/api/brp/personen",
    "headers": [],
}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(_message: Any) -> None:
    return None


def _request_lines(logs: LogCapture) -> list[dict[str, object]]:
    return [event for event in logs.events if event.get("event") == "request"]


async def test_a_request_cancelled_before_its_answer_is_logged_as_499(logs: LogCapture) -> None:
    async def cancelled(_scope: Any, _receive: Any, _send: Any) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await CorrelationIdMiddleware(cancelled)(dict(SCOPE), _receive, _send)
    assert [line["status"] for line in _request_lines(logs)] == [499]


async def test_an_app_that_fails_before_answering_is_logged_as_500(logs: LogCapture) -> None:
    async def broken(_scope: Any, _receive: Any, _send: Any) -> None:
        raise RuntimeError("defect")

    with pytest.raises(RuntimeError):
        await CorrelationIdMiddleware(broken)(dict(SCOPE), _receive, _send)
    assert [line["status"] for line in _request_lines(logs)] == [500]
