"""Gezag as RvIG derives it: one test per rule, on RvIG's own test persons where they exist.

The minors of RvIG's test set grow up, so no test asks "today": a test on a real person asks on a
day derived from that person's birth date (its 5th birthday), where the outcome depends only on the
data. The rules that turn on an age (a minor parent, the 18th birthday) use hand-made families
whose dates are derived from today. The test set is converted from RvIG's CSV on the fly, so these
tests hold whether or not `personen.json` has been regenerated.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from app.brp.queries import RaadpleegMetBurgerservicenummer, ZoekMetAdresseerbaarObjectIdentificatie
from app.sandbox.data import TESTSET_CSV
from app.sandbox.data.convert import convert_testset
from app.sandbox.dataset import Dataset, PersonRecord
from app.sandbox.gezag import _ERKENNINGSWET, gezag_van
from app.sandbox.search import answer_personen, leeftijd
from tests.integration.sandbox.openapi import schema_errors

Json = dict[str, Any]
TODAY = dt.date.today()


@pytest.fixture(scope="module")
def records() -> list[Json]:
    converted: list[Json] = convert_testset(TESTSET_CSV)["personen"]
    return converted


@pytest.fixture(scope="module")
def rvig(records: list[Json]) -> Dataset:
    return _dataset(records)


def _dataset(records: list[Json]) -> Dataset:
    return Dataset(msgspec.convert(records, list[PersonRecord]), [])


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _born(dataset: Dataset, bsn: str) -> dt.date:
    return dt.date.fromisoformat(dataset.by_bsn(bsn)[0].persoon["geboorte"]["datum"]["datum"])


def _gezag(dataset: Dataset, bsn: str, day: dt.date) -> list[Json]:
    return gezag_van(dataset, dataset.by_bsn(bsn)[0], day, leeftijd)


def _at_five(dataset: Dataset, bsn: str) -> list[Json]:
    """The gezag over a minor of the test set on its 5th birthday."""
    return _gezag(dataset, bsn, _years_after(_born(dataset, bsn), 5))


def _persoon(bsn: str, naam: str) -> Json:
    return {"burgerservicenummer": bsn, "naam": {"volledigeNaam": naam}}


def _minderjarige(bsn: str, naam: str, leeftijd: int = 5) -> Json:
    return {**_persoon(bsn, naam), "leeftijd": leeftijd}


# --- a uitspraak (categorie 11, indicatie gezag minderjarige) -------------------------------------


def test_indicatie_1_gives_eenhoofdig_ouderlijk_gezag_to_ouder_1(rvig: Dataset) -> None:
    assert _at_five(rvig, "999992089") == [
        {
            "type": "EenhoofdigOuderlijkGezag",
            "minderjarige": _minderjarige("999992089", "Mirik de Jager"),
            "ouder": _persoon("999997610", "Estrella de Jager"),
        }
    ]


def test_indicatie_2_gives_eenhoofdig_ouderlijk_gezag_to_ouder_2(rvig: Dataset) -> None:
    assert _at_five(rvig, "999990408") == [
        {
            "type": "EenhoofdigOuderlijkGezag",
            "minderjarige": _minderjarige("999990408", "Paolo de Jager"),
            "ouder": _persoon("999990792", "Jan de Cuykelaer"),
        }
    ]


def test_indicatie_12_gives_gezamenlijk_ouderlijk_gezag(rvig: Dataset) -> None:
    assert _at_five(rvig, "999994487") == [
        {
            "type": "GezamenlijkOuderlijkGezag",
            "minderjarige": _minderjarige("999994487", "Leonie Keesje Brouwers"),
            "ouders": [_persoon("999992879", "Lonneke Smit"), _persoon("999993355", "Jan-Kees Brouwers")],
            # The whole categorie 01 of ouder 2's own persoonslijst is in onderzoek (010000), and the
            # rules read it (is he able to hold gezag?): test_gezag_in_onderzoek.py.
            "inOnderzoek": True,
        }
    ]


@pytest.mark.parametrize(
    ("bsn", "naam"), [("999991383", "Laertes Bultenaar"), ("999991577", "Berend Bultenaar")]
)
def test_indicatie_1d_or_2d_gives_gezamenlijk_gezag_with_an_unknown_derde(
    rvig: Dataset, bsn: str, naam: str
) -> None:
    # 999991383 has 1D (Lennert is ouder 1), 999991577 has 2D (Lennert is ouder 2).
    assert _at_five(rvig, bsn) == [
        {
            "type": "GezamenlijkGezag",
            "minderjarige": _minderjarige(bsn, naam),
            "ouder": _persoon("999993562", "Lennert Lapzwans"),
            "derde": {"type": "OnbekendeDerde"},
        }
    ]


def test_indicatie_d_gives_voogdij(rvig: Dataset) -> None:
    assert _at_five(rvig, "999990640") == [
        {"type": "Voogdij", "minderjarige": _minderjarige("999990640", "Marthe de Jager"), "derden": []}
    ]


def test_unknown_indicatie_values_count_as_no_uitspraak(rvig: Dataset) -> None:
    # RvIG's test set holds C, CD, 1C, 2C, 3C and 3D, none of which is a uitspraak in RvIG's rules:
    # the parents, married to each other, have gezag by law.
    for bsn in ("999999369", "999999370", "999999382", "999999394", "999999400", "999999412"):
        (relatie,) = _at_five(rvig, bsn)
        assert relatie["type"] == "GezamenlijkOuderlijkGezag"
        assert [o["burgerservicenummer"] for o in relatie["ouders"]] == ["999999357", "999999345"]


# --- by law: the parents -------------------------------------------------------------------------


def test_parents_married_before_the_birth_have_gezamenlijk_ouderlijk_gezag(rvig: Dataset) -> None:
    (relatie,) = _at_five(rvig, "999996058")
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"
    assert relatie["ouders"] == [
        _persoon("999996034", "Denise Desiree Dorothea Speelman"),
        _persoon("999995972", "Hubertus Nagelhout"),
    ]


def test_parents_married_after_the_birth_have_gezamenlijk_ouderlijk_gezag(rvig: Dataset) -> None:
    # Born 2012, recognised then; the parents married each other in 2016.
    (relatie,) = _at_five(rvig, "999996411")
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"


def test_parents_divorced_after_the_birth_keep_gezamenlijk_ouderlijk_gezag(rvig: Dataset) -> None:
    # Married 2002, child born 2010, divorced 2015.
    (relatie,) = _at_five(rvig, "999992557")
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"


def test_one_unmarried_parent_has_eenhoofdig_ouderlijk_gezag(rvig: Dataset) -> None:
    (relatie,) = _at_five(rvig, "999990743")
    assert relatie["type"] == "EenhoofdigOuderlijkGezag"
    assert relatie["ouder"]["burgerservicenummer"] == "999994128"


def test_recognised_before_2023_by_the_father_gives_the_mother_gezag(rvig: Dataset) -> None:
    # Ouder 2 recognised the child after its birth (2018); the parents never married each other.
    assert _at_five(rvig, "999997580") == [
        {
            "type": "EenhoofdigOuderlijkGezag",
            "minderjarige": _minderjarige("999997580", "Nina Overvaart"),
            "ouder": _persoon("999990226", "Jeannette Overvaart"),
        }
    ]
    assert _gezag(rvig, "999990627", _years_after(_born(rvig, "999997580"), 5)) == []


def test_a_parent_whose_bsn_is_on_two_persoonslijsten_ends_in_rvigs_error_route(rvig: Dataset) -> None:
    # 999995923, father of 999995984, has two persoonslijsten: RvIG's lookup of him fails and its
    # gezagsmodule answers its error route with a reference code.
    (relatie,) = _at_five(rvig, "999995984")
    assert relatie["type"] == "GezagNietTeBepalen"
    assert relatie["toelichting"].startswith(
        "Gezag kan niet worden bepaald. Neem contact op met RvIG via infoRvIG onder vermelding van BRP "
        "API gezag met de volgende foutcode: "
    )


def test_the_mother_without_a_burgerservicenummer_has_gezag(rvig: Dataset) -> None:
    (relatie,) = _at_five(rvig, "999996472")
    assert relatie["ouder"] == {"naam": {"volledigeNaam": "Natalia Obodescu"}}


def test_parents_unknown_gives_tijdelijk_geen_gezag(rvig: Dataset) -> None:
    assert _at_five(rvig, "999993604") == [
        {
            "type": "TijdelijkGeenGezag",
            "minderjarige": _minderjarige("999993604", "Jan Moes"),
            "toelichting": "Tijdelijk geen gezag omdat beide ouders onbekend zijn.",
        }
    ]


def test_a_puntouder_makes_gezag_niet_te_bepalen(rvig: Dataset) -> None:
    (relatie,) = _at_five(rvig, "999991796")
    assert relatie["type"] == "GezagNietTeBepalen"
    assert relatie["toelichting"] == (
        "Gezag kan niet worden bepaald omdat één of meer ouders van minderjarige onbekend zijn."
    )


def test_no_geboortemoeder_to_be_found_makes_gezag_niet_te_bepalen(rvig: Dataset) -> None:
    (relatie,) = _at_five(rvig, "999992430")
    assert relatie["toelichting"] == (
        "Gezag kan niet worden bepaald omdat niet kan worden vastgesteld welke ouder de geboortemoeder is."
    )


def test_a_parent_onder_curatele_cannot_hold_gezag(rvig: Dataset) -> None:
    (relatie,) = _at_five(rvig, "999992636")
    assert relatie["type"] == "TijdelijkGeenGezag"
    assert relatie["toelichting"] == "Tijdelijk geen gezag omdat de ouder onder curatele staat."


# --- gezag niet te bepalen -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bsn", "toelichting"),
    [
        ("999993410", "Gezag kan niet worden bepaald omdat minderjarige niet in Nederland woont."),
        ("999998353", "Gezag kan niet worden bepaald omdat minderjarige in het buitenland is geboren."),
        ("999993987", "Gezag kan niet worden bepaald omdat minderjarige buiten Nederland heeft verbleven."),
        (
            "999995352",
            "Gezag kan niet worden bepaald omdat relevante gegevens ontbreken bij het bepalen van de "
            "erkenning. Het gaat om de volgende gegevens: datum ingang familiebetrekking van ouder 2",
        ),
        (
            "999990524",
            "Gezag kan niet worden bepaald omdat relevante gegevens ontbreken bij het bepalen of de "
            "persoon naar het buitenland geëmigreerd is geweest. Het gaat om de volgende gegevens: "
            "Geboorteland van bevraagde persoon",
        ),
    ],
    ids=["rni", "buitenland-geboren", "geemigreerd-geweest", "ontbrekende-datum", "ontbrekend-land"],
)
def test_gezag_niet_te_bepalen_with_rvigs_toelichting(rvig: Dataset, bsn: str, toelichting: str) -> None:
    (relatie,) = _at_five(rvig, bsn)
    assert relatie["type"] == "GezagNietTeBepalen"
    assert relatie["minderjarige"]["burgerservicenummer"] == bsn
    assert relatie["toelichting"] == toelichting


def test_born_abroad_to_parents_married_now_gives_gezamenlijk_ouderlijk_gezag(rvig: Dataset) -> None:
    # RvIG does not ask about a stay abroad when the parents are married to each other now.
    (relatie,) = _at_five(rvig, "999996629")
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"


def test_a_minor_who_died_has_no_gezag(rvig: Dataset) -> None:
    assert _at_five(rvig, "999993537") == []


# --- the gezag an adult holds --------------------------------------------------------------------


def test_a_parent_receives_the_gezag_over_each_minor_child(rvig: Dataset) -> None:
    youngest = _years_after(_born(rvig, "999996824"), 5)
    relaties = _gezag(rvig, "999997440", youngest)
    assert [r["minderjarige"]["burgerservicenummer"] for r in relaties] == [
        "999996824",
        "999996812",
        "999996800",
        "999996794",
        "999996782",
        "999996770",
        "999997476",
    ]
    assert {r["type"] for r in relaties} == {"GezamenlijkOuderlijkGezag"}
    assert relaties[0]["minderjarige"]["leeftijd"] == 5


def test_a_parent_without_gezag_receives_nothing(rvig: Dataset) -> None:
    # 999991838 recognised 999990342 before 2023 and never married the mother.
    assert _gezag(rvig, "999991838", _years_after(_born(rvig, "999990342"), 5)) == []


def test_a_parent_receives_gezamenlijk_gezag_from_a_uitspraak_with_a_derde(rvig: Dataset) -> None:
    relaties = _gezag(rvig, "999993562", _years_after(_born(rvig, "999991383"), 5))
    over = {r["minderjarige"]["burgerservicenummer"]: r["type"] for r in relaties}
    assert over["999991383"] == "GezamenlijkGezag"
    assert over["999991577"] == "GezamenlijkGezag"


def test_an_adult_has_no_gezag_over_themselves(rvig: Dataset) -> None:
    assert _gezag(rvig, "999992089", _years_after(_born(rvig, "999992089"), 18)) == []


# --- hand-made families: the rules that turn on an age -------------------------------------------


def _datum(day: dt.date) -> Json:
    return {"type": "Datum", "datum": day.isoformat(), "langFormaat": day.isoformat()}


def _lo3(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _record(
    bsn: str,
    naam: str,
    born: dt.date,
    *,
    geslacht: str = "V",
    ouders: tuple[Json, ...] = (),
    kinderen: tuple[tuple[str, dt.date], ...] = (),
    relaties: tuple[Json, ...] = (),
    **persoon: Any,
) -> Json:
    voornaam, achternaam = naam.split(" ", 1)
    return {
        "persoonslijst": f"TEST_{bsn}",
        "persoon": {
            "burgerservicenummer": bsn,
            "naam": {"voornamen": voornaam, "geslachtsnaam": achternaam, "volledigeNaam": naam},
            "geboorte": {"datum": _datum(born), "land": {"code": "6030", "omschrijving": "Nederland"}},
            "geslacht": {"code": geslacht},
            "gemeenteVanInschrijving": {"code": "0599", "omschrijving": "Rotterdam"},
            "ouders": list(ouders),
            "kinderen": [{"burgerservicenummer": b, "geboorte": {"datum": _datum(d)}} for b, d in kinderen],
            "partners": [],
            **persoon,
        },
        "gezagsgegevens": {"aktenummers": ["1AA0001"], "relaties": list(relaties)},
    }


def _ouder(aanduiding: str, bsn: str, naam: str, born: dt.date, geslacht: str, sinds: dt.date) -> Json:
    voornaam, achternaam = naam.split(" ", 1)
    return {
        "ouderAanduiding": aanduiding,
        "burgerservicenummer": bsn,
        "naam": {"voornamen": voornaam, "geslachtsnaam": achternaam},
        "geboorte": {"datum": _datum(born)},
        "geslacht": {"code": geslacht},
        "datumIngangFamilierechtelijkeBetrekking": _datum(sinds),
    }


def _huwelijk(bsn: str, naam: str, aangegaan: dt.date) -> Json:
    return {"burgerservicenummer": bsn, "volledigeNaam": naam, "datumAangaan": _lo3(aangegaan)}


MOEDER, VADER, PARTNER, KIND = "100000101", "100000102", "100000103", "100000104"
KIND_BORN = _years_after(TODAY, -3)


def _family(
    *,
    moeder_born: dt.date | None = None,
    vader: bool = True,
    moeder_extra: Json | None = None,
    partner: bool = False,
) -> Dataset:
    """A mother, possibly a father who recognised the child at its birth, and possibly her wife."""
    moeder_born = moeder_born or _years_after(TODAY, -30)
    ouders = [_ouder("1", MOEDER, "Mila Moeder", moeder_born, "V", KIND_BORN)]
    records = []
    if vader:
        ouders.append(_ouder("2", VADER, "Victor Vader", _years_after(TODAY, -32), "M", KIND_BORN))
        records.append(
            _record(
                VADER, "Victor Vader", _years_after(TODAY, -32), geslacht="M", kinderen=((KIND, KIND_BORN),)
            )
        )
    relaties: tuple[Json, ...] = ()
    if partner:
        huwelijk = _years_after(KIND_BORN, -2)
        relaties = (_huwelijk(PARTNER, "Petra Partner", huwelijk),)
        records.append(
            _record(
                PARTNER,
                "Petra Partner",
                _years_after(TODAY, -31),
                relaties=(_huwelijk(MOEDER, "Mila Moeder", huwelijk),),
            )
        )
    records.append(
        _record(
            MOEDER,
            "Mila Moeder",
            moeder_born,
            kinderen=((KIND, KIND_BORN),),
            relaties=relaties,
            **(moeder_extra or {}),
        )
    )
    records.append(_record(KIND, "Kees Kind", KIND_BORN, ouders=tuple(ouders)))
    return _dataset(records)


def test_a_minor_mother_cannot_hold_gezag_until_her_18th_birthday() -> None:
    moeder_born = _years_after(TODAY, -17)
    family = _family(moeder_born=moeder_born, vader=False)
    (relatie,) = _gezag(family, KIND, TODAY)
    assert relatie["type"] == "TijdelijkGeenGezag"
    assert relatie["toelichting"] == "Tijdelijk geen gezag omdat de ouder minderjarig is."
    (relatie,) = _gezag(family, KIND, _years_after(moeder_born, 18))
    assert relatie["type"] == "EenhoofdigOuderlijkGezag"


def test_gezag_ends_on_the_18th_birthday() -> None:
    family = _family(vader=False)
    eighteen = _years_after(KIND_BORN, 18)
    assert _gezag(family, KIND, eighteen - dt.timedelta(days=1))[0]["minderjarige"]["leeftijd"] == 17
    assert _gezag(family, KIND, eighteen) == []
    assert _gezag(family, MOEDER, eighteen) == []


def test_a_dead_single_parent_leaves_tijdelijk_geen_gezag() -> None:
    overleden: Json = {
        "opschortingBijhouding": {"reden": {"code": "O"}, "datum": _datum(_years_after(TODAY, -1))}
    }
    family = _family(vader=False, moeder_extra=overleden)
    (relatie,) = _gezag(family, KIND, TODAY)
    assert relatie["toelichting"] == "Tijdelijk geen gezag omdat de ouder overleden is."
    assert _gezag(family, MOEDER, TODAY) == []


def test_a_child_born_in_the_marriage_of_its_one_parent_is_under_gezamenlijk_gezag() -> None:
    family = _family(vader=False, partner=True)
    expected = {
        "type": "GezamenlijkGezag",
        "minderjarige": _minderjarige(KIND, "Kees Kind", 3),
        "ouder": _persoon(MOEDER, "Mila Moeder"),
        "derde": {"type": "BekendeDerde", **_persoon(PARTNER, "Petra Partner")},
    }
    assert _gezag(family, KIND, TODAY) == [expected]
    assert _gezag(family, MOEDER, TODAY) == [expected]
    # The partner holds gezag over the child of her wife.
    assert _gezag(family, PARTNER, TODAY) == [expected]


def test_the_partner_becomes_voogd_when_the_parent_is_placed_under_curatele() -> None:
    family = _family(vader=False, partner=True, moeder_extra={"indicatieCurateleRegister": True})
    expected = {
        "type": "Voogdij",
        "minderjarige": _minderjarige(KIND, "Kees Kind", 3),
        "derden": [{"type": "BekendeDerde", **_persoon(PARTNER, "Petra Partner")}],
    }
    assert _gezag(family, KIND, TODAY) == [expected]
    assert _gezag(family, PARTNER, TODAY) == [expected]
    assert _gezag(family, MOEDER, TODAY) == []


def test_recognised_from_2023_on_gives_both_parents_gezag() -> None:
    # The father recognised the child at its birth, three years ago: on or after 1 January 2023.
    assert int(KIND_BORN.strftime("%Y%m%d")) >= _ERKENNINGSWET
    family = _family()
    (relatie,) = _gezag(family, KIND, TODAY)
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"
    assert _gezag(family, VADER, TODAY) == [relatie]
    assert _gezag(family, MOEDER, TODAY) == [relatie]


def test_the_surviving_married_parent_has_eenhoofdig_gezag() -> None:
    # Parents married to each other; the father died: the mother alone.
    overleden: Json = {
        "opschortingBijhouding": {"reden": {"code": "O"}, "datum": _datum(_years_after(TODAY, -1))}
    }
    huwelijk = _years_after(KIND_BORN, -2)
    records = [
        _record(
            MOEDER,
            "Mila Moeder",
            _years_after(TODAY, -30),
            kinderen=((KIND, KIND_BORN),),
            relaties=(_huwelijk(VADER, "Victor Vader", huwelijk),),
        ),
        _record(
            VADER,
            "Victor Vader",
            _years_after(TODAY, -32),
            geslacht="M",
            relaties=(_huwelijk(MOEDER, "Mila Moeder", huwelijk),),
            **overleden,
        ),
        _record(
            KIND,
            "Kees Kind",
            KIND_BORN,
            ouders=(
                _ouder("1", MOEDER, "Mila Moeder", _years_after(TODAY, -30), "V", KIND_BORN),
                _ouder("2", VADER, "Victor Vader", _years_after(TODAY, -32), "M", KIND_BORN),
            ),
        ),
    ]
    (relatie,) = _gezag(_dataset(records), KIND, TODAY)
    assert relatie["type"] == "EenhoofdigOuderlijkGezag"
    assert relatie["ouder"]["burgerservicenummer"] == MOEDER


# --- the answer: only when asked, and valid against RvIG's spec ----------------------------------


def test_gezag_is_delivered_only_when_asked(rvig: Dataset) -> None:
    naam = RaadpleegMetBurgerservicenummer(burgerservicenummer=("999992089",), fields=("naam",))
    assert "gezag" not in answer_personen(rvig, naam, TODAY)["personen"][0]
    gezag = RaadpleegMetBurgerservicenummer(burgerservicenummer=("999992089",), fields=("gezag",))
    day = _years_after(_born(rvig, "999992089"), 5)
    assert answer_personen(rvig, gezag, day)["personen"][0]["gezag"][0]["type"] == "EenhoofdigOuderlijkGezag"


def test_an_adult_without_gezag_is_answered_with_an_empty_list(rvig: Dataset) -> None:
    query = RaadpleegMetBurgerservicenummer(burgerservicenummer=("999991838",), fields=("gezag",))
    day = _years_after(_born(rvig, "999990342"), 5)
    assert answer_personen(rvig, query, day)["personen"] == [{"gezag": []}]


def test_the_adresseerbaar_object_search_delivers_gezag(rvig: Dataset) -> None:
    person = rvig.by_bsn("999992089")[0]
    aoi = person.adresseerbaar_object_identificatie
    assert aoi is not None
    query = ZoekMetAdresseerbaarObjectIdentificatie(
        adresseerbaar_object_identificatie=aoi, fields=("burgerservicenummer", "gezag")
    )
    answer = answer_personen(rvig, query, _years_after(_born(rvig, "999992089"), 5))
    assert not schema_errors("personen", "PersonenQueryResponse", answer)
    by_bsn = {p["burgerservicenummer"]: p["gezag"] for p in answer["personen"]}
    assert by_bsn["999992089"][0]["type"] == "EenhoofdigOuderlijkGezag"


@pytest.mark.parametrize("years_ago", [0, 8, 16, 24, 32])
def test_every_gezag_answer_is_valid_against_the_spec(rvig: Dataset, years_ago: int) -> None:
    # Asked on several days, the test set shows every kind of Gezagsrelatie RvIG derives.
    day = _years_after(TODAY, -years_ago)
    # A BSN on two persoonslijsten is refused as a whole (another rule, tested elsewhere).
    bsns = sorted(
        {
            p.burgerservicenummer
            for p in rvig.persons
            if p.burgerservicenummer and len(rvig.by_bsn(p.burgerservicenummer)) == 1
        }
    )
    for start in range(0, len(bsns), 20):
        query = RaadpleegMetBurgerservicenummer(
            burgerservicenummer=tuple(bsns[start : start + 20]), fields=("gezag",)
        )
        answer = answer_personen(rvig, query, day)
        errors = schema_errors("personen", "PersonenQueryResponse", answer)
        assert not errors, errors[:5]


def test_every_kind_of_gezagsrelatie_occurs_in_the_test_set(rvig: Dataset) -> None:
    kinds: set[str] = set()
    for years_ago in (0, 8, 16, 24, 32):
        day = _years_after(TODAY, -years_ago)
        for person in rvig.persons:
            if person.burgerservicenummer and not person.suppressed:
                kinds |= {r["type"] for r in gezag_van(rvig, person, day, leeftijd)}
    assert kinds == {
        "EenhoofdigOuderlijkGezag",
        "GezamenlijkOuderlijkGezag",
        "GezamenlijkGezag",
        "Voogdij",
        "TijdelijkGeenGezag",
        "GezagNietTeBepalen",
    }


# --- the facts the converter carries -------------------------------------------------------------


def test_converter_carries_aktenummers_puntouders_and_every_relation_voorkomen(records: list[Json]) -> None:
    by_pl = {r["persoonslijst"]: r["gezagsgegevens"] for r in records}
    # 999996162: ouder 2 recognised the child (C) after the husband's ontkenning (E).
    assert by_pl["Lg01_824"]["ouders"][1]["aktenummers"] == ["10C0150", "10E0150"]
    # 999994967 married 999993045 in 2002 and divorced (S) in 2015: two voorkomens.
    relaties = by_pl["Lg01_528"]["relaties"]
    assert [
        (r.get("datumAangaan"), r.get("datumOntbinding"), r.get("redenOntbinding")) for r in relaties
    ] == [
        (None, "20150606", "S"),
        ("20020609", None, None),
        ("20020609", None, None),  # an older voorkomen, without the partner's BSN
    ]
    assert by_pl["Lg01_594"]["ingangsdatumGezagsverhouding"] == "20100101"
    assert any(o.get("puntouder") for o in by_pl["Lg01_645"]["ouders"])


def test_without_gezagsgegevens_the_current_partners_are_used(records: list[Json]) -> None:
    stripped = [{k: v for k, v in r.items() if k != "gezagsgegevens"} for r in records]
    (relatie,) = _at_five(_dataset(stripped), "999996058")
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"
