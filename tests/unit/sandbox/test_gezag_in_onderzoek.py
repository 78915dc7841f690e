"""`inOnderzoek` on a Gezagsrelatie: a fact the derivation used is in onderzoek, as RvIG decides it.

RvIG's rule: BRP-API/brp-api-gezag `features/specs/gezag-minderjarige/` (file
`gegevens-bij-bevragen-kind-in-onderzoek.feature`) and `features/specs/gezag-meerderjarige/`
(`gegevens-bij-bevragen-meerjarige-in-onderzoek.feature`)
(mirrored in BRP-API/Haal-Centraal-BRP-bevragen `features/gezag/`): "is het gezag in onderzoek" when
an aanduiding (83.10) covers a field of the minor's persoon (01, its historic aktenummer 51), ouders
(02/03, historic 52/53) or gezagsverhouding (11), or of the persoonslijst of a parent the derivation
looked up (its persoon, curatele, and its huwelijk/partnerschap when the relation was asked). How:
its `PotentieelInOnderzoek.registerIfInOnderzoek` (CC0000 covers the categorie, CCGG00 the group,
an onderzoek whose datum einde lies before today is over) and `GezagsBepaling.warenVeldenInOnderzoek`
(the burgerservicenummer van persoon alone does not count).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.sandbox.dataset import Dataset
from tests.unit.sandbox.test_gezag import (  # the fixtures `records` and `rvig` are used by name
    KIND,
    KIND_BORN,
    MOEDER,
    TODAY,
    VADER,
    _born,
    _dataset,
    _gezag,
    _huwelijk,
    _ouder,
    _record,
    _years_after,
    records,  # noqa: F401
    rvig,  # noqa: F401
)

Json = dict[str, Any]
GISTEREN = (TODAY - dt.timedelta(days=1)).strftime("%Y%m%d")
VANDAAG = TODAY.strftime("%Y%m%d")


def _onderzoek(aanduiding: str, einde: str | None = None) -> Json:
    return {"aanduiding": aanduiding} | ({"datumEinde": einde} if einde else {})


def _gezin(
    kind: tuple[Json, ...] = (),
    moeder: tuple[Json, ...] = (),
    vader: tuple[Json, ...] = (),
    gehuwd: bool = False,
) -> Dataset:
    """Married or not, a mother and a father (both ouder, both with a persoonslijst) and their child."""
    moeder_born, vader_born = _years_after(TODAY, -30), _years_after(TODAY, -32)
    huwelijk = _years_after(KIND_BORN, -2)
    lijsten = [
        _record(
            MOEDER,
            "Mila Moeder",
            moeder_born,
            kinderen=((KIND, KIND_BORN),),
            relaties=(_huwelijk(VADER, "Victor Vader", huwelijk),) if gehuwd else (),
        ),
        _record(
            VADER,
            "Victor Vader",
            vader_born,
            geslacht="M",
            kinderen=((KIND, KIND_BORN),),
            relaties=(_huwelijk(MOEDER, "Mila Moeder", huwelijk),) if gehuwd else (),
        ),
        _record(
            KIND,
            "Kees Kind",
            KIND_BORN,
            ouders=(
                _ouder("1", MOEDER, "Mila Moeder", moeder_born, "V", KIND_BORN),
                _ouder("2", VADER, "Victor Vader", vader_born, "M", KIND_BORN),
            ),
        ),
    ]
    for record, onderzoeken in zip(lijsten, (moeder, vader, kind), strict=True):
        if onderzoeken:
            record["gezagsgegevens"]["onderzoeken"] = list(onderzoeken)
    return _dataset(lijsten)


def _relatie(dataset: Dataset, bsn: str = KIND) -> Json:
    (relatie,) = _gezag(dataset, bsn, TODAY)
    return relatie


def test_without_onderzoek_the_relation_has_no_in_onderzoek() -> None:
    relatie = _relatie(_gezin())
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"
    assert "inOnderzoek" not in relatie


@pytest.mark.parametrize(
    "aanduiding",
    [
        "010310",  # geboortedatum
        "010410",  # geslachtsaanduiding
        "010000",  # the whole categorie
        "010200",  # the names
        "018120",  # aktenummer
        "518120",  # a historic aktenummer
        "020120",  # burgerservicenummer of ouder 1
        "020240",
        "026210",  # datum ingang familierechtelijke betrekking
        "020000",
        "020410",
        "528120",
        "030120",
        "030000",
        "113210",  # indicatie gezag minderjarige
        "118510",  # ingangsdatum geldigheid
        "110000",
    ],
)
def test_a_fact_of_the_minor_in_onderzoek_puts_the_gezag_in_onderzoek(aanduiding: str) -> None:
    relatie = _relatie(_gezin(kind=(_onderzoek(aanduiding),)))
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"
    assert relatie["inOnderzoek"] is True


@pytest.mark.parametrize(
    "aanduiding",
    [
        "010120",  # the minor's own burgerservicenummer does not count
        "010100",  # ... nor the group it is the only field of
        "016110",  # aanduiding naamgebruik: not a fact of the gezag rules
        "010320",  # geboorteplaats: idem
        "080000",  # verblijfplaats: idem
        "510310",  # a historic geboortedatum: only the historic aktenummer is read
        "550000",  # historic categories of a relation never match
    ],
)
def test_other_facts_in_onderzoek_leave_the_gezag_alone(aanduiding: str) -> None:
    assert "inOnderzoek" not in _relatie(_gezin(kind=(_onderzoek(aanduiding),)))


def test_an_onderzoek_that_ended_before_today_is_over() -> None:
    assert "inOnderzoek" not in _relatie(_gezin(kind=(_onderzoek("010310", einde=GISTEREN),)))
    assert _relatie(_gezin(kind=(_onderzoek("010310", einde=VANDAAG),)))["inOnderzoek"] is True


@pytest.mark.parametrize(
    ("aanduiding", "in_onderzoek"),
    [
        ("010000", True),
        ("010310", True),
        ("113310", True),
        ("110000", True),
        ("010120", False),
        ("010210", False),
    ],
)
def test_facts_of_a_parents_own_persoonslijst(aanduiding: str, in_onderzoek: bool) -> None:
    # The parents' lists are looked up (are they married to each other? able to hold gezag?):
    # their burgerservicenummer, geboortedatum and curatele are read, not their names.
    relatie = _relatie(_gezin(moeder=(_onderzoek(aanduiding),)))
    assert relatie.get("inOnderzoek", False) is in_onderzoek


@pytest.mark.parametrize("aanduiding", ["050120", "050000", "050600", "050610", "050740"])
def test_the_parents_marriage_in_onderzoek_puts_the_gezag_in_onderzoek(aanduiding: str) -> None:
    relatie = _relatie(_gezin(vader=(_onderzoek(aanduiding),), gehuwd=True))
    assert relatie["type"] == "GezamenlijkOuderlijkGezag"
    assert relatie["inOnderzoek"] is True


def test_a_parent_asking_sees_only_the_relation_whose_facts_are_in_onderzoek() -> None:
    (relatie,) = _gezag(_gezin(kind=(_onderzoek("010000"),)), MOEDER, TODAY)
    assert relatie["inOnderzoek"] is True
    (relatie,) = _gezag(_gezin(moeder=(_onderzoek("010000"),)), VADER, TODAY)
    assert relatie["inOnderzoek"] is True  # the other parent's list was read too
    (relatie,) = _gezag(_gezin(), MOEDER, TODAY)
    assert "inOnderzoek" not in relatie


def test_rvigs_test_person_in_onderzoek(rvig: Dataset) -> None:  # noqa: F811
    # 999998353 has its voornamen (010210) in onderzoek: its name is part of the answer. Asked on its
    # 10th birthday, so the answer does not depend on the day the test runs.
    (relatie,) = _gezag(rvig, "999998353", _years_after(_born(rvig, "999998353"), 10))
    assert relatie["inOnderzoek"] is True
