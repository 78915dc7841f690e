"""Answering Personen and Verblijfplaatshistorie queries from the test data, as RvIG does.

This module owns RvIG's search semantics (DOMAIN.md §3): case- and diacritics-insensitive
matching, `*` wildcards (prefix; `straat` also suffix), deceased persons only with
`inclusiefOverledenPersonen` (a Raadpleeg always returns them), `gemeenteVanInschrijving` as a
silent filter, the `tooManyResults` maximum, persoonslijsten with opschorting F/W never delivered,
a Raadpleeg of a BSN on two deliverable persoonslijsten refused as RvIG does (400, `unique`);
the response types (`Persoon`, `PersoonBeperkt`, `GezagPersoonBeperkt`) reduced to the requested
fields, with the `inOnderzoek` of those fields (`onderzoek`) and the `rni` of their categories
(`rni`); on the day of the query `leeftijd` (DOMAIN.md §10) and the end of a verblijfstitel or of
an exclusion from voting; and which verblijfplaatsen of a person overlap a peildatum or periode
(of every deliverable persoonslijst with the BSN, merged as RvIG's historie data service does).

Queries arrive validated (`app.brp`); authorisation happened before. This module never logs.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import msgspec

from app.brp.fields import AUTO_DELIVERED_FIELDS, ResponseType, fields_catalogue, filter_fields
from app.brp.problems import InvalidParam, bad_request, too_many_results
from app.brp.queries import (
    PersonenQuery,
    RaadpleegMetBurgerservicenummer,
    RaadpleegMetPeildatum,
    VerblijfplaatshistorieQuery,
    ZoekMetAdresseerbaarObjectIdentificatie,
    ZoekMetGeslachtsnaamEnGeboortedatum,
    ZoekMetNaamEnGemeenteVanInschrijving,
    ZoekMetNummeraanduidingIdentificatie,
    ZoekMetPostcodeEnHuisnummer,
    ZoekMetStraatHuisnummerEnGemeenteVanInschrijving,
    max_results,
    response_type_for,
)
from app.sandbox.dataset import Dataset, Person, date_range_of_brp_date, normalise
from app.sandbox.gezag import gezag_van
from app.sandbox.onderzoek import met_gevraagd_onderzoek, zonder_onderzoek
from app.sandbox.rni import met_gevraagde_rni

__all__ = ["NamePattern", "answer_personen", "answer_verblijfplaatshistorie", "leeftijd"]

_DAY: Final = dt.timedelta(days=1)
_WILDCARD: Final = "*"
# A BSN on more than one deliverable persoonslijst (RvIG's test set has five).
_NIET_UNIEK: Final = InvalidParam(
    code="unique", name="burgerservicenummer", reason="De opgegeven persoonidentificatie is niet uniek."
)


class NamePattern(msgspec.Struct, frozen=True):
    """A search value as RvIG matches it: exact, prefix (`abc*`) or — for `straat` — suffix (`*abc`)."""

    text: str
    prefix: bool = False
    suffix: bool = False

    @classmethod
    def parse(cls, raw: str) -> NamePattern:
        """The pattern of a validated search value (the validator decides where `*` may be)."""
        value = normalise(raw)
        if value.endswith(_WILDCARD):
            return cls(text=value[:-1].rstrip(), prefix=True)
        if value.startswith(_WILDCARD):
            return cls(text=value[1:].lstrip(), suffix=True)
        return cls(text=value)

    def matches(self, candidate: str) -> bool:
        """Whether a normalised value matches."""
        if self.prefix:
            return candidate.startswith(self.text)
        if self.suffix:
            return candidate.endswith(self.text)
        return candidate == self.text


# --- Personen ------------------------------------------------------------------------------------


def answer_personen(dataset: Dataset, query: PersonenQuery, today: dt.date) -> dict[str, Any]:
    """RvIG's answer to a Personen query: `{"type": ..., "personen": [...]}` (or `tooManyResults`)."""
    found = _find(dataset, query)
    maximum = max_results(query)
    if maximum is not None and len(found) > maximum:
        raise too_many_results(maximum)
    response_type = response_type_for(query)
    personen = [_present(dataset, person, query.fields, response_type, today) for person in found]
    return {"type": _type_name(query), "personen": personen}


def _type_name(query: PersonenQuery) -> str:
    tag = type(query).__struct_config__.tag
    return str(tag)


