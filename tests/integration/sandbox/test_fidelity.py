"""RvIG's own test persons answered as RvIG's proefomgeving would: over HTTP, through the sandbox.

Duplicate BSNs: five burgerservicenummers of RvIG's test set are on two deliverable
persoonslijsten each; RvIG's data service answers a Raadpleeg for such a BSN with a 400
(invalidParams code `unique`), and its searches deliver both lists (see
tests/unit/sandbox/test_dubbele_bsn.py for the sources). Omschrijvingen come from RvIG's
landelijke tabellen (tests/unit/sandbox/test_landelijke_tabellen.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.sandbox.client import HISTORIE, SandboxClient

DUBBELE_BSNS = ["999991425", "999992788", "999994724", "999995133", "999995923"]
UNIQUE = {
    "code": "unique",
    "name": "burgerservicenummer",
    "reason": "De opgegeven persoonidentificatie is niet uniek.",
}


def _raadpleeg(*bsns: str, fields: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "RaadpleegMetBurgerservicenummer",
        "burgerservicenummer": list(bsns),
        "fields": fields,
        **extra,
    }


@pytest.mark.parametrize("bsn", DUBBELE_BSNS)
def test_a_bsn_on_two_persoonslijsten_is_not_unique(brp: SandboxClient, bsn: str) -> None:
    response = brp.personen(_raadpleeg(bsn, fields=["burgerservicenummer"]))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "paramsValidation"
    assert body["detail"] == "De foutieve parameter(s) zijn: burgerservicenummer."
    assert body["invalidParams"] == [UNIQUE]
    assert body["instance"] == "/haalcentraal/api/brp/personen"


def test_a_search_finds_both_persoonslijsten_of_a_duplicate_bsn(brp: SandboxClient) -> None:
    query = {
        "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
        "geslachtsnaam": "Verstraten",
        "geboortedatum": "1965-06-12",
    }
    assert brp.found(query).count("999994724") == 2


def test_the_gemeente_filter_leaves_one_persoonslijst(brp: SandboxClient) -> None:
    # 999995923 is Hendrik Bultenaar in Hellevoetsluis (0530) and Jeroen de Boer in Ede (0228).
    response = brp.personen(
        _raadpleeg("999995923", fields=["naam.voornamen"], gemeenteVanInschrijving="0228")
    )
    assert response.status_code == 200, response.text
    assert response.json()["personen"] == [{"naam": {"voornamen": "Jeroen"}}]


def test_readme_person_with_omschrijvingen(brp: SandboxClient) -> None:
    response = brp.personen(_raadpleeg("999993653", fields=["geboorte", "nationaliteiten.nationaliteit"]))
    assert response.status_code == 200, response.text
    (persoon,) = response.json()["personen"]
    assert persoon["geboorte"]["land"] == {"code": "5001", "omschrijving": "Canada"}
    assert persoon["nationaliteiten"] == [
        {"type": "Nationaliteit", "nationaliteit": {"code": "0057", "omschrijving": "Franse"}}
    ]


def test_in_onderzoek_of_an_rvig_test_person(brp: SandboxClient, rvig_persons: list[dict[str, Any]]) -> None:
    """A test person whose geslachtsnaam RvIG's test set has in onderzoek gets the flag when asked."""
    persoon = next(
        r["persoon"]
        for r in rvig_persons
        if "geslachtsnaam" in ((r["persoon"].get("naam") or {}).get("inOnderzoek") or {})
        and not r["persoon"].get("opschortingBijhouding")
        and r["persoon"]["burgerservicenummer"] not in DUBBELE_BSNS
    )
    bsn = persoon["burgerservicenummer"]
    asked = brp.personen(_raadpleeg(bsn, fields=["naam.geslachtsnaam"])).json()["personen"][0]
    assert asked["naam"]["inOnderzoek"]["geslachtsnaam"] is True
    assert "datumIngangOnderzoek" in asked["naam"]["inOnderzoek"]
    other = brp.personen(_raadpleeg(bsn, fields=["burgerservicenummer"])).json()["personen"][0]
    assert "naam" not in other


