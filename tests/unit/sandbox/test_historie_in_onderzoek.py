"""inOnderzoek of the Verblijfplaatshistorie, from LO GBA 83.10/83.20/83.30 of categorie 08/58.

The rules and expected answers are RvIG's: BRP-API/historie-informatie-service
`features/raadpleeg-verblijfplaats-met-periode/in-onderzoek.feature`,
`.../vastgesteld-verblijft-niet-op-adres.feature` and its converters
`src/Historie.Informatie.Service/Profiles/*InOnderzoekConverter.cs`,
`Mappers/DatumTotInOnderzoekMapper.cs`; BRP-API/historie-data-service
`features/raadpleeg-verblijfplaats-met-periode/in-onderzoek.feature` (an ended onderzoek is not
delivered, except "vastgesteld verblijft niet op adres"). An aanduiding of categorie 08 and one of
58 mean the same, on the actual and on a historic voorkomen.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.sandbox.data.convert import Persoonslijst, historie_van
from tests.unit.sandbox.test_convert import _fouten, _validator

Json = dict[str, Any]

INGANG = {"type": "Datum", "datum": "2024-05-16", "langFormaat": "16 mei 2024"}
PERSOON = {"01.20": "999990012", "02.40": "Jansen", "03.10": "19800101"}
ADRES = {
    "09.10": "0800",
    "10.10": "W",
    "10.30": "20231014",
    "11.10": "Testpad",
    "11.20": "8",
    "11.60": "1234AB",
}
ADRES_2 = {"09.10": "0800", "10.10": "W", "10.30": "20240401", "11.10": "Nog een Testpad", "11.20": "9"}
LOCATIE = {"09.10": "0800", "10.10": "W", "10.30": "20231014", "12.10": "Woonboot bij de Grote Sloot"}
BUITENLAND = {
    "09.10": "1999",
    "13.10": "6014",
    "13.20": "20231014",
    "13.30": "Die Erste Straße",
    "13.40": "Beverly",
}
ONBEKEND = {"09.10": "1999", "13.10": "0000", "13.20": "20231014"}

ITEM_ADRES = {
    "type",
    "gemeenteVanInschrijving",
    "datumVan",
    "nummeraanduidingIdentificatie",
    "adresseerbaarObjectIdentificatie",
    "functieAdres",
}
VERBLIJFADRES_ADRES = {
    "korteStraatnaam",
    "officieleStraatnaam",
    "huisnummer",
    "huisletter",
    "huisnummertoevoeging",
    "aanduidingBijHuisnummer",
    "postcode",
    "woonplaats",
}
REGELS = {"adresregel1", "adresregel2"}
BUITENLAND_ADRES = {"regel1", "regel2", "regel3", "land"}
BUITENLAND_REGELS = {"adresregel1", "adresregel2", "adresregel3", "land"}


def _onderzoek(aanduiding: str, einde: str | None = None) -> dict[str, str]:
    velden = {"83.10": aanduiding, "83.20": "20240516"}
    return velden | ({"83.30": einde} if einde else {})


def _historie(*voorkomens: dict[str, str]) -> list[Json]:
    """The historie of a list whose categorie 08 holds these voorkomens, newest first."""
    items = historie_van(Persoonslijst("Lg99_001", {"01": [[PERSOON]], "08": [list(voorkomens)]}))
    validator = _validator("verblijfplaatshistorie-openapi.yaml", "AbstractVerblijfplaatsVoorkomen")
    assert [fout for item in items for fout in _fouten(validator, item, "historie")] == []
    return items


def _vlaggen(groep: Json | None) -> set[str] | None:
    """The flags of a group's inOnderzoek (None without one); its date must be the ingang."""
    onderzoek = (groep or {}).get("inOnderzoek")
    if onderzoek is None:
        return None
    assert onderzoek["datumIngangOnderzoek"] == INGANG
    return {key for key, value in onderzoek.items() if value is True}


def _alle(item: Json) -> tuple[set[str] | None, set[str] | None, set[str] | None]:
    return _vlaggen(item), _vlaggen(item.get("verblijfadres")), _vlaggen(item.get("adressering"))


# --- the whole categorie -------------------------------------------------------------------------


@pytest.mark.parametrize("aanduiding", ["080000", "580000"])
def test_whole_categorie_of_an_adres(aanduiding: str) -> None:
    (item,) = _historie(ADRES | _onderzoek(aanduiding))
    assert _alle(item) == (ITEM_ADRES, VERBLIJFADRES_ADRES, REGELS)


def test_whole_categorie_of_a_historic_adres() -> None:
    nieuw, oud = _historie(ADRES_2, ADRES | _onderzoek("580000"))
    assert _alle(oud) == (ITEM_ADRES, VERBLIJFADRES_ADRES, REGELS)
    assert _alle(nieuw) == (None, None, None)


