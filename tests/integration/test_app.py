"""The app shell: problem+json for every error, correlation ids, health endpoints."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest
from litestar import Litestar, get, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from app.db import apply_migrations, with_database, with_user
from app.main import create_app
from app.settings import Settings
from tests.conftest import LogCapture

PROBLEM_KEYS = {"type", "title", "status", "instance"}


@get("/test/boom")
async def boom() -> None:
    raise RuntimeError("internal detail with bsn 999993653 and secret hunter2")


@post("/test/echo")
async def echo(data: JSONBody[dict[str, int]]) -> dict[str, int]:
    return data


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(settings)
    app.register(boom)
    app.register(echo)
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_unknown_path_is_404_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/does/not/exist")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["title"] == "Opgevraagde resource bestaat niet."
    assert body["instance"] == "/does/not/exist"


async def test_wrong_method_is_405_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.delete("/health/live")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "methodNotAllowed"


async def test_unparseable_body_is_400_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/test/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Request body is geen geldige JSON."


async def test_unexpected_error_is_500_without_internals(
    client: AsyncTestClient[Litestar], logs: LogCapture
) -> None:
    response = await client.get("/test/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "serverError"
    for leak in ("RuntimeError", "internal detail", "999993653", "hunter2", "Traceback"):
        assert leak not in response.text
        assert leak.replace("RuntimeError", "\x00") not in logs.text
    assert any(e.get("exception_type") == "RuntimeError" for e in logs.events)


async def test_correlation_id_is_generated_and_logged(
    client: AsyncTestClient[Litestar], logs: LogCapture
) -> None:
    response = await client.get("/health/live")
    correlation_id = response.headers["x-correlation-id"]
    assert len(correlation_id) == 36
    request_lines = [e for e in logs.events if e.get("event") == "request"]
    assert [e["correlation_id"] for e in request_lines] == [correlation_id]


async def test_a_generated_correlation_id_is_never_one_the_logs_redact(
    client: AsyncTestClient[Litestar], logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About one random UUID in sixty holds nine digits in a row, which every log line redacts as a
    BSN: the id the client got back would not be found in the logs. The broker draws another."""
    real_uuid4 = uuid.uuid4
    with_nine_digits = iter([uuid.UUID("ef3d3007-0000-4000-8000-8cb142332290")] * 5)
    monkeypatch.setattr(uuid, "uuid4", lambda: next(with_nine_digits, None) or real_uuid4())
    response = await client.get("/health/live")
    correlation_id = response.headers["x-correlation-id"]
    assert len(correlation_id) == 36 and "142332290" not in correlation_id
    request_lines = [e for e in logs.events if e.get("event") == "request"]
    assert [e["correlation_id"] for e in request_lines] == [correlation_id]


async def test_correlation_id_is_echoed_on_success_and_error(
    client: AsyncTestClient[Litestar], logs: LogCapture
) -> None:
    ok = await client.get("/health/live", headers={"x-correlation-id": "abc-123"})
    failed = await client.get("/test/boom", headers={"x-correlation-id": "def-456"})
    missing = await client.get("/nope", headers={"x-correlation-id": "ghi-789"})
    assert ok.headers["x-correlation-id"] == "abc-123"
    assert failed.headers["x-correlation-id"] == "def-456"
    assert missing.headers["x-correlation-id"] == "ghi-789"
    # Every line logged while handling the failing request carries its id.
    error_lines = [e for e in logs.events if e.get("event") == "unhandled_exception"]
    assert error_lines
    assert all(e["correlation_id"] == "def-456" for e in error_lines)


async def test_unsafe_correlation_id_is_replaced(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/live", headers={"x-correlation-id": "bad id\twith 999993653"})
    assert response.headers["x-correlation-id"] != "bad id\twith 999993653"
    assert len(response.headers["x-correlation-id"]) == 36


async def test_ready_checks_the_database(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["ratelimit"] == {"status": "ok", "detail": "in-process"}


async def test_ready_is_503_when_the_database_is_gone(new_database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    await apply_migrations(url)
    runtime_url = with_user(url, "brp_app")
    app = create_app(Settings(database_url=runtime_url, state_dir=tmp_path, database_pool_max=4))
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        async with AsyncTestClient(app=app) as client:
            assert (await client.get("/health/ready")).status_code == 200
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            response = await client.get("/health/ready")
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            recovered = await client.get("/health/ready")
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["status"] == "fail"
    assert recovered.status_code == 200


async def test_openapi_document_is_served(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "brp-broker"
