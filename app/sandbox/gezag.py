"""Gezag over minderjarigen, derived as RvIG's BRP API does on the day of the query.

This module owns the informatieproduct `gezag` of the sandbox's Personen answers (DOMAIN.md §10):
for a minor, who has authority over them; for anyone, the minors over whom they hold it (their own
minor children and those of their (ex-)partners, as RvIG's gezagsmodule looks them up).

The rules are RvIG's own, from its gezagsmodule BRP-API/brp-api-gezag (commit 8b401c91, EUPL-1.2):
its decision tree (`hoofdstroomschema_v2_2_1.csv`) and its answer model (`AntwoordenModel_v2_2_4.csv`:
which answers lead to which soort gezag, who holds it, and the toelichting) are carried over verbatim
as data in `data/gezag-hoofdstroomschema.csv` and `data/gezag-antwoordenmodel.csv`. The questions of
the tree (ingezetene? minderjarig? geëmigreerd geweest? in het buitenland geboren en geadopteerd?
uitspraak gezag (11.32.10)? recente gebeurtenis na de uitspraak? hoeveel juridische ouders? nu met
elkaar gehuwd? erkenning voor of na 1-1-2023 en wie is de geboortemoeder? staande huwelijk geboren?
ouder(s) of partner overleden, onder curatele of minderjarig?) are answered here from the facts of
the minor's persoonslijst, those of the parents and of the parent's partner at the birth, as
RvIG's rules (its `features/specs`) describe them. A walk that lacks a fact ends, as RvIG's does, in
`GezagNietTeBepalen` naming what is missing.

The facts come from `personen.json`: the `Persoon` and the record's `gezagsgegevens` (aktenummers,
puntouders, the ingangsdatum of the gezagsverhouding, every voorkomen of every huwelijk or
partnerschap, the aanduidingen in onderzoek; written by `data/convert.py`). A record without
`gezagsgegevens` (hand-made, or converted before they existed) is derived from its current
partners only, without aktenummers and never in onderzoek.

A Gezagsrelatie gets `inOnderzoek: true` when a fact the derivation read is in onderzoek, as in
RvIG's gezagsmodule (`PotentieelInOnderzoek`, `GezagsBepaling.warenVeldenInOnderzoek`; features
`gezag-minderjarige/gegevens-bij-bevragen-kind-in-onderzoek.feature` and
`gezag-meerderjarige/gegevens-bij-bevragen-meerjarige-in-onderzoek.feature`): an aanduiding (83.10,
CC0000 the categorie, CCGG00 a group) that is not over (no 83.30, or one from today on) covering a
field of its `@VeldNummer` list. RvIG registers a field when its getter runs; the sandbox counts,
per persoonslijst the derivation looked at, the fields RvIG's rules read there: of the minor every
field of categorie 01/02/03/11 (and the historic aktenummers 51/52/53) the module knows; of a
parent's or partner's own list the burgerservicenummer, geboortedatum and curatele, and the
huwelijken/partnerschappen of the parents when a question about their relations was asked. The
burgerservicenummer van persoon alone never counts (RvIG filters it).

Minority (also of a parent or partner) is counted as RvIG's gezagsmodule does, on yyyymmdd numbers:
younger than 18 on the day of the query; the derivation is therefore never stored. Where RvIG's
toelichting holds characters the spec's `Toelichting` pattern forbids (a comma, "@", quotes), they are
left out so the answer stays valid against the spec, as the converter does with odd test data.

It never logs and never keeps a person's data beyond one call.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import resources
from typing import Any, Final, NamedTuple

import msgspec

from app.sandbox.dataset import Dataset, Person

__all__ = ["AgeOf", "gezag_van"]

AgeOf = Callable[[Person, dt.date], int | None]
"""The `leeftijd` RvIG delivers for a person on a day (None where it delivers none)."""

_MEERDERJARIG: Final = 180000  # 18 years, in RvIG's gezagsmodule's arithmetic on yyyymmdd numbers
_NEDERLAND: Final = "6030"
_RNI: Final = "1999"  # gemeente "Registratie Niet Ingezetenen"
_INDICATIES: Final = frozenset({"1", "2", "12", "1D", "2D", "D"})  # 11.32.10 values of a uitspraak
_ERKENNING: Final = frozenset("BCJV")  # tabel 39, 3rd letter of an aktenummer: erkenning/vaststelling
_GEBOORTE: Final = "A"
_ADOPTIE: Final = "Q"
_ONTKENNING: Final = "E"
_ERKENNINGSWET: Final = 20230101  # erkenning from this day on gives gezamenlijk gezag
_PUNTOUDER: Final = "."
_TOELICHTING_TEKENS: Final = re.compile(r"[^a-zA-Z0-9À-ž \/\;\:\.\-\?\(\)]")
_ONVERWACHT: Final = (
    "Gezagsrelatie kon niet worden bepaald vanwege een onverwachte exceptie, "
    "resultaat 'N' wordt als antwoord gegeven"
)
_VRAGEN: Final = (
    "v1.1", "v1.2", "v1.3", "v1.3a", "v1.3b", "v1.4", "v2.1", "v2a.1",
    "v2a.2", "v2a.3", "v2b.1", "v3.1", "v3.2", "v4a.2", "v4a.3", "v4b.1",
)  # fmt: skip
"""The questions in the column order of the answer model."""


# --- RvIG's tables -----------------------------------------------------------------------------


class _Uitkomst(NamedTuple):
    """One route of the answer model: the soort gezag, who holds it, and RvIG's explanation."""

    route: str
    soort: str  # OG1, OG2, GG, V, G (tijdelijk geen gezag), N (niet te bepalen), NVT
    ouder1: bool
    ouder2: bool
    niet_ouder: bool
    uitleg: str


class _Tabellen(NamedTuple):
    """The decision tree (question, answer → next question) and the answer model, in file order."""

    volgende: Mapping[tuple[str, str], str]
    uitkomsten: Sequence[tuple[tuple[str | None, ...], _Uitkomst]]
    per_route: Mapping[str, _Uitkomst]


def _lees(naam: str) -> str:
    return (resources.files("app.sandbox") / "data" / naam).read_text(encoding="utf-8")


