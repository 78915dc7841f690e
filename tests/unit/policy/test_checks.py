"""check_gegevensset: every mistake a tenant file can make in a gegevensset, named for the loader."""

from __future__ import annotations

import pytest

from app.brp import ResponseType, fields_catalogue
from app.policy import Gegevensset, check_gegevensset
from tests.unit.policy.builders import AMSTERDAM, BASIS, BEWONING, HISTORIE, RAADPLEEG_ALLES, ZOEK_NAAM, with_

SOUND = {
    "basis": BASIS,
    "zoek-naam": ZOEK_NAAM,
    "raadpleeg-alles": RAADPLEEG_ALLES,
    "bewoning": BEWONING,
    "historie": HISTORIE,
    "own residents with a former gemeente": AMSTERDAM,
    "group wildcard": with_(BASIS, fields=("naam.*", "verblijfplaatsBinnenland")),
    "wildcards everywhere": with_(BASIS, apis=("personen", "bewoning"), parameters=("*",), fields=("*",)),
}

PROBLEMS: dict[str, tuple[Gegevensset, list[str]]] = {
    "unknown API": (
        with_(BEWONING, apis=("bewoning", "bewoningen")),
        ["apis: unknown API 'bewoningen' (known: bewoning, personen, verblijfplaatshistorie)"],
    ),
    "unknown query type": (
        with_(BASIS, query_types=("RaadpleegMetBsn",)),
        ["query_types: unknown query type 'RaadpleegMetBsn'"],
    ),
    "query type of an API not allowed": (
        with_(BASIS, query_types=("BewoningMetPeildatum",)),
        ["query_types: 'BewoningMetPeildatum' belongs to API 'bewoning', which apis does not allow"],
    ),
    "unknown parameter": (
        with_(ZOEK_NAAM, parameters=("geslachtsnaam", "achternaam")),
        ["parameters: 'achternaam' is not a parameter of any query type this set allows"],
    ),
    "parameter of a type not allowed": (
        with_(ZOEK_NAAM, parameters=("straat",)),
        ["parameters: 'straat' is not a parameter of any query type this set allows"],
    ),
    "type and fields are not parameters": (
        with_(ZOEK_NAAM, parameters=("type", "fields")),
        [
            "parameters: 'type' is always allowed and must not be listed",
            "parameters: 'fields' is always allowed and must not be listed",
        ],
    ),
    "inclusiefOverledenPersonen has its own switch": (
        with_(ZOEK_NAAM, parameters=("inclusiefOverledenPersonen",)),
        [
            "parameters: 'inclusiefOverledenPersonen' is governed by inclusief_overleden_personen, "
            "not listed here"
        ],
    ),
    "unknown field path": (
        with_(BASIS, fields=("naam", "naam.achternaam")),
        ["fields: 'naam.achternaam' is not a field path of the Personen API"],
    ),
    "fields are case-sensitive": (
        with_(BASIS, fields=("Naam",)),
        ["fields: 'Naam' is not a field path of the Personen API"],
    ),
    "unknown group under a wildcard": (
        with_(BASIS, fields=("familie.*",)),
        ["fields: 'familie.*' is not a field path of the Personen API"],
    ),
    "wildcard in the wrong place": (
        with_(BASIS, fields=("naam.*.code", "na*")),
        [
            "fields: 'naam.*.code' has a wildcard; only '*' on its own or a trailing '.*' is allowed",
            "fields: 'na*' has a wildcard; only '*' on its own or a trailing '.*' is allowed",
        ],
    ),
    "auto-delivered field": (
        with_(BASIS, fields=("geheimhoudingPersoonsgegevens",)),
        [
            "fields: 'geheimhoudingPersoonsgegevens' is delivered automatically or only as a whole "
            "(gezag) and can never be requested"
        ],
    ),
    "part of gezag": (
        with_(BASIS, fields=("gezag.type",)),
        [
            "fields: 'gezag.type' is delivered automatically or only as a whole (gezag) "
            "and can never be requested"
        ],
    ),
    "part of a date": (
        with_(BASIS, fields=("geboorte.datum.jaar",)),
        [
            "fields: 'geboorte.datum.jaar' is part of a date or Waardetabel that RvIG delivers whole; "
            "allow 'geboorte.datum'"
        ],
    ),
    "fields without the personen API": (
        with_(BEWONING, fields=("naam",)),
        ["fields: only the personen API has fields, and apis does not allow it"],
    ),
    "gemeente code not four digits": (
        with_(AMSTERDAM, own_residents_gemeente="363", own_residents_former_gemeenten=("03620",)),
        [
            "own_residents_gemeente: '363' is not a gemeente code of four digits",
            "own_residents_former_gemeenten: '03620' is not a gemeente code of four digits",
        ],
    ),
    "former gemeenten without a gemeente": (
        with_(BASIS, own_residents_former_gemeenten=("0362",)),
        ["own_residents_former_gemeenten: given without own_residents_gemeente"],
    ),
    "own residents with historie": (
        with_(AMSTERDAM, apis=("personen", "verblijfplaatshistorie")),
        [
            "own_residents_gemeente: verblijfplaatshistorie cannot be limited to own residents; "
            "this set never allows it (use a separate set without the restriction)"
        ],
    ),
}


@pytest.mark.parametrize("gegevensset", list(SOUND.values()), ids=list(SOUND))
def test_sound_sets_have_no_problems(gegevensset: Gegevensset) -> None:
    assert check_gegevensset(gegevensset) == []


@pytest.mark.parametrize(("gegevensset", "problems"), list(PROBLEMS.values()), ids=list(PROBLEMS))
def test_problems_are_named(gegevensset: Gegevensset, problems: list[str]) -> None:
    assert check_gegevensset(gegevensset) == problems


@pytest.mark.parametrize("response_type", list(ResponseType))
def test_every_path_rvig_offers_for_authorisation_is_accepted(response_type: ResponseType) -> None:
    paths = tuple(sorted(fields_catalogue().pickable_paths(response_type)))

    assert check_gegevensset(with_(BASIS, fields=paths)) == []
