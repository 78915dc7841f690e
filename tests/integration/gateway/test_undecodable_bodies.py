"""Bodies that are not JSON text reach RvIG's 400 on every API, and each leaves one protocol record.

Invalid UTF-8 and nesting deeper than the decoder goes used to escape as 500s with no record.
"""

from __future__ import annotations

import httpx
import pytest

from app.brp import API_PATHS, Api
from tests.integration.gateway.test_protocol import _records
from tests.support.ids import request_id

BAD_BODIES = {
    "invalid-utf8": b'{"type":"Raadpleeg\xffMetBurgerservicenummer","burgerservicenummer":["999993653"]}',
    "nested-1000": b"[" * 1000 + b"]" * 1000,
    "nested-object-1000": b'{"a":' * 1000 + b"1" + b"}" * 1000,
}


@pytest.mark.parametrize("api", list(Api))
@pytest.mark.parametrize("name", BAD_BODIES)
async def test_undecodable_body_is_400_and_protocolled(
    broker: httpx.AsyncClient, database_url: str, api: Api, name: str
) -> None:
    cid = request_id("test")
    response = await broker.post(
        API_PATHS[api],
        content=BAD_BODIES[name],
        headers={"content-type": "application/json", "x-correlation-id": cid, "x-doelbinding": "test"},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["title"] == "De bevraging bevat een fout."
    assert problem["detail"] == "Request body is geen geldige JSON."
    assert "Traceback" not in response.text and "Error" not in problem["detail"]
    records = await _records(database_url, [cid])
    assert [r["status"] for r in records.values()] == [400]
    assert records[cid]["api"] == api.value
    assert records[cid]["query_type"] is None
