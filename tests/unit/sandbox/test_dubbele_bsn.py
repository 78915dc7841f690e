"""A burgerservicenummer on more than one persoonslijst, answered as RvIG's data service does.

BRP-API/personen-data-service `src/Rvig.Data.Personen/Repositories/RvigPersoonRepo.cs` and its
feature `features/raadpleeg-met-burgerservicenummer/burgerservicenummer-uniek.feature`: a
RaadpleegMetBurgerservicenummer whose BSN matches more than one deliverable persoonslijst (after
the `gemeenteVanInschrijving` filter) is a 400 `paramsValidation` with invalidParams
`{code: unique, name: burgerservicenummer, reason: "De opgegeven persoonidentificatie is niet
uniek."}`; lists with opschorting F or W do not count (Haal-Centraal-BRP-bevragen
`features/bevragen/raadpleeg-met-burgerservicenummer/dev/opschorting-bijhouding-gba.feature`).
The searches (Zoek*) have no such check and deliver every matching persoonslijst. The
Verblijfplaatshistorie answers from every deliverable list, as RvIG's historie data service does
(below).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import msgspec
import pytest

from app.brp.problems import ProblemError
from app.brp.queries import Api, PersonenQuery, VerblijfplaatshistorieQuery
from app.brp.validation import parse_query
from app.sandbox.dataset import Dataset, PersonRecord
from app.sandbox.search import answer_personen, answer_verblijfplaatshistorie

Json = dict[str, Any]
BSN = "999990011"


def _record(
    pl: str, naam: str, gemeente: str, opschorting: str | None = None, voornamen: str = "Joost"
) -> PersonRecord:
    persoon: Json = {
        "burgerservicenummer": BSN,
        "naam": {"voornamen": voornamen, "geslachtsnaam": naam},
        "geboorte": {"datum": {"type": "Datum", "datum": "1965-06-12", "langFormaat": "12 juni 1965"}},
        "gemeenteVanInschrijving": {"code": gemeente},
    }
    if opschorting:
        persoon["opschortingBijhouding"] = {"reden": {"code": opschorting}}
    return PersonRecord(persoonslijst=pl, persoon=persoon)


def _ask(records: list[PersonRecord], query: Json) -> Json:
    parsed = cast(PersonenQuery, parse_query(Api.PERSONEN, msgspec.json.encode(query)))
    return answer_personen(Dataset(records, []), parsed, dt.date.today())


def _raadpleeg(*bsns: str, **extra: Any) -> Json:
    return {
        "type": "RaadpleegMetBurgerservicenummer",
        "burgerservicenummer": list(bsns),
        "fields": ["naam.geslachtsnaam"],
        **extra,
    }


def test_two_deliverable_lists_with_one_bsn_are_a_400_unique() -> None:
    records = [_record("Lg99_1", "Maassen", "0518"), _record("Lg99_2", "Rafi", "0599")]
    with pytest.raises(ProblemError) as raised:
        _ask(records, _raadpleeg(BSN))
    problem = msgspec.json.decode(msgspec.json.encode(raised.value.problem))
    assert problem == {
        "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
        "title": "Een of meerdere parameters zijn niet correct.",
        "status": 400,
        "detail": "De foutieve parameter(s) zijn: burgerservicenummer.",
        "code": "paramsValidation",
        "invalidParams": [
            {
                "code": "unique",
                "name": "burgerservicenummer",
                "reason": "De opgegeven persoonidentificatie is niet uniek.",
            }
        ],
    }


def test_one_ambiguous_bsn_fails_the_whole_question() -> None:
    records = [_record("Lg99_1", "Maassen", "0518"), _record("Lg99_2", "Rafi", "0599")]
    with pytest.raises(ProblemError):
        _ask(records, _raadpleeg("999990022", BSN))


@pytest.mark.parametrize("reden", ["F", "W"])
def test_a_suspended_list_does_not_count(reden: str) -> None:
    records = [_record("Lg99_1", "Maassen", "0518", opschorting=reden), _record("Lg99_2", "Rafi", "0599")]
    answer = _ask(records, _raadpleeg(BSN))
    assert answer["personen"] == [{"naam": {"geslachtsnaam": "Rafi"}}]


def test_gemeente_van_inschrijving_filters_before_the_check() -> None:
    records = [_record("Lg99_1", "Maassen", "0518"), _record("Lg99_2", "Rafi", "0599")]
    answer = _ask(records, _raadpleeg(BSN, gemeenteVanInschrijving="0599"))
    assert answer["personen"] == [{"naam": {"geslachtsnaam": "Rafi"}}]


def test_a_search_delivers_every_list() -> None:
    records = [
        _record("Lg99_1", "Maassen", "0518", voornamen="Piet"),
        _record("Lg99_2", "Maassen", "0599", voornamen="Klaas"),
    ]
    query = {
        "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
        "geslachtsnaam": "Maassen",
        "geboortedatum": "1965-06-12",
        "fields": ["burgerservicenummer", "naam.voornamen"],
    }
    answer = _ask(records, query)
    assert answer["personen"] == [
        {"burgerservicenummer": BSN, "naam": {"voornamen": "Piet"}},
        {"burgerservicenummer": BSN, "naam": {"voornamen": "Klaas"}},
    ]


# --- Verblijfplaatshistorie ----------------------------------------------------------------------
# RvIG's historie data service (BRP-API/historie-data-service `RvigHistoryRepo.cs`,
# `GetAndMapGbaHistorieService.cs`, `HistorieQueryHelper.cs`) selects the verblijfplaats voorkomens
# of every deliverable persoonslijst with the BSN (F and W lists left out), sorts them together on
# their volgnummer and filters them on the period with each list's own "next" datum aanvang, except
# that only the very last voorkomen of that merged list counts as lasting until today: the actual
# verblijfplaats of the other list counts for its first day only. opschortingBijhouding comes from
# the first list that has one, geheimhoudingPersoonsgegevens from the first list (the first row with
# an indicatie geheim, which GBA always fills).


def _datum_object(iso: str) -> Json:
    return {"type": "Datum", "datum": iso, "langFormaat": iso}


def _plek(straat: str, van: str, tot: str | None = None) -> Json:
    plek: Json = {
        "type": "Adres",
        "verblijfadres": {"korteStraatnaam": straat},
        "datumVan": _datum_object(van),
    }
    return plek | ({"datumTot": _datum_object(tot)} if tot else {})


def _met_historie(record: PersonRecord, *plekken: Json, **persoon: Any) -> PersonRecord:
    return msgspec.structs.replace(
        record, persoon=record.persoon | persoon, verblijfplaatshistorie=list(plekken)
    )


def _historie(records: list[PersonRecord], **query: str) -> Json:
    body = {"type": "RaadpleegMetPeriode", "burgerservicenummer": BSN} | query
    parsed = cast(
        VerblijfplaatshistorieQuery, parse_query(Api.VERBLIJFPLAATSHISTORIE, msgspec.json.encode(body))
    )
    return answer_verblijfplaatshistorie(Dataset(records, []), parsed)


def _straten(answer: Json) -> list[str]:
    return [plek["verblijfadres"]["korteStraatnaam"] for plek in answer["verblijfplaatsen"]]


def _twee_lijsten(opschorting_tweede: str | None = None) -> list[PersonRecord]:
    eerste = _met_historie(
        _record("Lg99_1", "Maassen", "0518"),
        _plek("Eerste actueel", "2000-06-10"),
        _plek("Eerste oud", "1999-04-18", "2000-06-10"),
        geheimhoudingPersoonsgegevens=True,
    )
    tweede = _met_historie(
        _record("Lg99_2", "Rafi", "0599", opschorting=opschorting_tweede),
        _plek("Tweede actueel", "1998-05-02"),
    )
    return [eerste, tweede]


def test_historie_of_two_lists_merges_them_on_volgnummer() -> None:
    answer = _historie(_twee_lijsten(), datumVan="1990-01-01", datumTot="2030-01-01")
    assert _straten(answer) == ["Eerste actueel", "Tweede actueel", "Eerste oud"]


@pytest.mark.parametrize(
    ("peildatum", "straten"),
    [
        ("2021-06-01", ["Tweede actueel"]),  # the first list's actual verblijfplaats has "ended"
        ("2000-06-10", ["Eerste actueel", "Tweede actueel"]),  # ... except on its first day
        ("2000-06-11", ["Tweede actueel"]),
        ("1999-05-01", ["Tweede actueel", "Eerste oud"]),
    ],
)
def test_historie_of_two_lists_with_peildatum(peildatum: str, straten: list[str]) -> None:
    answer = _historie(_twee_lijsten(), type="RaadpleegMetPeildatum", peildatum=peildatum)
    assert _straten(answer) == straten


def test_historie_of_two_lists_takes_geheimhouding_and_opschorting_from_the_first_that_has_them() -> None:
    records = _twee_lijsten(opschorting_tweede="O")
    answer = _historie(records, datumVan="1990-01-01", datumTot="2030-01-01")
    assert answer["geheimhoudingPersoonsgegevens"] is True
    assert answer["opschortingBijhouding"] == {"reden": {"code": "O"}}
    eerste, tweede = records
    tweede = msgspec.structs.replace(tweede, persoon=tweede.persoon | {"geheimhoudingPersoonsgegevens": True})
    eerste = msgspec.structs.replace(
        eerste, persoon={k: v for k, v in eerste.persoon.items() if "geheim" not in k}
    )
    assert "geheimhoudingPersoonsgegevens" not in _historie(
        [eerste, tweede], datumVan="1990-01-01", datumTot="2030-01-01"
    )


@pytest.mark.parametrize("reden", ["F", "W"])
def test_historie_leaves_a_suspended_list_out(reden: str) -> None:
    eerste, tweede = _twee_lijsten()
    eerste = msgspec.structs.replace(
        eerste, persoon=eerste.persoon | {"opschortingBijhouding": {"reden": {"code": reden}}}
    )
    answer = _historie([eerste, tweede], type="RaadpleegMetPeildatum", peildatum="2021-06-01")
    assert _straten(answer) == ["Tweede actueel"]
    assert "geheimhoudingPersoonsgegevens" not in answer
    answer = _historie([tweede, eerste], type="RaadpleegMetPeildatum", peildatum="2000-06-10")
    assert _straten(answer) == ["Tweede actueel"]