@functools.cache
def _tabellen() -> _Tabellen:
    schema = list(csv.reader(io.StringIO(_lees("gezag-hoofdstroomschema.csv"))))[1:]
    volgende = {(vraag, antwoord): actie for vraag, antwoord, actie in schema}
    uitkomsten: list[tuple[tuple[str | None, ...], _Uitkomst]] = []
    per_route: dict[str, _Uitkomst] = {}
    for regel in _lees("gezag-antwoordenmodel.csv").splitlines()[1:]:
        # Split on every comma, as RvIG's gezagsmodule reads this file (a quoted uitleg is cut short).
        kolommen = regel.split(",")
        antwoorden = tuple(waarde or None for waarde in kolommen[:16])
        route, soort, ouder1, ouder2, niet_ouder1, niet_ouder2 = kolommen[17:23]
        uitkomst = _Uitkomst(
            route, soort, ouder1 == "Ja", ouder2 == "Ja", "Ja" in (niet_ouder1, niet_ouder2), kolommen[24]
        )
        uitkomsten.append((antwoorden, uitkomst))
        per_route.setdefault(route, uitkomst)
    return _Tabellen(volgende, uitkomsten, per_route)


# --- inOnderzoek: the fields RvIG's gezagsmodule reads (its @VeldNummer annotations) ---------------


def _velden(categorie: str, historie: str, elementen: Iterable[str]) -> frozenset[str]:
    return frozenset({*(categorie + e for e in elementen), historie + "8120"})


_PERSOON_ELEMENTEN: Final = ("0120", "0210", "0220", "0230", "0240", "0310", "0410", "8120")
_BSN_PERSOON: Final = "010120"
_VELDEN_KIND: Final = (
    _velden("01", "51", (*_PERSOON_ELEMENTEN, "0330"))
    | _velden("02", "52", (*_PERSOON_ELEMENTEN, "6210"))
    | _velden("03", "53", (*_PERSOON_ELEMENTEN, "6210"))
    | {"113210", "113310", "118510"}
)
"""The minor's list: persoon (also its geboorteland), ouders and gezagsverhouding, all read."""
_VELDEN_LIJST_OUDER: Final = frozenset({_BSN_PERSOON, "010310", "113310"})
"""A parent's or partner's own list: looked up by BSN, checked for minority and curatele."""
_VELDEN_RELATIE: Final = frozenset(
    "05" + e for e in ("0120", "0210", "0220", "0230", "0240", "0310", "0410", "0610", "0710", "0740")
)
"""A parent's huwelijk/partnerschap, read when the rules ask about the parents' relations."""


def _dekt(aanduiding: str, veld: str) -> bool:
    """RvIG's match: the element itself, its group (CCGG00) or its categorie (CC0000)."""
    if aanduiding[2:] == "0000":
        return aanduiding[:2] == veld[:2]
    if aanduiding[4:] == "00":
        return aanduiding[:4] == veld[:4]
    return aanduiding == veld


def _telt_mee(aanduiding: str, velden: frozenset[str]) -> bool:
    # GezagsBepaling.warenVeldenInOnderzoek ignores "burgerservicenummer van persoon": an element
    # or group onderzoek that covers nothing else; an onderzoek of the whole categorie counts.
    gedekt = {veld for veld in velden if _dekt(aanduiding, veld)}
    return bool(gedekt - {_BSN_PERSOON}) or (bool(gedekt) and aanduiding[2:] == "0000")


# --- the facts of a persoonslijst --------------------------------------------------------------


def _lo3(datum: object) -> int | None:
    """A BRP API date object as RvIG's gezagsmodule reads the date: yyyymmdd, 00 for unknown parts."""
    if not isinstance(datum, Mapping):
        return None
    soort = datum.get("type")
    if soort == "Datum" and isinstance(datum.get("datum"), str):
        return int(datum["datum"].replace("-", ""))
    if soort == "JaarMaandDatum":
        return int(datum.get("jaar", 0)) * 10000 + int(datum.get("maand", 0)) * 100
    if soort == "JaarDatum":
        return int(datum.get("jaar", 0)) * 10000
    return 0 if soort == "DatumOnbekend" else None


def _getal(waarde: object) -> int | None:
    return int(waarde) if isinstance(waarde, str) and waarde.isdigit() else None


def _code(waardetabel: object) -> str | None:
    code = waardetabel.get("code") if isinstance(waardetabel, Mapping) else None
    return str(code) if code is not None else None


class _Ouder(msgspec.Struct, frozen=True):
    """Categorie 02 (ouder 1) or 03 (ouder 2) of the minor's persoonslijst."""

    aanduiding: str
    geslachtsnaam: str | None  # "." for a puntouder
    burgerservicenummer: str | None = None
    geslacht: str | None = None
    geboortedatum: int | None = None
    familierecht: int | None = None  # 62.10 datum ingang familierechtelijke betrekking
    aktenummers: tuple[str, ...] = ()
    volledige_naam: str | None = None

    @property
    def aanwezig(self) -> bool:
        """A legal parent whose identity is known (not absent, not a puntouder)."""
        return bool(self.geslachtsnaam) and self.geslachtsnaam != _PUNTOUDER

    def minderjarig(self, vandaag: int) -> bool:
        """Minor on the day, by the birth date on the child's persoonslijst."""
        return self.geboortedatum is not None and self.geboortedatum + _MEERDERJARIG > vandaag

    def erkend(self) -> bool:
        """Whether this parent recognised the child (erkenning or gerechtelijke vaststelling)."""
        return _akte(self.aktenummers, _ERKENNING)


class _Relatie(msgspec.Struct, frozen=True):
    """One voorkomen of a huwelijk or geregistreerd partnerschap (categorie 05/55)."""

    partner: str | None = None
    geslachtsnaam: str | None = None
    geboortedatum: int | None = None
    volledige_naam: str | None = None
    aangaan: int | None = None
    ontbinding: int | None = None
    reden: str | None = None
    geldigheid: int | None = None


class _Verbintenis(NamedTuple):
    """A huwelijk/partnerschap reconstructed from its voorkomens: partner, first and last day."""

    partner: str | None
    start: int
    einde: int | None


def _akte(aktenummers: Iterable[str], letters: Iterable[str]) -> bool:
    return any(len(nummer) >= 3 and nummer[2] in letters for nummer in aktenummers)


