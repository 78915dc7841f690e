"""parse_query gives RvIG's exact outcome for every invalid request, and typed queries for valid ones."""

from __future__ import annotations

import datetime
import json
from typing import Any

import msgspec
import pytest

from app.brp import (
    Api,
    BewoningMetPeildatum,
    BewoningMetPeriode,
    ProblemError,
    Query,
    RaadpleegMetBurgerservicenummer,
    RaadpleegMetPeildatum,
    RaadpleegMetPeriode,
    ResponseType,
    ZoekMetAdresseerbaarObjectIdentificatie,
    ZoekMetGeslachtsnaamEnGeboortedatum,
    ZoekMetNaamEnGemeenteVanInschrijving,
    ZoekMetNummeraanduidingIdentificatie,
    ZoekMetPostcodeEnHuisnummer,
    ZoekMetStraatHuisnummerEnGemeenteVanInschrijving,
    api_of,
    encode_query,
    max_results,
    parse_query,
    response_type_for,
    search_parameters,
)
from tests.brp_invalid_requests import INVALID_REQUESTS, InvalidRequestCase


def _body(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _problem_json(error: ProblemError, instance: str) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(error.problem.at(instance)))
    return decoded


def test_the_table_is_big_enough_and_covers_every_api() -> None:
    assert len(INVALID_REQUESTS) >= 70
    assert {case.api for case in INVALID_REQUESTS} == set(Api)
    assert len({case.id for case in INVALID_REQUESTS}) == len(INVALID_REQUESTS)


@pytest.mark.parametrize("case", INVALID_REQUESTS, ids=lambda case: case.id)
def test_invalid_request_gets_rvigs_exact_problem(case: InvalidRequestCase) -> None:
    with pytest.raises(ProblemError) as raised:
        parse_query(case.api, case.body)

    problem = raised.value.problem
    assert (problem.status, problem.code, problem.title) == (case.status, case.code, case.title)
    assert [(p.code, p.name, p.reason) for p in problem.invalid_params or ()] == list(case.invalid_params)
    assert problem.detail == case.detail
    assert _problem_json(raised.value, case.path) == case.expected_problem()


# --- valid requests: one or more per query type ------------------------------------------------------