def test_whole_categorie_of_a_locatie() -> None:
    (item,) = _historie(LOCATIE | _onderzoek("080000"))
    assert _alle(item) == (
        {"type", "gemeenteVanInschrijving", "datumVan", "functieAdres"},
        {"locatiebeschrijving"},
        REGELS,
    )


def test_whole_categorie_of_a_verblijfplaats_buitenland() -> None:
    (item,) = _historie(BUITENLAND | _onderzoek("080000"))
    assert _alle(item) == (
        {"type", "datumVan", "gemeenteVanInschrijving"},
        BUITENLAND_ADRES,
        BUITENLAND_REGELS,
    )


def test_whole_categorie_of_a_verblijfplaats_onbekend() -> None:
    (item,) = _historie(ONBEKEND | _onderzoek("080000"))
    assert _alle(item) == ({"type", "datumVan", "gemeenteVanInschrijving"}, None, None)


# --- groups and elements -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aanduiding", "item", "verblijfadres", "adressering"),
    [
        ("080900", {"gemeenteVanInschrijving"}, {"woonplaats"}, {"adresregel2"}),
        ("080910", {"gemeenteVanInschrijving"}, {"woonplaats"}, {"adresregel2"}),
        ("081000", {"datumVan", "functieAdres"}, None, None),
        ("081010", {"functieAdres"}, None, None),
        ("081030", {"datumVan"}, None, None),
        (
            "081100",
            {"type", "nummeraanduidingIdentificatie", "adresseerbaarObjectIdentificatie"},
            VERBLIJFADRES_ADRES,
            REGELS,
        ),
        ("081110", {"type"}, {"korteStraatnaam"}, {"adresregel1"}),
        ("081115", None, {"officieleStraatnaam"}, {"adresregel1"}),
        ("081120", None, {"huisnummer"}, {"adresregel1"}),
        ("081130", None, {"huisletter"}, {"adresregel1"}),
        ("081140", None, {"huisnummertoevoeging"}, {"adresregel1"}),
        ("081150", None, {"aanduidingBijHuisnummer"}, {"adresregel1"}),
        ("081160", None, {"postcode"}, {"adresregel2"}),
        ("081170", None, {"woonplaats"}, {"adresregel2"}),
        ("081180", {"adresseerbaarObjectIdentificatie"}, None, None),
        ("081190", {"nummeraanduidingIdentificatie"}, None, None),
        ("581110", {"type"}, {"korteStraatnaam"}, {"adresregel1"}),
    ],
)
def test_a_group_or_element_of_an_adres(
    aanduiding: str, item: set[str] | None, verblijfadres: set[str] | None, adressering: set[str] | None
) -> None:
    (gevonden,) = _historie(ADRES | _onderzoek(aanduiding))
    assert _alle(gevonden) == (item, verblijfadres, adressering)


@pytest.mark.parametrize(
    ("aanduiding", "item", "verblijfadres", "adressering"),
    [
        ("081200", {"type"}, {"locatiebeschrijving"}, REGELS),
        ("081210", {"type"}, {"locatiebeschrijving"}, {"adresregel1"}),
        ("080910", {"gemeenteVanInschrijving"}, None, {"adresregel2"}),
        ("081030", {"datumVan"}, None, None),
    ],
)
def test_a_group_or_element_of_a_locatie(
    aanduiding: str, item: set[str] | None, verblijfadres: set[str] | None, adressering: set[str] | None
) -> None:
    (gevonden,) = _historie(LOCATIE | _onderzoek(aanduiding))
    assert _alle(gevonden) == (item, verblijfadres, adressering)


@pytest.mark.parametrize(
    ("aanduiding", "item", "verblijfadres", "adressering"),
    [
        ("081300", {"type", "datumVan"}, BUITENLAND_ADRES, BUITENLAND_REGELS),
        ("081310", {"type"}, {"land"}, {"land"}),
        ("081320", {"datumVan"}, None, None),
        ("081330", None, {"regel1"}, {"adresregel1"}),
        ("081340", None, {"regel2"}, {"adresregel2"}),
        ("081350", None, {"regel3"}, {"adresregel3"}),
        ("080910", None, None, None),
    ],
)
def test_a_group_or_element_of_a_verblijfplaats_buitenland(
    aanduiding: str, item: set[str] | None, verblijfadres: set[str] | None, adressering: set[str] | None
) -> None:
    (gevonden,) = _historie(BUITENLAND | _onderzoek(aanduiding))
    assert _alle(gevonden) == (item, verblijfadres, adressering)