class _Lijst(msgspec.Struct, frozen=True):
    """A persoonslijst as RvIG's gezag rules read it."""

    person: Person
    burgerservicenummer: str | None
    geboortedatum: int  # 0 when unknown
    geboorteland: str | None
    gemeente: str | None
    gevestigd: bool  # 08.14.20 datum vestiging in Nederland is filled
    overleden_op: int | None  # opschorting O
    rni: bool  # opschorting R
    indicatie: str | None
    curatele: bool
    gezag_ingang: int | None
    aktenummers: tuple[str, ...]
    ouders: Mapping[str, _Ouder]
    relaties: tuple[_Relatie, ...]  # newest event first, as RvIG orders them
    verbintenissen: tuple[_Verbintenis, ...]  # newest first
    kinderen: tuple[tuple[str, int | None], ...]
    onderzoeken: tuple[tuple[str, int | None], ...] = ()  # (83.10, 83.30) the gezag module can match

    def in_onderzoek(self, velden: frozenset[str], vandaag: int) -> bool:
        """Whether an onderzoek running on the day covers one of these fields (RvIG's way)."""
        return any(
            (einde is None or einde >= vandaag) and _telt_mee(aanduiding, velden)
            for aanduiding, einde in self.onderzoeken
        )

    def minderjarig(self, vandaag: int) -> bool:
        """Younger than 18 on the day; an unknown birth date counts as adult."""
        return self.geboortedatum != 0 and self.geboortedatum + _MEERDERJARIG > vandaag

    def bevoegdheid(self, vandaag: int) -> str | None:
        """'o' overleden, 'c' onder curatele, 'm' minderjarig, or None when able to hold gezag."""
        if self.overleden_op is not None:
            return "o"
        if self.curatele:
            return "c"
        return "m" if self.minderjarig(vandaag) else None

    def ouder(self, aanduiding: str) -> _Ouder | None:
        """Ouder 1 or 2 as registered on this persoonslijst."""
        ouder = self.ouders.get(aanduiding)
        return ouder if ouder is not None and ouder.geslachtsnaam else None

    def verbintenis_op(self, datum: int) -> _Verbintenis | None:
        """The relation this person was in on the day (e.g. a child's birth)."""
        for verbintenis in self.verbintenissen:
            if verbintenis.start <= datum and (verbintenis.einde is None or verbintenis.einde > datum):
                return verbintenis
        return None

    def gehuwd_met(self, ouder: _Ouder) -> bool:
        """A relation with a person of that geslachtsnaam and birth date (a parent without a BSN)."""
        return any(
            r.geslachtsnaam == ouder.geslachtsnaam and r.geboortedatum == ouder.geboortedatum
            for r in self.relaties
        )

    def relaties_met(self, bsn: str | None) -> list[_Relatie]:
        """The voorkomens of relations with one partner, newest event first."""
        return [r for r in self.relaties if bsn is not None and r.partner == bsn]

    def gebeurtenissen_met(self, bsn: str | None) -> list[_Relatie]:
        """The voorkomens with a marriage or dissolution date of relations with one partner."""
        return [r for r in self.relaties_met(bsn) if r.aangaan is not None or r.ontbinding is not None]


def _verbintenissen(relaties: Iterable[_Relatie]) -> tuple[_Verbintenis, ...]:
    """The huwelijken/partnerschappen, newest first, rebuilt from start and end events.

    RvIG assumes relations follow each other (never two at once) and that an end without
    a partner is an administrative leftover.
    """
    events: list[tuple[int, bool, str | None]] = []
    for relatie in relaties:
        if relatie.ontbinding is not None:
            events.append((relatie.ontbinding, False, relatie.partner))
        if relatie.aangaan is not None:
            events.append((relatie.aangaan, True, relatie.partner))
    events.sort(key=lambda event: event[0], reverse=True)
    found: list[_Verbintenis] = []
    partner: str | None = None
    start: int | None = None
    einde: int | None = None
    for datum, is_start, wie in events:
        if is_start:
            partner, start = wie if wie is not None else partner, datum
            continue
        if start is not None:
            found.append(_Verbintenis(partner, start, einde))
            partner, start, einde = None, None, None
        if wie is not None:
            partner, einde = wie, datum
    if start is not None:
        found.append(_Verbintenis(partner, start, einde))
    return tuple(found)


def _lijst_van(person: Person) -> _Lijst:
    persoon = person.persoon
    extra = person.record.gezagsgegevens
    opschorting = persoon.get("opschortingBijhouding") or {}
    reden = _code(opschorting.get("reden"))
    immigratie = persoon.get("immigratie") or {}
    relaties = _relaties(persoon, extra)
    return _Lijst(
        person=person,
        burgerservicenummer=persoon.get("burgerservicenummer"),
        geboortedatum=_lo3((persoon.get("geboorte") or {}).get("datum")) or 0,
        geboorteland=_code((persoon.get("geboorte") or {}).get("land")),
        gemeente=_code(persoon.get("gemeenteVanInschrijving")),
        gevestigd=bool(immigratie.get("datumVestigingInNederland")),
        overleden_op=_lo3(opschorting.get("datum")) if reden == "O" else None,
        rni=reden == "R",
        indicatie=_code(persoon.get("indicatieGezagMinderjarige")),
        curatele=bool(persoon.get("indicatieCurateleRegister")),
        gezag_ingang=_getal(extra.get("ingangsdatumGezagsverhouding")),
        aktenummers=tuple(extra.get("aktenummers") or ()),
        ouders=_ouders(persoon, extra),
        relaties=relaties,
        verbintenissen=_verbintenissen(relaties),
        kinderen=tuple(
            (kind["burgerservicenummer"], _lo3((kind.get("geboorte") or {}).get("datum")))
            for kind in persoon.get("kinderen") or ()
            if kind.get("burgerservicenummer")
        ),
        onderzoeken=tuple(
            (str(o["aanduiding"]), _getal(o.get("datumEinde")))
            for o in extra.get("onderzoeken") or ()
            if isinstance(o, Mapping) and o.get("aanduiding")
        ),
    )


def _ouders(persoon: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, _Ouder]:
    ruw = {o.get("ouderAanduiding"): o for o in extra.get("ouders") or ()}
    ouders: dict[str, _Ouder] = {}
    for aanduiding in ("1", "2"):
        ouder: Mapping[str, Any] = next(
            (o for o in persoon.get("ouders") or () if o.get("ouderAanduiding") == aanduiding), {}
        )
        gegevens = ruw.get(aanduiding, {})
        naam = ouder.get("naam") or {}
        geslachtsnaam = _PUNTOUDER if gegevens.get("puntouder") else naam.get("geslachtsnaam")
        ouders[aanduiding] = _Ouder(
            aanduiding=aanduiding,
            geslachtsnaam=geslachtsnaam,
            burgerservicenummer=ouder.get("burgerservicenummer"),
            geslacht=_code(ouder.get("geslacht")),
            geboortedatum=_lo3((ouder.get("geboorte") or {}).get("datum")),
            familierecht=_lo3(ouder.get("datumIngangFamilierechtelijkeBetrekking")),
            aktenummers=tuple(gegevens.get("aktenummers") or ()),
            volledige_naam=gegevens.get("volledigeNaam") or _samengesteld(naam),
        )
    return ouders


