"""The sandbox's test data, loaded once and indexed for RvIG's queries.

This module owns reading `personen.json` (RvIG's test persons as BRP API v2 `Persoon` objects plus
their verblijfplaats history) and `bewoning.json` (RvIG's Bewoning mock data), the search keys
derived from them (diacritics- and case-free names, postcode without space, ...), the indexes the
queries use, which gemeenten an adresseerbaar object belongs to (herindelingen of tabel 33
included), and the date arithmetic on (partly) unknown BRP dates.

The data is immutable after loading and shared by every request. This module never logs person
data (only counts) and never writes the files: editing them is the user's job ("uw testgegevens
aanpassen"); point `data_dir` in `sandbox.toml` at a copy.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

import msgspec
import structlog

from app.sandbox.data.tabellen import landelijke_tabellen
from app.sandbox.onderzoek import heeft_onderzoek

__all__ = [
    "SUPPRESSED_OPSCHORTING",
    "BewoningRecord",
    "Dataset",
    "DateRange",
    "Person",
    "PersonRecord",
    "date_range_of_brp_date",
    "date_range_of_lo3_date",
    "load_dataset",
    "normalise",
]

_log = structlog.get_logger("app.sandbox.dataset")

# Persoonslijsten suspended for these reasons are never delivered by RvIG (F: fout, W: wissen).
SUPPRESSED_OPSCHORTING: Final = frozenset({"F", "W"})
_DECEASED_OPSCHORTING: Final = "O"

_MIN: Final = dt.date.min
_MAX: Final = dt.date.max


# --- files ---------------------------------------------------------------------------------------


class PersonRecord(msgspec.Struct, frozen=True):
    """One persoonslijst of `personen.json`."""

    persoonslijst: str
    persoon: dict[str, Any]
    verblijfplaatshistorie: list[dict[str, Any]] = msgspec.field(default_factory=list)
    # Raw LO GBA facts the gezag derivation needs beyond the Persoon (see app/sandbox/gezag.py).
    gezagsgegevens: dict[str, Any] = msgspec.field(default_factory=dict)


class _PersonenFile(msgspec.Struct, frozen=True):
    personen: list[PersonRecord]
    bron: Any = None


class BewoningVerblijfplaats(msgspec.Struct, frozen=True, rename="camel"):
    """One address occupancy of the Bewoning data (LO3 dates `yyyymmdd`, `00` for unknown)."""

    adresseerbaar_object_identificatie: str | None = None
    datum_aanvang_adreshouding: str | None = None
    datum_einde_adreshouding: str | None = None
    datum_aanvang_adres_buitenland: str | None = None
    aangifte_adreshouding: str | None = None
    in_onderzoek: dict[str, str] | None = None


class BewoningRecord(msgspec.Struct, frozen=True, rename="camel"):
    """One record of `bewoning.json` (RvIG's Bewoning mock data, verbatim)."""

    burgerservicenummer: str
    geheimhouding_persoonsgegevens: str | None = None
    verblijfplaats: BewoningVerblijfplaats | None = None


# --- dates ---------------------------------------------------------------------------------------


class DateRange(msgspec.Struct, frozen=True):
    """The days a (partly) unknown date may be: `first` up to and including `last`.

    A fully known date has `first == last`; a fully unknown one spans `date.min`..`date.max`.
    """

    first: dt.date
    last: dt.date

    @property
    def is_exact(self) -> bool:
        """Whether the date is fully known."""
        return self.first == self.last


_UNKNOWN: Final = DateRange(first=_MIN, last=_MAX)


def date_range_of_lo3_date(value: str | None) -> DateRange:
    """The range of an LO3 date `yyyymmdd` with `00` for unknown parts (unknown when absent)."""
    if not value or len(value) != 8 or not value.isdigit():
        return _UNKNOWN
    return _range_of_parts(int(value[:4]), int(value[4:6]), int(value[6:]))


def date_range_of_brp_date(value: Mapping[str, Any] | None) -> DateRange:
    """The range of a BRP API date object (`Datum`, `JaarMaandDatum`, `JaarDatum`, `DatumOnbekend`)."""
    if not value:
        return _UNKNOWN
    kind = value.get("type")
    if kind == "Datum" and isinstance(value.get("datum"), str):
        day = dt.date.fromisoformat(value["datum"])
        return DateRange(first=day, last=day)
    if kind == "JaarMaandDatum":
        return _range_of_parts(int(value.get("jaar", 0)), int(value.get("maand", 0)), 0)
    if kind == "JaarDatum":
        return _range_of_parts(int(value.get("jaar", 0)), 0, 0)
    return _UNKNOWN


def _range_of_parts(year: int, month: int, day: int) -> DateRange:
    try:
        if year == 0:
            return _UNKNOWN
        if month == 0:
            return DateRange(first=dt.date(year, 1, 1), last=dt.date(year, 12, 31))
        first_of_month = dt.date(year, month, 1)
        if day == 0:
            return DateRange(first=first_of_month, last=_last_of_month(first_of_month))
        exact = dt.date(year, month, day)
    except ValueError:
        return _UNKNOWN
    return DateRange(first=exact, last=exact)


def _last_of_month(first: dt.date) -> dt.date:
    next_month = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return next_month - dt.timedelta(days=1)


# --- search keys ---------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Case- and diacritics-free form for RvIG's matching: NFKD, no combining marks, casefolded."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def _normalised_postcode(value: str | None) -> str | None:
    return value.replace(" ", "").upper() if value else None


class Person(msgspec.Struct, frozen=True):
    """A persoonslijst with the search keys RvIG's queries match on (all normalised)."""

    record: PersonRecord
    burgerservicenummer: str | None
    geslachtsnaam: str
    voornamen: str
    voorvoegsel: str
    geslacht: str
    geboortedatum: dt.date | None
    deceased: bool
    suppressed: bool
    gemeente_van_inschrijving: str | None
    postcode: str | None
    huisnummer: int | None
    huisletter: str
    huisnummertoevoeging: str
    straatnamen: tuple[str, ...]
    nummeraanduiding_identificatie: str | None
    adresseerbaar_object_identificatie: str | None
    in_onderzoek: bool  # some group has inOnderzoek flags (answers then need app.sandbox.onderzoek)

    @property
    def persoon(self) -> dict[str, Any]:
        """The BRP API `Persoon` object (without `leeftijd`, which depends on the day)."""
        return self.record.persoon

    @classmethod
    def of(cls, record: PersonRecord) -> Person:
        """Derive the search keys of one persoonslijst."""
        persoon = record.persoon
        naam = persoon.get("naam") or {}
        verblijfplaats = persoon.get("verblijfplaats") or {}
        # Only a Dutch address (type Adres) has the parts the address searches match on.
        is_adres = verblijfplaats.get("type") == "Adres"
        adres = (verblijfplaats.get("verblijfadres") or {}) if is_adres else {}
        geboorte = date_range_of_brp_date((persoon.get("geboorte") or {}).get("datum"))
        opschorting = _code((persoon.get("opschortingBijhouding") or {}).get("reden"))
        return cls(
            record=record,
            burgerservicenummer=persoon.get("burgerservicenummer"),
            geslachtsnaam=normalise(naam.get("geslachtsnaam", "")),
            voornamen=normalise(naam.get("voornamen", "")),
            voorvoegsel=normalise(naam.get("voorvoegsel", "")),
            geslacht=(_code(persoon.get("geslacht")) or "").upper(),
            geboortedatum=geboorte.first if geboorte.is_exact else None,
            deceased=bool(persoon.get("overlijden")) or opschorting == _DECEASED_OPSCHORTING,
            suppressed=opschorting in SUPPRESSED_OPSCHORTING,
            gemeente_van_inschrijving=_code(persoon.get("gemeenteVanInschrijving")),
            postcode=_normalised_postcode(adres.get("postcode")),
            huisnummer=_huisnummer(adres.get("huisnummer")),
            huisletter=normalise(adres.get("huisletter", "")),
            huisnummertoevoeging=normalise(adres.get("huisnummertoevoeging", "")),
            straatnamen=_straatnamen(adres),
            nummeraanduiding_identificatie=verblijfplaats.get("nummeraanduidingIdentificatie"),
            adresseerbaar_object_identificatie=verblijfplaats.get("adresseerbaarObjectIdentificatie"),
            in_onderzoek=heeft_onderzoek(persoon),
        )


def _huisnummer(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _straatnamen(adres: Mapping[str, Any]) -> tuple[str, ...]:
    # RvIG's straat search matches the short (NEN) name as well as the official one.
    names = (adres.get(key) for key in ("korteStraatnaam", "officieleStraatnaam"))
    return tuple(dict.fromkeys(normalise(name) for name in names if name))


def _code(waardetabel: object) -> str | None:
    if isinstance(waardetabel, dict):
        code = waardetabel.get("code")
        return str(code) if code is not None else None
    return None


# --- the data set --------------------------------------------------------------------------------


def _index(persons: Iterable[Person], key: Any) -> dict[Any, tuple[Person, ...]]:
    grouped: dict[Any, list[Person]] = defaultdict(list)
    for person in persons:
        value = key(person)
        if value is not None:
            grouped[value].append(person)
    return {k: tuple(v) for k, v in grouped.items()}


class Dataset:
    """Every test person and Bewoning record, with the indexes the sandbox's queries use.

    Suppressed persoonslijsten (opschorting F/W) are kept (so the data can be inspected) but every
    lookup method leaves them out, as RvIG never delivers them.
    """

    __slots__ = (
        "_all_bsns",
        "_aoi_gemeenten",
        "_bewoning_by_aoi",
        "_by_aoi",
        "_by_bsn",
        "_by_geboortedatum",
        "_by_gemeente",
        "_by_nummeraanduiding",
        "_by_postcode_huisnummer",
        "_geheime_bewoners",
        "persons",
    )

    def __init__(self, records: Sequence[PersonRecord], bewoning: Sequence[BewoningRecord]) -> None:
        persons = tuple(Person.of(r) for r in records)
        self.persons = persons
        visible = [p for p in persons if not p.suppressed]
        self._by_bsn = _index(visible, lambda p: p.burgerservicenummer)
        self._by_aoi = _index(visible, lambda p: p.adresseerbaar_object_identificatie)
        self._by_nummeraanduiding = _index(visible, lambda p: p.nummeraanduiding_identificatie)
        self._by_geboortedatum = _index(visible, lambda p: p.geboortedatum)
        self._by_gemeente = _index(visible, lambda p: p.gemeente_van_inschrijving)
        self._by_postcode_huisnummer = _index(
            visible, lambda p: (p.postcode, p.huisnummer) if p.postcode and p.huisnummer else None
        )
        self._bewoning_by_aoi: dict[str, tuple[BewoningRecord, ...]] = {
            aoi: tuple(group) for aoi, group in _group_bewoning(bewoning).items()
        }
        self._aoi_gemeenten = _aoi_gemeenten(persons)
        self._all_bsns = frozenset(p.burgerservicenummer for p in persons if p.burgerservicenummer)
        # The Bewoning data carries the indicatie geheim on one record per person only.
        self._geheime_bewoners = frozenset(
            r.burgerservicenummer for r in bewoning if (r.geheimhouding_persoonsgegevens or "0") != "0"
        )

    def by_bsn(self, bsn: str) -> tuple[Person, ...]:
        """The persoonslijsten with this BSN (normally one)."""
        return self._by_bsn.get(bsn, ())

    def by_adresseerbaar_object(self, aoi: str) -> tuple[Person, ...]:
        """The persons whose current verblijfplaats is this adresseerbaar object."""
        return self._by_aoi.get(aoi, ())

    def by_nummeraanduiding(self, identificatie: str) -> tuple[Person, ...]:
        """The persons whose current address is this nummeraanduiding."""
        return self._by_nummeraanduiding.get(identificatie, ())

    def by_geboortedatum(self, day: dt.date) -> tuple[Person, ...]:
        """The persons born on this (fully known) day."""
        return self._by_geboortedatum.get(day, ())

    def by_gemeente(self, gemeente_code: str) -> tuple[Person, ...]:
        """The persons registered in this gemeente."""
        return self._by_gemeente.get(gemeente_code, ())

    def by_postcode_huisnummer(self, postcode: str, huisnummer: int) -> tuple[Person, ...]:
        """The persons living at this postcode (any case, with or without space) and house number."""
        return self._by_postcode_huisnummer.get((_normalised_postcode(postcode), huisnummer), ())

    def bewoning_records(self, aoi: str) -> tuple[BewoningRecord, ...]:
        """The Bewoning records of one adresseerbaar object."""
        return self._bewoning_by_aoi.get(aoi, ())

    def is_suppressed_bsn(self, bsn: str) -> bool:
        """Whether a BSN exists only on persoonslijsten RvIG never delivers (opschorting F/W)."""
        return bsn in self._all_bsns and bsn not in self._by_bsn

    def is_geheime_bewoner(self, bsn: str) -> bool:
        """Whether the Bewoning data marks this person's data as secret (indicatie geheim > 0)."""
        return bsn in self._geheime_bewoners

    def gemeenten_of_adresseerbaar_object(self, aoi: str) -> frozenset[str]:
        """The gemeenten an adresseerbaar object is or was registered in, per the persons' data."""
        return self._aoi_gemeenten.get(aoi, frozenset())

    def adresseerbaar_object_in_gemeente(self, aoi: str, gemeente_code: str) -> bool:
        """Whether an adresseerbaar object is or was in a gemeente, herindelingen included.

        The object's gemeenten are the one its BAG identification starts with and those persons
        were registered in there; each also counts for every gemeente it merged into (tabel 33,
        92.12 Nieuwe code), as RvIG's own-gemeente check for Bewoning does.
        """
        tabellen = landelijke_tabellen()
        gemeenten = {aoi[:4], *self.gemeenten_of_adresseerbaar_object(aoi)}
        return any(gemeente_code == code or gemeente_code in tabellen.opvolgers(code) for code in gemeenten)


def _group_bewoning(records: Iterable[BewoningRecord]) -> dict[str, list[BewoningRecord]]:
    grouped: dict[str, list[BewoningRecord]] = defaultdict(list)
    for record in records:
        aoi = record.verblijfplaats.adresseerbaar_object_identificatie if record.verblijfplaats else None
        if aoi:
            grouped[aoi.strip()].append(record)
    return grouped


def _aoi_gemeenten(persons: Iterable[Person]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for person in persons:
        places = [person.persoon.get("verblijfplaats") or {}, *person.record.verblijfplaatshistorie]
        fallback = person.gemeente_van_inschrijving
        for place in places:
            aoi = place.get("adresseerbaarObjectIdentificatie")
            gemeente = _code(place.get("gemeenteVanInschrijving")) or (
                fallback if place is places[0] else None
            )
            if aoi and gemeente:
                found[aoi].add(gemeente)
    return {aoi: frozenset(codes) for aoi, codes in found.items()}


_DATA_PACKAGE: Final = "app.sandbox"


def _read(data_dir: Path | None, name: str) -> bytes:
    if data_dir is not None:
        return (data_dir / name).read_bytes()
    return (resources.files(_DATA_PACKAGE) / "data" / name).read_bytes()


def load_dataset(data_dir: Path | None = None) -> Dataset:
    """Load `personen.json` and `bewoning.json` (from `data_dir`, else the packaged `data/`)."""
    personen = msgspec.json.decode(_read(data_dir, "personen.json"), type=_PersonenFile)
    bewoning = msgspec.json.decode(_read(data_dir, "bewoning.json"), type=list[BewoningRecord])
    dataset = Dataset(personen.personen, bewoning)
    _log.info("sandbox_dataset_loaded", persoonslijsten=len(dataset.persons), bewoning_records=len(bewoning))
    return dataset
