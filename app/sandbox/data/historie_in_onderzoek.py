"""inOnderzoek of a Verblijfplaatshistorie item: LO GBA 83.10/83.20/83.30 of categorie 08/58.

Owns RvIG's mapping from an "aanduiding gegevens in onderzoek" of a verblijfplaats voorkomen to the
`inOnderzoek` objects of the historie API (v2.0), exactly as RvIG's historie services do
(BRP-API/historie-informatie-service `src/Historie.Informatie.Service/Profiles/*InOnderzoekConverter.cs`,
`Mappers/DatumTotInOnderzoekMapper.cs`, `Mappers/VerblijfplaatsVoorkomenMapper.cs`,
`Profiles/AdresVoorkomenProfile.cs`; BRP-API/historie-data-service `RvIGDataHistorieMapper.cs`;
their features `raadpleeg-verblijfplaats-met-periode/in-onderzoek.feature` and
`vastgesteld-verblijft-niet-op-adres.feature`):

- RvIG's converters are tables: per type of verblijfplaats and per group (the item, its
  `verblijfadres`, its `adressering`) which flags an aanduiding sets. Aanduidingen of categorie 08
  and 58 mean the same, on the actual and on a historic voorkomen; any other aanduiding sets
  nothing (e.g. 080920 datum inschrijving, 081020 gemeentedeel, 0814xx immigratie: not in the
  historie). The tables differ from the Personen API's rules (`in_onderzoek.py`): 080910 also puts
  `woonplaats` in onderzoek, 081110 only `korteStraatnaam`, a locatie's group 12 both adresregels.
- every group with flags carries the `datumIngangOnderzoek` (83.20);
- an onderzoek with a datum einde (83.30) is over, except 089999/589999 "vastgesteld verblijft
  niet op adres";
- the datum aanvang of the next (newer) voorkomen in onderzoek (its 080000, 081000, 081030, 081300
  or 081320, not ended) puts this item's `datumTot` in onderzoek, with the next voorkomen's date
  unless the item has an onderzoek of its own;
- 089999 on an Adres: while it runs, `verblijftNietOpAdresVanaf` (= 83.20) and all flags; once
  ended on or after the next voorkomen's datum aanvang only `verblijftNietOpAdresVanaf`; ended
  before that (or on the actual adres) nothing at all. On a Locatie RvIG's shared adressering
  converter still flags both adresregels, and nothing else.

This module only computes; it never reads files or logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["met_historie_onderzoek"]

Json = dict[str, Any]
Voorkomen = Mapping[str, str]
Datum = Callable[[str | None], Json | None]

_AANDUIDING: Final = "83.10"
_DATUM_INGANG: Final = "83.20"
_DATUM_EINDE: Final = "83.30"
_CATEGORIEEN: Final = frozenset({"08", "58"})
_NIET_OP_ADRES: Final = "9999"
_VANAF: Final = "verblijftNietOpAdresVanaf"
_IN_ONDERZOEK: Final = "inOnderzoek"
_DATUM: Final = "datumIngangOnderzoek"

Tabel = Mapping[str, frozenset[str]]  # aanduiding without its categorie ("1110") → flags

_ITEM_ADRES: Final = frozenset(
    {
        "type",
        "gemeenteVanInschrijving",
        "datumVan",
        "nummeraanduidingIdentificatie",
        "adresseerbaarObjectIdentificatie",
        "functieAdres",
    }
)
_VERBLIJFADRES_ADRES: Final = frozenset(
    {
        "aanduidingBijHuisnummer",
        "huisletter",
        "huisnummer",
        "huisnummertoevoeging",
        "korteStraatnaam",
        "postcode",
        "officieleStraatnaam",
        "woonplaats",
    }
)
_REGELS: Final = frozenset({"adresregel1", "adresregel2"})
_BUITENLAND: Final = frozenset({"regel1", "regel2", "regel3", "land"})
_REGELS_BUITENLAND: Final = frozenset({"adresregel1", "adresregel2", "adresregel3", "land"})
_ITEM_BUITENLAND: Final[Tabel] = {
    "0000": frozenset({"datumVan", "gemeenteVanInschrijving", "type"}),
    "1300": frozenset({"datumVan", "type"}),
    "1310": frozenset({"type"}),
    "1320": frozenset({"datumVan"}),
}

# Per type of verblijfplaats: the item's own flags (Adres/Locatie/...VoorkomenInOnderzoekConverter).
_ITEM: Final[Mapping[str, Tabel]] = {
    "Adres": {
        "0000": _ITEM_ADRES,
        "0900": frozenset({"gemeenteVanInschrijving"}),
        "0910": frozenset({"gemeenteVanInschrijving"}),
        "1000": frozenset({"datumVan", "functieAdres"}),
        "1010": frozenset({"functieAdres"}),
        "1030": frozenset({"datumVan"}),
        "1100": frozenset({"adresseerbaarObjectIdentificatie", "nummeraanduidingIdentificatie", "type"}),
        "1110": frozenset({"type"}),
        "1180": frozenset({"adresseerbaarObjectIdentificatie"}),
        "1190": frozenset({"nummeraanduidingIdentificatie"}),
        _NIET_OP_ADRES: _ITEM_ADRES,
    },
    "Locatie": {
        "0000": frozenset({"datumVan", "functieAdres", "gemeenteVanInschrijving", "type"}),
        "0900": frozenset({"gemeenteVanInschrijving"}),
        "0910": frozenset({"gemeenteVanInschrijving"}),
        "1000": frozenset({"datumVan", "functieAdres"}),
        "1010": frozenset({"functieAdres"}),
        "1030": frozenset({"datumVan"}),
        "1200": frozenset({"type"}),
        "1210": frozenset({"type"}),
    },
    "VerblijfplaatsBuitenland": _ITEM_BUITENLAND,
    "VerblijfplaatsOnbekend": _ITEM_BUITENLAND,
}
# Per type: the flags of its verblijfadres (Verblijfadres*InOnderzoekConverter).
_VERBLIJFADRES: Final[Mapping[str, Tabel]] = {
    "Adres": {
        "0000": _VERBLIJFADRES_ADRES,
        "0900": frozenset({"woonplaats"}),
        "0910": frozenset({"woonplaats"}),
        "1100": _VERBLIJFADRES_ADRES,
        "1110": frozenset({"korteStraatnaam"}),
        "1115": frozenset({"officieleStraatnaam"}),
        "1120": frozenset({"huisnummer"}),
        "1130": frozenset({"huisletter"}),
        "1140": frozenset({"huisnummertoevoeging"}),
        "1150": frozenset({"aanduidingBijHuisnummer"}),
        "1160": frozenset({"postcode"}),
        "1170": frozenset({"woonplaats"}),
        _NIET_OP_ADRES: _VERBLIJFADRES_ADRES,
    },
    "Locatie": dict.fromkeys(("0000", "1200", "1210"), frozenset({"locatiebeschrijving"})),
    "VerblijfplaatsBuitenland": {
        "0000": _BUITENLAND,
        "1300": _BUITENLAND,
        "1310": frozenset({"land"}),
        "1330": frozenset({"regel1"}),
        "1340": frozenset({"regel2"}),
        "1350": frozenset({"regel3"}),
    },
}
# The adressering of an Adres and of a Locatie share one converter (AdresseringBinnenland...).
_ADRESSERING_BINNENLAND: Final[Tabel] = {
    "0000": _REGELS,
    "0900": frozenset({"adresregel2"}),
    "0910": frozenset({"adresregel2"}),
    "1100": _REGELS,
    "1110": frozenset({"adresregel1"}),
    "1115": frozenset({"adresregel1"}),
    "1120": frozenset({"adresregel1"}),
    "1130": frozenset({"adresregel1"}),
    "1140": frozenset({"adresregel1"}),
    "1150": frozenset({"adresregel1"}),
    "1160": frozenset({"adresregel2"}),
    "1170": frozenset({"adresregel2"}),
    "1200": _REGELS,
    "1210": frozenset({"adresregel1"}),
    _NIET_OP_ADRES: _REGELS,
}
_ADRESSERING: Final[Mapping[str, Tabel]] = {
    "Adres": _ADRESSERING_BINNENLAND,
    "Locatie": _ADRESSERING_BINNENLAND,
    "VerblijfplaatsBuitenland": {
        "0000": _REGELS_BUITENLAND,
        "1300": _REGELS_BUITENLAND,
        "1310": frozenset({"land"}),
        "1330": frozenset({"adresregel1"}),
        "1340": frozenset({"adresregel2"}),
        "1350": frozenset({"adresregel3"}),
    },
}
# Onderzoek of the next voorkomen that covers its datum aanvang (10.30, or 13.20 abroad).
_DATUM_AANVANG: Final = frozenset({"0000", "1000", "1030", "1300", "1320"})


def _aanduiding(voorkomen: Voorkomen | None) -> str | None:
    """The aanduiding without its categorie ("1110"), if it is one of categorie 08/58."""
    waarde = (voorkomen or {}).get(_AANDUIDING, "")
    if not waarde.isdigit() or len(waarde) > 6:
        return None
    waarde = waarde.zfill(6)
    return waarde[2:] if waarde[:2] in _CATEGORIEEN else None


def _loopt(voorkomen: Voorkomen) -> bool:
    return not voorkomen.get(_DATUM_EINDE)


def _zet(groep: Json | None, vlaggen: frozenset[str], ingang: Json | None) -> None:
    if groep is None or not vlaggen:
        return
    onderzoek = groep.setdefault(_IN_ONDERZOEK, {})
    onderzoek.update(dict.fromkeys(sorted(vlaggen), True))
    if ingang is not None:
        onderzoek.setdefault(_DATUM, ingang)


def _datum_aanvang(voorkomen: Voorkomen | None) -> int | None:
    """The datum aanvang of a voorkomen as RvIG compares it: adres buitenland, else adreshouding."""
    for element in ("13.20", "10.30"):
        waarde = (voorkomen or {}).get(element, "")
        if waarde.isdigit():
            return int(waarde)
    return None


def _vastgesteld_vanaf(voorkomen: Voorkomen, volgende: Voorkomen | None) -> bool:
    """RvIG's IsVastgesteldVerblijftNietOpAdres: running, or ended on/after the next's aanvang."""
    einde = voorkomen.get(_DATUM_EINDE, "")
    if not einde:
        return True
    aanvang = _datum_aanvang(volgende)
    return aanvang is not None and einde.isdigit() and int(einde) >= aanvang


def met_historie_onderzoek(
    item: Json, soort: str, voorkomen: Voorkomen, volgende: Voorkomen | None, datum: Datum
) -> Json:
    """The historie item (in place) with RvIG's inOnderzoek from its own and the next voorkomen.

    `volgende` is the next (newer) voorkomen of the stapel, None for the actual one; `datum` turns
    an LO GBA date into a BRP API date.
    """
    eigen = _aanduiding(voorkomen)
    niet_op_adres = eigen == _NIET_OP_ADRES
    if eigen is not None and (_loopt(voorkomen) or niet_op_adres):
        ingang = datum(voorkomen.get(_DATUM_INGANG))
        _zet(item, _ITEM.get(soort, {}).get(eigen, frozenset()), ingang)
        if eigen in _VERBLIJFADRES.get(soort, {}):
            _zet(item.setdefault("verblijfadres", {}), _VERBLIJFADRES[soort][eigen], ingang)
        _zet(item.get("adressering"), _ADRESSERING.get(soort, {}).get(eigen, frozenset()), ingang)
    if volgende is not None and _loopt(volgende) and _aanduiding(volgende) in _DATUM_AANVANG:
        # DatumTotInOnderzoekMapper: the next voorkomen's date only when the item has no onderzoek.
        ingang_volgende = None if _IN_ONDERZOEK in item else datum(volgende.get(_DATUM_INGANG))
        _zet(item, frozenset({"datumTot"}), ingang_volgende)
    if niet_op_adres and soort == "Adres":
        _vastgesteld_niet_op_adres(item, voorkomen, volgende, datum)
    return item


def _vastgesteld_niet_op_adres(
    item: Json, voorkomen: Voorkomen, volgende: Voorkomen | None, datum: Datum
) -> None:
    # AdresVoorkomenProfile: verblijftNietOpAdresVanaf when IsVastgesteldVerblijftNietOpAdres, and
    # once the onderzoek has ended (or without that date) no inOnderzoek at all.
    vanaf = datum(voorkomen.get(_DATUM_INGANG)) if _vastgesteld_vanaf(voorkomen, volgende) else None
    if vanaf is not None:
        item[_VANAF] = vanaf
    if vanaf is None or not _loopt(voorkomen):
        for groep in (item, item.get("verblijfadres"), item.get("adressering")):
            if isinstance(groep, dict):
                groep.pop(_IN_ONDERZOEK, None)
