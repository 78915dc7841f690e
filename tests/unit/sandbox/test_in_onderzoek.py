"""inOnderzoek as RvIG delivers it: from LO GBA 83.10/83.20/83.30 to the fields-dependent answer.

The rules and the expected answers are RvIG's (BRP-API/Haal-Centraal-BRP-bevragen
`features/bevragen/**/in-onderzoek.feature`, `.../vastgesteld-verblijft-niet-op-adres.feature`):

- a flag is delivered when its field is asked for (also when the field has no value), with the
  `datumIngangOnderzoek*` of the categorie that put it in onderzoek; a group that only holds
  flags is delivered too;
- aanduiding `CC0000` covers the whole categorie, `CCGG00` a group, `CCGGEE` one element; derived
  fields (volledigeNaam, voorletters, leeftijd, adressering, type) follow their sources;
- an onderzoek with a datum einde (83.30) is over and delivers nothing;
- `089999` ("vastgesteld verblijft niet op adres") puts the verblijfplaats and the adresregels in
  onderzoek, not the immigratie, and sets `indicatieVastgesteldVerblijftNietOpAdres`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import msgspec
import pytest

from app.brp.queries import Api, PersonenQuery
from app.brp.validation import parse_query
from app.sandbox.data.convert import Persoonslijst, persoon_van
from app.sandbox.dataset import Dataset, PersonRecord
from app.sandbox.onderzoek import heeft_onderzoek, zonder_onderzoek
from app.sandbox.search import answer_personen

Json = dict[str, Any]
BSN = "999990001"
TODAY = dt.date.today()
INGANG = {"type": "Datum", "datum": "2002-07-01", "langFormaat": "1 juli 2002"}
ONDERZOEK = {"83.20": "20020701"}

PERSOON = {
    "01.20": BSN,
    "02.10": "Arnitta",
    "02.40": "Jansen",
    "03.10": "20000101",
    "03.30": "6030",
    "04.10": "V",
    "61.10": "E",
}
ADRES = {
    "09.10": "0518",
    "09.20": "20100101",
    "10.10": "W",
    "10.30": "20100101",
    "11.10": "Spui",
    "11.15": "Spui",
    "11.20": "123",
    "11.60": "2511BL",
    "11.70": "'s-Gravenhage",
    "11.80": "0518010000000001",
    "11.90": "0518200000000001",
    "14.10": "5010",
    "14.20": "20000101",
}


def _pl(**categorieen: Any) -> Persoonslijst:
    stapels = {
        categorie: value if isinstance(value, list) else [[value]] for categorie, value in categorieen.items()
    }
    stapels.setdefault("01", [[PERSOON]])
    return Persoonslijst("Lg99_001", stapels)


def _persoon(**categorieen: Any) -> Json:
    return persoon_van(_pl(**categorieen))


def _answer(persoon: Json, query: Json) -> list[Json]:
    dataset = Dataset([PersonRecord(persoonslijst="Lg99_001", persoon=persoon)], [])
    parsed = cast(PersonenQuery, parse_query(Api.PERSONEN, msgspec.json.encode(query)))
    personen: list[Json] = answer_personen(dataset, parsed, TODAY)["personen"]
    return personen


def _raadpleeg(persoon: Json, *fields: str) -> Json:
    query = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": list(fields)}
    (answer,) = _answer(persoon, query)
    return answer


# --- the converter: what is in onderzoek ---------------------------------------------------------


def test_whole_categorie_persoon() -> None:
    persoon = _persoon(**{"01": PERSOON | ONDERZOEK | {"83.10": "010000"}})
    assert persoon["inOnderzoek"] == {
        "burgerservicenummer": True,
        "geslacht": True,
        "leeftijd": True,
        "datumIngangOnderzoekPersoon": INGANG,
    }
    assert persoon["naam"]["inOnderzoek"] == {
        "voornamen": True,
        "adellijkeTitelPredicaat": True,
        "voorvoegsel": True,
        "geslachtsnaam": True,
        "voorletters": True,
        "aanduidingNaamgebruik": True,
        "volledigeNaam": True,
        "datumIngangOnderzoek": INGANG,
    }
    assert persoon["geboorte"]["inOnderzoek"] == {
        "datum": True,
        "plaats": True,
        "land": True,
        "datumIngangOnderzoek": INGANG,
    }


def test_one_element_and_what_is_derived_from_it() -> None:
    persoon = _persoon(**{"01": PERSOON | ONDERZOEK | {"83.10": "010240"}}, **{"08": ADRES})
    assert "inOnderzoek" not in persoon
    assert persoon["naam"]["inOnderzoek"] == {
        "geslachtsnaam": True,
        "volledigeNaam": True,
        "datumIngangOnderzoek": INGANG,
    }
    assert "inOnderzoek" not in persoon["geboorte"]
    assert persoon["adressering"]["inOnderzoek"] == {
        "aanhef": True,
        "aanschrijfwijze": True,
        "gebruikInLopendeTekst": True,
        "datumIngangOnderzoekPersoon": INGANG,
    }


def test_geboortedatum_puts_leeftijd_in_onderzoek() -> None:
    persoon = _persoon(**{"01": PERSOON | ONDERZOEK | {"83.10": "010310"}})
    assert persoon["inOnderzoek"] == {"leeftijd": True, "datumIngangOnderzoekPersoon": INGANG}
    assert persoon["geboorte"]["inOnderzoek"] == {"datum": True, "datumIngangOnderzoek": INGANG}


def test_ended_onderzoek_is_not_delivered() -> None:
    persoon = _persoon(**{"01": PERSOON | ONDERZOEK | {"83.10": "010000", "83.30": "20020722"}})
    assert "inOnderzoek" not in msgspec.json.encode(persoon).decode()


def test_adres_group_and_its_adresregels() -> None:
    persoon = _persoon(**{"08": ADRES | ONDERZOEK | {"83.10": "081100"}})
    verblijfplaats = persoon["verblijfplaats"]
    assert verblijfplaats["inOnderzoek"] == {
        "type": True,
        "nummeraanduidingIdentificatie": True,
        "adresseerbaarObjectIdentificatie": True,
        "datumIngangOnderzoek": INGANG,
    }
    assert set(verblijfplaats["verblijfadres"]["inOnderzoek"]) == {
        "aanduidingBijHuisnummer",
        "huisletter",
        "huisnummer",
        "huisnummertoevoeging",
        "officieleStraatnaam",
        "postcode",
        "korteStraatnaam",
        "woonplaats",
        "datumIngangOnderzoek",
    }
    assert persoon["adressering"]["inOnderzoek"] == {
        "adresregel1": True,
        "adresregel2": True,
        "datumIngangOnderzoekVerblijfplaats": INGANG,
    }
    assert "inOnderzoek" not in persoon
    assert "inOnderzoek" not in persoon["immigratie"]


def test_gemeente_van_inschrijving() -> None:
    persoon = _persoon(**{"08": ADRES | ONDERZOEK | {"83.10": "080910"}})
    assert persoon["inOnderzoek"] == {"gemeenteVanInschrijving": True, "datumIngangOnderzoekGemeente": INGANG}
    assert persoon["adressering"]["inOnderzoek"] == {
        "adresregel2": True,
        "datumIngangOnderzoekVerblijfplaats": INGANG,
    }


def test_vastgesteld_verblijft_niet_op_adres() -> None:
    persoon = _persoon(**{"08": ADRES | ONDERZOEK | {"83.10": "089999"}})
    verblijfplaats = persoon["verblijfplaats"]
    assert verblijfplaats["indicatieVastgesteldVerblijftNietOpAdres"] is True
    assert verblijfplaats["inOnderzoek"]["type"] is True
    assert verblijfplaats["inOnderzoek"]["datumVan"] is True
    assert persoon["adressering"]["indicatieVastgesteldVerblijftNietOpAdres"] is True
    assert persoon["adressering"]["inOnderzoek"]["adresregel1"] is True
    assert "inOnderzoek" not in persoon["immigratie"]


def test_partner_naam_and_the_adressering_that_uses_it() -> None:
    partner = {"01.20": "999990002", "02.40": "Maassen", "06.10": "19900101", "15.10": "H"}
    persoon = _persoon(**{"01": PERSOON | {"61.10": "V"}, "05": partner | ONDERZOEK | {"83.10": "050240"}})
    assert persoon["partners"][0]["naam"]["inOnderzoek"] == {
        "geslachtsnaam": True,
        "datumIngangOnderzoek": INGANG,
    }
    assert "inOnderzoek" not in persoon["partners"][0]
    assert persoon["adressering"]["inOnderzoek"] == {
        "aanhef": True,
        "aanschrijfwijze": True,
        "gebruikInLopendeTekst": True,
        "datumIngangOnderzoekPartner": INGANG,
    }


def test_nationaliteit_and_gezagsverhouding() -> None:
    nationaliteit = {"05.10": "0001", "63.10": "001"} | ONDERZOEK | {"83.10": "040510"}
    gezag = {"32.10": "12"} | ONDERZOEK | {"83.10": "113210"}
    persoon = _persoon(**{"04": nationaliteit, "11": gezag})
    assert persoon["nationaliteiten"][0]["inOnderzoek"] == {
        "type": True,
        "nationaliteit": True,
        "datumIngangOnderzoek": INGANG,
    }
    assert persoon["inOnderzoek"] == {"indicatieGezagMinderjarige": True, "datumIngangOnderzoekGezag": INGANG}


# --- the answer: only what was asked -------------------------------------------------------------


def test_flag_of_an_asked_field_with_its_date() -> None:
    persoon = _persoon(**{"01": PERSOON | ONDERZOEK | {"83.10": "010000"}})
    assert _raadpleeg(persoon, "burgerservicenummer") == {
        "burgerservicenummer": BSN,
        "inOnderzoek": {"burgerservicenummer": True, "datumIngangOnderzoekPersoon": INGANG},
    }


def test_no_flag_when_the_field_in_onderzoek_is_not_asked() -> None:
    persoon = _persoon(**{"01": PERSOON | ONDERZOEK | {"83.10": "010120"}})
    assert _raadpleeg(persoon, "geslacht") == {"geslacht": {"code": "V", "omschrijving": "vrouw"}}


def test_only_the_date_of_the_categorie_that_is_asked() -> None:
    persoon = _persoon(
        **{
            "01": PERSOON | ONDERZOEK | {"83.10": "010000"},
            "08": ADRES | {"83.10": "080000", "83.20": "20100202"},
        }
    )
    answer = _raadpleeg(persoon, "burgerservicenummer")
    assert answer["inOnderzoek"] == {"burgerservicenummer": True, "datumIngangOnderzoekPersoon": INGANG}


def test_flags_of_asked_fields_without_a_value_and_a_group_of_flags_only() -> None:
    zonder_naam = {"01.20": BSN, "03.10": "20000101"}
    persoon = _persoon(**{"01": zonder_naam | ONDERZOEK | {"83.10": "010000"}})
    assert _raadpleeg(persoon, "naam")["naam"] == {
        "inOnderzoek": {
            "voornamen": True,
            "adellijkeTitelPredicaat": True,
            "voorvoegsel": True,
            "geslachtsnaam": True,
            "voorletters": True,
            "aanduidingNaamgebruik": True,
            "volledigeNaam": True,
            "datumIngangOnderzoek": INGANG,
        }
    }


def test_type_flag_comes_with_any_field_of_its_group() -> None:
    persoon = _persoon(**{"08": ADRES | ONDERZOEK | {"83.10": "081110"}})
    answer = _raadpleeg(persoon, "verblijfplaats.verblijfadres.postcode")
    assert answer["verblijfplaats"] == {
        "type": "Adres",
        "verblijfadres": {"postcode": "2511BL"},
        "inOnderzoek": {"type": True, "datumIngangOnderzoek": INGANG},
    }


def test_type_and_field_flags_of_a_nationaliteit() -> None:
    nationaliteit = {"05.10": "0001", "63.10": "001"} | ONDERZOEK | {"83.10": "040000"}
    persoon = _persoon(**{"04": nationaliteit})
    (item,) = _raadpleeg(persoon, "nationaliteiten.nationaliteit")["nationaliteiten"]
    assert item == {
        "type": "Nationaliteit",
        "nationaliteit": {"code": "0001", "omschrijving": "Nederlandse"},
        "inOnderzoek": {"type": True, "nationaliteit": True, "datumIngangOnderzoek": INGANG},
    }


def test_partner_in_onderzoek_without_the_asked_value_keeps_its_place() -> None:
    eerste = {"01.20": "999990002", "02.40": "Aedel", "06.10": "19650401"}
    tweede = {"01.20": "999990003", "02.40": "Maassen", "06.10": "19630405"} | ONDERZOEK | {"83.10": "050200"}
    persoon = _persoon(**{"05": [[eerste], [tweede]]})
    assert _raadpleeg(persoon, "partners.naam.voorvoegsel")["partners"] == [
        {"naam": {"inOnderzoek": {"voorvoegsel": True, "datumIngangOnderzoek": INGANG}}}
    ]


def test_adressering_flags_from_the_partner() -> None:
    partner = (
        {"01.20": "999990002", "02.40": "Maassen", "06.10": "19900101"} | ONDERZOEK | {"83.10": "050000"}
    )
    persoon = _persoon(**{"01": PERSOON | {"61.10": "V"}, "05": partner, "08": ADRES})
    adressering = _raadpleeg(persoon, "adressering.aanhef")["adressering"]
    assert adressering["inOnderzoek"] == {"aanhef": True, "datumIngangOnderzoekPartner": INGANG}
    assert adressering["aanhef"].startswith("Geachte mevrouw")


def test_vastgesteld_verblijft_niet_op_adres_comes_with_the_verblijfplaats() -> None:
    persoon = _persoon(**{"08": ADRES | ONDERZOEK | {"83.10": "089999"}})
    verblijfplaats = _raadpleeg(persoon, "verblijfplaats.adresseerbaarObjectIdentificatie")["verblijfplaats"]
    assert verblijfplaats == {
        "type": "Adres",
        "adresseerbaarObjectIdentificatie": "0518010000000001",
        "indicatieVastgesteldVerblijftNietOpAdres": True,
        "inOnderzoek": {
            "type": True,
            "adresseerbaarObjectIdentificatie": True,
            "datumIngangOnderzoek": INGANG,
        },
    }


@pytest.mark.parametrize(
    ("search", "fields"),
    [
        (
            {
                "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
                "geslachtsnaam": "Jansen",
                "geboortedatum": "2000-01-01",
            },
            ["naam"],
        ),
    ],
)
def test_persoon_beperkt_gets_only_the_flags_of_its_own_fields(search: Json, fields: list[str]) -> None:
    persoon = _persoon(**{"01": PERSOON | ONDERZOEK | {"83.10": "010000"}})
    (answer,) = _answer(persoon, {**search, "fields": fields})
    assert answer["naam"]["inOnderzoek"] == {
        "voornamen": True,
        "adellijkeTitelPredicaat": True,
        "voorvoegsel": True,
        "geslachtsnaam": True,
        "voorletters": True,
        "volledigeNaam": True,
        "datumIngangOnderzoek": INGANG,
    }


def test_ended_onderzoek_is_not_in_the_answer() -> None:
    persoon = _persoon(**{"01": PERSOON | ONDERZOEK | {"83.10": "010000", "83.30": "20020722"}})
    assert _raadpleeg(persoon, "burgerservicenummer") == {"burgerservicenummer": BSN}


def test_a_boolean_in_onderzoek_is_an_ordinary_field() -> None:
    # A gezagsrelatie's inOnderzoek is a boolean of its own, not an object of flags.
    relatie = {"type": "Voogdij", "inOnderzoek": True, "minderjarige": {"naam": {"inOnderzoek": {"x": True}}}}
    assert zonder_onderzoek(relatie) == {"type": "Voogdij", "inOnderzoek": True, "minderjarige": {"naam": {}}}
    assert heeft_onderzoek({"gezag": [{"inOnderzoek": True}]}) is False
