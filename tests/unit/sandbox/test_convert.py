"""The test set converter: personen.json is the spec-valid, reproducible conversion of RvIG's CSV.

The sample persons below were checked by reading their rows in testset-proefomgeving.csv; the
expected values are written out literally so that a change in the converter shows up here.
"""

from __future__ import annotations

import copy
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs in the dev deps
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app.sandbox.data import PERSONEN_JSON, TESTSET_CSV
from app.sandbox.data.convert import convert_testset, main, read_testset, render_json
from tests.integration.sandbox.openapi import is_rvig_deviation

Json = dict[str, Any]

# The official specs, copied into the product with their attribution (app/brp/specs/).
SPEC_DIR = Path(__file__).resolve().parents[3] / "app" / "brp" / "specs"


@pytest.fixture(scope="module")
def document() -> Json:
    return convert_testset(TESTSET_CSV)


@pytest.fixture(scope="module")
def by_pl(document: Json) -> dict[str, Json]:
    return {entry["persoonslijst"]: entry for entry in document["personen"]}


def _datum(iso: str, lang: str) -> Json:
    return {"type": "Datum", "datum": iso, "langFormaat": lang}


ONBEKEND: Json = {"type": "DatumOnbekend", "onbekend": True, "langFormaat": "onbekend"}
NEDERLAND: Json = {"code": "6030", "omschrijving": "Nederland"}
WOONADRES: Json = {"code": "W", "omschrijving": "woonadres"}


# --- schema validation ---------------------------------------------------------------------------


def _spec(name: str) -> Path:
    return SPEC_DIR / name


def _with_discriminators(spec: Json) -> Json:
    """Make JSON Schema enforce the OpenAPI discriminators (jsonschema ignores `discriminator`).

    `AbstractDatum` becomes "base AND, for type X, the mapped subschema", where the subschemas refer
    to the base copy instead of back to `AbstractDatum` (which would recurse). An unknown `type`
    fails through an enum of the mapped names.
    """
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    for naam in [naam for naam, schema in schemas.items() if "discriminator" in schema]:
        mapping: dict[str, str] = schemas[naam]["discriminator"]["mapping"]
        basis = f"{naam}__basis"
        schemas[basis] = {k: v for k, v in schemas[naam].items() if k != "discriminator"}
        for doel in mapping.values():
            for deel in schemas[doel.rsplit("/", 1)[1]].get("allOf", []):
                if deel.get("$ref") == f"#/components/schemas/{naam}":
                    deel["$ref"] = f"#/components/schemas/{basis}"
        schemas[naam] = {
            "allOf": [
                {"$ref": f"#/components/schemas/{basis}"},
                *(
                    {"if": {"properties": {"type": {"const": t}}}, "then": {"$ref": ref}}
                    for t, ref in mapping.items()
                ),
            ],
            "required": ["type"],
            "properties": {"type": {"enum": sorted(mapping)}},
        }
    return spec


