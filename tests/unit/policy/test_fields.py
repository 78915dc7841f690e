"""Which requested `fields` paths a gegevensset covers: leaves, groups, wildcards, dates, aliases.

The response type matters: a group is covered when every sub-field RvIG's list has for *that*
response type is (Raadpleeg answers `Persoon`, most searches `PersoonBeperkt`).
"""

from __future__ import annotations

import json

import pytest

from app.brp import Api, Query, parse_query
from app.policy import Gegevensset
from tests.unit.policy.builders import (
    BSN,
    FIELD_TITLE,
    RAADPLEEG_ALLES,
    ZOEK_NAAM,
    Refused,
    decide,
    fields_refused,
    raadpleeg,
    with_,
    zoek_naam,
)

# Every naam sub-field of PersoonBeperkt, one by one (Persoon also has naam.aanduidingNaamgebruik).
NAAM_BEPERKT = (
    "naam.adellijkeTitelPredicaat",
    "naam.geslachtsnaam",
    "naam.volledigeNaam",
    "naam.voorletters",
    "naam.voornamen",
    "naam.voorvoegsel",
)


def allowing(*paths: str) -> list[Gegevensset]:
    """One set allowing both test query types, all their parameters, and these field paths."""
    return [
        with_(
            ZOEK_NAAM,
            query_types=("ZoekMetGeslachtsnaamEnGeboortedatum", "RaadpleegMetBurgerservicenummer"),
            parameters=("*",),
            fields=paths,
        )
    ]


CASES: dict[str, tuple[list[Gegevensset], Query, Query | Refused]] = {
    # leaves
    "leaf allowed": (allowing("naam.voornamen"), raadpleeg("naam.voornamen"), raadpleeg("naam.voornamen")),
    "leaf refused": (
        allowing("naam.voornamen"),
        raadpleeg("naam.voorvoegsel"),
        fields_refused("naam.voorvoegsel"),
    ),
    "leaf under an allowed group": (
        allowing("naam"),
        raadpleeg("naam.voorvoegsel"),
        raadpleeg("naam.voorvoegsel"),
    ),
    "RvIG's example, sorted and once each": (
        allowing("naam"),
        raadpleeg("geboorte.plaats", "naam", "geboorte.land", "geboorte.plaats"),
        Refused(
            "unauthorizedField",
            FIELD_TITLE,
            "U bent niet geautoriseerd om de volgende gegevens op te vragen met fields: "
            "geboorte.land, geboorte.plaats",
        ),
    ),
    # groups
    "group allowed as a group": (allowing("naam"), raadpleeg("naam"), raadpleeg("naam")),
    "group with a refused sub-field": (allowing("naam.voornamen"), raadpleeg("naam"), fields_refused("naam")),
    "group whose sub-fields are all allowed (PersoonBeperkt)": (
        allowing(*NAAM_BEPERKT),
        zoek_naam("naam"),
        zoek_naam("naam"),
    ),
    "same sub-fields do not cover the Persoon group": (
        allowing(*NAAM_BEPERKT),
        raadpleeg("naam"),
        fields_refused("naam"),
    ),
    "a parent does not follow from one child": (
        allowing("naam.voornamen"),
        zoek_naam("naam"),
        fields_refused("naam"),
    ),
    # wildcards
    "group wildcard": (
        allowing("naam.*"),
        raadpleeg("naam", "naam.voornamen"),
        raadpleeg("naam", "naam.voornamen"),
    ),
    "group wildcard is only that group": (
        allowing("naam.*"),
        raadpleeg("geboorte"),
        fields_refused("geboorte"),
    ),
    "everything": (
        [RAADPLEEG_ALLES],
        raadpleeg("kinderen", "gezag", "verblijfplaats.verblijfadres.postcode"),
        raadpleeg("kinderen", "gezag", "verblijfplaats.verblijfadres.postcode"),
    ),
    "a wildcard elsewhere matches nothing": (
        allowing("na*", "*.voornamen"),
        raadpleeg("naam.voornamen"),
        fields_refused("naam.voornamen"),
    ),
    # dates and Waardetabellen are delivered whole
    "date part under an allowed date": (
        allowing("geboorte.datum"),
        raadpleeg("geboorte.datum.jaar"),
        raadpleeg("geboorte.datum.jaar"),
    ),
    "date part needs the whole date": (
        allowing("geboorte.datum.jaar"),
        raadpleeg("geboorte.datum.jaar"),
        fields_refused("geboorte.datum.jaar"),
    ),
    "Waardetabel code needs the omschrijving too": (
        allowing("geslacht.code"),
        raadpleeg("geslacht.code"),
        fields_refused("geslacht.code"),
    ),
    # aliases
    "verblijfplaatsBinnenland via verblijfplaats": (
        allowing("verblijfplaats"),
        raadpleeg("verblijfplaatsBinnenland"),
        raadpleeg("verblijfplaatsBinnenland"),
    ),
    "alias leaf via the counterpart's leaf": (
        allowing("verblijfplaats.verblijfadres.postcode"),
        raadpleeg("verblijfplaatsBinnenland.verblijfadres.postcode"),
        raadpleeg("verblijfplaatsBinnenland.verblijfadres.postcode"),
    ),
    "adresseringBinnenland via adressering": (
        allowing("adressering"),
        raadpleeg("adresseringBinnenland.adresregel1"),
        raadpleeg("adresseringBinnenland.adresregel1"),
    ),
    "alias group needs all its counterpart leaves": (
        allowing("adressering.adresregel1", "adressering.adresregel2"),
        raadpleeg("adresseringBinnenland"),
        fields_refused("adresseringBinnenland"),
    ),
    "alias allowed on its own": (
        allowing("verblijfplaatsBinnenland"),
        raadpleeg("verblijfplaatsBinnenland.verblijfadres"),
        raadpleeg("verblijfplaatsBinnenland.verblijfadres"),
    ),
    "the alias does not allow the full field": (
        allowing("verblijfplaatsBinnenland"),
        raadpleeg("verblijfplaats"),
        fields_refused("verblijfplaats"),
    ),
}


@pytest.mark.parametrize(("sets", "query", "expected"), list(CASES.values()), ids=list(CASES))
def test_fields(sets: list[Gegevensset], query: Query, expected: Query | Refused) -> None:
    assert decide(sets, query) == expected


# --- a name RvIG does not list, below a date or Waardetabel ------------------------------------------


def _validated(*fields: str) -> Query:
    # The gateway judges the validated query: validation already made such a path the whole field.
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": list(fields)}
    return parse_query(Api.PERSONEN, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("sets", "asked", "expected"),
    [
        (allowing("geboorte.land"), "geboorte.land.nietBestaand", raadpleeg("geboorte.land")),
        (allowing("geboorte"), "geboorte.land.nietBestaand", raadpleeg("geboorte.land")),
        (allowing("geboorte.datum"), "geboorte.land.x", fields_refused("geboorte.land")),
        (allowing("geboorte.land.code"), "geboorte.land.x", fields_refused("geboorte.land")),
        (
            allowing("verblijfplaats"),
            "verblijfplaatsBinnenland.datumVan.x",
            raadpleeg("verblijfplaatsBinnenland.datumVan"),
        ),
        (allowing("partners.geboorte"), "partners.geboorte.datum.foo", raadpleeg("partners.geboorte.datum")),
        (allowing("partners.naam"), "partners.geboorte.datum.foo", fields_refused("partners.geboorte.datum")),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_name_below_a_fixed_shape_field_needs_exactly_that_field(
    sets: list[Gegevensset], asked: str, expected: Query | Refused
) -> None:
    assert decide(sets, _validated(asked)) == expected