def _relaties(persoon: Mapping[str, Any], extra: Mapping[str, Any]) -> tuple[_Relatie, ...]:
    if "relaties" in extra:
        relaties = [
            _Relatie(
                partner=r.get("burgerservicenummer"),
                geslachtsnaam=r.get("geslachtsnaam"),
                geboortedatum=_getal(r.get("geboortedatum")),
                volledige_naam=r.get("volledigeNaam"),
                aangaan=_getal(r.get("datumAangaan")),
                ontbinding=_getal(r.get("datumOntbinding")),
                reden=r.get("redenOntbinding"),
                geldigheid=_getal(r.get("ingangsdatumGeldigheid")),
            )
            for r in extra["relaties"]
        ]
    else:
        relaties = [_relatie_uit_partner(partner) for partner in persoon.get("partners") or ()]
    return _op_volgorde(relaties)


def _relatie_uit_partner(partner: Mapping[str, Any]) -> _Relatie:
    naam = partner.get("naam") or {}
    return _Relatie(
        partner=partner.get("burgerservicenummer"),
        geslachtsnaam=naam.get("geslachtsnaam"),
        geboortedatum=_lo3((partner.get("geboorte") or {}).get("datum")),
        volledige_naam=_samengesteld(naam),
        aangaan=_lo3((partner.get("aangaanHuwelijkPartnerschap") or {}).get("datum")),
        ontbinding=_lo3((partner.get("ontbindingHuwelijkPartnerschap") or {}).get("datum")),
    )


def _op_volgorde(relaties: Iterable[_Relatie]) -> tuple[_Relatie, ...]:
    # RvIG keeps the voorkomens newest first by their date (aangaan, else ontbinding, else
    # geldigheid), an ontbinding before an aangaan of the same day, and each (aangaan, ontbinding)
    # pair once.
    unique: dict[tuple[int | None, int | None], _Relatie] = {}
    for relatie in relaties:
        if _sleutel(relatie) is not None:
            unique.setdefault((relatie.aangaan, relatie.ontbinding), relatie)
    return tuple(sorted(unique.values(), key=lambda r: (_sleutel(r) or 0, r.aangaan is None), reverse=True))


def _sleutel(relatie: _Relatie) -> int | None:
    for datum in (relatie.aangaan, relatie.ontbinding, relatie.geldigheid):
        if datum is not None:
            return datum
    return None


def _samengesteld(naam: Mapping[str, Any]) -> str | None:
    # Only for hand-made data without `gezagsgegevens`: the converter writes RvIG's volledigeNaam.
    delen = (naam.get("voornamen"), naam.get("voorvoegsel"), naam.get("geslachtsnaam"))
    return " ".join(deel for deel in delen if deel) or None


# --- the walk through RvIG's decision tree -------------------------------------------------------


class _Ontbreekt(Exception):
    """A fact the rules need is missing: the walk stops (RvIG's AfleidingsregelException)."""

    def __init__(self, gegeven: str) -> None:
        super().__init__(gegeven)
        self.gegeven = gegeven


class _NietUniek(Exception):
    """More than one deliverable persoonslijst has the BSN: RvIG's lookup fails on it."""


class _Context:
    """The data set, the day and the persoonslijsten read so far, for one answer."""

    __slots__ = ("_lijsten", "dataset", "today", "vandaag")

    def __init__(self, dataset: Dataset, today: dt.date) -> None:
        self.dataset = dataset
        self.today = today
        self.vandaag = int(today.strftime("%Y%m%d"))
        self._lijsten: dict[str, _Lijst | None] = {}

    def lijst(self, bsn: str | None) -> _Lijst | None:
        """The persoonslijst with this BSN that RvIG delivers, if any (`_NietUniek` if several)."""
        if bsn is None:
            return None
        if bsn not in self._lijsten:
            found = self.dataset.by_bsn(bsn)
            if len(found) > 1:
                raise _NietUniek(bsn)
            self._lijsten[bsn] = _lijst_van(found[0]) if found else None
        return self._lijsten[bsn]

    def enige_lijst(self, bsn: str | None) -> _Lijst | None:
        """As `lijst`, but None for a BSN on several persoonslijsten."""
        try:
            return self.lijst(bsn)
        except _NietUniek:
            return None