def _find(dataset: Dataset, query: PersonenQuery) -> list[Person]:
    if isinstance(query, RaadpleegMetBurgerservicenummer):
        return _raadpleeg(dataset, query)
    candidates, matches = _SEARCHES[type(query)](dataset, query)
    include_deceased = bool(getattr(query, "inclusief_overleden_personen", False))
    gemeente = getattr(query, "gemeente_van_inschrijving", None)
    return [
        person
        for person in candidates
        if (include_deceased or not person.deceased)
        and (gemeente is None or person.gemeente_van_inschrijving == gemeente)
        and matches(person)
    ]


def _raadpleeg(dataset: Dataset, query: RaadpleegMetBurgerservicenummer) -> list[Person]:
    found: list[Person] = []
    for bsn in dict.fromkeys(query.burgerservicenummer):
        lijsten = [
            person
            for person in dataset.by_bsn(bsn)
            if query.gemeente_van_inschrijving in (None, person.gemeente_van_inschrijving)
        ]
        if len(lijsten) > 1:
            # RvIG's data service refuses the whole question (RvigPersoonRepo.cs, "unique").
            raise bad_request([_NIET_UNIEK])
        found += lijsten
    return found


_Search = Callable[[Dataset, Any], tuple[Iterable[Person], Callable[[Person], bool]]]


def _optional(pattern: str | None) -> NamePattern | None:
    return NamePattern.parse(pattern) if pattern else None


def _name_matches(
    person: Person,
    geslachtsnaam: NamePattern | None,
    voornamen: NamePattern | None,
    voorvoegsel: str | None,
    geslacht: str | None,
) -> bool:
    return (
        (geslachtsnaam is None or geslachtsnaam.matches(person.geslachtsnaam))
        and (voornamen is None or voornamen.matches(person.voornamen))
        and (voorvoegsel is None or normalise(voorvoegsel) == person.voorvoegsel)
        and (geslacht is None or geslacht.upper() == person.geslacht)
    )


def _address_matches(person: Person, huisletter: str | None, toevoeging: str | None) -> bool:
    return (huisletter is None or normalise(huisletter) == person.huisletter) and (
        toevoeging is None or normalise(toevoeging) == person.huisnummertoevoeging
    )


def _search_naam_geboortedatum(
    dataset: Dataset, query: ZoekMetGeslachtsnaamEnGeboortedatum
) -> tuple[Iterable[Person], Callable[[Person], bool]]:
    naam, voornamen = NamePattern.parse(query.geslachtsnaam), _optional(query.voornamen)
    return dataset.by_geboortedatum(query.geboortedatum), lambda p: _name_matches(
        p, naam, voornamen, query.voorvoegsel, query.geslacht
    )


def _search_naam_gemeente(
    dataset: Dataset, query: ZoekMetNaamEnGemeenteVanInschrijving
) -> tuple[Iterable[Person], Callable[[Person], bool]]:
    naam, voornamen = NamePattern.parse(query.geslachtsnaam), NamePattern.parse(query.voornamen)
    return dataset.by_gemeente(query.gemeente_van_inschrijving), lambda p: _name_matches(
        p, naam, voornamen, query.voorvoegsel, query.geslacht
    )


def _search_postcode(
    dataset: Dataset, query: ZoekMetPostcodeEnHuisnummer
) -> tuple[Iterable[Person], Callable[[Person], bool]]:
    naam = _optional(query.geslachtsnaam)

    def matches(person: Person) -> bool:
        return (
            _address_matches(person, query.huisletter, query.huisnummertoevoeging)
            and (query.geboortedatum is None or person.geboortedatum == query.geboortedatum)
            and (naam is None or naam.matches(person.geslachtsnaam))
        )

    return dataset.by_postcode_huisnummer(query.postcode, query.huisnummer), matches


def _search_straat(
    dataset: Dataset, query: ZoekMetStraatHuisnummerEnGemeenteVanInschrijving
) -> tuple[Iterable[Person], Callable[[Person], bool]]:
    straat = NamePattern.parse(query.straat)

    def matches(person: Person) -> bool:
        return (
            person.huisnummer == query.huisnummer
            and any(straat.matches(naam) for naam in person.straatnamen)
            and _address_matches(person, query.huisletter, query.huisnummertoevoeging)
        )

    return dataset.by_gemeente(query.gemeente_van_inschrijving), matches


def _search_nummeraanduiding(
    dataset: Dataset, query: ZoekMetNummeraanduidingIdentificatie
) -> tuple[Iterable[Person], Callable[[Person], bool]]:
    return dataset.by_nummeraanduiding(query.nummeraanduiding_identificatie), lambda _: True


