"""RvIG's landelijke tabellen in the sandbox: every code/omschrijving pair RvIG would send.

The tables are RvIG's own CSV publications (app/sandbox/data/tabel*.csv, see ATTRIBUTION.md); the
expected texts below were read in those files and in RvIG's feature files / data service source
(BRP-API/Haal-Centraal-BRP-bevragen features, BRP-API/personen-data-service GbaMappingHelper.cs).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from app.sandbox.data import TESTSET_CSV
from app.sandbox.data.convert import convert_testset
from app.sandbox.data.tabellen import landelijke_tabellen
from tests.fidelity_report import waardetabellen

Json = dict[str, Any]

# Codes of RvIG's test set that no public copy of RvIG's tables (nor RvIG's mock data) describes:
# RvIG's own data service then sends the code alone (DomeinTabellenHelper returns null).
KNOWN_GAPS = {("gemeente", "1802"), ("rniDeelnemer", "0001"), ("rniDeelnemer", "0202")}


@cache
def _document() -> Json:
    return convert_testset(TESTSET_CSV)


def _by_pl() -> dict[str, Json]:
    return {entry["persoonslijst"]: entry for entry in _document()["personen"]}


# --- the tables themselves -----------------------------------------------------------------------


def test_tables_are_rvigs_publications() -> None:
    tabellen = landelijke_tabellen()
    assert len(tabellen.gemeenten) == 1478 + 2  # tabel 33 plus the two test gemeenten of RvIG's mock
    assert tabellen.gemeenten["0599"] == "Rotterdam"
    assert tabellen.gemeenten["1999"] == "Registratie Niet Ingezetenen (RNI)"
    assert tabellen.landen["5001"] == "Canada"
    assert tabellen.landen["6030"] == "Nederland"
    assert tabellen.nationaliteiten["0057"] == "Franse"
    assert tabellen.redenen_nationaliteit["301"] == "Vaststelling bezit vreemde nationaliteit"
    assert tabellen.verblijfstitels["37"] == (
        "Vw 2000 art. 8, onder e, gemeenschapsonderdaan econ. niet-actief, arbeid spec."
    )
    assert tabellen.rni_deelnemers["0201"] == "Sociale Verzekeringsbank (inzake AOW, Anw en AKW)"
    assert tabellen.gezagsverhoudingen["3D"] == "ouder1 + ouder2 + een of meer derden hebben het gezag"
    assert tabellen.adellijke_titels["JV"] == ("jonkvrouw", "predicaat")


def test_test_gemeenten_and_deelgezag_codes_come_from_rvigs_mock_data() -> None:
    tabellen = landelijke_tabellen()
    assert tabellen.gemeenten["1810"] == "Toetsoog"
    assert tabellen.gemeenten["1811"] == "Snellendam"
    assert tabellen.gezagsverhoudingen["1C"] == "ouder1 heeft het gezag + een of meer derden hebben deelgezag"
    assert "1802" not in tabellen.gemeenten


@pytest.mark.parametrize(
    ("code", "opvolgers"),
    [
        ("0599", ()),  # Rotterdam still exists
        ("0595", ("1901",)),  # Reeuwijk merged into Bodegraven-Reeuwijk (2011)
        ("0003", ("1979",)),  # Appingedam into Eemsdelta (2021)
        ("0001", ("0053", "1966")),  # Adorp into Winsum (1990), Winsum into Het Hogeland (2019)
        ("1802", ()),  # unknown code: no successors
    ],
)
def test_herindelingen_follow_the_nieuwe_code_chain(code: str, opvolgers: tuple[str, ...]) -> None:
    assert landelijke_tabellen().opvolgers(code) == opvolgers


# --- the converted persons -----------------------------------------------------------------------


def test_every_waardetabel_has_its_omschrijving_except_the_documented_gaps() -> None:
    missing = {
        (soort, code)
        for entry in _document()["personen"]
        for soort, code, omschrijving in waardetabellen(entry["persoon"])
        if omschrijving is None
    }
    assert missing == KNOWN_GAPS


def test_verblijfplaatshistorie_waardetabellen_have_omschrijvingen() -> None:
    missing = {
        (soort, code)
        for entry in _document()["personen"]
        for item in entry["verblijfplaatshistorie"]
        for soort, code, omschrijving in waardetabellen(item)
        if omschrijving is None
    }
    assert missing <= KNOWN_GAPS


def test_readme_person_geboorteland_and_nationaliteit() -> None:
    """Lg01_716 (999993653): born in Thann, Canada per the test set (5001), French nationality."""
    persoon = _by_pl()["Lg01_716"]["persoon"]
    assert persoon["geboorte"]["land"] == {"code": "5001", "omschrijving": "Canada"}
    assert persoon["nationaliteiten"][0]["nationaliteit"] == {"code": "0057", "omschrijving": "Franse"}


def test_test_gemeente_toetsoog() -> None:
    persoon = _by_pl()["Lg01_408"]["persoon"]
    assert persoon["gemeenteVanInschrijving"] == {"code": "1810", "omschrijving": "Toetsoog"}


def test_adellijke_titel_as_in_tabel_38() -> None:
    persoon = _by_pl()["Lg01_408"]["persoon"]
    assert persoon["naam"]["adellijkeTitelPredicaat"] == {
        "code": "B",
        "omschrijving": "baron",
        "soort": "titel",
    }
    assert persoon["naam"]["volledigeNaam"] == "Willem baron van Serooskerke"


def test_naamgebruik_and_opschorting_texts_of_rvigs_data_service() -> None:
    personen = [entry["persoon"] for entry in _document()["personen"]]
    naamgebruik = {
        p["naam"]["aanduidingNaamgebruik"]["code"]: p["naam"]["aanduidingNaamgebruik"]["omschrijving"]
        for p in personen
        if "aanduidingNaamgebruik" in p.get("naam", {})
    }
    assert naamgebruik == {
        "E": "eigen geslachtsnaam",
        "N": "geslachtsnaam echtgenoot/geregistreerd partner na eigen geslachtsnaam",
        "P": "geslachtsnaam echtgenoot/geregistreerd partner",
        "V": "geslachtsnaam echtgenoot/geregistreerd partner voor eigen geslachtsnaam",
    }
    redenen = {
        p["opschortingBijhouding"]["reden"]["code"]: p["opschortingBijhouding"]["reden"]["omschrijving"]
        for p in personen
        if "opschortingBijhouding" in p
    }
    assert redenen == {
        "E": "emigratie",
        "M": "ministerieel besluit",
        "O": "overlijden",
        "R": "pl is aangelegd in de rni",
    }


def test_verblijfstitel_and_gezagsverhouding_omschrijvingen() -> None:
    by_pl = _by_pl()
    gezag = {
        entry["persoon"]["indicatieGezagMinderjarige"]["code"]: entry["persoon"]["indicatieGezagMinderjarige"]
        for entry in by_pl.values()
        if "indicatieGezagMinderjarige" in entry["persoon"]
    }
    assert gezag["12"] == {"code": "12", "omschrijving": "Ouder1 en ouder2 hebben het gezag"}
    assert gezag["C"] == {"code": "C", "omschrijving": "een of meer derden hebben deelgezag"}
    titels = [
        e["persoon"]["verblijfstitel"]["aanduiding"]
        for e in by_pl.values()
        if "verblijfstitel" in e["persoon"]
    ]
    assert titels and all("omschrijving" in titel for titel in titels)