class _Bepaling:
    """One derivation of the gezag over one minor: the answers given and the facts missing."""

    def __init__(self, context: _Context, minderjarige: _Lijst) -> None:
        self.context = context
        self.kind = minderjarige
        self.antwoorden: dict[str, str | None] = {}
        self.ontbrekend: list[str] = []
        self.relatie_niet_ouder: _Relatie | None = None
        self.staande_huwelijk_ouder: str | None = None
        # The ouder's partner at the birth, looked up only where RvIG's question 4b.1 does.
        self.niet_ouder: _Lijst | None = None
        # Parents or partner without a persoonslijst: tolerated by the walk, but the reason when
        # the walk cannot go on (RvIG keeps these apart and leaves its "%s" unfilled).
        self.niet_geregistreerd: list[str] = []
        self.foutcode: str | None = None
        # The lists of parents and partner this derivation looked up, and whether it read the
        # parents' relations: what RvIG's inOnderzoek looks at besides the minor's own list.
        self.opgehaald: dict[str, _Lijst] = {}
        self.relaties_gelezen = False

    # -- the people around the minor ----------------------------------------------------------

    def ouder(self, aanduiding: str) -> _Ouder | None:
        return self.kind.ouder(aanduiding)

    def aanwezig(self, aanduiding: str) -> bool:
        ouder = self.ouder(aanduiding)
        return ouder is not None and ouder.aanwezig

    def lijst_ouder(self, aanduiding: str) -> _Lijst | None:
        ouder = self.ouder(aanduiding)
        lijst = self.context.lijst(ouder.burgerservicenummer) if ouder is not None else None
        return self._opgehaald(f"ouder{aanduiding}", lijst)

    def lijst_niet_ouder(self) -> _Lijst | None:
        """The partner, at the birth, of the one parent whose persoonslijst is known."""
        lijsten = [lijst for lijst in (self.lijst_ouder("1"), self.lijst_ouder("2")) if lijst is not None]
        if len(lijsten) != 1 or self.kind.geboortedatum == 0:
            return None
        self.relaties_gelezen = True
        verbintenis = lijsten[0].verbintenis_op(self.kind.geboortedatum)
        lijst = self.context.lijst(verbintenis.partner) if verbintenis is not None else None
        return self._opgehaald("niet-ouder", lijst)

    def _opgehaald(self, rol: str, lijst: _Lijst | None) -> _Lijst | None:
        if lijst is not None:
            self.opgehaald[rol] = lijst
        return lijst

    def in_onderzoek(self) -> bool:
        """Whether a fact this derivation read is in onderzoek (RvIG's `warenVeldenInOnderzoek`)."""
        vandaag = self.context.vandaag
        if self.kind.in_onderzoek(_VELDEN_KIND, vandaag):
            return True
        return any(
            lijst.in_onderzoek(_VELDEN_LIJST_OUDER, vandaag)
            or (
                rol != "niet-ouder" and self.relaties_gelezen and lijst.in_onderzoek(_VELDEN_RELATIE, vandaag)
            )
            for rol, lijst in self.opgehaald.items()
        )

    def twee_ouders(self) -> bool:
        return self.aanwezig("1") and self.aanwezig("2")

    def token(self, aanduiding: str) -> str | None:
        """Why a parent cannot hold gezag ('o', 'c', 'm'), from their own list or the child's."""
        lijst = self.lijst_ouder(aanduiding)
        if lijst is not None:
            return lijst.bevoegdheid(self.context.vandaag)
        ouder = self.ouder(aanduiding)
        return "m" if ouder is not None and ouder.minderjarig(self.context.vandaag) else None

    def geregistreerd(self, wie: str, lijst: _Lijst | None) -> None:
        # A parent on the RNI lacks the facts gezag needs; one not found at all is tolerated.
        reden = f"{wie} van bevraagde persoon is niet in BRP geregistreerd"
        if lijst is None:
            self.niet_geregistreerd.append(reden)
        elif lijst.rni:
            raise _Ontbreekt(reden)

    def ouders_geregistreerd(self) -> tuple[_Lijst | None, _Lijst | None]:
        if not self.twee_ouders():
            raise _Ontbreekt("Van de bevraagde persoon zijn geen twee ouders bekend")
        lijst1, lijst2 = self.lijst_ouder("1"), self.lijst_ouder("2")
        if lijst1 is None:
            self.geregistreerd("ouder1", lijst1)
        elif lijst2 is None:
            self.geregistreerd("ouder2", lijst2)
        else:
            self.geregistreerd("ouder1", lijst1)
            self.geregistreerd("ouder2", lijst2)
        return lijst1, lijst2

    # -- the walk -----------------------------------------------------------------------------

    def bepaal(self) -> _Uitkomst | None:
        """Walk the tree from v1.1 and find the route of the answers in the answer model."""
        tabellen = _tabellen()
        vraag: str | None = "v1.1"
        try:
            while vraag is not None:
                antwoord = _VRAAG[vraag](self)
                self.antwoorden[vraag] = antwoord
                vraag = tabellen.volgende.get((vraag, antwoord)) if antwoord is not None else None
        except _Ontbreekt as ontbreekt:
            self.ontbrekend.append(ontbreekt.gegeven)
        except _NietUniek:
            # RvIG's lookup of a parent or partner fails: its error route, with a reference code.
            self.foutcode = str(uuid.uuid4())
            return tabellen.per_route["0"]
        gegeven = tuple(self.antwoorden.get(v) for v in _VRAGEN)
        route = next((u.route for antwoorden, u in tabellen.uitkomsten if antwoorden == gegeven), None)
        if route == "0" and self.ontbrekend:
            route = "0e"
        return tabellen.per_route.get(route) if route is not None else None

    # -- the questions ------------------------------------------------------------------------

    def v1_1(self) -> str | None:
        """Staat de minderjarige als ingezetene in de BRP?"""
        if self.kind.gemeente is None:
            self.ontbrekend.append("gemeente van inschrijving van bevraagde persoon")
            return None
        return "Nee" if self.kind.gemeente == _RNI else "Ja"

    def v1_2(self) -> str:
        """Is de persoon minderjarig en niet overleden?"""
        overleden = self.kind.overleden_op
        if overleden is not None and overleden < self.kind.geboortedatum + _MEERDERJARIG:
            return "Nee_overleden"
        return "Ja" if self.kind.minderjarig(self.context.vandaag) else "Nee_meerderjarig"

    def _ouders_nu_gehuwd(self) -> bool:
        # RvIG skips the questions about a stay abroad when both parents are married to each other now.
        try:
            return self.v2a_1() == "Ja"
        except _Ontbreekt:
            return False

    def v1_3(self) -> str | None:
        """Is de minderjarige naar het buitenland geëmigreerd geweest?"""
        if self._ouders_nu_gehuwd():
            return "Nee"
        if not self.kind.geboorteland:
            self.ontbrekend.append("Geboorteland van bevraagde persoon")
            return None
        return "Ja" if self.kind.geboorteland == _NEDERLAND and self.kind.gevestigd else "Nee"

    def v1_3a(self) -> str | None:
        """Is de minderjarige in het buitenland geboren?"""
        if self._ouders_nu_gehuwd():
            return "Nee"
        if not self.kind.geboorteland:
            self.ontbrekend.append("Geboorteland van bevraagde persoon")
            return None
        return "Nee" if self.kind.geboorteland == _NEDERLAND else "Ja"

    def v1_3b(self) -> str:
        """Is de minderjarige geadopteerd met een Nederlandse akte?"""
        return "Ja" if _akte(self.kind.aktenummers, _ADOPTIE) else "Nee"

    def v1_4(self) -> str:
        """Is er een uitspraak over het gezag (indicatie gezag minderjarige)?"""
        return "Ja" if self.kind.indicatie in _INDICATIES else "Nee"

    def v2_1(self) -> str:
        """Hoeveel juridische ouders heeft de minderjarige?"""
        namen = [ouder.geslachtsnaam if ouder else None for ouder in (self.ouder("1"), self.ouder("2"))]
        if _PUNTOUDER in namen:
            return "1_of_2_puntouders"
        if namen == [None, None]:
            return "Geen_ouders"
        return "Een_ouder" if None in namen else "Twee_ouders"

    def v2a_1(self) -> str | None:
        """Zijn de juridische ouders nu met elkaar gehuwd of partners (Nee_nooit: nooit na de geboorte)?"""
        self.relaties_gelezen = True
        lijst1, lijst2 = self.ouders_geregistreerd()
        if lijst1 is None or lijst2 is None:
            # A parent without a persoonslijst: a relation is recognised by name and birth date.
            bekend, ander = (lijst1, self.ouder("2")) if lijst1 is not None else (lijst2, self.ouder("1"))
            if bekend is None or ander is None:
                return "Nee_nooit"
            return "Ja" if bekend.gehuwd_met(ander) else "Nee_nooit"
        relaties1 = lijst1.relaties_met(lijst2.burgerservicenummer)
        relaties2 = lijst2.relaties_met(lijst1.burgerservicenummer)
        if not relaties1 or not relaties2:
            return "Nee_nooit"
        if relaties1[0].aangaan is not None and relaties2[0].aangaan is not None:
            levend = lijst1.overleden_op is None and lijst2.overleden_op is None
            return "Ja" if levend else "Nee"
        if any(_gescheiden_voor(r[0], self.kind.geboortedatum) for r in (relaties1, relaties2)):
            return "Nee_nooit"
        return "Nee"

    def v2a_2(self) -> str:
        """Zijn de ouders adoptiefouders?"""
        return self.v1_3b()

    def v2a_3(self) -> str | None:
        """Is de minderjarige erkend voor of na 1-1-2023, en wie is de geboortemoeder?"""
        ouder1, ouder2 = self.ouder("1"), self.ouder("2")
        if ouder1 is None or ouder2 is None:
            raise _Ontbreekt("een ouder van de bevraagde persoon")
        erkend = _akte(self.kind.aktenummers, _ERKENNING | {_GEBOORTE})
        for ouder in (ouder1, ouder2):
            if erkend and ouder.familierecht is None:
                self.ontbrekend.append(f"datum ingang familiebetrekking van ouder {ouder.aanduiding}")
                return None
        if erkend and max(ouder1.familierecht or 0, ouder2.familierecht or 0) >= _ERKENNINGSWET:
            return "Na"
        door1, door2 = ouder1.erkend(), ouder2.erkend()
        if door1 != door2:
            # The parent who recognised the child is not its mother: the other one had gezag.
            return "Voor_ouder2" if door1 else "Voor_ouder1"
        if self.kind.geboortedatum >= _ERKENNINGSWET:
            return "Na"
        vrouw1, vrouw2 = ouder1.geslacht == "V", ouder2.geslacht == "V"
        if vrouw1 != vrouw2:
            return "Voor_ouder1" if vrouw1 else "Voor_ouder2"
        return "Voor"

    def v2b_1(self) -> str:
        """Is de minderjarige staande huwelijk of partnerschap van de ouder geboren?"""
        self.relaties_gelezen = True
        antwoord = "Nee"
        for aanduiding, ander in (("1", "2"), ("2", "1")):
            if not self.aanwezig(aanduiding):
                continue
            lijst = self.lijst_ouder(aanduiding)
            self.geregistreerd(f"ouder{aanduiding}", lijst)
            ontkend = _akte(_aktenummers(self.ouder(ander)), _ONTKENNING)
            if self._geboren_in_relatie(lijst) and not ontkend:
                antwoord = "Ja"
                self.staande_huwelijk_ouder = aanduiding
        return antwoord

    def _geboren_in_relatie(self, lijst: _Lijst | None) -> bool:
        if lijst is None or self.kind.geboortedatum == 0:
            return False
        verbintenis = lijst.verbintenis_op(self.kind.geboortedatum)
        if verbintenis is None:
            return False
        self.relatie_niet_ouder = next(
            (r for r in lijst.relaties if r.aangaan == verbintenis.start), self.relatie_niet_ouder
        )
        return True

    def v3_1(self) -> str:
        """Is het gezag na de uitspraak door een recente gebeurtenis toch (weer) van rechtswege?"""
        self.relaties_gelezen = True
        indicatie = self.kind.indicatie
        antwoord = "Ja" if indicatie == "12" and not self.twee_ouders() else None
        ingang = self.kind.gezag_ingang
        if not ingang:
            raise _Ontbreekt("ingangsdatum geldigheid van gezagsverhouding")
        if self._geadopteerd_na(ingang):
            antwoord = "Ja"
        if (
            indicatie in {"1", "2"}
            and self.twee_ouders()
            and self._ouders_hebben_bsn()
            and _opnieuw_gehuwd_na(self.lijst_ouder("1"), self.lijst_ouder("2"), ingang)
        ):
            antwoord = "Ja"
        return antwoord or "Nee"

    def _ouders_hebben_bsn(self) -> bool:
        return all((o := self.ouder(a)) is not None and o.burgerservicenummer for a in ("1", "2"))

    def _geadopteerd_na(self, ingang: int) -> bool:
        if not _akte(self.kind.aktenummers, _ADOPTIE):
            return False
        data = [o.familierecht if o else None for o in (self.ouder("1"), self.ouder("2"))]
        if None in data:
            return False
        return any(datum is not None and datum >= ingang for datum in data)

    def v3_2(self) -> str | None:
        """Wat is de indicatie gezag minderjarige?"""
        return self.kind.indicatie

    def v4a_2(self) -> str:
        """Zijn de ouders overleden of onbevoegd tot gezag?"""
        self.ouders_geregistreerd()
        token1, token2 = self.token("1"), self.token("2")
        if token1 and token2:
            return _BEIDE_OUDERS[token1 + token2]
        if token1:
            return "Ja_ouder1"
        return "Ja_ouder2" if token2 else "Nee"

    def v4a_3(self) -> str:
        """Is de ouder met gezag overleden of onbevoegd tot gezag?"""
        erkenning, indicatie = self.antwoorden.get("v2a.3"), self.antwoorden.get("v3.2")
        irrelevant1 = erkenning == "Voor_ouder2" or indicatie == "2" or not self.aanwezig("1")
        irrelevant2 = erkenning == "Voor_ouder1" or indicatie == "1" or not self.aanwezig("2")
        token1 = "?" if irrelevant1 else self.token("1") or "?"
        token2 = "?" if irrelevant2 else self.token("2") or "?"
        antwoord = _EEN_OUDER["".join(sorted(token1 + token2))]
        if irrelevant1:
            self.geregistreerd("ouder2", self.lijst_ouder("2"))
            return "Nee_ouder2" if antwoord == "Nee" else antwoord
        if irrelevant2:
            self.geregistreerd("ouder1", self.lijst_ouder("1"))
            return "Nee_ouder1" if antwoord == "Nee" else antwoord
        return antwoord

    def v4b_1(self) -> str:
        """Is de ouder, of diens partner met gezamenlijk gezag, overleden of onbevoegd tot gezag?"""
        if self.kind.indicatie not in {"1D", "2D"}:
            self.niet_ouder = self.lijst_niet_ouder()
            self.geregistreerd("niet-ouder", self.niet_ouder)
        niet_ouder = self.niet_ouder
        niet_ouder_token = niet_ouder.bevoegdheid(self.context.vandaag) if niet_ouder else None
        ouder2_irrelevant = (
            self.staande_huwelijk_ouder == "1" or self.kind.indicatie == "1D" or not self.aanwezig("2")
        )
        aanduiding = "1" if ouder2_irrelevant else "2"
        ouder_token = self.token(aanduiding)
        self.geregistreerd(f"ouder{aanduiding}", self.lijst_ouder(aanduiding))
        if ouder_token and niet_ouder_token:
            return _OUDER_EN_PARTNER[ouder_token + niet_ouder_token]
        if ouder_token:
            return f"Ja_ouder{aanduiding}"
        return f"Ja_nietouder{aanduiding}" if niet_ouder_token else "Nee"