def _search_adresseerbaar_object(
    dataset: Dataset, query: ZoekMetAdresseerbaarObjectIdentificatie
) -> tuple[Iterable[Person], Callable[[Person], bool]]:
    return dataset.by_adresseerbaar_object(query.adresseerbaar_object_identificatie), lambda _: True


_SEARCHES: Final[Mapping[type, _Search]] = {
    ZoekMetGeslachtsnaamEnGeboortedatum: _search_naam_geboortedatum,
    ZoekMetNaamEnGemeenteVanInschrijving: _search_naam_gemeente,
    ZoekMetPostcodeEnHuisnummer: _search_postcode,
    ZoekMetStraatHuisnummerEnGemeenteVanInschrijving: _search_straat,
    ZoekMetNummeraanduidingIdentificatie: _search_nummeraanduiding,
    ZoekMetAdresseerbaarObjectIdentificatie: _search_adresseerbaar_object,
}


# --- presenting a person -------------------------------------------------------------------------


def leeftijd(person: Person, today: dt.date) -> int | None:
    """The age in whole years on `today`, or None where RvIG delivers none (DOMAIN.md §10).

    None for a deceased person, a fully unknown birth date, a known year only, or a known
    year and month when that month is the current month.
    """
    if person.deceased:
        return None
    datum = (person.persoon.get("geboorte") or {}).get("datum") or {}
    kind = datum.get("type")
    if kind == "Datum":
        born = dt.date.fromisoformat(datum["datum"])
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    elif kind == "JaarMaandDatum" and int(datum["maand"]) != today.month:
        age = today.year - int(datum["jaar"]) - (int(datum["maand"]) > today.month)
    else:
        return None
    return age if 0 <= age <= 150 else None


def _present(
    dataset: Dataset, person: Person, fields: tuple[str, ...], response_type: ResponseType, today: dt.date
) -> dict[str, Any]:
    persoon = _as_on(person.persoon, today)
    age = leeftijd(person, today)
    if age is not None:
        persoon["leeftijd"] = age
    if "gezag" in fields:
        # Derived on the day of the query and only when asked for, as RvIG does (app/sandbox/gezag.py).
        persoon["gezag"] = gezag_van(dataset, person, today, leeftijd)
    # inOnderzoek follows its own fields-dependent rules (app.sandbox.onderzoek).
    onderzocht = person.in_onderzoek
    antwoord = zonder_onderzoek(persoon) if onderzocht else persoon
    if response_type is not ResponseType.PERSOON:
        antwoord = _project(antwoord, "", _shape(response_type))
    # rni comes only with a field of its categorie (app.sandbox.rni).
    antwoord = met_gevraagde_rni(filter_fields(antwoord, fields, response_type), fields)
    return met_gevraagd_onderzoek(antwoord, persoon, fields, response_type) if onderzocht else antwoord


