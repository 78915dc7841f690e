"""Which fields of a converted `Persoon` are in onderzoek: LO GBA 83.10/83.20/83.30 to `inOnderzoek`.

Owns RvIG's mapping from an "aanduiding gegevens in onderzoek" (83.10) to the `inOnderzoek` flags
of the Personen API (BRP-API/Haal-Centraal-BRP-bevragen `features/bevragen/**/in-onderzoek.feature`
and `vastgesteld-verblijft-niet-op-adres.feature`):

- `CC0000` puts the whole categorie in onderzoek, `CCGG00` one group, `CCGGEE` one element; a field
  is in onderzoek when one of the elements it is made of is, so derived fields follow their sources
  (volledigeNaam also follows geslacht, leeftijd the geboortedatum, adresregel2 the gemeente, the
  `type` of a verblijfplaats its identifying element, aanhef/aanschrijfwijze/gebruikInLopendeTekst
  the names of the person and of the partner whose name they use);
- an onderzoek with a datum einde (83.30) is over; an aanduiding of another categorie (a historic
  51/58... one, or garbage) puts nothing in onderzoek;
- `089999` ("vastgesteld verblijft niet op adres") puts the verblijfplaats and its adresregels in
  onderzoek (not the immigratie, nor the gemeente van inschrijving) and sets
  `indicatieVastgesteldVerblijftNietOpAdres` on the verblijfplaats and the adressering;
- each group's `inOnderzoek` carries every flag that is in onderzoek, plus the
  `datumIngangOnderzoek*` of each categorie that put one there (83.20).

Which of these flags an answer carries depends on the `fields` asked: `app.sandbox.onderzoek`.
This module only computes; it never reads files or logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["Bron", "met_onderzoek"]

Json = dict[str, Any]
Voorkomen = Mapping[str, str]
Pad = tuple[str | int, ...]
Datum = Callable[[str | None], Json | None]

_AANDUIDING: Final = "83.10"
_DATUM_INGANG: Final = "83.20"
_DATUM_EINDE: Final = "83.30"
_NIET_OP_ADRES: Final = "089999"
# Groups 09 (gemeente) and 14 (immigratie) are not touched by 089999.
_NIET_OP_ADRES_BUITEN: Final = frozenset({"09", "14"})
_INDICATIE_NIET_OP_ADRES: Final = "indicatieVastgesteldVerblijftNietOpAdres"
_DATUM: Final = "datumIngangOnderzoek"

Velden = Mapping[str, tuple[str, ...]]  # flag → the elements (GG.EE) the field is made of

_NAAM_GERELATEERDE: Final[Velden] = {
    "voornamen": ("02.10",),
    "adellijkeTitelPredicaat": ("02.20",),
    "voorvoegsel": ("02.30",),
    "geslachtsnaam": ("02.40",),
    "voorletters": ("02.10",),
}
_NAAM_PERSOON: Final[Velden] = {
    **_NAAM_GERELATEERDE,
    "aanduidingNaamgebruik": ("61.10",),
    "volledigeNaam": ("02.10", "02.20", "02.30", "02.40", "04.10"),
}
_GEBOORTE: Final[Velden] = {"datum": ("03.10",), "plaats": ("03.20",), "land": ("03.30",)}
_AANSCHRIJVING_PERSOON: Final = ("02.10", "02.20", "02.30", "02.40", "04.10", "61.10")
_AANSCHRIJVING_PARTNER: Final = ("02.20", "02.30", "02.40")
_AANSCHRIJVING: Final = ("aanhef", "aanschrijfwijze", "gebruikInLopendeTekst")
_VERBLIJFPLAATS: Final[Mapping[str, Velden]] = {
    "Adres": {
        "type": ("11.10",),
        "datumVan": ("10.30",),
        "datumIngangGeldigheid": ("85.10",),
        "nummeraanduidingIdentificatie": ("11.90",),
        "adresseerbaarObjectIdentificatie": ("11.80",),
        "functieAdres": ("10.10",),
    },
    "Locatie": {
        "type": ("12.10",),
        "datumVan": ("10.30",),
        "datumIngangGeldigheid": ("85.10",),
        "functieAdres": ("10.10",),
    },
    "VerblijfplaatsBuitenland": {
        "type": ("13.10",),
        "datumVan": ("13.20",),
        "datumIngangGeldigheid": ("85.10",),
    },
    "VerblijfplaatsOnbekend": {
        "type": ("13.10",),
        "datumVan": ("13.20",),
        "datumIngangGeldigheid": ("85.10",),
    },
}
_VERBLIJFADRES: Final[Mapping[str, Velden]] = {
    "Adres": {
        "aanduidingBijHuisnummer": ("11.50",),
        "huisletter": ("11.30",),
        "huisnummer": ("11.20",),
        "huisnummertoevoeging": ("11.40",),
        "officieleStraatnaam": ("11.15",),
        "postcode": ("11.60",),
        "korteStraatnaam": ("11.10",),
        "woonplaats": ("11.70",),
    },
    "Locatie": {"locatiebeschrijving": ("12.10",)},
    "VerblijfplaatsBuitenland": {
        "regel1": ("13.30",),
        "regel2": ("13.40",),
        "regel3": ("13.50",),
        "land": ("13.10",),
    },
}
_NATIONALITEIT_BEKEND: Final = "Nationaliteit"


@dataclass(frozen=True, slots=True)
class _Groep:
    """Where a categorie's onderzoek lands: a group of the Persoon, its flags, its date's name."""

    pad: Pad
    velden: Velden
    datum: str = _DATUM
    maken: bool = True  # create the group when the Persoon has none (RvIG delivers the flags alone)


# What each kind of source puts in onderzoek, relative to where its data is in the Persoon.
_GROEPEN: Final[Mapping[str, tuple[_Groep, ...]]] = {
    "persoon": (
        _Groep(
            (),
            {"burgerservicenummer": ("01.20",), "geslacht": ("04.10",), "leeftijd": ("03.10",)},
            "datumIngangOnderzoekPersoon",
        ),
        _Groep(("naam",), _NAAM_PERSOON),
        _Groep(("geboorte",), _GEBOORTE),
        _Groep(
            ("adressering",),
            dict.fromkeys(_AANSCHRIJVING, _AANSCHRIJVING_PERSOON),
            "datumIngangOnderzoekPersoon",
        ),
    ),
    "ouder": (
        _Groep(
            (),
            {
                "burgerservicenummer": ("01.20",),
                "geslacht": ("04.10",),
                "datumIngangFamilierechtelijkeBetrekking": ("62.10",),
            },
        ),
        _Groep(("naam",), _NAAM_GERELATEERDE),
        _Groep(("geboorte",), _GEBOORTE),
    ),
    "nationaliteit": (
        _Groep((), {"type": ("05.10", "65.10"), "nationaliteit": ("05.10",), "redenOpname": ("63.10",)}),
    ),
    "partner": (
        _Groep(
            (), {"burgerservicenummer": ("01.20",), "geslacht": ("04.10",), "soortVerbintenis": ("15.10",)}
        ),
        _Groep(("naam",), _NAAM_GERELATEERDE),
        _Groep(("geboorte",), _GEBOORTE),
        _Groep(
            ("aangaanHuwelijkPartnerschap",), {"datum": ("06.10",), "plaats": ("06.20",), "land": ("06.30",)}
        ),
        _Groep(("ontbindingHuwelijkPartnerschap",), {"datum": ("07.10",)}),
    ),
    "naamgebruikpartner": (
        _Groep(
            ("adressering",),
            dict.fromkeys(_AANSCHRIJVING, _AANSCHRIJVING_PARTNER),
            "datumIngangOnderzoekPartner",
        ),
    ),
    "overlijden": (_Groep(("overlijden",), {"datum": ("08.10",), "plaats": ("08.20",), "land": ("08.30",)}),),
    "verblijfplaats": (
        _Groep(
            (),
            {"gemeenteVanInschrijving": ("09.10",), "datumInschrijvingInGemeente": ("09.20",)},
            "datumIngangOnderzoekGemeente",
        ),
        _Groep(
            ("immigratie",),
            {
                "landVanwaarIngeschreven": ("14.10",),
                "datumVestigingInNederland": ("14.20",),
                "vanuitVerblijfplaatsOnbekend": ("14.10",),
                "indicatieVestigingVanuitBuitenland": ("14.20",),
            },
        ),
        _Groep(
            ("adressering",),
            {
                "adresregel1": ("11.10", "11.20", "11.30", "11.40", "11.50", "12.10", "13.30"),
                "adresregel2": ("09.10", "11.60", "11.70", "13.40"),
                "adresregel3": ("13.50",),
                "land": ("13.10",),
            },
            "datumIngangOnderzoekVerblijfplaats",
        ),
    ),
    "kind": (
        _Groep((), {"burgerservicenummer": ("01.20",)}),
        _Groep(("naam",), _NAAM_GERELATEERDE),
        _Groep(("geboorte",), _GEBOORTE),
    ),
    "verblijfstitel": (
        _Groep(
            ("verblijfstitel",),
            {"aanduiding": ("39.10",), "datumEinde": ("39.20",), "datumIngang": ("39.30",)},
            maken=False,
        ),
    ),
    "gezagsverhouding": (
        _Groep(
            (),
            {"indicatieCurateleRegister": ("33.10",), "indicatieGezagMinderjarige": ("32.10",)},
            "datumIngangOnderzoekGezag",
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class Bron:
    """One actual voorkomen whose 83.10 may put fields in onderzoek, and where its data are."""

    soort: str  # a key of _GROEPEN
    categorie: str  # "01" ... "11": the aanduiding must name this categorie
    voorkomen: Voorkomen
    pad: Pad = ()  # ("partners", 0) for the first delivered partner, () for the person itself


def _aanduiding(bron: Bron) -> str | None:
    """The active aanduiding of a source: six digits of its own categorie, onderzoek not ended."""
    aanduiding = bron.voorkomen.get(_AANDUIDING, "")
    if len(aanduiding) != 6 or not aanduiding.isdigit() or bron.voorkomen.get(_DATUM_EINDE):
        return None
    return aanduiding if aanduiding[:2] == bron.categorie else None


def _dekt(aanduiding: str, element: str) -> bool:
    """Whether an aanduiding (CCGGEE) covers an element (GG.EE) of its categorie."""
    groep, rubriek = element.split(".")
    if aanduiding == _NIET_OP_ADRES:
        return groep not in _NIET_OP_ADRES_BUITEN
    if aanduiding[2:4] == "00":
        return True
    return aanduiding[2:4] == groep and aanduiding[4:6] in ("00", rubriek)


def _vlaggen(aanduiding: str, velden: Velden) -> dict[str, bool]:
    return {veld: True for veld, elementen in velden.items() if any(_dekt(aanduiding, e) for e in elementen)}


def _groep(persoon: Json, pad: Pad, maken: bool) -> Json | None:
    """The group at `pad` (list indexes included), created empty when `maken` and it is missing."""
    node: Any = persoon
    for stap in pad:
        if isinstance(stap, int):
            node = node[stap] if isinstance(node, list) and stap < len(node) else None
        elif isinstance(node, dict):
            if stap not in node and maken:
                node[stap] = {}
            node = node.get(stap)
        else:
            node = None
        if node is None:
            return None
    return node if isinstance(node, dict) else None


def _verblijfplaats_groepen(persoon: Json) -> tuple[_Groep, ...]:
    soort = str((persoon.get("verblijfplaats") or {}).get("type"))
    groepen: list[_Groep] = []
    if soort in _VERBLIJFPLAATS:
        groepen.append(_Groep(("verblijfplaats",), _VERBLIJFPLAATS[soort], maken=False))
    if soort in _VERBLIJFADRES:
        groepen.append(_Groep(("verblijfplaats", "verblijfadres"), _VERBLIJFADRES[soort]))
    return tuple(groepen)


def _plaats(persoon: Json, bron: Bron, aanduiding: str, ingang: Json | None) -> None:
    groepen = _GROEPEN[bron.soort]
    if bron.soort == "verblijfplaats":
        groepen = groepen + _verblijfplaats_groepen(persoon)
    for groep in groepen:
        vlaggen = _vlaggen(aanduiding, groep.velden)
        if not vlaggen:
            continue
        doel = _groep(persoon, bron.pad + groep.pad, groep.maken)
        if doel is None:
            continue
        if bron.soort == "nationaliteit" and doel.get("type") != _NATIONALITEIT_BEKEND:
            vlaggen.pop("nationaliteit", None)  # only a known nationaliteit has that field
        onderzoek = doel.setdefault("inOnderzoek", {})
        onderzoek.update(vlaggen)
        if ingang is not None:
            onderzoek[groep.datum] = ingang


def _niet_op_adres(persoon: Json) -> None:
    verblijfplaats = persoon.get("verblijfplaats")
    if isinstance(verblijfplaats, dict) and verblijfplaats.get("type") in ("Adres", "Locatie"):
        verblijfplaats[_INDICATIE_NIET_OP_ADRES] = True
        adressering = persoon.get("adressering")
        if isinstance(adressering, dict):
            adressering[_INDICATIE_NIET_OP_ADRES] = True


def met_onderzoek(persoon: Json, bronnen: Sequence[Bron], datum: Datum) -> Json:
    """The Persoon with the `inOnderzoek` of every group an active onderzoek touches (in place)."""
    for bron in bronnen:
        aanduiding = _aanduiding(bron)
        if aanduiding is None:
            continue
        _plaats(persoon, bron, aanduiding, datum(bron.voorkomen.get(_DATUM_INGANG)))
        if aanduiding == _NIET_OP_ADRES:
            _niet_op_adres(persoon)
    return persoon
