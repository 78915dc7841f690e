"""Answering Bewoning queries from RvIG's Bewoning test data (DOMAIN.md §4).

This module owns the occupancy arithmetic: per person at the adresseerbaar object, the days they
certainly lived there and the days they possibly did (a (partly) unknown start or end date makes
the uncertain days "mogelijk"); a period is cut wherever the composition changes and every piece
with at least one (mogelijke) bewoner becomes one bewoning. A peildatum is the one-day period
peildatum..peildatum+1 (`datumTot` exclusive). Bewoners get `naam.volledigeNaam` and
`geboorte.datum` from the Personen data when the BSN is there; persoonslijsten with opschorting
F/W are left out. More than 100 (mogelijke) bewoners → `indicatieVeelBewoners` without lists.

The authorisation of the AOI (own gemeente) is `autorisatie`'s job. This module never logs.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec

from app.brp.queries import BewoningMetPeildatum, BewoningQuery
from app.sandbox.dataset import BewoningRecord, Dataset, date_range_of_lo3_date

__all__ = ["Occupancy", "answer_bewoning", "occupancies"]

_DAY: Final = dt.timedelta(days=1)
_MAX_BEWONERS: Final = 100
# An unknown end means the end may be any day after the start: "possibly until forever".
_FOREVER: Final = dt.date.max


class Occupancy(msgspec.Struct, frozen=True):
    """One stay of one person at the object: certain days `[certain_from, certain_until)`,
    possible days `[possible_from, possible_until)` (the certain days lie within them)."""

    burgerservicenummer: str
    certain_from: dt.date
    certain_until: dt.date
    possible_from: dt.date
    possible_until: dt.date
    in_onderzoek: bool

    def certain_during(self, first: dt.date, until: dt.date) -> bool:
        """Whether the person certainly lived here on every day of `[first, until)`."""
        return self.certain_from <= first and until <= self.certain_until

    def possible_during(self, first: dt.date, until: dt.date) -> bool:
        """Whether the person may have lived here on some day of `[first, until)`."""
        return self.possible_from < until and first < self.possible_until


def occupancies(records: Iterable[BewoningRecord]) -> list[Occupancy]:
    """The stays described by the Bewoning records of one adresseerbaar object."""
    return [_occupancy(r) for r in records if r.verblijfplaats is not None]


def _occupancy(record: BewoningRecord) -> Occupancy:
    place = record.verblijfplaats
    assert place is not None  # filtered by the caller
    start = date_range_of_lo3_date(place.datum_aanvang_adreshouding)
    raw_end = place.datum_einde_adreshouding
    end = date_range_of_lo3_date(raw_end) if raw_end else None
    # Certain from the last day the stay may have begun; possible from the first.
    certain_from = start.last if start.last != dt.date.max else _FOREVER
    if end is None:
        certain_until, possible_until = _FOREVER, _FOREVER
    else:
        # The end date is the first day elsewhere: certain until the earliest possible end,
        # possible until the latest.
        certain_until = end.first if end.first != dt.date.min else certain_from
        possible_until = end.last
    return Occupancy(
        burgerservicenummer=record.burgerservicenummer,
        certain_from=certain_from,
        certain_until=max(certain_until, certain_from),
        possible_from=start.first,
        possible_until=possible_until,
        in_onderzoek=bool(place.in_onderzoek),
    )


def answer_bewoning(dataset: Dataset, query: BewoningQuery) -> dict[str, Any]:
    """RvIG's answer to a Bewoning query: `{"bewoningen": [...]}`."""
    aoi = query.adresseerbaar_object_identificatie
    if isinstance(query, BewoningMetPeildatum):
        first, until = query.peildatum, query.peildatum + _DAY
    else:
        first, until = query.datum_van, query.datum_tot
    records = dataset.bewoning_records(aoi)
    stays = [s for s in occupancies(records) if not dataset.is_suppressed_bsn(s.burgerservicenummer)]
    bewoningen = []
    for start, end in _pieces(stays, first, until):
        bewoning = _bewoning(dataset, aoi, stays, start, end)
        if bewoning is not None:
            bewoningen.append(bewoning)
    return {"bewoningen": _merged(bewoningen)}