@cache
def _validator(spec_name: str, schema: str) -> Draft202012Validator:
    spec = _with_discriminators(yaml.safe_load(_spec(spec_name).read_text(encoding="utf-8")))
    registry: Registry[Any] = Registry().with_resource("urn:spec", DRAFT202012.create_resource(spec))
    return Draft202012Validator(
        {"$ref": f"urn:spec#/components/schemas/{schema}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _fouten(validator: Draft202012Validator, instance: Json, waar: str) -> list[str]:
    # RvIG's own omschrijvingen with "/", "+" are sent verbatim although its spec's pattern forbids them.
    return [
        f"{waar} {'/'.join(map(str, e.absolute_path))}: {e.message[:160]}"
        for e in validator.iter_errors(instance)
        if not is_rvig_deviation(e)
    ]


def test_the_only_spec_deviations_are_rvigs_own_omschrijvingen(document: Json) -> None:
    """The omschrijvingen RvIG sends that its spec's Waardetabel pattern forbids: exactly these."""
    validator = _validator("personen-openapi.yaml", "Persoon")
    texts = {
        e.instance
        for entry in document["personen"]
        for e in validator.iter_errors(entry["persoon"])
        if is_rvig_deviation(e)
    }
    assert texts == {
        "geslachtsnaam echtgenoot/geregistreerd partner",
        "geslachtsnaam echtgenoot/geregistreerd partner na eigen geslachtsnaam",
        "geslachtsnaam echtgenoot/geregistreerd partner voor eigen geslachtsnaam",
        "Macedonische/Burger van Noord-Macedonië",
        "ouder1 + ouder2 + een of meer derden hebben het gezag",
        "ouder1 heeft het gezag + een of meer derden hebben deelgezag",
        "ouder2 heeft het gezag + een of meer derden hebben deelgezag",
        "ouder1 + ouder2 hebben het gezag + een of meer derden hebben deelgezag",
        "een of meer derden hebben het gezag + een of meer derden hebben deelgezag",
    }


def test_validator_enforces_discriminators_and_formats() -> None:
    validator = _validator("personen-openapi.yaml", "Persoon")
    assert not _fouten(validator, {"geboorte": {"datum": _datum("1983-05-26", "26 mei 1983")}}, "ok")
    assert _fouten(
        validator, {"geboorte": {"datum": {"type": "Datum", "langFormaat": "26 mei 1983"}}}, "no datum"
    )
    assert _fouten(validator, {"geboorte": {"datum": _datum("1983-02-30", "30 februari 1983")}}, "bad date")
    assert _fouten(validator, {"verblijfplaats": {"type": "Woonwagen"}}, "unknown type")


def test_every_persoon_validates_against_the_personen_spec(document: Json) -> None:
    validator = _validator("personen-openapi.yaml", "Persoon")
    fouten = [f for e in document["personen"] for f in _fouten(validator, e["persoon"], e["persoonslijst"])]
    assert fouten == []


def test_every_historie_item_validates_against_the_historie_spec(document: Json) -> None:
    validator = _validator("verblijfplaatshistorie-openapi.yaml", "AbstractVerblijfplaatsVoorkomen")
    fouten = [
        fout
        for entry in document["personen"]
        for item in entry["verblijfplaatshistorie"]
        for fout in _fouten(validator, item, entry["persoonslijst"])
    ]
    assert fouten == []


# --- the data file and the command ---------------------------------------------------------------


def test_committed_personen_json_is_exactly_the_conversion_of_the_csv(document: Json) -> None:
    assert PERSONEN_JSON.read_bytes() == render_json(document).encode("utf-8")


def test_converting_twice_gives_identical_bytes(document: Json) -> None:
    assert render_json(convert_testset(TESTSET_CSV)) == render_json(document)


def test_main_writes_the_json_file(tmp_path: Path) -> None:
    out = tmp_path / "personen.json"
    assert main(["--csv", str(TESTSET_CSV), "--out", str(out)]) == 0
    assert out.read_bytes() == PERSONEN_JSON.read_bytes()


def test_document_has_bron_and_four_keys_per_person(document: Json) -> None:
    assert document["bron"].startswith(
        "RvIG testset persoonslijsten proefomgeving GBA-V (2022-05-02), EUPL-1.2"
    )
    assert {tuple(sorted(entry)) for entry in document["personen"]} == {
        ("gezagsgegevens", "persoon", "persoonslijst", "verblijfplaatshistorie")
    }


# --- counts --------------------------------------------------------------------------------------


def test_counts_of_persons_and_burgerservicenummers(document: Json) -> None:
    personen = document["personen"]
    bsns = Counter(entry["persoon"]["burgerservicenummer"] for entry in personen)
    assert len(read_testset(TESTSET_CSV)) == 687  # 2 lists without BSN are skipped
    assert len(personen) == 685
    assert len(bsns) == 680
    assert sorted(bsn for bsn, n in bsns.items() if n > 1) == [
        "999991425",
        "999992788",
        "999994724",
        "999995133",
        "999995923",
    ]


def test_counts_of_historie_overlijden_geheim_and_opschorting(document: Json) -> None:
    personen = [entry["persoon"] for entry in document["personen"]]
    assert sum(1 for entry in document["personen"] if entry["verblijfplaatshistorie"]) == 684
    assert sum(1 for entry in document["personen"] if len(entry["verblijfplaatshistorie"]) > 1) == 356
    assert sum(1 for p in personen if "overlijden" in p) == 20
    assert sum(1 for p in personen if p.get("geheimhoudingPersoonsgegevens")) == 46
    assert Counter(
        p["opschortingBijhouding"]["reden"]["code"] for p in personen if "opschortingBijhouding" in p
    ) == {
        "E": 56,
        "O": 20,
        "R": 20,
        "M": 1,
    }


def test_query_day_fields_are_not_stored(document: Json) -> None:
    assert not any({"leeftijd", "gezag"} & entry["persoon"].keys() for entry in document["personen"])


def test_persons_are_sorted_by_bsn_then_persoonslijst(document: Json) -> None:
    keys = [(e["persoon"]["burgerservicenummer"], e["persoonslijst"]) for e in document["personen"]]
    assert keys == sorted(keys)


# --- reading the CSV: the CC.H markers -----------------------------------------------------------


def test_marker_of_a_row_tells_what_the_next_occurrence_is(tmp_path: Path) -> None:
    header = ["", "01.01.20", "01.02.40", "01.H", "09.01.20", "09.02.10", "09.H", "04.05.10", "04.H"]
    rows = [
        header,
        ["Lg01_1", "999999999", "Jansen", "51", "111111111", "Piet", "59", "0001", ""],
        ["", "", "Janssen", "", "", "Pieter", "09", "", ""],
        ["", "", "", "", "222222222", "Kees", "", "", ""],
        ["Lg01_2", "888888888", "Smit", "", "", "", "", "", ""],
    ]
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("\n".join(";".join(row) for row in rows) + "\n", encoding="utf-8-sig")
    eerste, tweede = read_testset(csv_path)
    assert eerste.identificatie == "Lg01_1"
    assert eerste.stapels("01") == [[{"01.20": "999999999", "02.40": "Jansen"}, {"02.40": "Janssen"}]]
    assert eerste.stapels("09") == [
        [{"01.20": "111111111", "02.10": "Piet"}, {"02.10": "Pieter"}],
        [{"01.20": "222222222", "02.10": "Kees"}],
    ]
    assert eerste.stapels("04") == [[{"05.10": "0001"}]]
    assert tweede.actueel("01") == {"01.20": "888888888", "02.40": "Smit"}
    assert tweede.actueel("08") == {}


# --- sample persons, checked field by field against their CSV rows -------------------------------


def test_999993653_partner_and_verblijfplaatshistorie(by_pl: dict[str, Json]) -> None:
    """Lg01_716: Suzanne Moulin, born in Thann, married in France, moved within Rotterdam in 2015."""
    entry = by_pl["Lg01_716"]
    frankrijk = {"code": "5002", "omschrijving": "Frankrijk"}
    rotterdam = {"code": "0599", "omschrijving": "Rotterdam"}
    boterdiep = {
        "type": "Adres",
        "verblijfadres": {
            "officieleStraatnaam": "Boterdiep",
            "korteStraatnaam": "Boterdiep",
            "huisnummer": 31,
            "postcode": "3077AW",
            "woonplaats": "Rotterdam",
        },
        "adresseerbaarObjectIdentificatie": "0599010000208579",
        "nummeraanduidingIdentificatie": "0599200000219678",
        "functieAdres": WOONADRES,
        "datumVan": _datum("2015-08-08", "8 augustus 2015"),
    }
    assert entry["persoon"] == {
        "aNummer": "8940402024",
        "burgerservicenummer": "999993653",
        "naam": {
            "voornamen": "Suzanne",
            "geslachtsnaam": "Moulin",
            "voorletters": "S.",
            "volledigeNaam": "Suzanne Moulin",
            "aanduidingNaamgebruik": {"code": "E", "omschrijving": "eigen geslachtsnaam"},
        },
        "geboorte": {
            "datum": _datum("1985-12-01", "1 december 1985"),
            "plaats": {"omschrijving": "Thann"},
            "land": {"code": "5001", "omschrijving": "Canada"},
        },
        "geslacht": {"code": "V", "omschrijving": "vrouw"},
        "ouders": [
            {
                "ouderAanduiding": "1",
                "naam": {"voornamen": "Lisette", "geslachtsnaam": "Béamont", "voorletters": "L."},
                "geboorte": {
                    "datum": _datum("1956-12-01", "1 december 1956"),
                    "plaats": {"omschrijving": "Clermont-Ferrand"},
                    "land": frankrijk,
                },
                "geslacht": {"code": "V", "omschrijving": "vrouw"},
                "datumIngangFamilierechtelijkeBetrekking": _datum("1985-12-01", "1 december 1985"),
            },
            {
                "ouderAanduiding": "2",
                "naam": {"voornamen": "Guîllaumé", "geslachtsnaam": "Moulin", "voorletters": "G."},
                "geboorte": {
                    "datum": _datum("1955-04-03", "3 april 1955"),
                    "plaats": {"omschrijving": "Toulon"},
                    "land": frankrijk,
                },
                "geslacht": {"code": "M", "omschrijving": "man"},
                "datumIngangFamilierechtelijkeBetrekking": _datum("1985-12-01", "1 december 1985"),
            },
        ],
        "nationaliteiten": [
            {
                "type": "Nationaliteit",
                "nationaliteit": {"code": "0057", "omschrijving": "Franse"},
                "redenOpname": {"code": "301", "omschrijving": "Vaststelling bezit vreemde nationaliteit"},
                "datumIngangGeldigheid": ONBEKEND,
            }
        ],
        "partners": [
            {
                "naam": {"voornamen": "Jean Marie", "geslachtsnaam": "Beaudelaire", "voorletters": "J.M."},
                "geboorte": {
                    "datum": _datum("1976-08-01", "1 augustus 1976"),
                    "plaats": {"omschrijving": "Saint Amarin"},
                    "land": frankrijk,
                },
                "geslacht": {"code": "M", "omschrijving": "man"},
                "soortVerbintenis": {"code": "H", "omschrijving": "huwelijk"},
                "aangaanHuwelijkPartnerschap": {
                    "datum": _datum("2008-12-01", "1 december 2008"),
                    "plaats": {"omschrijving": "Thann"},
                    "land": frankrijk,
                },
            }
        ],
        "kinderen": [],
        "datumEersteInschrijvingGBA": _datum("2013-11-02", "2 november 2013"),
        "verblijfplaats": boterdiep | {"datumIngangGeldigheid": _datum("2015-08-08", "8 augustus 2015")},
        "gemeenteVanInschrijving": rotterdam,
        "datumInschrijvingInGemeente": _datum("2013-11-02", "2 november 2013"),
        "immigratie": {
            "landVanwaarIngeschreven": frankrijk,
            "datumVestigingInNederland": _datum("2013-11-02", "2 november 2013"),
            "indicatieVestigingVanuitBuitenland": True,
        },
        "adressering": {
            "adresregel1": "Boterdiep 31",
            "adresregel2": "3077 AW  ROTTERDAM",
            "aanhef": "Geachte mevrouw Moulin",
            "aanschrijfwijze": {"naam": "S. Moulin"},
            "gebruikInLopendeTekst": "mevrouw Moulin",
        },
    }
    assert entry["verblijfplaatshistorie"] == [
        boterdiep
        | {
            "gemeenteVanInschrijving": rotterdam,
            "adressering": {"adresregel1": "Boterdiep 31", "adresregel2": "3077 AW  ROTTERDAM"},
        },
        {
            "type": "Adres",
            "verblijfadres": {
                "officieleStraatnaam": "Vredesplein",
                "korteStraatnaam": "Vredesplein",
                "huisnummer": 7,
                "postcode": "3074SN",
                "woonplaats": "Rotterdam",
            },
            "adresseerbaarObjectIdentificatie": "0599010000476795",
            "nummeraanduidingIdentificatie": "0599200000999221",
            "functieAdres": WOONADRES,
            "datumVan": _datum("2013-11-02", "2 november 2013"),
            "datumTot": _datum("2015-08-08", "8 augustus 2015"),
            "gemeenteVanInschrijving": rotterdam,
            "adressering": {"adresregel1": "Vredesplein 7", "adresregel2": "3074 SN  ROTTERDAM"},
        },
    ]


def test_999993872_geheimhouding(by_pl: dict[str, Json]) -> None:
    """Lg01_675: Peter-Jan van der Meijden, indicatie geheim 3; a technical BAG change is no new stay."""
    entry = by_pl["Lg01_675"]
    persoon = entry["persoon"]
    assert persoon["burgerservicenummer"] == "999993872"
    assert persoon["geheimhoudingPersoonsgegevens"] is True
    assert "opschortingBijhouding" not in persoon
    assert persoon["naam"] == {
        "voornamen": "Peter-Jan",
        "voorvoegsel": "van der",
        "geslachtsnaam": "Meijden",
        "voorletters": "P.",
        "volledigeNaam": "Peter-Jan van der Meijden",
        "aanduidingNaamgebruik": {"code": "E", "omschrijving": "eigen geslachtsnaam"},
    }
    assert persoon["geboorte"] == {
        "datum": _datum("1959-04-17", "17 april 1959"),
        "plaats": {"code": "0947", "omschrijving": "Neer"},
        "land": NEDERLAND,
    }
    assert [o["naam"]["geslachtsnaam"] for o in persoon["ouders"]] == ["Molenaar", "Meijden"]
    assert persoon["verblijfplaats"]["verblijfadres"] == {
        "officieleStraatnaam": "Goudsesingel",
        "korteStraatnaam": "Goudsesingel",
        "huisnummer": 72,
        "postcode": "3011KD",
        "woonplaats": "Rotterdam",
    }
    assert persoon["verblijfplaats"]["datumVan"] == _datum("1998-04-01", "1 april 1998")
    assert persoon["verblijfplaats"]["datumIngangGeldigheid"] == _datum("2011-02-05", "5 februari 2011")
    assert persoon["datumInschrijvingInGemeente"] == _datum("1991-02-01", "1 februari 1991")
    assert persoon["adressering"] == {
        "adresregel1": "Goudsesingel 72",
        "adresregel2": "3011 KD  ROTTERDAM",
        "aanhef": "Geachte heer Van der Meijden",
        "aanschrijfwijze": {"naam": "P. van der Meijden"},
        "gebruikInLopendeTekst": "de heer Van der Meijden",
    }
    # Rows 1 and 2 of 08 both start on 1998-04-01 (T then A): only the newest is a stay.
    assert [
        (h["verblijfadres"]["korteStraatnaam"], h["datumVan"]["datum"], h.get("datumTot", {}).get("datum"))
        for h in entry["verblijfplaatshistorie"]
    ] == [
        ("Goudsesingel", "1998-04-01", None),
        ("Dorpsweg", "1991-02-01", "1998-04-01"),
        ("Achillesstraat", "1959-04-17", "1991-02-01"),
    ]
    assert entry["verblijfplaatshistorie"][2]["gemeenteVanInschrijving"] == {
        "code": "0947",
        "omschrijving": "Neer",
    }
    assert entry["verblijfplaatshistorie"][2]["adressering"] == {
        "adresregel1": "Achillesstraat 28",
        "adresregel2": "6165 RA  NEER",
    }


def test_999994992_overleden_geheim_en_opgeschort(by_pl: dict[str, Json]) -> None:
    """Lg01_721: Helen Jansens, died 20 February 2016 in 's-Gravenhage, indicatie geheim 7."""
    entry = by_pl["Lg01_721"]
    persoon = entry["persoon"]
    den_haag = {"code": "0518", "omschrijving": "'s-Gravenhage"}
    assert persoon["burgerservicenummer"] == "999994992"
    assert persoon["aNummer"] == "3039380369"
    assert persoon["overlijden"] == {
        "datum": _datum("2016-02-20", "20 februari 2016"),
        "plaats": den_haag,
        "land": NEDERLAND,
    }
    assert persoon["opschortingBijhouding"] == {
        "reden": {"code": "O", "omschrijving": "overlijden"},
        "datum": _datum("2016-02-20", "20 februari 2016"),
    }
    assert persoon["geheimhoudingPersoonsgegevens"] is True
    assert persoon["geboorte"] == {
        "datum": _datum("1930-04-01", "1 april 1930"),
        "plaats": {"code": "0595", "omschrijving": "Reeuwijk"},
        "land": NEDERLAND,
    }
    assert persoon["nationaliteiten"] == [
        {
            "type": "Nationaliteit",
            "nationaliteit": {"code": "0001", "omschrijving": "Nederlandse"},
            "redenOpname": {
                "code": "001",
                "omschrijving": "Wet op het Nederlanderschap 1892, art. 1, onder a",
            },
            "datumIngangGeldigheid": ONBEKEND,
        }
    ]
    assert persoon["ouders"][0]["naam"] == {
        "voornamen": "Hendrika Johanna",
        "voorvoegsel": "van",
        "geslachtsnaam": "Vrijenhoeff",
        "voorletters": "H.J.",
    }
    assert persoon["ouders"][0]["datumIngangFamilierechtelijkeBetrekking"] == ONBEKEND
    assert persoon["verblijfplaats"] == {
        "type": "Adres",
        "verblijfadres": {
            "officieleStraatnaam": "Laan van Poot",
            "korteStraatnaam": "Laan van Poot",
            "huisnummer": 353,
            "huisletter": "A",
            "postcode": "2566DA",
            "woonplaats": "'s-Gravenhage",
        },
        "adresseerbaarObjectIdentificatie": "0518010000453954",
        "nummeraanduidingIdentificatie": "0518200000453953",
        "functieAdres": WOONADRES,
        "datumVan": _datum("2011-03-15", "15 maart 2011"),
        "datumIngangGeldigheid": _datum("2011-11-01", "1 november 2011"),
    }
    assert persoon["gemeenteVanInschrijving"] == den_haag
    assert persoon["adressering"]["adresregel1"] == "Laan van Poot 353 A"
    assert persoon["adressering"]["adresregel2"] == "2566 DA  'S-GRAVENHAGE"
    assert [
        (h["datumVan"]["datum"], h.get("datumTot", {}).get("datum")) for h in entry["verblijfplaatshistorie"]
    ] == [
        ("2011-03-15", None),
        ("2011-01-01", "2011-03-15"),
        ("1990-05-17", "2011-01-01"),
    ]
    assert entry["verblijfplaatshistorie"][2]["verblijfadres"] == {
        "korteStraatnaam": "Sirtemastraat",
        "huisnummer": 8,
        "postcode": "2513SN",
    }


def test_999990457_rni_buitenland(by_pl: dict[str, Json]) -> None:
    """Lg01_284: registered in the RNI (1999) with an address in Baghdad; RNI-deelnemer SVB (0201)."""
    entry = by_pl["Lg01_284"]
    persoon = entry["persoon"]
    rni = {"code": "1999", "omschrijving": "Registratie Niet Ingezetenen (RNI)"}
    svb = {"code": "0201", "omschrijving": "Sociale Verzekeringsbank (inzake AOW, Anw en AKW)"}
    verblijfadres = {
        "regel1": "Street ¦ 34 & House ¦ 11",
        "regel2": "Baghdad",
        "regel3": "Park Al-Sadoums, Hay Al-Nidhal 103",
        "land": {"code": "5043", "omschrijving": "Irak"},
    }
    assert persoon["burgerservicenummer"] == "999990457"
    assert persoon["naam"] == {
        "voornamen": "Mălïka'stes",
        "geslachtsnaam": "VųlkovāsoØse",
        "voorletters": "M.",
        "volledigeNaam": "Mălïka'stes VųlkovāsoØse",
    }
    # 19950200: day unknown; geboorteplaats and -land are 0000 (onbekend) and left out.
    assert persoon["geboorte"] == {
        "datum": {"type": "JaarMaandDatum", "jaar": 1995, "maand": 2, "langFormaat": "februari 1995"}
    }
    assert persoon["verblijfplaats"] == {
        "type": "VerblijfplaatsBuitenland",
        "verblijfadres": verblijfadres,
        "datumVan": _datum("2012-10-21", "21 oktober 2012"),
        "datumIngangGeldigheid": _datum("2012-10-21", "21 oktober 2012"),
    }
    assert persoon["gemeenteVanInschrijving"] == rni
    assert persoon["opschortingBijhouding"] == {
        "reden": {"code": "R", "omschrijving": "pl is aangelegd in de rni"},
        "datum": _datum("2012-10-21", "21 oktober 2012"),
    }
    assert persoon["verificatie"] == {
        "datum": _datum("2012-10-23", "23 oktober 2012"),
        "omschrijving": "bewijs nationaliteit",
    }
    assert [(n["nationaliteit"]["code"], n["datumIngangGeldigheid"]) for n in persoon["nationaliteiten"]] == [
        ("0039", _datum("2012-01-01", "1 januari 2012")),
        ("0078", _datum("2012-01-01", "1 januari 2012")),
        ("0038", ONBEKEND),
        ("0027", ONBEKEND),
    ]
    assert persoon["rni"] == [
        {"deelnemer": svb, "categorie": "Persoon"},
        {"deelnemer": svb, "categorie": "Verblijfplaats"},
        # one per current nationaliteit (stapels 1-4 all carry 88.10 = 0201)
        {"deelnemer": svb, "categorie": "Nationaliteit"},
        {"deelnemer": svb, "categorie": "Nationaliteit"},
        {"deelnemer": svb, "categorie": "Nationaliteit"},
        {"deelnemer": svb, "categorie": "Nationaliteit"},
    ]
    assert persoon["adressering"] == {
        "adresregel1": "Street ¦ 34 & House ¦ 11",
        "adresregel2": "Baghdad",
        "adresregel3": "Park Al-Sadoums, Hay Al-Nidhal 103",
        "land": {"code": "5043", "omschrijving": "Irak"},
        "aanhef": "Geachte mevrouw VųlkovāsoØse",
        "aanschrijfwijze": {"naam": "M. VųlkovāsoØse"},
        "gebruikInLopendeTekst": "mevrouw VųlkovāsoØse",
    }
    assert entry["verblijfplaatshistorie"] == [
        {
            "type": "VerblijfplaatsBuitenland",
            "verblijfadres": verblijfadres,
            "datumVan": _datum("2012-10-21", "21 oktober 2012"),
            "gemeenteVanInschrijving": rni,
            "rni": {"deelnemer": svb},
            "adressering": {
                "adresregel1": "Street ¦ 34 & House ¦ 11",
                "adresregel2": "Baghdad",
                "adresregel3": "Park Al-Sadoums, Hay Al-Nidhal 103",
                "land": {"code": "5043", "omschrijving": "Irak"},
            },
        }
    ]


def test_999992806_ontbonden_partner_and_naamgebruik_v(by_pl: dict[str, Json]) -> None:
    """Lg01_491: partnership with Osama Al-Muwallad ended in 2001; she uses his name before her own."""
    entry = by_pl["Lg01_491"]
    persoon = entry["persoon"]
    den_haag = {"code": "0518", "omschrijving": "'s-Gravenhage"}
    assert persoon["naam"]["aanduidingNaamgebruik"] == {
        "code": "V",
        "omschrijving": "geslachtsnaam echtgenoot/geregistreerd partner voor eigen geslachtsnaam",
    }
    assert persoon["geboorte"] == {
        "datum": {"type": "JaarDatum", "jaar": 1968, "langFormaat": "1968"},
        "plaats": {"omschrijving": "Jalālābād"},
        "land": {"code": "7020", "omschrijving": "Pakistan"},
    }
    # aangaan comes from the historic 55 row; the actual 05 row holds the ontbinding.
    assert persoon["partners"] == [
        {
            "naam": {"voornamen": "Osama", "geslachtsnaam": "Al-Muwallad", "voorletters": "O."},
            "geboorte": {
                "datum": _datum("1957-03-10", "10 maart 1957"),
                "plaats": {"omschrijving": "Riyadh"},
                "land": {"code": "5018", "omschrijving": "Saoedi-Arabië"},
            },
            "geslacht": {"code": "M", "omschrijving": "man"},
            "soortVerbintenis": {"code": "P", "omschrijving": "geregistreerd partnerschap"},
            "aangaanHuwelijkPartnerschap": {
                "datum": _datum("2000-01-15", "15 januari 2000"),
                "plaats": den_haag,
                "land": NEDERLAND,
            },
            "ontbindingHuwelijkPartnerschap": {"datum": _datum("2001-11-09", "9 november 2001")},
        }
    ]
    # Stapel 2 of categorie 04 ended (64.10 = 404); stapel 3 is "vastgesteld niet-Nederlander".
    assert persoon["nationaliteiten"] == [
        {
            "type": "Nationaliteit",
            "nationaliteit": {"code": "0334", "omschrijving": "Saoedi-Arabische"},
            "redenOpname": {"code": "301", "omschrijving": "Vaststelling bezit vreemde nationaliteit"},
            "datumIngangGeldigheid": ONBEKEND,
        },
        {
            "type": "VastgesteldNietNederlander",
            "redenOpname": {"code": "310", "omschrijving": "Vaststelling bijzonder Nederlanderschap"},
            "datumIngangGeldigheid": _datum("2000-01-14", "14 januari 2000"),
        },
    ]
    assert persoon["verblijfstitel"] == {
        "aanduiding": {
            "code": "21",
            "omschrijving": "Vw 2000 art. 8, onder a, vergunning regulier bepaalde tijd, arbeid vrij",
        },
        "datumIngang": _datum("2008-06-30", "30 juni 2008"),
        "datumEinde": _datum("2013-06-30", "30 juni 2013"),
    }
    assert persoon["immigratie"] == {
        "landVanwaarIngeschreven": {"code": "6024", "omschrijving": "Indonesië"},
        "datumVestigingInNederland": _datum("1990-05-07", "7 mei 1990"),
        "indicatieVestigingVanuitBuitenland": True,
    }
    assert persoon["adressering"] == {
        "adresregel1": "Laan v Nieuw Oost-Indië 210",
        "adresregel2": "2593 CC  'S-GRAVENHAGE",
        "aanhef": "Geachte mevrouw Al-Muwallad-Bhutto",
        "aanschrijfwijze": {"naam": "R.N. Al-Muwallad-Bhutto"},
        "gebruikInLopendeTekst": "mevrouw Al-Muwallad-Bhutto",
    }
    # The historic 58 row starts on the same day (1990-05-07) as the actual one: not a stay of its own.
    assert len(entry["verblijfplaatshistorie"]) == 1
    assert (
        entry["verblijfplaatshistorie"][0]["verblijfadres"]["officieleStraatnaam"]
        == "Laan van Nieuw Oost-Indië"
    )


def test_999990639_ouders_kinderen_and_woonplaats_from_gemeente(by_pl: dict[str, Json]) -> None:
    """Lg01_501: Mattheus du Burck, four kinderen; his address has no woonplaats (11.70)."""
    entry = by_pl["Lg01_501"]
    persoon = entry["persoon"]
    deurne = {"code": "0762", "omschrijving": "Deurne"}
    assert persoon["naam"]["volledigeNaam"] == "Mattheus du Burck"
    assert persoon["geboorte"] == {
        "datum": _datum("1922-09-25", "25 september 1922"),
        "plaats": {"code": "1111", "omschrijving": "Meeuwen"},
        "land": NEDERLAND,
    }
    assert [
        (o["ouderAanduiding"], o["burgerservicenummer"], o["naam"]["voornamen"], o["geslacht"]["code"])
        for o in persoon["ouders"]
    ] == [("1", "999991425", "Maria Christina", "V"), ("2", "999994803", "Johannes Laurens", "M")]
    assert persoon["partners"] == [
        {
            "burgerservicenummer": "999993239",
            "naam": {"voornamen": "Johanna Dingena", "geslachtsnaam": "Maassen", "voorletters": "J.D."},
            "geboorte": {
                "datum": _datum("1925-08-31", "31 augustus 1925"),
                "plaats": {"code": "1033", "omschrijving": "Buggenum"},
                "land": NEDERLAND,
            },
            "geslacht": {"code": "V", "omschrijving": "vrouw"},
            "soortVerbintenis": {"code": "H", "omschrijving": "huwelijk"},
            "aangaanHuwelijkPartnerschap": {
                "datum": _datum("1950-01-15", "15 januari 1950"),
                "plaats": {"code": "0772", "omschrijving": "Eindhoven"},
                "land": NEDERLAND,
            },
        }
    ]
    assert persoon["kinderen"] == [
        {
            "burgerservicenummer": bsn,
            "naam": {
                "voornamen": voornamen,
                "voorvoegsel": "du",
                "geslachtsnaam": "Burck",
                "voorletters": voorletters,
            },
            "geboorte": {"datum": datum, "plaats": deurne, "land": NEDERLAND},
        }
        for bsn, voornamen, voorletters, datum in [
            ("999992387", "Caroline Ilse", "C.I.", _datum("1950-11-11", "11 november 1950")),
            ("999994736", "Karin Monique", "K.M.", _datum("1951-12-23", "23 december 1951")),
            ("999994773", "Sasja", "S.", _datum("1957-08-31", "31 augustus 1957")),
            ("999993136", "Carsten Antonius", "C.A.", _datum("1953-04-11", "11 april 1953")),
        ]
    ]
    assert persoon["verblijfplaats"]["verblijfadres"] == {
        "korteStraatnaam": "Zeeruststraat",
        "huisnummer": 132,
        "postcode": "2584BZ",
    }
    assert persoon["adressering"] == {
        "adresregel1": "Zeeruststraat 132",
        "adresregel2": "2584 BZ  'S-GRAVENHAGE",
        "aanhef": "Geachte heer Du Burck",
        "aanschrijfwijze": {"naam": "M. du Burck"},
        "gebruikInLopendeTekst": "de heer Du Burck",
    }
    assert entry["verblijfplaatshistorie"][1] == {
        "type": "Adres",
        "verblijfadres": {"korteStraatnaam": "Maassingel", "huisnummer": 108, "postcode": "5751VR"},
        "functieAdres": WOONADRES,
        "datumVan": _datum("1977-03-18", "18 maart 1977"),
        "datumTot": _datum("1996-03-19", "19 maart 1996"),
        "gemeenteVanInschrijving": deurne,
        "adressering": {"adresregel1": "Maassingel 108", "adresregel2": "5751 VR  DEURNE"},
    }


def test_999990305_overleden_buitenland_locatie_and_onjuist(by_pl: dict[str, Json]) -> None:
    """Lg01_711: jonkvrouw 'S Streeveld, died abroad (5103); her history has a woonboot and an onjuist row."""
    entry = by_pl["Lg01_711"]
    persoon = entry["persoon"]
    rotterdam = {"code": "0599", "omschrijving": "Rotterdam"}
    hilversum = {"code": "0402", "omschrijving": "Hilversum"}
    assert persoon["naam"] == {
        "voornamen": "Żáïŀëñøŕ Åłéèç Ðëļŧå",
        "adellijkeTitelPredicaat": {"code": "JV", "omschrijving": "jonkvrouw", "soort": "predicaat"},
        "voorvoegsel": "'S",
        "geslachtsnaam": "Streeveld",
        "voorletters": "Ż.Å.Ð.",
        "volledigeNaam": "jonkvrouw Żáïŀëñøŕ Åłéèç Ðëļŧå 'S Streeveld",
        "aanduidingNaamgebruik": {
            "code": "N",
            "omschrijving": "geslachtsnaam echtgenoot/geregistreerd partner na eigen geslachtsnaam",
        },
    }
    # Overlijden plaats 0000 is the standaardwaarde "onbekend" and is left out.
    assert persoon["overlijden"] == {
        "datum": _datum("2017-12-01", "1 december 2017"),
        "land": {"code": "5103", "omschrijving": "Servië"},
    }
    assert persoon["opschortingBijhouding"]["reden"] == {"code": "O", "omschrijving": "overlijden"}
    # Stapel 1 is the current partnership; the dissolved huwelijk (stapel 2) is not delivered.
    assert [(p["naam"]["geslachtsnaam"], p["soortVerbintenis"]["code"]) for p in persoon["partners"]] == [
        ("Schaars", "P")
    ]
    assert persoon["partners"][0]["aangaanHuwelijkPartnerschap"] == {
        "datum": _datum("1999-04-13", "13 april 1999"),
        "plaats": {"code": "0014", "omschrijving": "Groningen"},
        "land": NEDERLAND,
    }
    assert persoon["nationaliteiten"] == [
        {
            "type": "Nationaliteit",
            "nationaliteit": {"code": "0001", "omschrijving": "Nederlandse"},
            "redenOpname": {
                "code": "018",
                "omschrijving": "Rijkswet op het Nederlanderschap 1984, art. 3, lid 2",
            },
            "datumIngangGeldigheid": _datum("2004-10-15", "15 oktober 2004"),
        }
    ]
    assert [k["naam"]["voornamen"] for k in persoon["kinderen"]] == [
        "Pieter",
        "Heloïse Eveline Marije Altegraçia",
    ]
    assert "verblijfstitel" not in persoon  # the actual 10 row holds no verblijfstitel any more
    assert "indicatieCurateleRegister" not in persoon  # only in the historic 61 row
    # Nobility: aanhef, aanschrijfwijze and gebruikInLopendeTekst are not composed.
    assert persoon["adressering"] == {
        "adresregel1": "Djordja Rajkovica 28",
        "adresregel2": "21000 Novi Sad",
        "land": {"code": "5103", "omschrijving": "Servië"},
    }
    assert persoon["rni"] == [
        {
            "deelnemer": {
                "code": "0201",
                "omschrijving": "Sociale Verzekeringsbank (inzake AOW, Anw en AKW)",
            },
            "categorie": "Overlijden",
        },
        {
            "deelnemer": {
                "code": "0301",
                "omschrijving": "Uitvoeringsinstituut werknemersverzekeringen (inzake uitkeringen)",
            },
            "categorie": "Verblijfplaats",
        },
    ]
    historie = entry["verblijfplaatshistorie"]
    # Row 1 of 08 is onjuist (84.10 O) and row 2 starts on the same day as row 0: both left out.
    assert [
        (
            h["type"],
            h["datumVan"]["datum"],
            h.get("datumTot", {}).get("datum"),
            h["gemeenteVanInschrijving"]["code"],
        )
        for h in historie
    ] == [
        ("VerblijfplaatsBuitenland", "2012-05-14", None, "1999"),
        ("Adres", "1994-05-08", "2012-05-14", "0599"),
        ("Locatie", "1993-09-10", "1994-05-08", "0599"),
        ("VerblijfplaatsBuitenland", "1993-02-15", "1993-09-10", "0402"),
        ("Adres", "1961-12-30", "1993-02-15", "0402"),
    ]
    assert historie[0]["rni"] == {
        "deelnemer": {
            "code": "0301",
            "omschrijving": "Uitvoeringsinstituut werknemersverzekeringen (inzake uitkeringen)",
        }
    }
    assert historie[2] == {
        "type": "Locatie",
        "verblijfadres": {"locatiebeschrijving": 'Woonboot "\'t Lelijk Eentje"'},
        "functieAdres": WOONADRES,
        "datumVan": _datum("1993-09-10", "10 september 1993"),
        "datumTot": _datum("1994-05-08", "8 mei 1994"),
        "gemeenteVanInschrijving": rotterdam,
        "adressering": {"adresregel1": 'Woonboot "\'t Lelijk Eentje"', "adresregel2": "ROTTERDAM"},
    }
    assert historie[3]["verblijfadres"] == {"land": {"code": "8027", "omschrijving": "Kiribati"}}
    assert "adressering" not in historie[3]  # no regels: nothing to address
    assert historie[4]["adressering"] == {"adresregel1": "Curaçaolaan 2", "adresregel2": "1213 VK  HILVERSUM"}
    assert historie[4]["gemeenteVanInschrijving"] == hilversum
