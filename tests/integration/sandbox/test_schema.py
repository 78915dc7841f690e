"""Every query type of the three APIs answers 200 with a body valid against RvIG's OpenAPI spec.

The Raadpleeg sweep asks every test person with every top-level field, so each converted person is
checked against `Persoon`; the searches ask a sample of RvIG's persons by their own data (which
must find them) for every field of `PersoonBeperkt` / `GezagPersoonBeperkt`; Bewoning and
Verblijfplaatshistorie are asked for every adresseerbaar object / a sample of persons.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.brp.fields import ResponseType, fields_catalogue
from app.sandbox.dataset import normalise
from tests.integration.sandbox.client import BEWONING, HISTORIE, PERSONEN, SandboxClient
from tests.integration.sandbox.openapi import schema_errors
from tests.integration.sandbox.testpersons import synthetic_persons

_NAAM = re.compile(r"^[a-zA-Z0-9À-ž \.\-\']{1,200}$")
_STRAAT = re.compile(r"^[a-zA-Z0-9À-ž \-\'\.]{1,80}$")
_VOORVOEGSEL = re.compile(r"^[a-zA-Z \']{1,10}$")
_SAMPLE = 60  # persons per search type (spread over the whole test set)


def _top_level_fields(response_type: ResponseType) -> list[str]:
    catalogue = fields_catalogue()
    return sorted(
        path
        for path in catalogue.paths(response_type)
        if "." not in path and catalogue.is_valid_path(path, response_type) and "Binnenland" not in path
    )


def _valid(response: httpx.Response, api: str, component: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body: dict[str, Any] = response.json()
    errors = schema_errors(api, component, body)
    assert not errors, "\n".join(errors[:20])
    return body


# --- Personen: Raadpleeg -------------------------------------------------------------------------


def test_raadpleeg_every_person_with_every_field(
    brp: SandboxClient, rvig_persons: list[dict[str, Any]]
) -> None:
    records = rvig_persons + synthetic_persons()
    deliverable = Counter(r["persoon"]["burgerservicenummer"] for r in records if _deliverable(r))
    # A BSN on two deliverable persoonslijsten is a 400 (test_fidelity.py); every other is asked.
    bsns = [
        bsn
        for bsn in dict.fromkeys(r["persoon"]["burgerservicenummer"] for r in records)
        if deliverable[bsn] <= 1
    ]
    fields = _top_level_fields(ResponseType.PERSOON)
    delivered = 0
    for start in range(0, len(bsns), 20):
        body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": bsns[start : start + 20]}
        response = brp.personen({**body, "fields": fields})
        delivered += len(_valid(response, "personen", "PersonenQueryResponse")["personen"])
    # All but the suspended (opschorting F/W) persoonslijsten and the duplicate BSNs are delivered.
    assert delivered == sum(1 for count in deliverable.values() if count == 1)
    assert sum(1 for count in deliverable.values() if count > 1) == 5


# --- Personen: the searches ----------------------------------------------------------------------


def _adres(persoon: dict[str, Any]) -> dict[str, Any]:
    verblijfplaats = persoon.get("verblijfplaats") or {}
    return verblijfplaats.get("verblijfadres") or {} if verblijfplaats.get("type") == "Adres" else {}


def _deliverable(record: dict[str, Any]) -> bool:
    reden = ((record["persoon"].get("opschortingBijhouding") or {}).get("reden") or {}).get("code")
    return reden not in {"F", "W"} and bool(record["persoon"].get("burgerservicenummer"))


def _sample(records: list[dict[str, Any]], usable: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    candidates = [r["persoon"] for r in records if _deliverable(r) and usable(r["persoon"])]
    step = max(1, len(candidates) // _SAMPLE)
    return candidates[::step][:_SAMPLE]


def _geboortedatum(persoon: dict[str, Any]) -> str | None:
    datum = (persoon.get("geboorte") or {}).get("datum") or {}
    return datum.get("datum") if datum.get("type") == "Datum" else None


def _name_query(persoon: dict[str, Any]) -> dict[str, Any]:
    naam = persoon["naam"]
    query: dict[str, Any] = {
        "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
        "geslachtsnaam": naam["geslachtsnaam"],
        "geboortedatum": _geboortedatum(persoon),
    }
    if naam.get("voorvoegsel"):
        query["voorvoegsel"] = naam["voorvoegsel"]
    return query


def _name_usable(persoon: dict[str, Any]) -> bool:
    naam = persoon.get("naam") or {}
    voorvoegsel = naam.get("voorvoegsel")
    return (
        bool(_NAAM.match(naam.get("geslachtsnaam", "")))
        and bool(_NAAM.match(naam.get("voornamen", "")))
        and (voorvoegsel is None or bool(_VOORVOEGSEL.match(voorvoegsel)))
        and _geboortedatum(persoon) is not None
        and bool((persoon.get("gemeenteVanInschrijving") or {}).get("code"))
    )


def _address_usable(persoon: dict[str, Any]) -> bool:
    adres = _adres(persoon)
    return bool(
        adres.get("postcode") and adres.get("huisnummer") and _STRAAT.match(adres.get("korteStraatnaam", ""))
    )


_QueryFor = Callable[[dict[str, Any]], dict[str, Any]]
_SEARCHES: list[tuple[str, Callable[[dict[str, Any]], bool], _QueryFor]] = [
    ("ZoekMetGeslachtsnaamEnGeboortedatum", _name_usable, _name_query),
    (
        "ZoekMetNaamEnGemeenteVanInschrijving",
        _name_usable,
        lambda p: {
            "type": "ZoekMetNaamEnGemeenteVanInschrijving",
            "geslachtsnaam": p["naam"]["geslachtsnaam"],
            "voornamen": p["naam"]["voornamen"],
            "gemeenteVanInschrijving": p["gemeenteVanInschrijving"]["code"],
        },
    ),
    (
        "ZoekMetPostcodeEnHuisnummer",
        _address_usable,
        lambda p: {
            "type": "ZoekMetPostcodeEnHuisnummer",
            "postcode": _adres(p)["postcode"],
            "huisnummer": _adres(p)["huisnummer"],
            **({"huisletter": _adres(p)["huisletter"]} if _adres(p).get("huisletter") else {}),
        },
    ),
    (
        "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
        lambda p: _address_usable(p) and bool((p.get("gemeenteVanInschrijving") or {}).get("code")),
        lambda p: {
            "type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
            "straat": _adres(p)["korteStraatnaam"],
            "huisnummer": _adres(p)["huisnummer"],
            "gemeenteVanInschrijving": p["gemeenteVanInschrijving"]["code"],
            **({"huisletter": _adres(p)["huisletter"]} if _adres(p).get("huisletter") else {}),
        },
    ),
    (
        "ZoekMetNummeraanduidingIdentificatie",
        lambda p: bool((p.get("verblijfplaats") or {}).get("nummeraanduidingIdentificatie")),
        lambda p: {
            "type": "ZoekMetNummeraanduidingIdentificatie",
            "nummeraanduidingIdentificatie": p["verblijfplaats"]["nummeraanduidingIdentificatie"],
        },
    ),
    (
        "ZoekMetAdresseerbaarObjectIdentificatie",
        lambda p: bool((p.get("verblijfplaats") or {}).get("adresseerbaarObjectIdentificatie")),
        lambda p: {
            "type": "ZoekMetAdresseerbaarObjectIdentificatie",
            "adresseerbaarObjectIdentificatie": p["verblijfplaats"]["adresseerbaarObjectIdentificatie"],
        },
    ),
]


def _crowded(
    records: list[dict[str, Any]], query_for: _QueryFor, usable: Callable[[dict[str, Any]], bool]
) -> set[str]:
    # Queries that find more than the maximum in RvIG's own data answer tooManyResults instead.
    keys = Counter(_key(query_for(r["persoon"])) for r in records if _deliverable(r) and usable(r["persoon"]))
    return {key for key, count in keys.items() if count > 10}


def _key(query: dict[str, Any]) -> str:
    return repr(sorted((k, normalise(str(v))) for k, v in query.items()))


@pytest.mark.parametrize(("query_type", "usable", "query_for"), _SEARCHES, ids=[s[0] for s in _SEARCHES])
def test_search_finds_the_person_it_describes(
    brp: SandboxClient,
    rvig_persons: list[dict[str, Any]],
    query_type: str,
    usable: Callable[[dict[str, Any]], bool],
    query_for: _QueryFor,
) -> None:
    response_type = (
        ResponseType.GEZAG_PERSOON_BEPERKT if "Adresseerbaar" in query_type else ResponseType.PERSOON_BEPERKT
    )
    fields = _top_level_fields(response_type)
    crowded = _crowded(rvig_persons, query_for, usable)
    sample = [p for p in _sample(rvig_persons, usable) if _key(query_for(p)) not in crowded]
    assert len(sample) >= 10, f"too few usable persons for {query_type}"
    for persoon in sample:
        query = {**query_for(persoon), "inclusiefOverledenPersonen": True, "fields": fields}
        body = _valid(brp.personen(query), "personen", "PersonenQueryResponse")
        assert body["type"] == query_type
        assert persoon["burgerservicenummer"] in [p.get("burgerservicenummer") for p in body["personen"]]


# --- Bewoning ------------------------------------------------------------------------------------


def _bewoning_aois(rvig_bewoning: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """Every AOI of the Bewoning data with a day someone moved in there."""
    seen: dict[str, str] = {}
    for record in rvig_bewoning:
        place = record.get("verblijfplaats") or {}
        aoi, start = place.get("adresseerbaarObjectIdentificatie"), place.get("datumAanvangAdreshouding", "")
        if (
            aoi
            and re.fullmatch(r"(?!0{16})[0-9]{16}", aoi)
            and re.fullmatch(r"[0-9]{4}(0[1-9]|1[0-2])[0-2][0-9]", start)
        ):
            seen.setdefault(aoi, f"{start[:4]}-{start[4:6]}-{start[6:]}")
    yield from seen.items()


def test_bewoning_met_peildatum_for_every_adresseerbaar_object(
    brp: SandboxClient, rvig_bewoning: list[dict[str, Any]]
) -> None:
    answered = 0
    for aoi, moved_in in _bewoning_aois(rvig_bewoning):
        query = {
            "type": "BewoningMetPeildatum",
            "adresseerbaarObjectIdentificatie": aoi,
            "peildatum": moved_in,
        }
        body = _valid(brp.post(BEWONING, query, afnemer_id="000005"), "bewoning", "BewoningenQueryResponse")
        answered += bool(body["bewoningen"])
    assert answered > 100


def test_bewoning_met_periode_for_every_adresseerbaar_object(
    brp: SandboxClient, rvig_bewoning: list[dict[str, Any]]
) -> None:
    pieces = 0
    for aoi, _ in _bewoning_aois(rvig_bewoning):
        query = {
            "type": "BewoningMetPeriode",
            "adresseerbaarObjectIdentificatie": aoi,
            "datumVan": "1990-01-01",
            "datumTot": "2025-01-01",
        }
        body = _valid(brp.post(BEWONING, query, afnemer_id="000005"), "bewoning", "BewoningenQueryResponse")
        pieces += len(body["bewoningen"])
    assert pieces > 200


# --- Verblijfplaatshistorie ----------------------------------------------------------------------


def test_verblijfplaatshistorie_met_peildatum_and_periode(
    brp: SandboxClient, rvig_persons: list[dict[str, Any]]
) -> None:
    sample = _sample(rvig_persons, lambda p: bool(p.get("verblijfplaats")))
    found = 0
    for persoon in sample:
        bsn = persoon["burgerservicenummer"]
        peildatum = {"type": "RaadpleegMetPeildatum", "burgerservicenummer": bsn, "peildatum": "2021-06-01"}
        periode = {
            "type": "RaadpleegMetPeriode",
            "burgerservicenummer": bsn,
            "datumVan": "1950-01-01",
            "datumTot": "2025-01-01",
        }
        for query in (peildatum, periode):
            body = _valid(
                brp.post(HISTORIE, query), "verblijfplaatshistorie", "VerblijfplaatshistorieQueryResponse"
            )
            found += len(body["verblijfplaatsen"])
    assert found > len(sample)


def test_personen_answers_on_the_lap_alias(brp: SandboxClient) -> None:
    query = {
        "type": "RaadpleegMetBurgerservicenummer",
        "burgerservicenummer": ["100000001"],
        "fields": ["naam"],
    }
    for path in ("/lap/api/brp/personen", PERSONEN):
        _valid(brp.post(path, query), "personen", "PersonenQueryResponse")
    bewoning = {
        "type": "BewoningMetPeildatum",
        "adresseerbaarObjectIdentificatie": "0599019999000001",
        "peildatum": "2010-06-01",
    }
    for path in ("/lap/api/bewoning/bewoningen", "/lap/api/brp/bewoning/bewoningen"):
        _valid(brp.post(path, bewoning), "bewoning", "BewoningenQueryResponse")
    historie = {
        "type": "RaadpleegMetPeildatum",
        "burgerservicenummer": "100000001",
        "peildatum": "2020-01-01",
    }
    _valid(
        brp.post("/lap/api/brp/verblijfplaatshistorie", historie),
        "verblijfplaatshistorie",
        "VerblijfplaatshistorieQueryResponse",
    )
