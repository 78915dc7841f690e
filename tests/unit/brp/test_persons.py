"""extract_persons: which BSNs an answer is about, and whether they were consulted or found."""

from __future__ import annotations

import datetime
from typing import Any

from app.brp import (
    BewoningMetPeildatum,
    BewoningMetPeriode,
    PersonRef,
    PersonRole,
    RaadpleegMetBurgerservicenummer,
    RaadpleegMetPeildatum,
    RaadpleegMetPeriode,
    ZoekMetPostcodeEnHuisnummer,
    extract_persons,
)

CONSULTED, FOUND = PersonRole.CONSULTED, PersonRole.FOUND
RAADPLEEG = RaadpleegMetBurgerservicenummer(burgerservicenummer=("999993653", "999990639"), fields=("naam",))
POSTCODE = ZoekMetPostcodeEnHuisnummer(postcode="2563KJ", huisnummer=2, fields=("naam",))
PEILDATUM = BewoningMetPeildatum(
    adresseerbaar_object_identificatie="0599010000208579", peildatum=datetime.date(2015, 8, 8)
)
PERIODE = BewoningMetPeriode(
    adresseerbaar_object_identificatie="0599010000208579",
    datum_van=datetime.date(2015, 1, 1),
    datum_tot=datetime.date(2016, 1, 1),
)
HISTORIE = RaadpleegMetPeildatum(burgerservicenummer="999993653", peildatum=datetime.date(2020, 1, 1))


def test_raadpleeg_marks_delivered_persons_as_consulted() -> None:
    response = {"type": RAADPLEEG.__struct_config__.tag, "personen": [{"burgerservicenummer": "999993653"}]}

    assert extract_persons(RAADPLEEG, response) == [PersonRef("999993653", CONSULTED)]


def test_search_marks_persons_as_found_in_answer_order_without_related_persons() -> None:
    response: dict[str, Any] = {
        "personen": [
            {"burgerservicenummer": "999990639", "partners": [{"burgerservicenummer": "999991723"}]},
            {"burgerservicenummer": "999993653"},
            {"burgerservicenummer": "999990639"},
        ]
    }

    assert extract_persons(POSTCODE, response) == [
        PersonRef("999990639", FOUND),
        PersonRef("999993653", FOUND),
    ]


def test_persons_without_a_bsn_are_skipped() -> None:
    response = {
        "personen": [
            {"naam": {"voornamen": "X"}},
            {"burgerservicenummer": "12"},
            {"burgerservicenummer": None},
        ]
    }

    assert extract_persons(POSTCODE, response) == []


def test_empty_or_failed_personen_answer_has_nobody() -> None:
    assert extract_persons(RAADPLEEG, {"personen": []}) == []
    assert (
        extract_persons(RAADPLEEG, {"status": 400, "title": "Een of meerdere parameters zijn niet correct."})
        == []
    )


def test_bewoning_lists_bewoners_and_mogelijke_bewoners_as_found() -> None:
    response = {
        "bewoningen": [
            {
                "adresseerbaarObjectIdentificatie": "0599010000208579",
                "bewoners": [{"burgerservicenummer": "999997968"}, {"burgerservicenummer": "999990524"}],
                "mogelijkeBewoners": [],
            },
            {
                "bewoners": [{"burgerservicenummer": "999997968"}],
                "mogelijkeBewoners": [
                    {"burgerservicenummer": "999990524"},
                    {"burgerservicenummer": "999991930"},
                ],
            },
        ]
    }

    assert extract_persons(PERIODE, response) == [
        PersonRef("999997968", FOUND),
        PersonRef("999990524", FOUND),
        PersonRef("999991930", FOUND),
    ]


def test_bewoning_with_many_bewoners_and_no_lists_has_nobody() -> None:
    response = {
        "bewoningen": [
            {"adresseerbaarObjectIdentificatie": "0599010000208579", "indicatieVeelBewoners": True}
        ]
    }

    assert extract_persons(PEILDATUM, response) == []


def test_historie_marks_the_asked_bsn_as_consulted_on_any_successful_answer() -> None:
    with_places = {"verblijfplaatsen": [{"type": "Adres", "datumVan": {"datum": "2015-08-08"}}]}

    assert extract_persons(HISTORIE, with_places) == [PersonRef("999993653", CONSULTED)]
    assert extract_persons(HISTORIE, {"verblijfplaatsen": []}) == [PersonRef("999993653", CONSULTED)]


def test_historie_problem_answer_has_nobody() -> None:
    periode = RaadpleegMetPeriode(
        burgerservicenummer="999993653",
        datum_van=datetime.date(2020, 1, 1),
        datum_tot=datetime.date(2021, 1, 1),
    )

    assert (
        extract_persons(periode, {"status": 503, "title": "Bronservice is tijdelijk niet beschikbaar."}) == []
    )


def test_person_refs_compare_and_hash_by_value() -> None:
    assert PersonRef("999993653", FOUND) == PersonRef("999993653", FOUND)
    assert len({PersonRef("999993653", FOUND), PersonRef("999993653", CONSULTED)}) == 2
    assert str(PersonRole.CONSULTED) == "consulted"
