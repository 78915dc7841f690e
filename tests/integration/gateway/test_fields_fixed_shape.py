"""A name RvIG does not list, below a date or Waardetabel, through the broker to the sandbox.

RvIG answers `geboorte.land.nietBestaand` with the whole `geboorte.land`. So does the broker: it
validates the path as RvIG does, forwards and protocols it as the whole field (never the made-up
name), and delivers what `geboorte.land` delivers. The sandbox, asked directly, answers the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from app.sandbox.server import SandboxThread
from tests.brp_invalid_requests import FIELD_UNKNOWN
from tests.integration.sandbox.client import SandboxClient
from tests.support.ids import request_id

PERSONEN = "/haalcentraal/api/brp/personen"
# An RvIG test person with a partner, a nationaliteit and a verblijfplaats (sandbox data).
BSN = "999990020"

ASKED_AND_WHOLE = [
    ("geboorte.land.nietBestaand", "geboorte.land"),
    ("partners.geboorte.datum.foo", "partners.geboorte.datum"),
    ("nationaliteiten.nationaliteit.x", "nationaliteiten.nationaliteit"),
    ("verblijfplaats.datumVan.x", "verblijfplaats.datumVan"),
    ("geslacht.nietBestaand", "geslacht"),
]


def _raadpleeg(*fields: str) -> dict[str, Any]:
    return {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": list(fields)}


def _value_at(answer: dict[str, Any], path: str) -> Any:
    node: Any = answer["personen"][0]
    for name in path.split("."):
        node = node[0][name] if isinstance(node, list) else node[name]
    return node


async def _protocolled_fields(database_url: str, correlation_id: str) -> tuple[list[str], list[str]]:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SET ROLE brp_owner")
        row = await connection.fetchrow(
            "SELECT requested_fields, sent_fields FROM broker.protocol_records WHERE correlation_id = $1",
            correlation_id,
        )
    finally:
        await connection.close()
    assert row is not None, "no protocol record"
    return list(row["requested_fields"]), list(row["sent_fields"])


@pytest.fixture(scope="module")
def rvig(sandbox: SandboxThread) -> Iterator[SandboxClient]:
    """The sandbox asked directly, as RvIG, by the broker's afnemer."""
    client = SandboxClient(sandbox)
    yield client
    client.close()


@pytest.mark.parametrize(("asked", "whole"), ASKED_AND_WHOLE, ids=[asked for asked, _ in ASKED_AND_WHOLE])
async def test_the_broker_delivers_the_whole_field_and_protocols_it(
    broker: httpx.AsyncClient, rvig: SandboxClient, database_url: str, asked: str, whole: str
) -> None:
    correlation_id = request_id("test")

    response = await broker.post(
        PERSONEN, json=_raadpleeg(asked), headers={"x-correlation-id": correlation_id}
    )

    assert response.status_code == 200, response.text
    as_whole = await broker.post(PERSONEN, json=_raadpleeg(whole))
    assert response.json() == as_whole.json()
    assert _value_at(response.json(), whole)  # the person has it: the comparison is not empty
    assert await _protocolled_fields(database_url, correlation_id) == (
        [whole],
        [whole, "burgerservicenummer"],
    )
    direct = rvig.personen(_raadpleeg(asked))
    assert direct.status_code == 200, direct.text
    assert direct.json() == rvig.personen(_raadpleeg(whole)).json()


@pytest.mark.parametrize("asked", ["naam.nietBestaand", "burgerservicenummer.x", "geboorte.land.code.x"])
async def test_other_unknown_paths_are_rvigs_400(broker: httpx.AsyncClient, asked: str) -> None:
    response = await broker.post(PERSONEN, json=_raadpleeg("naam", asked))

    assert response.status_code == 400
    assert response.json() == {
        "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
        "title": "Een of meerdere parameters zijn niet correct.",
        "status": 400,
        "detail": "De foutieve parameter(s) zijn: fields[1].",
        "instance": PERSONEN,
        "code": "paramsValidation",
        "invalidParams": [{"code": "fields", "name": "fields[1]", "reason": FIELD_UNKNOWN}],
    }