def _aktenummers(ouder: _Ouder | None) -> tuple[str, ...]:
    return ouder.aktenummers if ouder is not None else ()


def _gescheiden_voor(relatie: _Relatie, geboortedatum: int) -> bool:
    return relatie.reden == "S" and relatie.ontbinding is not None and relatie.ontbinding < geboortedatum


def _opnieuw_gehuwd_na(lijst1: _Lijst | None, lijst2: _Lijst | None, ingang: int) -> bool:
    """Both parents (re)married each other on or after the uitspraak, after an earlier relation."""
    if lijst1 is None or lijst2 is None:
        return False
    laatste: list[int | None] = []
    for lijst, ander in ((lijst1, lijst2), (lijst2, lijst1)):
        relaties = lijst.gebeurtenissen_met(ander.burgerservicenummer)
        if len(relaties) < 2:
            return False
        laatste.append(max((r.aangaan for r in relaties if r.aangaan is not None), default=None))
    return all(datum is not None and datum >= ingang for datum in laatste)


_BEIDE_OUDERS: Final = {
    "cc": "Ja_beiden_onder_curatele",
    "cm": "Ja_ouder_onder_curatele_en_andere_ouder_minderjarig",
    "mc": "Ja_ouder_onder_curatele_en_andere_ouder_minderjarig",
    "co": "Ja_ouder_overleden_en_andere_ouder_onder_curatele",
    "oc": "Ja_ouder_overleden_en_andere_ouder_onder_curatele",
    "mm": "Ja_beiden_minderjarig",
    "mo": "Ja_ouder_overleden_en_andere_ouder_minderjarig",
    "om": "Ja_ouder_overleden_en_andere_ouder_minderjarig",
    "oo": "Ja_beiden_overleden",
}
_EEN_OUDER: Final = {
    "??": "Nee",
    "?c": "Ja_ouder_onder_curatele",
    "?m": "Ja_ouder_minderjarig",
    "?o": "Ja_ouder_overleden",
    "cc": "Ja_beiden_onder_curatele",
    "cm": "Ja_ouder_onder_curatele_en_andere_ouder_minderjarig",
    "co": "Ja_ouder_overleden_en_andere_ouder_onder_curatele",
    "mm": "Ja_beiden_minderjarig",
    "mo": "Ja_ouder_overleden_en_andere_ouder_minderjarig",
    "oo": "Ja_beiden_overleden",
}
_OUDER_EN_PARTNER: Final = {
    "cc": "Ja_beiden_onder_curatele",
    "cm": "Ja_ouder_onder_curatele_en_niet_ouder_minderjarig",
    "co": "Ja_ouder_onder_curatele_en_niet_ouder_overleden",
    "mc": "Ja_ouder_minderjarig_en_niet_ouder_onder_curatele",
    "mm": "Ja_beiden_minderjarig",
    "mo": "Ja_ouder_minderjarig_en_niet_ouder_overleden",
    "oc": "Ja_ouder_overleden_en_niet_ouder_onder_curatele",
    "om": "Ja_ouder_overleden_en_niet_ouder_minderjarig",
    "oo": "Ja_beiden_overleden",
}
"""The answer names of RvIG's questions 4a.2, 4a.3 and 4b.1 per pair of reasons."""

