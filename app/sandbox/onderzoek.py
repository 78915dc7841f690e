"""inOnderzoek in an answer: only the flags of the fields that were asked for, as RvIG delivers it.

The converted persons carry every `inOnderzoek` flag of every group an onderzoek touches
(`app.sandbox.data.in_onderzoek`). RvIG's rules for the answer (BRP-API/Haal-Centraal-BRP-bevragen
`features/bevragen/in-onderzoek.feature` and the `in-onderzoek.feature` per group):

- a flag is delivered when its field is asked for (directly, or as part of an asked group), also
  when the field has no value; a group that then holds only flags is delivered with them (with
  its `type`, and `indicatieVastgesteldVerblijftNietOpAdres`, when it has them);
- the `type` flag of a polymorphic group comes with any asked field of that group;
- with the flags come the `datumIngangOnderzoek*` of the categorie behind them: for the person
  itself `...Persoon` (burgerservicenummer, geslacht, leeftijd), `...Gemeente`
  (gemeenteVanInschrijving, datumInschrijvingInGemeente), `...Gezag` (indicatieCurateleRegister,
  indicatieGezagMinderjarige); for adressering `...Verblijfplaats` (adresregels, land) and
  `...Persoon`/`...Partner` (aanhef, aanschrijfwijze, gebruikInLopendeTekst); elsewhere the one
  `datumIngangOnderzoek`. An `inOnderzoek` without flags is never delivered.

`app.brp.fields.filter_fields` (shared with the gateway) approximates this from what it keeps; the
sandbox removes every `inOnderzoek` before filtering and puts back what RvIG would send. Pure
functions, no state, no logging.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from app.brp.fields import ResponseType, fields_catalogue, filter_fields

__all__ = ["heeft_onderzoek", "met_gevraagd_onderzoek", "zonder_onderzoek"]

Json = dict[str, Any]

_IN_ONDERZOEK: Final = "inOnderzoek"
_DATUM: Final = "datumIngangOnderzoek"
_TYPE: Final = "type"
_AANSCHRIJVING: Final = frozenset({"aanhef", "aanschrijfwijze", "gebruikInLopendeTekst"})
# Dates that belong to some flags of their group only (the others cover all flags).
_DATUM_VLAGGEN: Final[Mapping[str, frozenset[str]]] = {
    "datumIngangOnderzoekPersoon": frozenset({"burgerservicenummer", "geslacht", "leeftijd"})
    | _AANSCHRIJVING,
    "datumIngangOnderzoekGemeente": frozenset({"gemeenteVanInschrijving", "datumInschrijvingInGemeente"}),
    "datumIngangOnderzoekGezag": frozenset({"indicatieCurateleRegister", "indicatieGezagMinderjarige"}),
    "datumIngangOnderzoekPartner": _AANSCHRIJVING,
    "datumIngangOnderzoekVerblijfplaats": frozenset({"adresregel1", "adresregel2", "adresregel3", "land"}),
}
# Delivered with a group that is delivered for its flags alone.
_METGELEVERD: Final = ("type", "indicatieVastgesteldVerblijftNietOpAdres")
# The *Binnenland aliases answer under their field without the foreign-address parts.
_ALIASES: Final[Mapping[str, tuple[str, frozenset[str]]]] = {
    "verblijfplaatsBinnenland": (
        "verblijfplaats",
        frozenset(
            {"verblijfadres.land", "verblijfadres.regel1", "verblijfadres.regel2", "verblijfadres.regel3"}
        ),
    ),
    "adresseringBinnenland": ("adressering", frozenset({"adresregel3", "land"})),
}


def heeft_onderzoek(obj: object) -> bool:
    """Whether an object (or anything in it) has an `inOnderzoek` object of flags.

    A boolean `inOnderzoek` (a gezagsrelatie's) is an ordinary field, not one of these.
    """
    if isinstance(obj, dict):
        return isinstance(obj.get(_IN_ONDERZOEK), dict) or any(heeft_onderzoek(v) for v in obj.values())
    if isinstance(obj, list):
        return any(heeft_onderzoek(item) for item in obj)
    return False


def zonder_onderzoek(obj: Any) -> Any:
    """A copy of an object without any `inOnderzoek` object (the original is not changed)."""
    if isinstance(obj, dict):
        return {
            key: zonder_onderzoek(value)
            for key, value in obj.items()
            if not (key == _IN_ONDERZOEK and isinstance(value, dict))
        }
    if isinstance(obj, list):
        return [zonder_onderzoek(item) for item in obj]
    return obj


@functools.lru_cache(maxsize=1024)
def _gevraagd(fields: tuple[str, ...], response_type: ResponseType) -> frozenset[str]:
    """Every path the fields ask for (groups expanded), aliases folded into their field."""
    catalogue = fields_catalogue()
    paths: set[str] = set()
    for field in fields:
        head, dot, rest = field.partition(".")
        alias = _ALIASES.get(head)
        if alias is None:
            paths |= catalogue.expand([field], response_type)
            continue
        naam, buitenland = alias
        for path in catalogue.expand([naam + dot + rest], response_type):
            if path.partition(".")[2] not in buitenland:
                paths.add(path)
    return frozenset(paths)


@dataclass(frozen=True, slots=True)
class _Vraag:
    """What was asked: the fields as sent, their response type, every path they cover."""

    fields: tuple[str, ...]
    response_type: ResponseType
    gevraagd: frozenset[str]

    def onder(self, pad: str) -> bool:
        """Whether anything below a path was asked for."""
        return any(path.startswith(pad) for path in self.gevraagd)


def met_gevraagd_onderzoek(
    antwoord: Json, persoon: Json, fields: Iterable[str], response_type: ResponseType
) -> Json:
    """The answer (filtered without inOnderzoek) with the `inOnderzoek` RvIG sends for `fields`.

    `persoon` is the person the answer was filtered from, with its `inOnderzoek` objects.
    """
    gevraagd = tuple(fields)
    _overlay(antwoord, persoon, "", _Vraag(gevraagd, response_type, _gevraagd(gevraagd, response_type)))
    return antwoord


def _vlaggen(onderzoek: Mapping[str, Any], prefix: str, vraag: _Vraag) -> Json:
    # The type flag comes with any asked field of its group (prefix "" is the person: no type).
    type_gevraagd = bool(prefix) and vraag.onder(prefix)
    vlaggen = {
        key
        for key, value in onderzoek.items()
        if value is True and (prefix + key in vraag.gevraagd or (key == _TYPE and type_gevraagd))
    }
    if not vlaggen:
        return {}
    return {
        key: value
        for key, value in onderzoek.items()
        if key in vlaggen or key == _DATUM or (key in _DATUM_VLAGGEN and vlaggen & _DATUM_VLAGGEN[key])
    }


def _overlay(antwoord: Json, origineel: Mapping[str, Any], prefix: str, vraag: _Vraag) -> None:
    onderzoek = origineel.get(_IN_ONDERZOEK)
    if isinstance(onderzoek, dict):
        vlaggen = _vlaggen(onderzoek, prefix, vraag)
        if vlaggen:
            antwoord[_IN_ONDERZOEK] = vlaggen
    for key, value in origineel.items():
        pad = prefix + key
        if key == _IN_ONDERZOEK or not heeft_onderzoek(value) or not vraag.onder(pad + "."):
            continue
        if isinstance(value, dict):
            _groep(antwoord, key, value, pad, vraag)
        elif isinstance(value, list) and not prefix:
            _lijst(antwoord, key, value, pad, vraag)


def _groep(antwoord: Json, key: str, origineel: Mapping[str, Any], pad: str, vraag: _Vraag) -> None:
    bestaand = antwoord.get(key)
    groep = dict(bestaand) if isinstance(bestaand, dict) else {}
    _overlay(groep, origineel, pad + ".", vraag)
    if not groep:
        return
    if not isinstance(bestaand, dict):
        groep = {k: origineel[k] for k in _METGELEVERD if k in origineel} | groep
    antwoord[key] = groep


def _lijst(antwoord: Json, key: str, items: list[Any], pad: str, vraag: _Vraag) -> None:
    # filter_fields drops list items that end up empty, so each item is filtered on its own to
    # know which answer item it became; an item RvIG delivers for its flags alone keeps its place.
    nieuw: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        eigen = filter_fields({key: [zonder_onderzoek(item)]}, vraag.fields, vraag.response_type)
        gefilterd = eigen.get(key) or []
        groep = dict(gefilterd[0]) if gefilterd else {}
        _overlay(groep, item, pad + ".", vraag)
        if groep and not gefilterd:
            groep = {k: item[k] for k in _METGELEVERD if k in item} | groep
        if groep:
            nieuw.append(groep)
    if nieuw or key in antwoord:
        antwoord[key] = nieuw
