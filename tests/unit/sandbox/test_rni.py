"""`rni` is delivered only with a field of its categorie, as RvIG's Personen API does.

RvIG's rule (BRP-API/Haal-Centraal-BRP-bevragen `features/bevragen/persoon/rni/overzicht.feature`,
`.../persoon-beperkt/rni/overzicht.feature`): "RNI-deelnemer gegevens die horen bij categorie 01
(Persoon), 04 (Nationaliteit), 06 (Overlijden) en/of 08 (Verblijfplaats) worden geleverd wanneer
één of meerdere velden uit die categoriën wordt gevraagd". The fields of a categorie are those of
RvIG's data service (BRP-API/personen-data-service `GbaPersonenApiHelperBase.ApplyRniLogic` with
the `ShortHandMappings` of `PersonenFieldsSettings`): aanhef/aanschrijfwijze/gebruikInLopendeTekst
are made of categorie 01, the adresregels and `adressering.land` of categorie 08.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import msgspec
import pytest

from app.brp.queries import Api, PersonenQuery
from app.brp.validation import parse_query
from app.sandbox.dataset import Dataset, PersonRecord
from app.sandbox.search import answer_personen

Json = dict[str, Any]
BSN = "999990036"


def _rni(code: str, categorie: str) -> Json:
    return {"deelnemer": {"code": code}, "omschrijvingVerdrag": "Verdrag", "categorie": categorie}


PERSOON: Json = {
    "aNummer": "1234567890",
    "burgerservicenummer": BSN,
    "naam": {"voornamen": "Peter", "geslachtsnaam": "Jansen", "volledigeNaam": "Peter Jansen"},
    "geboorte": {"datum": {"type": "Datum", "datum": "1983-05-26", "langFormaat": "26 mei 1983"}},
    "geslacht": {"code": "M", "omschrijving": "man"},
    "nationaliteiten": [{"type": "Nationaliteit", "nationaliteit": {"code": "0052"}}],
    "overlijden": {"datum": {"type": "Datum", "datum": "2020-07-01", "langFormaat": "1 juli 2020"}},
    "gemeenteVanInschrijving": {"code": "1999"},
    "verblijfplaats": {
        "type": "VerblijfplaatsBuitenland",
        "verblijfadres": {"land": {"code": "5010"}, "regel1": "Rue 1"},
    },
    "adressering": {"adresregel1": "Rue 1", "land": {"code": "5010"}, "aanhef": "Geachte heer Jansen"},
    "rni": [
        _rni("0101", "Persoon"),
        _rni("0401", "Overlijden"),
        _rni("0201", "Verblijfplaats"),
        _rni("0501", "Nationaliteit"),
        _rni("0201", "Nationaliteit"),
    ],
}


def _ask(fields: list[str], query_type: str = "RaadpleegMetBurgerservicenummer") -> Json:
    query: Json = {"type": query_type, "fields": fields}
    if query_type == "RaadpleegMetBurgerservicenummer":
        query["burgerservicenummer"] = [BSN]
    else:
        query |= {
            "geslachtsnaam": "Jansen",
            "geboortedatum": "1983-05-26",
            "inclusiefOverledenPersonen": True,
        }
    parsed = cast(PersonenQuery, parse_query(Api.PERSONEN, msgspec.json.encode(query)))
    dataset = Dataset([PersonRecord(persoonslijst="Lg99_001", persoon=PERSOON)], [])
    personen: list[Json] = answer_personen(dataset, parsed, dt.date.today())["personen"]
    return personen[0]


def _categorieen(persoon: Json) -> list[str] | None:
    rni = persoon.get("rni")
    return None if rni is None else [entry["categorie"] for entry in rni]


@pytest.mark.parametrize(
    "fields",
    [
        ["naam"],
        ["naam.volledigeNaam"],
        ["naam.voorletters", "naam.geslachtsnaam"],
        ["geboorte.datum"],
        ["geslacht"],
        ["burgerservicenummer"],
        ["aNummer"],
        ["leeftijd"],
        ["adressering.aanhef"],
        ["adressering.aanschrijfwijze.naam"],
        ["adressering.gebruikInLopendeTekst"],
    ],
)
def test_fields_of_categorie_01_deliver_the_persoon_rni(fields: list[str]) -> None:
    assert _categorieen(_ask(fields)) == ["Persoon"]


@pytest.mark.parametrize("fields", [["nationaliteiten"], ["nationaliteiten.nationaliteit"]])
def test_fields_of_categorie_04_deliver_every_nationaliteit_rni(fields: list[str]) -> None:
    assert _categorieen(_ask(fields)) == ["Nationaliteit", "Nationaliteit"]


def test_a_field_of_categorie_06_delivers_the_overlijden_rni() -> None:
    assert _categorieen(_ask(["overlijden.datum"])) == ["Overlijden"]


@pytest.mark.parametrize(
    "fields",
    [
        ["verblijfplaats"],
        ["verblijfplaats.verblijfadres.land.code"],
        ["verblijfplaats.verblijfadres.postcode"],
        ["verblijfplaatsBinnenland.verblijfadres.korteStraatnaam"],
        ["gemeenteVanInschrijving"],
        ["datumInschrijvingInGemeente.datum"],
        ["immigratie.vanuitVerblijfplaatsOnbekend"],
        ["adressering.adresregel1"],
        ["adressering.adresregel3"],
        ["adressering.land.omschrijving"],
        ["adresseringBinnenland.adresregel2"],
    ],
)
def test_fields_of_categorie_08_deliver_the_verblijfplaats_rni(fields: list[str]) -> None:
    assert _categorieen(_ask(fields)) == ["Verblijfplaats"]


@pytest.mark.parametrize("fields", [["adressering"], ["adresseringBinnenland"], ["naam", "verblijfplaats"]])
def test_fields_of_both_categories_deliver_both(fields: list[str]) -> None:
    assert _categorieen(_ask(fields)) == ["Persoon", "Verblijfplaats"]


def test_every_categorie_asked_keeps_rvigs_order() -> None:
    fields = ["nationaliteiten", "verblijfplaats", "overlijden", "aNummer"]
    assert _categorieen(_ask(fields)) == [
        "Persoon",
        "Overlijden",
        "Verblijfplaats",
        "Nationaliteit",
        "Nationaliteit",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        ["partners"],
        ["kinderen.naam.voornamen"],
        ["ouders"],
        ["europeesKiesrecht"],
        ["verblijfstitel"],
        ["indicatieCurateleRegister"],
        ["datumEersteInschrijvingGBA"],
    ],
)
def test_fields_of_other_categories_deliver_no_rni(fields: list[str]) -> None:
    assert "rni" not in _ask(fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["naam"], ["Persoon"]),
        (["adressering.adresregel2"], ["Verblijfplaats"]),
        (["naam.voornamen", "adressering.land.omschrijving"], ["Persoon", "Verblijfplaats"]),
        (["geslacht"], ["Persoon"]),
    ],
)
def test_a_search_follows_the_same_rule(fields: list[str], expected: list[str]) -> None:
    assert _categorieen(_ask(fields, "ZoekMetGeslachtsnaamEnGeboortedatum")) == expected