_VRAAG: Final[Mapping[str, Callable[[_Bepaling], str | None]]] = {
    "v1.1": _Bepaling.v1_1,
    "v1.2": _Bepaling.v1_2,
    "v1.3": _Bepaling.v1_3,
    "v1.3a": _Bepaling.v1_3a,
    "v1.3b": _Bepaling.v1_3b,
    "v1.4": _Bepaling.v1_4,
    "v2.1": _Bepaling.v2_1,
    "v2a.1": _Bepaling.v2a_1,
    "v2a.2": _Bepaling.v2a_2,
    "v2a.3": _Bepaling.v2a_3,
    "v2b.1": _Bepaling.v2b_1,
    "v3.1": _Bepaling.v3_1,
    "v3.2": _Bepaling.v3_2,
    "v4a.2": _Bepaling.v4a_2,
    "v4a.3": _Bepaling.v4a_3,
    "v4b.1": _Bepaling.v4b_1,
}


# --- the gezagsrelaties of an answer -------------------------------------------------------------


def gezag_van(dataset: Dataset, person: Person, today: dt.date, age_of: AgeOf) -> list[dict[str, Any]]:
    """The `gezag` of a person on `today`, as RvIG's Personen API delivers it.

    For a minor: the gezag over them. Then, for anyone: the gezag over each minor child of the
    person or of a (former) partner in which the person holds gezag (as ouder, or as derde by law or
    voogd); an adult's TijdelijkGeenGezag or GezagNietTeBepalen over a child is not delivered.
    """
    bsn = person.burgerservicenummer
    if bsn is None:
        return []
    context = _Context(dataset, today)
    zelf = _lijst_van(person)
    relaties = _gezag_over(context, zelf, bsn, age_of)
    for kind in _minderjarige_kinderen(context, zelf):
        relaties.extend(_gezag_over(context, kind, bsn, age_of))
    return relaties


def _minderjarige_kinderen(context: _Context, ouder: _Lijst) -> list[_Lijst]:
    bsns: dict[str, None] = {}
    # A partner or child whose BSN is on several persoonslijsten is left out (RvIG's lookup fails).
    partners = [context.enige_lijst(r.partner) for r in ouder.relaties if r.partner]
    for lijst in (ouder, *(p for p in partners if p is not None)):
        for kind_bsn, geboren in lijst.kinderen:
            if geboren is not None and geboren + _MEERDERJARIG > context.vandaag:
                bsns.setdefault(kind_bsn)
    return [kind for kind in map(context.enige_lijst, bsns) if kind is not None]


def _gezag_over(context: _Context, kind: _Lijst, gevraagd: str, age_of: AgeOf) -> list[dict[str, Any]]:
    if not kind.minderjarig(context.vandaag):
        return []
    bepaling = _Bepaling(context, kind)
    uitkomst = bepaling.bepaal()
    zelf = kind.burgerservicenummer == gevraagd
    minderjarige = _minderjarige(kind, context, age_of)
    if uitkomst is None:
        # RvIG answers a route missing from its answer model as "niet te bepalen".
        relatie = _niet_te_bepalen(minderjarige, _ONVERWACHT) if zelf else None
    else:
        relatie = _Relaties(bepaling, uitkomst, minderjarige, gevraagd).relatie()
    if relatie is None:
        return []
    if bepaling.in_onderzoek():
        relatie["inOnderzoek"] = True
    return [relatie]


