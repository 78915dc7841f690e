"""RvIG's search semantics, fields filtering, leeftijd, Bewoning and Verblijfplaatshistorie rules.

The persons are the hand-made ones of `testpersons.py`, each made for one rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.sandbox.client import BEWONING, HISTORIE, SandboxClient
from tests.integration.sandbox.testpersons import (
    ADDRESS_CROWD_AOI,
    ADDRESS_CROWD_POSTCODE,
    BEWONING_AOI,
    CELIK,
    DECEASED,
    HALFBEKEND,
    LETTER_B,
    LIVING_NAMESAKE,
    NAMESAKES_BORN,
    SUSPENDED,
    TOEVOEGING,
    datum,
)

NAAM_GEBOORTE = "ZoekMetGeslachtsnaamEnGeboortedatum"
COOLSINGEL_40 = {CELIK, LETTER_B, TOEVOEGING}


def _naam_geboorte(geslachtsnaam: str, geboortedatum: str, **extra: Any) -> dict[str, Any]:
    return {"type": NAAM_GEBOORTE, "geslachtsnaam": geslachtsnaam, "geboortedatum": geboortedatum, **extra}


def _raadpleeg(*bsns: str, fields: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "RaadpleegMetBurgerservicenummer",
        "burgerservicenummer": list(bsns),
        "fields": fields,
        **extra,
    }


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Amsterdam")).date()


# --- matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize("geslachtsnaam", ["Çelikbaş", "celikbas", "CELIKBAS", "ÇeLiKbAş", "Celikbaş"])
def test_names_match_without_case_or_diacritics(brp: SandboxClient, geslachtsnaam: str) -> None:
    assert brp.found(_naam_geboorte(geslachtsnaam, "1990-03-15")) == [CELIK]


def test_voornamen_match_without_diacritics(brp: SandboxClient) -> None:
    assert brp.found(_naam_geboorte("celikbas", "1990-03-15", voornamen="zoe emilie")) == [CELIK]
    assert brp.found(_naam_geboorte("celikbas", "1990-03-15", voornamen="Zoë")) == []


@pytest.mark.parametrize(("pattern", "found"), [("celik*", [CELIK]), ("Çel*", [CELIK]), ("celiz*", [])])
def test_geslachtsnaam_wildcard_is_a_prefix(brp: SandboxClient, pattern: str, found: list[str]) -> None:
    assert brp.found(_naam_geboorte(pattern, "1990-03-15")) == found


def test_naam_en_gemeente_with_wildcard_voornamen(brp: SandboxClient) -> None:
    query = {
        "type": "ZoekMetNaamEnGemeenteVanInschrijving",
        "geslachtsnaam": "celikbas",
        "voornamen": "Zoe*",
        "gemeenteVanInschrijving": "0599",
    }
    assert brp.found(query) == [CELIK]
    assert brp.found({**query, "gemeenteVanInschrijving": "0518"}) == []


@pytest.mark.parametrize("straat", ["Coolsingel", "coolsingel", "Coolsin*", "*oolsingel"])
def test_straat_matches_exactly_by_prefix_or_by_suffix(brp: SandboxClient, straat: str) -> None:
    query = {
        "type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
        "straat": straat,
        "huisnummer": 40,
        "gemeenteVanInschrijving": "0599",
    }
    assert set(brp.found(query)) == COOLSINGEL_40


@pytest.mark.parametrize("postcode", ["3011AD", "3011 AD", "3011ad", "3011 aD"])
def test_postcode_with_or_without_space_in_any_case(brp: SandboxClient, postcode: str) -> None:
    query = {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": postcode, "huisnummer": "40"}
    assert set(brp.found(query)) == COOLSINGEL_40


def test_huisletter_and_huisnummertoevoeging_filter(brp: SandboxClient) -> None:
    query = {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "3011AD", "huisnummer": 40}
    assert brp.found({**query, "huisletter": "B"}) == [LETTER_B]
    assert brp.found({**query, "huisnummertoevoeging": "BIS"}) == [TOEVOEGING]
    assert brp.found({**query, "huisletter": "c"}) == []


def test_postcode_search_filters_on_geboortedatum_and_geslachtsnaam(brp: SandboxClient) -> None:
    query = {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "3011AD", "huisnummer": 40}
    assert brp.found({**query, "geboortedatum": "1991-04-04"}) == [LETTER_B]
    assert brp.found({**query, "geslachtsnaam": "toev*"}) == [TOEVOEGING]


def test_gemeente_van_inschrijving_is_a_silent_filter(brp: SandboxClient) -> None:
    assert brp.found(_raadpleeg(CELIK, fields=[], gemeenteVanInschrijving="0599")) == [CELIK]
    assert brp.found(_raadpleeg(CELIK, fields=[], gemeenteVanInschrijving="0518")) == []
    assert brp.found(_naam_geboorte("celikbas", "1990-03-15", gemeenteVanInschrijving="0518")) == []


def test_identification_searches(brp: SandboxClient) -> None:
    aoi = {
        "type": "ZoekMetAdresseerbaarObjectIdentificatie",
        "adresseerbaarObjectIdentificatie": "0599010000000041",
    }
    nummeraanduiding = {
        "type": "ZoekMetNummeraanduidingIdentificatie",
        "nummeraanduidingIdentificatie": "0599200000000041",
    }
    assert brp.found(aoi) == [LETTER_B]
    assert brp.found(nummeraanduiding) == [LETTER_B]


# --- deceased and suspended ----------------------------------------------------------------------


def test_deceased_persons_only_with_inclusief_overleden_personen(brp: SandboxClient) -> None:
    query = _naam_geboorte("Verstorven", "1930-05-05")
    assert brp.found(query) == [LIVING_NAMESAKE]
    assert brp.found({**query, "inclusiefOverledenPersonen": False}) == [LIVING_NAMESAKE]
    assert set(brp.found({**query, "inclusiefOverledenPersonen": True})) == {DECEASED, LIVING_NAMESAKE}


def test_raadpleeg_returns_deceased_with_opschorting_and_without_leeftijd(brp: SandboxClient) -> None:
    response = brp.personen(_raadpleeg(DECEASED, fields=["naam.voornamen", "leeftijd"]))

    assert response.status_code == 200
    assert response.json()["personen"] == [
        {
            "naam": {"voornamen": "Albert"},
            "opschortingBijhouding": {
                "reden": {"code": "O", "omschrijving": "overlijden"},
                "datum": datum("2020-02-02"),
            },
        }
    ]


def test_suspended_persoonslijst_is_never_delivered(brp: SandboxClient) -> None:
    assert brp.found(_raadpleeg(SUSPENDED, CELIK, fields=[])) == [CELIK]
    assert brp.found(_naam_geboorte("Foutief", "1970-07-07", inclusiefOverledenPersonen=True)) == []


# --- tooManyResults ------------------------------------------------------------------------------


def _too_many(brp: SandboxClient, query: dict[str, Any], maximum: int) -> None:
    response = brp.personen({**query, "fields": ["burgerservicenummer"]})
    assert response.status_code == 400
    assert response.json() == {
        "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
        "title": "Teveel zoekresultaten.",
        "status": 400,
        "detail": f"Meer dan maximum van {maximum} zoekresultaten gevonden. Verfijn de zoekopdracht.",
        "instance": "/haalcentraal/api/brp/personen",
        "code": "tooManyResults",
    }


def test_name_search_above_ten_results(brp: SandboxClient) -> None:
    _too_many(brp, _naam_geboorte("Veelvoud", NAMESAKES_BORN), 10)
    assert len(brp.found(_naam_geboorte("Veelvoud", NAMESAKES_BORN, geslacht="M"))) == 5


@pytest.mark.parametrize(
    "query",
    [
        {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": ADDRESS_CROWD_POSTCODE, "huisnummer": 1},
        {
            "type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
            "straat": "Drukke Straat",
            "huisnummer": 1,
            "gemeenteVanInschrijving": "0599",
        },
        {
            "type": "ZoekMetAdresseerbaarObjectIdentificatie",
            "adresseerbaarObjectIdentificatie": ADDRESS_CROWD_AOI,
        },
        {"type": "ZoekMetNummeraanduidingIdentificatie", "nummeraanduidingIdentificatie": "0599209999000031"},
    ],
    ids=["postcode", "straat", "adresseerbaar-object", "nummeraanduiding"],
)
def test_address_search_above_thirty_results(brp: SandboxClient, query: dict[str, Any]) -> None:
    _too_many(brp, query, 30)


# --- fields and response types -------------------------------------------------------------------


def test_only_requested_fields_with_whole_dates_and_waardetabellen(brp: SandboxClient) -> None:
    fields = ["naam.voornamen", "geboorte.datum.jaar", "geslacht.code", "partners"]
    response = brp.personen(_raadpleeg(CELIK, fields=fields))

    assert response.json()["personen"] == [
        {
            "naam": {"voornamen": "Zoë Émilie"},
            "geboorte": {"datum": datum("1990-03-15")},
            "geslacht": {"code": "V", "omschrijving": "vrouw"},
            "partners": [],
        }
    ]


def test_persoon_beperkt_has_only_adresregels_of_adressering(brp: SandboxClient) -> None:
    search = brp.personen({**_naam_geboorte("celikbas", "1990-03-15"), "fields": ["adressering"]})
    raadpleeg = brp.personen(_raadpleeg(CELIK, fields=["adressering"]))

    assert search.json()["personen"] == [
        {"adressering": {"adresregel1": "Coolsingel 40", "adresregel2": "3011 AD  ROTTERDAM"}}
    ]
    assert "aanhef" in raadpleeg.json()["personen"][0]["adressering"]


def test_ended_verblijfstitel_is_not_delivered(brp: SandboxClient) -> None:
    response = brp.personen(
        _raadpleeg(LETTER_B, TOEVOEGING, fields=["burgerservicenummer", "verblijfstitel"])
    )

    personen = {p["burgerservicenummer"]: p for p in response.json()["personen"]}
    assert "verblijfstitel" not in personen[LETTER_B]
    assert personen[TOEVOEGING]["verblijfstitel"]["datumEinde"] == datum("2999-01-01")


def test_leeftijd_on_the_day_of_the_query(brp: SandboxClient) -> None:
    today = _today()
    born = dt.date(1990, 3, 15)
    expected = today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    response = brp.personen(_raadpleeg(CELIK, fields=["leeftijd"]))

    assert response.json()["personen"] == [{"leeftijd": expected}]


def test_leeftijd_with_unknown_birth_day(brp: SandboxClient) -> None:
    # Born in June 1975 (day unknown): no leeftijd in June, else the age by month.
    today = _today()
    expected = None if today.month == 6 else today.year - 1975 - (today.month < 6)

    persoon = brp.personen(_raadpleeg(HALFBEKEND, fields=["leeftijd", "burgerservicenummer"])).json()[
        "personen"
    ][0]

    assert persoon.get("leeftijd") == expected


def test_leeftijd_in_a_search_answer(brp: SandboxClient) -> None:
    today = _today()
    expected = today.year - 1990 - ((today.month, today.day) < (3, 15))
    response = brp.personen({**_naam_geboorte("celikbas", "1990-03-15"), "fields": ["leeftijd"]})
    assert response.json() == {"type": NAAM_GEBOORTE, "personen": [{"leeftijd": expected}]}


# --- Verblijfplaatshistorie ----------------------------------------------------------------------


def _straten(brp: SandboxClient, query: dict[str, Any]) -> list[str]:
    response = brp.post(HISTORIE, {"burgerservicenummer": CELIK, **query})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return [v["verblijfadres"]["officieleStraatnaam"] for v in response.json()["verblijfplaatsen"]]


@pytest.mark.parametrize(
    ("peildatum", "straten"),
    [
        ("2000-01-01", []),
        ("2005-05-05", ["Weena"]),
        ("2010-03-15", ["Blaak", "Weena"]),  # both may apply: the move happened on an unknown March day
        ("2012-01-01", ["Blaak"]),
        ("2015-08-07", ["Blaak"]),
        ("2015-08-08", ["Coolsingel"]),  # datumTot is the first day at the next address
    ],
)
def test_historie_met_peildatum(brp: SandboxClient, peildatum: str, straten: list[str]) -> None:
    assert _straten(brp, {"type": "RaadpleegMetPeildatum", "peildatum": peildatum}) == straten


@pytest.mark.parametrize(
    ("van", "tot", "straten"),
    [
        ("2015-08-08", "2016-01-01", ["Coolsingel"]),
        ("2015-08-07", "2015-08-09", ["Coolsingel", "Blaak"]),
        ("2000-01-01", "2030-01-01", ["Coolsingel", "Blaak", "Weena"]),
        ("1990-01-01", "2001-01-01", []),  # datumTot of the period is exclusive too
    ],
)
def test_historie_met_periode_most_recent_first(
    brp: SandboxClient, van: str, tot: str, straten: list[str]
) -> None:
    assert _straten(brp, {"type": "RaadpleegMetPeriode", "datumVan": van, "datumTot": tot}) == straten


def test_historie_of_an_unknown_person_is_empty(brp: SandboxClient) -> None:
    query = {"type": "RaadpleegMetPeildatum", "burgerservicenummer": "100000999", "peildatum": "2020-01-01"}
    assert brp.post(HISTORIE, query).json() == {"verblijfplaatsen": []}


# --- Bewoning ------------------------------------------------------------------------------------


def _bewoners(bewoning: dict[str, Any], key: str = "bewoners") -> list[str]:
    return [b["burgerservicenummer"] for b in bewoning[key]]


def test_bewoning_met_periode_splits_on_every_change(brp: SandboxClient) -> None:
    query = {
        "type": "BewoningMetPeriode",
        "adresseerbaarObjectIdentificatie": BEWONING_AOI,
        "datumVan": "2010-06-01",
        "datumTot": "2013-01-01",
    }
    bewoningen = brp.post(BEWONING, query).json()["bewoningen"]

    assert [(b["periode"]["datumVan"], b["periode"]["datumTot"]) for b in bewoningen] == [
        ("2010-06-01", "2011-01-01"),
        ("2011-01-01", "2011-12-31"),
        ("2011-12-31", "2012-01-01"),
        ("2012-01-01", "2013-01-01"),
    ]
    assert [(_bewoners(b), _bewoners(b, "mogelijkeBewoners")) for b in bewoningen] == [
        ([CELIK], []),
        ([CELIK], [LIVING_NAMESAKE]),  # moved in on an unknown day of 2011
        ([CELIK, LIVING_NAMESAKE], []),  # the suspended (F) persoonslijst never shows
        ([LIVING_NAMESAKE], []),
    ]


def test_bewoning_met_peildatum_enriches_bewoners(brp: SandboxClient) -> None:
    query = {
        "type": "BewoningMetPeildatum",
        "adresseerbaarObjectIdentificatie": BEWONING_AOI,
        "peildatum": "2011-06-01",
    }

    assert brp.post(BEWONING, query).json() == {
        "bewoningen": [
            {
                "adresseerbaarObjectIdentificatie": BEWONING_AOI,
                "periode": {"datumVan": "2011-06-01", "datumTot": "2011-06-02"},
                "bewoners": [
                    {
                        "burgerservicenummer": CELIK,
                        "naam": {"volledigeNaam": "Zoë Émilie Çelikbaş"},
                        "geboorte": {"datum": datum("1990-03-15")},
                    }
                ],
                "mogelijkeBewoners": [
                    {
                        "burgerservicenummer": LIVING_NAMESAKE,
                        "geheimhoudingPersoonsgegevens": True,
                        "naam": {"volledigeNaam": "Bertha Verstorven"},
                        "geboorte": {"datum": datum("1930-05-05")},
                    }
                ],
            }
        ]
    }


def test_bewoning_without_bewoners_is_empty(brp: SandboxClient) -> None:
    for aoi, peildatum in ((BEWONING_AOI, "2009-01-01"), ("0599019999999999", "2020-01-01")):
        query = {
            "type": "BewoningMetPeildatum",
            "adresseerbaarObjectIdentificatie": aoi,
            "peildatum": peildatum,
        }
        assert brp.post(BEWONING, query).json() == {"bewoningen": []}