VALID: list[tuple[str, Api, dict[str, Any], Query]] = [
    (
        "raadpleeg",
        Api.PERSONEN,
        {
            "type": "RaadpleegMetBurgerservicenummer",
            "burgerservicenummer": ["999993653", "999990639"],
            "gemeenteVanInschrijving": "0518",
            "fields": ["naam", "geboorte.datum.jaar", "verblijfplaatsBinnenland", "gezag"],
        },
        RaadpleegMetBurgerservicenummer(
            burgerservicenummer=("999993653", "999990639"),
            gemeente_van_inschrijving="0518",
            fields=("naam", "geboorte.datum.jaar", "verblijfplaatsBinnenland", "gezag"),
        ),
    ),
    (
        "raadpleeg-20-bsns-numbers-as-text",
        Api.PERSONEN,
        {
            "type": "RaadpleegMetBurgerservicenummer",
            "burgerservicenummer": [999993653] * 20,
            "fields": ["aNummer"],
        },
        RaadpleegMetBurgerservicenummer(burgerservicenummer=("999993653",) * 20, fields=("aNummer",)),
    ),
    (
        "geslachtsnaam-geboortedatum",
        Api.PERSONEN,
        {
            "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
            "geslachtsnaam": "brănduş-dendyuk",
            "geboortedatum": "1983-05-26",
            "voornamen": "Kuş*",
            "voorvoegsel": "van 't",
            "geslacht": "v",
            "inclusiefOverledenPersonen": True,
            "gemeenteVanInschrijving": "0599",
            "fields": ["burgerservicenummer", "naam.voornamen"],
        },
        ZoekMetGeslachtsnaamEnGeboortedatum(
            geslachtsnaam="brănduş-dendyuk",
            geboortedatum=datetime.date(1983, 5, 26),
            voornamen="Kuş*",
            voorvoegsel="van 't",
            geslacht="v",
            inclusief_overleden_personen=True,
            gemeente_van_inschrijving="0599",
            fields=("burgerservicenummer", "naam.voornamen"),
        ),
    ),
    (
        "naam-gemeente-wildcards",
        Api.PERSONEN,
        {
            "type": "ZoekMetNaamEnGemeenteVanInschrijving",
            "geslachtsnaam": "Maa*",
            "voornamen": "Pie*",
            "gemeenteVanInschrijving": "0518",
            "fields": ["naam"],
        },
        ZoekMetNaamEnGemeenteVanInschrijving(
            geslachtsnaam="Maa*", voornamen="Pie*", gemeente_van_inschrijving="0518", fields=("naam",)
        ),
    ),
    (
        "postcode-lenient-scalars",
        Api.PERSONEN,
        {
            "type": "ZoekMetPostcodeEnHuisnummer",
            "postcode": "2563 kj",
            "huisnummer": "0012",
            "huisletter": "",
            "huisnummertoevoeging": " ",
            "inclusiefOverledenPersonen": " TRUE ",
            "geboortedatum": "2000-02-29",
            "geslachtsnaam": "Jansen",
            "fields": ["adressering"],
        },
        ZoekMetPostcodeEnHuisnummer(
            postcode="2563 kj",
            huisnummer=12,
            inclusief_overleden_personen=True,
            geboortedatum=datetime.date(2000, 2, 29),
            geslachtsnaam="Jansen",
            fields=("adressering",),
        ),
    ),
    (
        "postcode-minimal",
        Api.PERSONEN,
        {
            "type": "ZoekMetPostcodeEnHuisnummer",
            "postcode": "2563KJ",
            "huisnummer": 99999,
            "fields": ["naam"],
        },
        ZoekMetPostcodeEnHuisnummer(postcode="2563KJ", huisnummer=99999, fields=("naam",)),
    ),
    (
        "straat",
        Api.PERSONEN,
        {
            "type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
            "straat": "*beckelaan",
            "huisnummer": 1,
            "huisletter": "a",
            "huisnummertoevoeging": "bis",
            "gemeenteVanInschrijving": "0518",
            "inclusiefOverledenPersonen": "false",
            "fields": ["naam"],
        },
        ZoekMetStraatHuisnummerEnGemeenteVanInschrijving(
            straat="*beckelaan",
            huisnummer=1,
            huisletter="a",
            huisnummertoevoeging="bis",
            gemeente_van_inschrijving="0518",
            inclusief_overleden_personen=False,
            fields=("naam",),
        ),
    ),
    (
        "nummeraanduiding",
        Api.PERSONEN,
        {
            "type": "ZoekMetNummeraanduidingIdentificatie",
            "nummeraanduidingIdentificatie": "0599200051001501",
            "fields": ["burgerservicenummer"],
        },
        ZoekMetNummeraanduidingIdentificatie(
            nummeraanduiding_identificatie="0599200051001501", fields=("burgerservicenummer",)
        ),
    ),
    (
        "adresseerbaar-object-with-gezag",
        Api.PERSONEN,
        {
            "type": "ZoekMetAdresseerbaarObjectIdentificatie",
            "adresseerbaarObjectIdentificatie": "0518010060731001",
            "gemeenteVanInschrijving": "0518",
            "fields": ["gezag", "adresseringBinnenland.adresregel1"],
        },
        ZoekMetAdresseerbaarObjectIdentificatie(
            adresseerbaar_object_identificatie="0518010060731001",
            gemeente_van_inschrijving="0518",
            fields=("gezag", "adresseringBinnenland.adresregel1"),
        ),
    ),
    (
        "bewoning-peildatum",
        Api.BEWONING,
        {
            "type": "BewoningMetPeildatum",
            "adresseerbaarObjectIdentificatie": "0599010000208579",
            "peildatum": "2015-08-08",
        },
        BewoningMetPeildatum(
            adresseerbaar_object_identificatie="0599010000208579", peildatum=datetime.date(2015, 8, 8)
        ),
    ),
    (
        "bewoning-periode",
        Api.BEWONING,
        {
            "type": "BewoningMetPeriode",
            "adresseerbaarObjectIdentificatie": "0599010000208579",
            "datumVan": "2015-01-01",
            "datumTot": "2015-01-02",
        },
        BewoningMetPeriode(
            adresseerbaar_object_identificatie="0599010000208579",
            datum_van=datetime.date(2015, 1, 1),
            datum_tot=datetime.date(2015, 1, 2),
        ),
    ),
    (
        "historie-peildatum",
        Api.VERBLIJFPLAATSHISTORIE,
        {"type": "RaadpleegMetPeildatum", "burgerservicenummer": "999993653", "peildatum": "2020-01-01"},
        RaadpleegMetPeildatum(burgerservicenummer="999993653", peildatum=datetime.date(2020, 1, 1)),
    ),
    (
        "historie-periode",
        Api.VERBLIJFPLAATSHISTORIE,
        {
            "type": "RaadpleegMetPeriode",
            "burgerservicenummer": "999993653",
            "datumVan": "2008-01-01",
            "datumTot": "2020-01-01",
        },
        RaadpleegMetPeriode(
            burgerservicenummer="999993653",
            datum_van=datetime.date(2008, 1, 1),
            datum_tot=datetime.date(2020, 1, 1),
        ),
    ),
]


