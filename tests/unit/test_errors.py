"""Litestar's own 400s become problems that name what was wrong, never a body that was not sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar, get, post
from litestar.params import FromQuery, JSONBody
from litestar.testing import TestClient

from app.errors import exception_handlers


@get("/days", sync_to_thread=False)
def days_handler(days: FromQuery[int] = 30) -> dict[str, int]:
    return {"days": days}


@post("/echo", sync_to_thread=False)
def echo_handler(data: JSONBody[dict[str, int]]) -> dict[str, int]:
    return data


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(route_handlers=[days_handler, echo_handler], exception_handlers=exception_handlers)
    with TestClient(app=app) as test_client:
        yield test_client


def test_a_bad_query_parameter_is_named_and_not_called_a_body(client: TestClient[Litestar]) -> None:
    response = client.get("/days", params={"days": "abc"})
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "paramsValidation"
    assert problem["invalidParams"] == [
        {"code": "invalid", "name": "days", "reason": "Waarde heeft een ongeldig formaat."}
    ]
    assert "JSON" not in response.text and "abc" not in response.text


def test_a_body_that_does_not_decode_stays_the_invalid_json_problem(client: TestClient[Litestar]) -> None:
    response = client.post("/echo", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"] == "Request body is geen geldige JSON."


def test_405_names_the_methods_the_path_has(client: TestClient[Litestar]) -> None:
    response = client.delete("/days")
    assert response.status_code == 405
    assert response.headers["allow"].split(", ")[0] == "GET"
    assert "DELETE" not in response.headers["allow"]
    assert response.json()["code"] == "methodNotAllowed"