# --- rni, historie and gezag: the rules of tests/unit/sandbox/test_rni.py, ..._historie_in_onderzoek.py,
# test_dubbele_bsn.py and test_gezag_in_onderzoek.py, on RvIG's own test persons


@pytest.mark.parametrize(
    ("fields", "categorieen"),
    [
        (["naam"], ["Persoon"]),
        (["verblijfplaats.verblijfadres.land"], ["Verblijfplaats"]),
        (["adressering.adresregel1"], ["Verblijfplaats"]),
        (["nationaliteiten"], ["Nationaliteit"] * 4),
        (["geslacht", "gemeenteVanInschrijving"], ["Persoon", "Verblijfplaats"]),
        (["kinderen", "partners"], None),
    ],
)
def test_rni_comes_with_a_field_of_its_categorie(
    brp: SandboxClient, fields: list[str], categorieen: list[str] | None
) -> None:
    # 999990457 lives abroad; RNI-deelnemers supplied its categorie 01, 04 (four times) and 08.
    response = brp.personen(_raadpleeg("999990457", fields=fields))
    assert response.status_code == 200, response.text
    (persoon,) = response.json()["personen"]
    found = [entry["categorie"] for entry in persoon["rni"]] if "rni" in persoon else None
    assert found == categorieen


def _historie(brp: SandboxClient, bsn: str, **query: str) -> dict[str, Any]:
    response = brp.post(HISTORIE, {"type": "RaadpleegMetPeildatum", "burgerservicenummer": bsn, **query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_historie_carries_in_onderzoek(brp: SandboxClient) -> None:
    # 999990585 moved abroad on 4 January 2010; that verblijfplaats is in onderzoek as a whole (080000).
    ingang = {"type": "Datum", "datum": "2010-01-04", "langFormaat": "4 januari 2010"}
    (adres,) = _historie(brp, "999990585", peildatum="2000-01-01")["verblijfplaatsen"]
    assert adres["inOnderzoek"] == {"datumTot": True, "datumIngangOnderzoek": ingang}
    (buitenland,) = _historie(brp, "999990585", peildatum="2015-01-01")["verblijfplaatsen"]
    assert buitenland["inOnderzoek"] == {
        "type": True,
        "datumVan": True,
        "gemeenteVanInschrijving": True,
        "datumIngangOnderzoek": ingang,
    }


def test_historie_vastgesteld_verblijft_niet_op_adres(brp: SandboxClient) -> None:
    (adres,) = _historie(brp, "999992570", peildatum="2022-01-01")["verblijfplaatsen"]
    assert adres["verblijftNietOpAdresVanaf"] == {
        "type": "Datum",
        "datum": "2021-07-02",
        "langFormaat": "2 juli 2021",
    }
    assert adres["inOnderzoek"]["type"] is True


@pytest.mark.parametrize(
    ("peildatum", "datums"),
    [
        (
            "2022-01-01",
            ["1998-05-02"],
        ),  # the first list's actual verblijfplaats counts for its first day only
        ("2000-06-10", ["2000-06-10", "1998-05-02"]),
        ("1999-06-01", ["1998-05-02", "1999-04-18"]),
    ],
)
def test_historie_of_a_bsn_on_two_persoonslijsten(
    brp: SandboxClient, peildatum: str, datums: list[str]
) -> None:
    # 999992788: Lg01_394 (since 18 April 1999, moved 10 June 2000) and Lg01_408 (since 2 May 1998).
    verblijfplaatsen = _historie(brp, "999992788", peildatum=peildatum)["verblijfplaatsen"]
    assert [v["datumVan"]["datum"] for v in verblijfplaatsen] == datums


def test_gezag_in_onderzoek_of_an_rvig_test_person(brp: SandboxClient) -> None:
    # 999998353 (born 2015) has its voornamen in onderzoek: a fact of the gezag answer.
    response = brp.personen(_raadpleeg("999998353", fields=["gezag"]))
    assert response.status_code == 200, response.text
    (relatie,) = response.json()["personen"][0]["gezag"]
    assert relatie["inOnderzoek"] is True
