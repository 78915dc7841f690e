"""Hand-made persons added to RvIG's test set for the sandbox tests: each one pins a search rule.

RvIG's own persons are kept as they are (and validated against the spec); these make the rules
checkable without depending on what happens to be in the converted test set: a name with
diacritics, a deceased person with a living namesake, a suspended (F) persoonslijst, eleven
namesakes born on one day (above the maximum of 10), thirty-one residents of one address (above
30), house letters and additions (with an ended and a current verblijfstitel), a birth date with an
unknown day, a verblijfplaats history with a partly unknown date, and Bewoning records with certain
and possible residents.

BSNs start with 1000, which RvIG's test set does not use. AOIs are in gemeente 0599 (Rotterdam,
the gemeente of the dev afnemer 000001) unless they are meant to be foreign.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ADDRESS_CROWD_AOI",
    "ADDRESS_CROWD_POSTCODE",
    "BEWONING_AOI",
    "CELIK",
    "DECEASED",
    "HALFBEKEND",
    "LETTER_B",
    "LIVING_NAMESAKE",
    "NAMESAKES_BORN",
    "SUSPENDED",
    "TOEVOEGING",
    "synthetic_bewoning",
    "synthetic_persons",
]

CELIK = "100000001"
DECEASED = "100000002"
LIVING_NAMESAKE = "100000003"
SUSPENDED = "100000004"
LETTER_B = "100000005"
TOEVOEGING = "100000006"
HALFBEKEND = "100000007"
NAMESAKES_BORN = "1980-01-01"
ADDRESS_CROWD_POSTCODE = "9999ZZ"
ADDRESS_CROWD_AOI = "0599019999000031"
BEWONING_AOI = "0599019999000001"

_MAANDEN = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)


def datum(iso: str) -> dict[str, Any]:
    """A BRP API `Datum` object."""
    year, month, day = (int(part) for part in iso.split("-"))
    return {"type": "Datum", "datum": iso, "langFormaat": f"{day} {_MAANDEN[month - 1]} {year}"}


def _adres(
    straat: str, huisnummer: int, postcode: str, aoi: str, *, huisletter: str = "", toevoeging: str = ""
) -> dict[str, Any]:
    verblijfadres: dict[str, Any] = {
        "officieleStraatnaam": straat,
        "korteStraatnaam": straat[:24],
        "huisnummer": huisnummer,
        "postcode": postcode,
        "woonplaats": "Rotterdam",
    }
    if huisletter:
        verblijfadres["huisletter"] = huisletter
    if toevoeging:
        verblijfadres["huisnummertoevoeging"] = toevoeging
    return {
        "type": "Adres",
        "verblijfadres": verblijfadres,
        "adresseerbaarObjectIdentificatie": aoi,
        "nummeraanduidingIdentificatie": aoi[:4] + "20" + aoi[6:],
        "functieAdres": {"code": "W", "omschrijving": "woonadres"},
        "datumVan": datum("2001-01-01"),
    }


_TESTLAAN = ("Testlaan", 1, "3000AA", "0599010000001000")
_COOLSINGEL = ("Coolsingel", 40, "3011AD", "0599010000000040")
_COOLSINGEL_B = ("Coolsingel", 40, "3011AD", "0599010000000041")
_COOLSINGEL_BIS = ("Coolsingel", 40, "3011AD", "0599010000000042")


def _persoon(
    bsn: str,
    geslachtsnaam: str,
    voornamen: str,
    geboorte: dict[str, Any],
    *,
    geslacht: str = "V",
    adres: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    voorletters = " ".join(f"{naam[0]}." for naam in voornamen.split())
    adres = adres or _adres(*_TESTLAAN)
    verblijfadres = adres["verblijfadres"]
    regel1 = f"{verblijfadres['korteStraatnaam']} {verblijfadres['huisnummer']}"
    regel1 += verblijfadres.get("huisletter", "") + (
        f"-{verblijfadres['huisnummertoevoeging']}" if "huisnummertoevoeging" in verblijfadres else ""
    )
    postcode = verblijfadres["postcode"]
    persoon: dict[str, Any] = {
        "burgerservicenummer": bsn,
        "geslacht": {"code": geslacht, "omschrijving": "vrouw" if geslacht == "V" else "man"},
        "naam": {
            "voornamen": voornamen,
            "geslachtsnaam": geslachtsnaam,
            "voorletters": voorletters,
            "volledigeNaam": f"{voornamen} {geslachtsnaam}",
        },
        "geboorte": {
            "datum": geboorte,
            "plaats": {"code": "0599", "omschrijving": "Rotterdam"},
            "land": {"code": "6030", "omschrijving": "Nederland"},
        },
        "gemeenteVanInschrijving": {"code": "0599", "omschrijving": "Rotterdam"},
        "verblijfplaats": adres,
        "adressering": {
            "adresregel1": regel1,
            "adresregel2": f"{postcode[:4]} {postcode[4:]}  ROTTERDAM",
            "aanhef": f"Geachte {'mevrouw' if geslacht == 'V' else 'heer'} {geslachtsnaam}",
        },
        "nationaliteiten": [
            {
                "type": "Nationaliteit",
                "nationaliteit": {"code": "0001", "omschrijving": "Nederlandse"},
                "redenOpname": {"code": "001", "omschrijving": "Wet op het Nederlanderschap 1892, art. 1"},
            }
        ],
        "partners": [],
        "kinderen": [],
        "ouders": [],
    }
    persoon.update(extra or {})
    return persoon


def _record(persoon: dict[str, Any], historie: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "persoonslijst": "TEST_" + persoon["burgerservicenummer"],
        "persoon": persoon,
        "verblijfplaatshistorie": historie
        if historie is not None
        else [_historie_item(persoon["verblijfplaats"])],
    }


def _historie_item(
    adres: dict[str, Any], datum_van: dict[str, Any] | None = None, datum_tot: dict[str, Any] | None = None
) -> dict[str, Any]:
    item = {k: v for k, v in adres.items() if k != "datumVan"}
    item["datumVan"] = datum_van or adres["datumVan"]
    if datum_tot is not None:
        item["datumTot"] = datum_tot
    item["gemeenteVanInschrijving"] = {"code": "0599", "omschrijving": "Rotterdam"}
    return item


# The history of Çelikbaş, most recent first: Coolsingel since 2015-08-08, Blaak from a day in
# March 2010 (unknown which), Weena until March 2010.
_CELIK_HISTORIE = [
    _historie_item(_adres(*_COOLSINGEL), datum("2015-08-08")),
    _historie_item(
        _adres("Blaak", 10, "3011TA", "0599010000000010"),
        {"type": "JaarMaandDatum", "jaar": 2010, "maand": 3, "langFormaat": "maart 2010"},
        datum("2015-08-08"),
    ),
    _historie_item(
        _adres("Weena", 5, "3012CM", "0599010000000005"),
        datum("2001-01-01"),
        {"type": "JaarMaandDatum", "jaar": 2010, "maand": 3, "langFormaat": "maart 2010"},
    ),
]

_OVERLEDEN = {
    "overlijden": {
        "datum": datum("2020-02-02"),
        "plaats": {"code": "0599", "omschrijving": "Rotterdam"},
        "land": {"code": "6030", "omschrijving": "Nederland"},
    },
    "opschortingBijhouding": {
        "reden": {"code": "O", "omschrijving": "overlijden"},
        "datum": datum("2020-02-02"),
    },
}


def _verblijfstitel(ingang: str, einde: str) -> dict[str, Any]:
    return {
        "aanduiding": {"code": "21", "omschrijving": "Vw 2000 art. 14 (regulier bepaalde tijd)"},
        "datumIngang": datum(ingang),
        "datumEinde": datum(einde),
    }


_FOUT = {
    "opschortingBijhouding": {"reden": {"code": "F", "omschrijving": "fout"}, "datum": datum("2019-09-09")}
}


def synthetic_persons() -> list[dict[str, Any]]:
    """The extra persoonslijsten, in `personen.json`'s record shape."""
    records = [
        _record(
            _persoon(CELIK, "Çelikbaş", "Zoë Émilie", datum("1990-03-15"), adres=_adres(*_COOLSINGEL)),
            _CELIK_HISTORIE,
        ),
        _record(
            _persoon(DECEASED, "Verstorven", "Albert", datum("1930-05-05"), geslacht="M", extra=_OVERLEDEN)
        ),
        _record(_persoon(LIVING_NAMESAKE, "Verstorven", "Bertha", datum("1930-05-05"))),
        _record(_persoon(SUSPENDED, "Foutief", "Frida", datum("1970-07-07"), extra=_FOUT)),
        _record(
            _persoon(
                LETTER_B,
                "Letterman",
                "Lies",
                datum("1991-04-04"),
                adres=_adres(*_COOLSINGEL_B, huisletter="b"),
                extra={"verblijfstitel": _verblijfstitel("2001-01-01", "2003-01-01")},
            )
        ),
        _record(
            _persoon(
                TOEVOEGING,
                "Toevoeging",
                "Tom",
                datum("1992-05-05"),
                geslacht="M",
                adres=_adres(*_COOLSINGEL_BIS, toevoeging="bis"),
                extra={"verblijfstitel": _verblijfstitel("2001-01-01", "2999-01-01")},
            )
        ),
        _record(
            _persoon(
                HALFBEKEND,
                "Halfbekend",
                "Hans",
                {"type": "JaarMaandDatum", "jaar": 1975, "maand": 6, "langFormaat": "juni 1975"},
                geslacht="M",
            )
        ),
    ]
    # Eleven namesakes born on one day (five men): the name search allows at most 10.
    for index in range(11):
        records.append(
            _record(
                _persoon(
                    f"1000001{index:02d}",
                    "Veelvoud",
                    f"Kind{chr(97 + index)}",
                    datum(NAMESAKES_BORN),
                    geslacht="M" if index < 5 else "V",
                )
            )
        )
    # Thirty-one residents of one address: the address searches allow at most 30.
    crowd = _adres("Drukke Straat", 1, ADDRESS_CROWD_POSTCODE, ADDRESS_CROWD_AOI)
    for index in range(31):
        records.append(
            _record(
                _persoon(
                    f"1000002{index:02d}",
                    "Bewoner",
                    f"Nummer{chr(97 + index % 26)}",
                    datum("1985-02-02"),
                    adres=crowd,
                )
            )
        )
    return records


def synthetic_bewoning() -> list[dict[str, Any]]:
    """Bewoning records at `BEWONING_AOI`: Çelikbaş certainly 2010-01-01..2012-01-01, Verstorven
    (living) from an unknown day in 2011 on."""
    return [
        {
            "burgerservicenummer": CELIK,
            "geheimhoudingPersoonsgegevens": "0",
            "verblijfplaats": {
                "adresseerbaarObjectIdentificatie": BEWONING_AOI,
                "datumAanvangAdreshouding": "20100101",
                "datumEindeAdreshouding": "20120101",
                "aangifteAdreshouding": "I",
            },
        },
        {
            "burgerservicenummer": LIVING_NAMESAKE,
            "geheimhoudingPersoonsgegevens": "2",
            "verblijfplaats": {
                "adresseerbaarObjectIdentificatie": BEWONING_AOI,
                "datumAanvangAdreshouding": "20110000",
                "aangifteAdreshouding": "I",
            },
        },
        {
            "burgerservicenummer": SUSPENDED,
            "verblijfplaats": {
                "adresseerbaarObjectIdentificatie": BEWONING_AOI,
                "datumAanvangAdreshouding": "20100101",
                "aangifteAdreshouding": "I",
            },
        },
    ]