def _as_on(persoon: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    # What depends on the day of the query besides leeftijd: a verblijfstitel or an exclusion
    # from (European) voting rights whose end date has passed is no longer delivered.
    current = dict(persoon)
    if _ended(current.get("verblijfstitel"), "datumEinde", today):
        del current["verblijfstitel"]
    if _ended(current.get("uitsluitingKiesrecht"), "einddatum", today):
        del current["uitsluitingKiesrecht"]
    europees = current.get("europeesKiesrecht")
    if _code_of(europees, "aanduiding") == "1" and _ended(europees, "einddatumUitsluiting", today):
        del current["europeesKiesrecht"]
    return current


def _ended(group: object, date_field: str, today: dt.date) -> bool:
    if not isinstance(group, dict) or not group.get(date_field):
        return False
    # A (partly) unknown end date counts as passed only once its last possible day has.
    return date_range_of_brp_date(group[date_field]).last < today


def _code_of(group: object, field: str) -> str | None:
    value = group.get(field) if isinstance(group, dict) else None
    return str(value.get("code")) if isinstance(value, dict) else None


# Kept wherever their group is kept; `filter_fields` decides what remains of them.
_COMPANIONS: Final = frozenset({"type", "inOnderzoek", "indicatieVastgesteldVerblijftNietOpAdres"})
# Delivered only as a whole (gezag since v2.7.0).
_WHOLE: Final = frozenset({"gezag"})


class _Shape(msgspec.Struct, frozen=True):
    paths: frozenset[str]
    groups: frozenset[str]


@functools.cache
def _shape(response_type: ResponseType) -> _Shape:
    # The response type's own schema, from RvIG's fields list: a person object from the data is a
    # full `Persoon`; PersoonBeperkt keeps e.g. only adresregels and land of `adressering`.
    catalogue = fields_catalogue()
    paths = catalogue.paths(response_type)
    groups = {path for path in paths if _is_group(catalogue.children(path, response_type))}
    return _Shape(paths=paths, groups=frozenset(groups - _WHOLE))


def _is_group(children: frozenset[str]) -> bool:
    # A date (langFormaat) or Waardetabel (code) object is delivered whole, not as a group.
    return bool(children) and "langFormaat" not in children and "code" not in children


def _project(obj: Mapping[str, Any], prefix: str, shape: _Shape) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in obj.items():
        path = prefix + key
        if (not prefix and key in AUTO_DELIVERED_FIELDS) or key in _COMPANIONS:
            kept[key] = value
        elif path in shape.groups and isinstance(value, dict):
            sub = _project(value, path + ".", shape)
            if sub:
                kept[key] = sub
        elif path in shape.paths:
            kept[key] = value
    return kept


# --- Verblijfplaatshistorie ----------------------------------------------------------------------


def answer_verblijfplaatshistorie(dataset: Dataset, query: VerblijfplaatshistorieQuery) -> dict[str, Any]:
    """The verblijfplaatsen a person (possibly) lived at on the peildatum / in the periode.

    A verblijfplaats counts when the person lived there at least one day of the period
    (`datumTot` exclusive, in the query as in the data). Where a date is (partly) unknown the
    verblijfplaats is included when it may overlap. Most recent first, as in the data.

    A BSN on several deliverable persoonslijsten is answered as RvIG's historie data service does
    (BRP-API/historie-data-service `GetAndMapGbaHistorieService.cs`): the voorkomens of all lists,
    merged on their volgnummer (here: their place in the list's historie), first list first; only
    the last list's actual verblijfplaats lasts until today, that of every other list counts for
    its first day only; opschortingBijhouding comes from the first list that has one,
    geheimhoudingPersoonsgegevens from the first list.
    """
    persons = dataset.by_bsn(query.burgerservicenummer)
    if isinstance(query, RaadpleegMetPeildatum):
        first, last = query.peildatum, query.peildatum
    else:
        first, last = query.datum_van, query.datum_tot - _DAY
    found: list[tuple[int, int, dict[str, Any]]] = []
    for lijst, person in enumerate(persons):
        open_einde = lijst == len(persons) - 1
        for volgnummer, place in enumerate(person.record.verblijfplaatshistorie):
            if _in_period(place, first, last, open_einde=open_einde):
                found.append((volgnummer, lijst, place))
    found.sort(key=lambda entry: entry[:2])
    answer: dict[str, Any] = {"verblijfplaatsen": [place for _, _, place in found]}
    # RvIG takes each from the first row that has a value; 70.10 indicatie geheim always has one.
    opschorting = next(
        (p.persoon["opschortingBijhouding"] for p in persons if p.persoon.get("opschortingBijhouding")), None
    )
    if opschorting:
        answer["opschortingBijhouding"] = opschorting
    if persons and persons[0].persoon.get("geheimhoudingPersoonsgegevens"):
        answer["geheimhoudingPersoonsgegevens"] = persons[0].persoon["geheimhoudingPersoonsgegevens"]
    return answer


def _in_period(place: Mapping[str, Any], first: dt.date, last: dt.date, *, open_einde: bool) -> bool:
    if open_einde or place.get("datumTot") is not None:
        return _lived_between(place, first, last)
    # An actual verblijfplaats that is not the last voorkomen of RvIG's merged list ends, there,
    # on the day it began.
    start = date_range_of_brp_date(place.get("datumVan")).first
    return first <= start <= last


def _lived_between(place: Mapping[str, Any], first: dt.date, last: dt.date) -> bool:
    start = date_range_of_brp_date(place.get("datumVan"))
    end = place.get("datumTot")
    # `datumTot` is the first day at the next address: the last possible day here is the day before.
    last_day_here = dt.date.max if end is None else _day_before(date_range_of_brp_date(end).last)
    return start.first <= last and last_day_here >= first


def _day_before(day: dt.date) -> dt.date:
    return day if day in (dt.date.min, dt.date.max) else day - _DAY