@pytest.mark.parametrize(
    "aanduiding", ["080920", "081020", "081400", "081410", "081420", "581400", "010000", "089998", "0800"]
)
def test_what_the_historie_does_not_hold_is_never_in_onderzoek(aanduiding: str) -> None:
    (item,) = _historie(ADRES | _onderzoek(aanduiding))
    assert _alle(item) == (None, None, None)


def test_an_ended_onderzoek_is_not_delivered() -> None:
    (item,) = _historie(ADRES | _onderzoek("080000", einde="20240601"))
    assert _alle(item) == (None, None, None)


# --- datumTot: the datum aanvang of the next verblijfplaats --------------------------------------


@pytest.mark.parametrize("aanduiding", ["080000", "580000", "081000", "581000", "081030", "581030"])
def test_datum_aanvang_of_the_next_adres_puts_datum_tot_in_onderzoek(aanduiding: str) -> None:
    _, oud = _historie(ADRES_2 | _onderzoek(aanduiding), ADRES)
    assert oud["datumTot"]["datum"] == "2024-04-01"
    assert _alle(oud) == ({"datumTot"}, None, None)


@pytest.mark.parametrize("aanduiding", ["080000", "580000", "081300", "581300", "081320", "581320"])
def test_datum_aanvang_of_the_next_buitenland_puts_datum_tot_in_onderzoek(aanduiding: str) -> None:
    nieuw = BUITENLAND | {"13.20": "20240414"} | _onderzoek(aanduiding)
    _, oud = _historie(nieuw, ADRES)
    assert _alle(oud) == ({"datumTot"}, None, None)


@pytest.mark.parametrize("aanduiding", ["081010", "081100", "081120", "081210", "089999", "589999"])
def test_other_onderzoek_of_the_next_leaves_datum_tot_alone(aanduiding: str) -> None:
    _, oud = _historie(ADRES_2 | _onderzoek(aanduiding), ADRES)
    assert _alle(oud) == (None, None, None)


def test_an_ended_onderzoek_of_the_next_leaves_datum_tot_alone() -> None:
    _, oud = _historie(ADRES_2 | _onderzoek("080000", einde="20240601"), ADRES)
    assert _alle(oud) == (None, None, None)


def test_own_onderzoek_keeps_its_date_and_gets_datum_tot() -> None:
    nieuw = ADRES_2 | {"83.10": "081030", "83.20": "20240601"}
    _, oud = _historie(nieuw, ADRES | _onderzoek("581010"))
    assert _alle(oud) == ({"functieAdres", "datumTot"}, None, None)


def test_datum_tot_of_a_verblijfplaats_onbekend() -> None:
    nieuw = ADRES_2 | {"10.30": "20240414"} | _onderzoek("081030")
    _, oud = _historie(nieuw, ONBEKEND)
    assert _alle(oud) == ({"datumTot"}, None, None)


# --- 089999 vastgesteld verblijft niet op adres --------------------------------------------------


@pytest.mark.parametrize("aanduiding", ["089999", "589999"])
def test_running_vastgesteld_verblijft_niet_op_adres(aanduiding: str) -> None:
    (item,) = _historie(ADRES | _onderzoek(aanduiding))
    assert item["verblijftNietOpAdresVanaf"] == INGANG
    assert _alle(item) == (ITEM_ADRES, VERBLIJFADRES_ADRES, REGELS)


@pytest.mark.parametrize("einde", ["20240401", "20240402"])
def test_ended_on_or_after_the_next_aanvang_gives_only_the_date(einde: str) -> None:
    _, oud = _historie(ADRES_2 | _onderzoek("081030"), ADRES | _onderzoek("589999", einde=einde))
    assert oud["verblijftNietOpAdresVanaf"] == INGANG
    assert _alle(oud) == (None, None, None)


def test_ended_before_the_next_aanvang_is_not_delivered() -> None:
    _, oud = _historie(ADRES_2, ADRES | _onderzoek("589999", einde="20240331"))
    assert "verblijftNietOpAdresVanaf" not in oud
    assert _alle(oud) == (None, None, None)


def test_ended_on_the_actual_adres_is_not_delivered() -> None:
    (item,) = _historie(ADRES | _onderzoek("089999", einde="20240601"))
    assert "verblijftNietOpAdresVanaf" not in item
    assert _alle(item) == (None, None, None)


def test_vastgesteld_verblijft_niet_op_een_locatie_flags_only_the_adresregels() -> None:
    # RvIG's LocatieVoorkomenProfile maps no verblijftNietOpAdresVanaf and its converters for the
    # locatie itself know no 089999; the shared AdresseringBinnenland converter does.
    (item,) = _historie(LOCATIE | _onderzoek("089999"))
    assert "verblijftNietOpAdresVanaf" not in item
    assert _alle(item) == (None, None, REGELS)
