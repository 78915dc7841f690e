"""Gezag over HTTPS: the sandbox derives it on the day of the request, only when `fields` asks.

A family of the day (married parents, a child born four years ago, one address) is added to RvIG's
test set in a sandbox of this module's own, so the answers do not age. The rules themselves are
tested in tests/unit/sandbox/test_gezag.py; every real person's gezag is checked against the spec by
the Raadpleeg sweep of test_schema.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.sandbox.api import today_in_the_netherlands
from app.sandbox.server import SandboxThread
from tests.integration.sandbox.client import SandboxClient
from tests.integration.sandbox.conftest import sandbox_config_for
from tests.integration.sandbox.openapi import schema_errors

MOEDER, VADER, KIND = "100000201", "100000202", "100000203"
AOI = "0599019999000077"


def _years_ago(years: int) -> dt.date:
    today = today_in_the_netherlands()  # the sandbox's day, so the child's leeftijd matches
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _datum(day: dt.date) -> dict[str, Any]:
    return {"type": "Datum", "datum": day.isoformat(), "langFormaat": day.isoformat()}


def _record(bsn: str, voornaam: str, born: dt.date, geslacht: str, **persoon: Any) -> dict[str, Any]:
    huwelijk = _years_ago(10).strftime("%Y%m%d")
    partner = {MOEDER: VADER, VADER: MOEDER}.get(bsn)
    return {
        "persoonslijst": f"TEST_{bsn}",
        "persoon": {
            "burgerservicenummer": bsn,
            "naam": {
                "voornamen": voornaam,
                "geslachtsnaam": "Gezagtest",
                "volledigeNaam": f"{voornaam} Gezagtest",
            },
            "geboorte": {"datum": _datum(born), "land": {"code": "6030", "omschrijving": "Nederland"}},
            "geslacht": {"code": geslacht, "omschrijving": "vrouw" if geslacht == "V" else "man"},
            "gemeenteVanInschrijving": {"code": "0599", "omschrijving": "Rotterdam"},
            "verblijfplaats": {"type": "Adres", "adresseerbaarObjectIdentificatie": AOI},
            "partners": [],
            "ouders": [],
            "kinderen": [],
            **persoon,
        },
        "gezagsgegevens": {
            "aktenummers": ["1AA0001"],
            "relaties": [{"burgerservicenummer": partner, "datumAangaan": huwelijk}] if partner else [],
        },
    }


def _family() -> list[dict[str, Any]]:
    born = _years_ago(4)
    kind = {"burgerservicenummer": KIND, "geboorte": {"datum": _datum(born)}}

    def ouder(aanduiding: str, bsn: str, voornaam: str, geslacht: str) -> dict[str, Any]:
        return {
            "ouderAanduiding": aanduiding,
            "burgerservicenummer": bsn,
            "naam": {"voornamen": voornaam, "geslachtsnaam": "Gezagtest"},
            "geslacht": {"code": geslacht},
            "datumIngangFamilierechtelijkeBetrekking": _datum(born),
        }

    return [
        _record(MOEDER, "Mila", _years_ago(35), "V", kinderen=[kind]),
        _record(VADER, "Victor", _years_ago(36), "M", kinderen=[kind]),
        _record(
            KIND,
            "Kees",
            born,
            "M",
            ouders=[ouder("1", MOEDER, "Mila", "V"), ouder("2", VADER, "Victor", "M")],
        ),
    ]


@pytest.fixture(scope="module")
def family(
    tmp_path_factory: pytest.TempPathFactory,
    rvig_persons: list[dict[str, Any]],
    rvig_bewoning: list[dict[str, Any]],
) -> Iterator[SandboxClient]:
    """A sandbox of this module's own: RvIG's test set plus the family of the day."""
    data: Path = tmp_path_factory.mktemp("gezag-data")
    personen = {"bron": "RvIG testset + a family of the day", "personen": rvig_persons + _family()}
    (data / "personen.json").write_text(json.dumps(personen, ensure_ascii=False), encoding="utf-8")
    (data / "bewoning.json").write_text(json.dumps(rvig_bewoning, ensure_ascii=False), encoding="utf-8")
    with SandboxThread(sandbox_config_for(tmp_path_factory.mktemp("gezag-state"), data)) as running:
        client = SandboxClient(running)
        yield client
        client.close()


def _answer(client: SandboxClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.personen(body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    errors = schema_errors("personen", "PersonenQueryResponse", answer)
    assert not errors, errors[:5]
    return answer


GEZAMENLIJK = {
    "type": "GezamenlijkOuderlijkGezag",
    "minderjarige": {"burgerservicenummer": KIND, "naam": {"volledigeNaam": "Kees Gezagtest"}, "leeftijd": 4},
    "ouders": [
        {"burgerservicenummer": MOEDER, "naam": {"volledigeNaam": "Mila Gezagtest"}},
        {"burgerservicenummer": VADER, "naam": {"volledigeNaam": "Victor Gezagtest"}},
    ],
}


def test_raadpleeg_delivers_the_gezag_over_the_child_and_the_parents(family: SandboxClient) -> None:
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [KIND, MOEDER, VADER]}
    answer = _answer(family, {**body, "fields": ["burgerservicenummer", "gezag"]})
    assert answer["personen"] == [
        {"burgerservicenummer": KIND, "gezag": [GEZAMENLIJK]},
        {"burgerservicenummer": MOEDER, "gezag": [GEZAMENLIJK]},
        {"burgerservicenummer": VADER, "gezag": [GEZAMENLIJK]},
    ]


def test_gezag_is_not_delivered_unless_asked(family: SandboxClient) -> None:
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [KIND], "fields": ["naam"]}
    (persoon,) = _answer(family, body)["personen"]
    assert "gezag" not in persoon


def test_the_adresseerbaar_object_search_delivers_gezag_per_resident(family: SandboxClient) -> None:
    body = {"type": "ZoekMetAdresseerbaarObjectIdentificatie", "adresseerbaarObjectIdentificatie": AOI}
    answer = _answer(family, {**body, "fields": ["burgerservicenummer", "gezag"]})
    assert {p["burgerservicenummer"]: p["gezag"] for p in answer["personen"]} == {
        MOEDER: [GEZAMENLIJK],
        VADER: [GEZAMENLIJK],
        KIND: [GEZAMENLIJK],
    }