@pytest.mark.parametrize(("api", "body", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_request_gives_the_typed_query(api: Api, body: dict[str, Any], expected: Query) -> None:
    query = parse_query(api, _body(body))

    assert query == expected
    assert api_of(query) is api


@pytest.mark.parametrize(("api", "body", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_encoded_query_parses_back_to_the_same_query(api: Api, body: dict[str, Any], expected: Query) -> None:
    encoded = encode_query(parse_query(api, _body(body)))

    assert parse_query(api, encoded) == expected
    assert json.loads(encoded)["type"] == body["type"]


def test_encoding_is_canonical_for_rvig() -> None:
    body = {
        "type": "ZoekMetPostcodeEnHuisnummer",
        "huisnummer": "12",
        "inclusiefOverledenPersonen": "true",
        "huisletter": " ",
        "postcode": "2563KJ",
        "geboortedatum": "1983-05-26",
        "fields": ["naam"],
    }

    encoded = json.loads(encode_query(parse_query(Api.PERSONEN, _body(body))))

    assert encoded == {
        "type": "ZoekMetPostcodeEnHuisnummer",
        "fields": ["naam"],
        "postcode": "2563KJ",
        "huisnummer": 12,
        "geboortedatum": "1983-05-26",
        "inclusiefOverledenPersonen": True,
    }
    assert next(iter(encoded)) == "type"


def test_search_parameters_leave_out_type_and_fields() -> None:
    query = parse_query(
        Api.PERSONEN,
        _body(
            {
                "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
                "geslachtsnaam": "Maassen",
                "geboortedatum": "1983-05-26",
                "inclusiefOverledenPersonen": "false",
                "fields": ["naam"],
            }
        ),
    )

    assert search_parameters(query) == {
        "geslachtsnaam": "Maassen",
        "geboortedatum": "1983-05-26",
        "inclusiefOverledenPersonen": False,
    }


def test_search_parameters_of_bewoning_and_historie() -> None:
    bewoning = BewoningMetPeriode(
        adresseerbaar_object_identificatie="0599010000208579",
        datum_van=datetime.date(2015, 1, 1),
        datum_tot=datetime.date(2016, 1, 1),
    )
    historie = RaadpleegMetPeildatum(burgerservicenummer="999993653", peildatum=datetime.date(2020, 1, 1))

    assert search_parameters(bewoning) == {
        "adresseerbaarObjectIdentificatie": "0599010000208579",
        "datumVan": "2015-01-01",
        "datumTot": "2016-01-01",
    }
    assert search_parameters(historie) == {"burgerservicenummer": "999993653", "peildatum": "2020-01-01"}


@pytest.mark.parametrize(
    ("query", "response_type", "maximum"),
    [
        (
            RaadpleegMetBurgerservicenummer(burgerservicenummer=("999993653",), fields=("naam",)),
            ResponseType.PERSOON,
            None,
        ),
        (
            ZoekMetGeslachtsnaamEnGeboortedatum(
                geslachtsnaam="X", geboortedatum=datetime.date(2000, 1, 1), fields=("naam",)
            ),
            ResponseType.PERSOON_BEPERKT,
            10,
        ),
        (
            ZoekMetPostcodeEnHuisnummer(postcode="2563KJ", huisnummer=1, fields=("naam",)),
            ResponseType.PERSOON_BEPERKT,
            30,
        ),
        (
            ZoekMetAdresseerbaarObjectIdentificatie(
                adresseerbaar_object_identificatie="0518010060731001", fields=("gezag",)
            ),
            ResponseType.GEZAG_PERSOON_BEPERKT,
            30,
        ),
    ],
)
def test_response_type_and_maximum_results_per_query_type(
    query: RaadpleegMetBurgerservicenummer
    | ZoekMetGeslachtsnaamEnGeboortedatum
    | ZoekMetPostcodeEnHuisnummer
    | ZoekMetAdresseerbaarObjectIdentificatie,
    response_type: ResponseType,
    maximum: int | None,
) -> None:
    assert response_type_for(query) is response_type
    assert max_results(query) == maximum


def test_gezag_is_valid_for_raadpleeg_but_not_for_a_name_search() -> None:
    raadpleeg = {
        "type": "RaadpleegMetBurgerservicenummer",
        "burgerservicenummer": ["999993653"],
        "fields": ["gezag"],
    }
    parse_query(Api.PERSONEN, _body(raadpleeg))

    search = {
        "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
        "geslachtsnaam": "X",
        "geboortedatum": "2000-01-01",
    }
    with pytest.raises(ProblemError) as raised:
        parse_query(Api.PERSONEN, _body({**search, "fields": ["gezag"]}))
    assert raised.value.problem.invalid_params is not None
    assert raised.value.problem.invalid_params[0].reason == "Parameter bevat een niet bestaande veldnaam."


def test_a_problem_never_echoes_a_parameter_value() -> None:
    secret = "999999999-secret-value"
    body = {"type": "RaadpleegMetPeildatum", "burgerservicenummer": secret, "peildatum": secret}

    with pytest.raises(ProblemError) as raised:
        parse_query(Api.VERBLIJFPLAATSHISTORIE, _body(body))

    assert secret not in msgspec.json.encode(raised.value.problem).decode()