def _pieces(stays: Sequence[Occupancy], first: dt.date, until: dt.date) -> list[tuple[dt.date, dt.date]]:
    cuts = {first, until}
    for stay in stays:
        for day in (stay.certain_from, stay.certain_until, stay.possible_from, stay.possible_until):
            if first < day < until:
                cuts.add(day)
    ordered = sorted(cuts)
    return list(itertools.pairwise(ordered))


def _bewoning(
    dataset: Dataset,
    aoi: str,
    stays: Sequence[Occupancy],
    first: dt.date,
    until: dt.date,
) -> dict[str, Any] | None:
    certain = {s.burgerservicenummer: s for s in stays if s.certain_during(first, until)}
    possible = {
        s.burgerservicenummer: s
        for s in stays
        if s.possible_during(first, until) and s.burgerservicenummer not in certain
    }
    if not certain and not possible:
        return None
    bewoning: dict[str, Any] = {
        "adresseerbaarObjectIdentificatie": aoi,
        "periode": {"datumVan": first.isoformat(), "datumTot": until.isoformat()},
    }
    if len(certain) + len(possible) > _MAX_BEWONERS:
        bewoning["indicatieVeelBewoners"] = True
        return bewoning
    bewoning["bewoners"] = _bewoners(dataset, certain.values())
    bewoning["mogelijkeBewoners"] = _bewoners(dataset, possible.values())
    return bewoning


def _bewoners(dataset: Dataset, stays: Iterable[Occupancy]) -> list[dict[str, Any]]:
    bewoners = [(_sort_key(dataset, s), _bewoner(dataset, s)) for s in stays]
    return [bewoner for _, bewoner in sorted(bewoners, key=lambda pair: pair[0])]


def _sort_key(dataset: Dataset, stay: Occupancy) -> tuple[dt.date, str, str, str]:
    # Latest arrivals last; on the same day by name, then birth date (since Bewoning v2.2.0).
    persoon = _persoon(dataset, stay.burgerservicenummer)
    naam = str(((persoon or {}).get("naam") or {}).get("volledigeNaam", ""))
    geboorte = str((((persoon or {}).get("geboorte") or {}).get("datum") or {}).get("datum", ""))
    return (stay.possible_from, naam, geboorte, stay.burgerservicenummer)


def _bewoner(dataset: Dataset, stay: Occupancy) -> dict[str, Any]:
    bewoner: dict[str, Any] = {"burgerservicenummer": stay.burgerservicenummer}
    persoon = _persoon(dataset, stay.burgerservicenummer) or {}
    if dataset.is_geheime_bewoner(stay.burgerservicenummer) or persoon.get("geheimhoudingPersoonsgegevens"):
        bewoner["geheimhoudingPersoonsgegevens"] = True
    if stay.in_onderzoek:
        bewoner["inOnderzoek"] = True
    volledige_naam = (persoon.get("naam") or {}).get("volledigeNaam")
    if volledige_naam:
        bewoner["naam"] = {"volledigeNaam": volledige_naam}
    geboortedatum = (persoon.get("geboorte") or {}).get("datum")
    if geboortedatum:
        bewoner["geboorte"] = {"datum": geboortedatum}
    return bewoner


def _persoon(dataset: Dataset, bsn: str) -> dict[str, Any] | None:
    persons = dataset.by_bsn(bsn)
    return persons[0].persoon if persons else None


def _merged(bewoningen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Adjacent pieces with the same composition are one bewoning.
    merged: list[dict[str, Any]] = []
    for bewoning in bewoningen:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous["periode"]["datumTot"] == bewoning["periode"]["datumVan"]
            and _composition(previous) == _composition(bewoning)
        ):
            previous["periode"] = {**previous["periode"], "datumTot": bewoning["periode"]["datumTot"]}
        else:
            merged.append(bewoning)
    return merged


def _composition(bewoning: dict[str, Any]) -> tuple[object, ...]:
    return (
        bewoning.get("indicatieVeelBewoners"),
        tuple(b["burgerservicenummer"] for b in bewoning.get("bewoners", ())),
        tuple(b["burgerservicenummer"] for b in bewoning.get("mogelijkeBewoners", ())),
    )