class _Relaties:
    """Turns the outcome of one derivation into the Gezagsrelatie the asked person receives."""

    def __init__(
        self, bepaling: _Bepaling, uitkomst: _Uitkomst, minderjarige: dict[str, Any], gevraagd: str
    ) -> None:
        self.bepaling = bepaling
        self.uitkomst = uitkomst
        self.minderjarige = minderjarige
        self.zelf = bepaling.kind.burgerservicenummer == gevraagd
        self.gevraagd = gevraagd
        context, ouder1, ouder2 = bepaling.context, bepaling.ouder("1"), bepaling.ouder("2")
        lijst1 = context.enige_lijst(ouder1.burgerservicenummer) if ouder1 else None
        lijst2 = context.enige_lijst(ouder2.burgerservicenummer) if ouder2 else None
        self.bsn1 = lijst1.burgerservicenummer if lijst1 else None
        self.bsn2 = lijst2.burgerservicenummer if lijst2 else None
        self.niet_ouder = bepaling.niet_ouder
        self.uitspraak = bepaling.antwoorden.get("v3.2") in {"1D", "2D"}

    def relatie(self) -> dict[str, Any] | None:
        """The relation, or None where the asked person holds no gezag in it."""
        if not self._betrokken():
            return None
        soort = self.uitkomst.soort
        if soort == "OG1":
            return self._eenhoofdig()
        if soort == "OG2":
            return self._gezamenlijk_ouderlijk()
        if soort == "GG":
            return self._gezamenlijk()
        if soort == "V":
            return self._voogdij()
        if soort in {"G", "N"} and self.zelf:
            soort_naam = "TijdelijkGeenGezag" if soort == "G" else "GezagNietTeBepalen"
            return {"type": soort_naam, "minderjarige": self.minderjarige, "toelichting": self._toelichting()}
        return None

    def _betrokken(self) -> bool:
        u = self.uitkomst
        niet_ouder = self.niet_ouder.burgerservicenummer if self.niet_ouder else None
        return (
            self.zelf
            or (self.gevraagd == self.bsn1 and u.ouder1)
            or (self.gevraagd == self.bsn2 and u.ouder2)
            or (self.gevraagd == niet_ouder and not self.uitspraak)
        )

    def _ouder(self, aanduiding: str) -> dict[str, Any]:
        ouder = self.bepaling.ouder(aanduiding)
        return _gezag_persoon(
            ouder.burgerservicenummer if ouder else None, ouder.volledige_naam if ouder else None
        )

    def _eenhoofdig(self) -> dict[str, Any] | None:
        for aanduiding, heeft, bsn in (
            ("1", self.uitkomst.ouder1, self.bsn1),
            ("2", self.uitkomst.ouder2, self.bsn2),
        ):
            if heeft and (self.zelf or bsn is None or self.gevraagd == bsn):
                return self._met("EenhoofdigOuderlijkGezag", ouder=self._ouder(aanduiding))
        return None

    def _gezamenlijk_ouderlijk(self) -> dict[str, Any]:
        return self._met("GezamenlijkOuderlijkGezag", ouders=[self._ouder("1"), self._ouder("2")])

    def _gezamenlijk(self) -> dict[str, Any]:
        ouder = self._ouder("1" if self.uitkomst.ouder1 and self.bsn1 is not None else "2")
        relatie = self.bepaling.relatie_niet_ouder
        if relatie is not None:
            derde = {"type": "BekendeDerde", **_gezag_persoon(relatie.partner, relatie.volledige_naam)}
        elif self.niet_ouder is None or self.uitspraak:
            derde = {"type": "OnbekendeDerde"}
        else:
            derde = {"type": "BekendeDerde", **_gezag_persoon_van(self.niet_ouder)}
        return self._met("GezamenlijkGezag", ouder=ouder, derde=derde)

    def _voogdij(self) -> dict[str, Any] | None:
        niet_ouder = self.niet_ouder
        if not self.zelf and (niet_ouder is None or niet_ouder.burgerservicenummer != self.gevraagd):
            return None
        derden = []
        if self.uitkomst.niet_ouder and niet_ouder is not None:
            derden.append({"type": "BekendeDerde", **_gezag_persoon_van(niet_ouder)})
        return self._met("Voogdij", derden=derden)

    def _met(self, soort: str, **personen: Any) -> dict[str, Any]:
        return {"type": soort, "minderjarige": self.minderjarige, **personen}

    def _toelichting(self) -> str:
        uitleg = self.uitkomst.uitleg
        if self.bepaling.foutcode is not None:
            uitleg = uitleg.replace("%s", self.bepaling.foutcode)
        elif "%s" in uitleg:
            # RvIG lists the missing facts comma-separated; the spec's Toelichting forbids a comma.
            ontbrekend = self.bepaling.ontbrekend or self.bepaling.niet_geregistreerd
            uitleg = uitleg.replace("%s", "; ".join(dict.fromkeys(ontbrekend)) or "onbekend")
        return _toegestaan(uitleg)


def _toegestaan(tekst: str) -> str:
    """A toelichting reduced to the characters the spec allows, at most 400 of them."""
    return " ".join(_TOELICHTING_TEKENS.sub("", tekst).split())[:400]


def _niet_te_bepalen(minderjarige: dict[str, Any], toelichting: str) -> dict[str, Any]:
    return {
        "type": "GezagNietTeBepalen",
        "minderjarige": minderjarige,
        "toelichting": _toegestaan(toelichting),
    }


def _gezag_persoon(bsn: str | None, volledige_naam: str | None) -> dict[str, Any]:
    persoon: dict[str, Any] = {"naam": {"volledigeNaam": volledige_naam} if volledige_naam else {}}
    if bsn:
        persoon = {"burgerservicenummer": bsn, **persoon}
    return persoon


def _gezag_persoon_van(lijst: _Lijst) -> dict[str, Any]:
    naam = lijst.person.persoon.get("naam") or {}
    return _gezag_persoon(lijst.burgerservicenummer, naam.get("volledigeNaam"))


def _minderjarige(kind: _Lijst, context: _Context, age_of: AgeOf) -> dict[str, Any]:
    minderjarige = _gezag_persoon_van(kind)
    if not minderjarige["naam"]:
        del minderjarige["naam"]
    leeftijd = age_of(kind.person, context.today)
    if leeftijd is not None:
        minderjarige["leeftijd"] = leeftijd
    return minderjarige
