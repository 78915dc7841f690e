"""The fields catalogue (RvIG's lists) and filter_fields (RvIG's selection semantics)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.brp import FieldsCatalogue, ResponseType, fields_catalogue, filter_fields

PERSOON = ResponseType.PERSOON
BEPERKT = ResponseType.PERSOON_BEPERKT
GEZAG = ResponseType.GEZAG_PERSOON_BEPERKT

DATUM = {"type": "Datum", "datum": "1983-05-26", "langFormaat": "26 mei 1983"}
PERSON: dict[str, Any] = {
    "aNummer": "1234567890",
    "burgerservicenummer": "999993653",
    "geheimhoudingPersoonsgegevens": True,
    "geslacht": {"code": "V", "omschrijving": "vrouw"},
    "inOnderzoek": {
        "burgerservicenummer": True,
        "geslacht": True,
        "datumIngangOnderzoekPersoon": {
            "type": "Datum",
            "datum": "2020-01-01",
            "langFormaat": "1 januari 2020",
        },
    },
    "naam": {
        "voornamen": "Suzanne",
        "geslachtsnaam": "Moulin",
        "voorletters": "S.",
        "adellijkeTitelPredicaat": {"code": "JV", "omschrijving": "jonkvrouw", "soort": "predicaat"},
        "inOnderzoek": {
            "voornamen": True,
            "geslachtsnaam": True,
            "datumIngangOnderzoek": {"type": "JaarDatum", "jaar": 2020, "langFormaat": "2020"},
        },
    },
    "geboorte": {
        "datum": DATUM,
        "land": {"code": "6030", "omschrijving": "Nederland"},
        "plaats": {"code": "0518", "omschrijving": "'s-Gravenhage"},
    },
    "nationaliteiten": [
        {
            "type": "Nationaliteit",
            "nationaliteit": {"code": "0001", "omschrijving": "Nederlandse"},
            "redenOpname": {"code": "001", "omschrijving": "Wet op het Nederlanderschap 1892"},
        },
        {"type": "BehandeldAlsNederlander", "redenOpname": {"code": "311", "omschrijving": "Behandeld"}},
    ],
    "partners": [
        {
            "burgerservicenummer": "999990639",
            "naam": {"voornamen": "Jan", "geslachtsnaam": "Jansen"},
            "soortVerbintenis": {"code": "H", "omschrijving": "huwelijk"},
        }
    ],
    "kinderen": [],
    "verblijfplaats": {
        "type": "Adres",
        "datumVan": {"type": "Datum", "datum": "2015-08-08", "langFormaat": "8 augustus 2015"},
        "adresseerbaarObjectIdentificatie": "0599010000208579",
        "functieAdres": {"code": "W", "omschrijving": "woonadres"},
        "verblijfadres": {"officieleStraatnaam": "Boterdiep", "huisnummer": 31, "postcode": "9712LH"},
        "indicatieVastgesteldVerblijftNietOpAdres": True,
        "inOnderzoek": {"datumVan": True, "type": True, "datumIngangOnderzoek": DATUM},
    },
    "adressering": {
        "aanhef": "Geachte mevrouw Moulin",
        "adresregel1": "Boterdiep 31",
        "adresregel2": "9712 LH  GRONINGEN",
        "indicatieVastgesteldVerblijftNietOpAdres": True,
        "inOnderzoek": {"adresregel1": True, "aanhef": True, "datumIngangOnderzoekVerblijfplaats": DATUM},
    },
    "opschortingBijhouding": {"reden": {"code": "O", "omschrijving": "overlijden"}, "datum": DATUM},
    "rni": [{"deelnemer": {"code": "0101", "omschrijving": "Belastingdienst"}, "categorie": 1}],
    "verificatie": {"datum": DATUM, "omschrijving": "bezoek"},
}
AUTO = {
    "geheimhoudingPersoonsgegevens": PERSON["geheimhoudingPersoonsgegevens"],
    "opschortingBijhouding": PERSON["opschortingBijhouding"],
    "rni": PERSON["rni"],
    "verificatie": PERSON["verificatie"],
}
ABROAD: dict[str, Any] = {
    "burgerservicenummer": "999990639",
    "verblijfplaats": {
        "type": "VerblijfplaatsBuitenland",
        "datumVan": DATUM,
        "verblijfadres": {
            "regel1": "1600 Pennsylvania Avenue NW",
            "regel2": "Washington, DC 20500",
            "land": {"code": "6014", "omschrijving": "Verenigde Staten van Amerika"},
        },
    },
    "adressering": {
        "aanhef": "Geachte heer Jansen",
        "adresregel1": "1600 Pennsylvania Avenue NW",
        "adresregel2": "Washington, DC 20500",
        "adresregel3": "Selangor",
        "land": {"code": "6014", "omschrijving": "Verenigde Staten van Amerika"},
    },
}


def _without_auto(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in AUTO}


# --- catalogue -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response_type", "listed", "valid", "pickable"),
    [(PERSOON, 352, 341, 139), (BEPERKT, 33, 33, 20), (GEZAG, 45, 34, 21)],
)
def test_catalogue_holds_rvigs_lists(
    response_type: ResponseType, listed: int, valid: int, pickable: int
) -> None:
    catalogue = fields_catalogue()

    assert len(catalogue.paths(response_type)) == listed
    assert sum(catalogue.is_valid_path(p, response_type) for p in catalogue.paths(response_type)) == valid
    assert len(catalogue.pickable_paths(response_type)) == pickable
    assert catalogue.pickable_paths(response_type) <= catalogue.paths(response_type)


def test_catalogue_reads_the_headerless_crlf_list() -> None:
    aanvullend = fields_catalogue().aanvullend_autorisatiebesluit_paths()

    assert len(aanvullend) == 34
    assert {"gezag", "leeftijd", "adresseringBinnenland.gebruikInLopendeTekst"} <= aanvullend
    assert not any("\r" in path or path == "pad" for path in aanvullend)


def test_catalogue_is_loaded_once() -> None:
    assert fields_catalogue() is fields_catalogue()


@pytest.mark.parametrize(
    ("path", "valid_for"),
    [
        ("aNummer", {PERSOON}),
        ("anummer", set()),
        ("burgerservicenummer", {PERSOON, BEPERKT, GEZAG}),
        ("gezag", {PERSOON, GEZAG}),
        ("gezag.type", set()),
        ("gezag.minderjarige.burgerservicenummer", set()),
        ("naam.aanduidingNaamgebruik", {PERSOON}),
        ("verblijfplaatsBinnenland.verblijfadres.postcode", {PERSOON}),
        ("verblijfplaatsBinnenland.verblijfadres.land", set()),
        ("adresseringBinnenland.adresregel1", {PERSOON, BEPERKT, GEZAG}),
        ("adresseringBinnenland.adresregel3", set()),
        ("opschortingBijhouding", set()),
        ("naam.inOnderzoek", set()),
        # one unlisted name below a date or Waardetabel: the whole object (RvIG's Gherkin)
        ("geboorte.land.nietBestaand", {PERSOON}),
        ("geboorte.datum.nietBestaand", {PERSOON, BEPERKT, GEZAG}),
        ("verblijfplaatsBinnenland.functieAdres.x", {PERSOON}),
        ("naam.nietBestaand", set()),
        ("geboorte.land.code.x", set()),
        ("opschortingBijhouding.datum.x", set()),
    ],
)
def test_valid_paths_per_response_type(path: str, valid_for: set[ResponseType]) -> None:
    catalogue = fields_catalogue()

    assert {rt for rt in ResponseType if catalogue.is_valid_path(path, rt)} == valid_for


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [
        ("rni.categorie", True),
        ("naam.inOnderzoek.voornamen", True),
        ("gezag.nietBestaand", True),
        ("verificatie", True),
        ("adressering.indicatieVastgesteldVerblijftNietOpAdres", True),
        ("gezag", False),
        ("indicatieGezagMinderjarige", False),
        ("naam", False),
    ],
)
def test_forbidden_paths_are_recognised_by_their_parts(path: str, forbidden: bool) -> None:
    assert FieldsCatalogue.is_forbidden(path) is forbidden


@pytest.mark.parametrize(
    ("path", "response_type", "canonical"),
    [
        ("geboorte.datum.jaar", PERSOON, "geboorte.datum"),
        ("geboorte.datum.type", BEPERKT, "geboorte.datum"),
        ("geboorte.datum", BEPERKT, "geboorte.datum"),
        ("geslacht.code", PERSOON, "geslacht"),
        ("naam.adellijkeTitelPredicaat.soort", PERSOON, "naam.adellijkeTitelPredicaat"),
        ("verblijfplaatsBinnenland.datumVan.langFormaat", PERSOON, "verblijfplaatsBinnenland.datumVan"),
        ("verblijfplaats.type", PERSOON, "verblijfplaats.type"),
        ("nationaliteiten.type", PERSOON, "nationaliteiten.type"),
        ("naam.voornamen", PERSOON, "naam.voornamen"),
        ("geboorte.land.nietBestaand", PERSOON, "geboorte.land"),
    ],
)
def test_sub_field_of_date_or_waardetabel_means_the_whole_object(
    path: str, response_type: ResponseType, canonical: str
) -> None:
    assert fields_catalogue().canonical(path, response_type) == canonical


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        ("geboorte.land", "geboorte.land"),
        ("geboorte.land.code", "geboorte.land.code"),
        ("geboorte.land.nietBestaand", "geboorte.land"),
        ("geboorte.land.", "geboorte.land"),
        ("geboorte.land.code.x", None),
        ("geboorte.nietBestaand", None),
        ("nietBestaand", None),
    ],
)
def test_resolve_gives_the_listed_path_a_request_stands_for(path: str, resolved: str | None) -> None:
    assert fields_catalogue().resolve(path, PERSOON) == resolved


def test_expand_gives_every_path_a_request_returns() -> None:
    catalogue = fields_catalogue()

    assert catalogue.expand(["geslacht.code"], PERSOON) == {
        "geslacht",
        "geslacht.code",
        "geslacht.omschrijving",
    }
    assert catalogue.expand(["geboorte"], BEPERKT) == {
        "geboorte",
        "geboorte.datum",
        "geboorte.datum.langFormaat",
        "geboorte.datum.type",
        "geboorte.datum.datum",
        "geboorte.datum.onbekend",
        "geboorte.datum.jaar",
        "geboorte.datum.maand",
    }
    assert catalogue.expand(["naam.voornamen", "leeftijd"], PERSOON) == {"naam.voornamen", "leeftijd"}
    assert catalogue.children("geboorte", PERSOON) == {"datum", "land", "plaats"}


# --- filter_fields -------------------------------------------------------------------------------


def test_group_path_returns_the_whole_group() -> None:
    result = filter_fields(PERSON, ["naam"], PERSOON)

    assert _without_auto(result) == {"naam": PERSON["naam"]}


def test_sub_field_returns_only_that_field_with_its_onderzoek_flag() -> None:
    result = filter_fields(PERSON, ["naam.voornamen"], PERSOON)

    assert _without_auto(result) == {
        "naam": {
            "voornamen": "Suzanne",
            "inOnderzoek": {
                "voornamen": True,
                "datumIngangOnderzoek": PERSON["naam"]["inOnderzoek"]["datumIngangOnderzoek"],
            },
        }
    }


def test_sub_field_of_a_date_returns_the_whole_date() -> None:
    result = filter_fields(PERSON, ["geboorte.datum.jaar"], PERSOON)

    assert _without_auto(result) == {"geboorte": {"datum": DATUM}}


@pytest.mark.parametrize("field", ["geslacht.code", "geslacht.omschrijving", "geslacht"])
def test_sub_field_of_a_waardetabel_returns_the_whole_waardetabel(field: str) -> None:
    result = filter_fields(PERSON, [field], PERSOON)

    assert result["geslacht"] == {"code": "V", "omschrijving": "vrouw"}


def test_list_group_filters_every_item_and_keeps_the_item_type() -> None:
    result = filter_fields(PERSON, ["nationaliteiten.nationaliteit", "partners.naam.geslachtsnaam"], PERSOON)

    assert result["nationaliteiten"] == [
        {"type": "Nationaliteit", "nationaliteit": {"code": "0001", "omschrijving": "Nederlandse"}}
    ]
    assert result["partners"] == [{"naam": {"geslachtsnaam": "Jansen"}}]


@pytest.mark.parametrize("field", ["kinderen", "ouders", "ouders.naam", "kinderen.burgerservicenummer"])
def test_requested_list_that_is_empty_or_absent_is_an_empty_list(field: str) -> None:
    result = filter_fields(PERSON, [field], PERSOON)

    assert result[field.split(".", maxsplit=1)[0]] == []


def test_auto_delivered_fields_are_always_kept() -> None:
    result = filter_fields(PERSON, ["burgerservicenummer"], PERSOON)

    assert {k: result[k] for k in AUTO} == AUTO
    assert "aNummer" not in result


def test_auto_delivered_fields_are_not_invented() -> None:
    result = filter_fields({"burgerservicenummer": "999993653"}, ["burgerservicenummer"], BEPERKT)

    assert result == {"burgerservicenummer": "999993653"}


def test_person_level_onderzoek_keeps_only_flags_of_returned_fields() -> None:
    result = filter_fields(PERSON, ["geslacht"], PERSOON)

    assert result["inOnderzoek"] == {
        "geslacht": True,
        "datumIngangOnderzoekPersoon": PERSON["inOnderzoek"]["datumIngangOnderzoekPersoon"],
    }
    assert "inOnderzoek" not in filter_fields(PERSON, ["aNummer"], PERSOON)


def test_group_companions_come_with_any_part_of_the_group() -> None:
    result = filter_fields(PERSON, ["verblijfplaats.datumVan"], PERSOON)

    assert result["verblijfplaats"] == {
        "type": "Adres",
        "datumVan": PERSON["verblijfplaats"]["datumVan"],
        "indicatieVastgesteldVerblijftNietOpAdres": True,
        "inOnderzoek": {"datumVan": True, "type": True, "datumIngangOnderzoek": DATUM},
    }


def test_explicitly_requested_type_is_returned() -> None:
    result = filter_fields(
        {"verblijfplaats": {"type": "Adres", "functieAdres": {"code": "W"}}}, ["verblijfplaats.type"], PERSOON
    )

    assert result == {"verblijfplaats": {"type": "Adres"}}


def test_empty_groups_are_left_out() -> None:
    result = filter_fields(
        PERSON, ["overlijden", "naam.voorvoegsel", "verblijfplaats.nummeraanduidingIdentificatie"], PERSOON
    )

    assert _without_auto(result) == {}


def test_verblijfplaats_binnenland_alias_answers_under_verblijfplaats() -> None:
    result = filter_fields(PERSON, ["verblijfplaatsBinnenland"], PERSOON)

    assert _without_auto(result) == {"verblijfplaats": PERSON["verblijfplaats"]}
    assert "verblijfplaatsBinnenland" not in result


def test_verblijfplaats_binnenland_leaves_out_a_foreign_verblijfplaats() -> None:
    assert filter_fields(ABROAD, ["verblijfplaatsBinnenland"], PERSOON) == {}
    assert filter_fields(ABROAD, ["verblijfplaatsBinnenland.verblijfadres"], PERSOON) == {}
    assert filter_fields(ABROAD, ["verblijfplaats.verblijfadres"], PERSOON) == {
        "verblijfplaats": {
            "type": "VerblijfplaatsBuitenland",
            "verblijfadres": ABROAD["verblijfplaats"]["verblijfadres"],
        }
    }


def test_verblijfplaats_binnenland_strips_foreign_address_parts() -> None:
    person = {
        "verblijfplaats": {
            "type": "Locatie",
            "verblijfadres": {"locatiebeschrijving": "Woonboot", "land": {"code": "6030"}},
        }
    }

    result = filter_fields(person, ["verblijfplaatsBinnenland.verblijfadres"], PERSOON)

    assert result == {
        "verblijfplaats": {"type": "Locatie", "verblijfadres": {"locatiebeschrijving": "Woonboot"}}
    }


def test_adressering_binnenland_alias_without_foreign_lines() -> None:
    dutch = filter_fields(PERSON, ["adresseringBinnenland"], PERSOON)
    abroad = filter_fields(ABROAD, ["adresseringBinnenland"], PERSOON)

    assert dutch["adressering"] == PERSON["adressering"]
    assert abroad == {"adressering": {"aanhef": "Geachte heer Jansen"}}
    assert filter_fields(ABROAD, ["adressering"], PERSOON) == {"adressering": ABROAD["adressering"]}


def test_adressering_binnenland_without_verblijfplaats_recognises_a_foreign_address() -> None:
    # RvIG's answer holds only what was asked: here no verblijfplaats to tell Dutch from foreign.
    person = {"adressering": ABROAD["adressering"]}

    assert filter_fields(person, ["adresseringBinnenland.adresregel1"], BEPERKT) == {}
    assert filter_fields(person, ["adresseringBinnenland"], BEPERKT) == {
        "adressering": {"aanhef": "Geachte heer Jansen"}
    }


def test_alias_and_plain_paths_merge_without_touching_the_input() -> None:
    person = copy.deepcopy(PERSON)

    result = filter_fields(
        person, ["verblijfplaats.functieAdres", "verblijfplaatsBinnenland.datumVan", "naam"], PERSOON
    )

    assert result["verblijfplaats"]["functieAdres"] == {"code": "W", "omschrijving": "woonadres"}
    assert result["verblijfplaats"]["datumVan"] == PERSON["verblijfplaats"]["datumVan"]
    assert "verblijfadres" not in result["verblijfplaats"]
    result["naam"]["voornamen"] = "changed"
    assert person["verblijfplaats"] == PERSON["verblijfplaats"]


def test_filter_does_not_change_the_person() -> None:
    person = copy.deepcopy(PERSON)

    filter_fields(
        person,
        ["verblijfplaats", "verblijfplaatsBinnenland.datumVan", "adresseringBinnenland", "partners.naam"],
        PERSOON,
    )

    assert person == PERSON


def test_gezag_is_returned_whole_for_gezag_persoon_beperkt() -> None:
    gezag = [
        {
            "type": "EenhoofdigOuderlijkGezag",
            "minderjarige": {"burgerservicenummer": "999990639"},
            "ouder": {"burgerservicenummer": "999993653"},
        }
    ]
    person = {"burgerservicenummer": "999993653", "gezag": gezag, "naam": {"voornamen": "Suzanne"}}

    assert filter_fields(person, ["gezag"], GEZAG) == {"gezag": gezag}
    assert filter_fields({"burgerservicenummer": "1"}, ["gezag"], GEZAG) == {"gezag": []}


def test_unrequested_bsn_is_stripped_for_the_client() -> None:
    # The gateway asks RvIG for burgerservicenummer (protocol) and strips it when not asked for.
    upstream = {"burgerservicenummer": "999993653", "naam": {"voornamen": "Suzanne"}}

    assert filter_fields(upstream, ["naam.voornamen"], BEPERKT) == {"naam": {"voornamen": "Suzanne"}}
