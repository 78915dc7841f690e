"""`rni` in a Personen answer: only the RNI-deelnemers of the categories whose fields were asked.

RvIG's rule (BRP-API/Haal-Centraal-BRP-bevragen `features/bevragen/persoon/rni/overzicht.feature`
and `.../persoon-beperkt/rni/overzicht.feature`): the RNI-deelnemer of categorie 01 (Persoon), 04
(Nationaliteit), 06 (Overlijden) or 08 (Verblijfplaats) is delivered when at least one field of
that categorie is asked. Which fields belong to which categorie is taken from RvIG's data service
(BRP-API/personen-data-service `GbaPersonenApiHelperBase.ApplyRniLogic` with the `ShortHandMappings`
of `PersonenFieldsSettings`): aanhef, aanschrijfwijze and gebruikInLopendeTekst are composed of
categorie 01 (the names and geslacht), the adresregels and `adressering.land` of categorie 08, a
whole `adressering` of both; leeftijd follows the geboortedatum.

That implementation matches field names by substring, so there e.g. `partners.naam.voornamen`
also delivers the categorie 01 entry; this module follows the published rule (a field of the
categorie itself) instead. Pure functions, no state, no logging.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["met_gevraagde_rni"]

Json = dict[str, Any]

_PERSOON: Final = "Persoon"
_NATIONALITEIT: Final = "Nationaliteit"
_OVERLIJDEN: Final = "Overlijden"
_VERBLIJFPLAATS: Final = "Verblijfplaats"

# Top-level field → the categorie its data come from (the `rni.categorie` it brings along).
_CATEGORIE: Final[Mapping[str, str]] = {
    "aNummer": _PERSOON,
    "burgerservicenummer": _PERSOON,
    "geslacht": _PERSOON,
    "naam": _PERSOON,
    "geboorte": _PERSOON,
    "leeftijd": _PERSOON,
    "nationaliteiten": _NATIONALITEIT,
    "overlijden": _OVERLIJDEN,
    "verblijfplaats": _VERBLIJFPLAATS,
    "verblijfplaatsBinnenland": _VERBLIJFPLAATS,
    "gemeenteVanInschrijving": _VERBLIJFPLAATS,
    "datumInschrijvingInGemeente": _VERBLIJFPLAATS,
    "immigratie": _VERBLIJFPLAATS,
}
_ADRESSERING: Final = frozenset({"adressering", "adresseringBinnenland"})
# The parts of adressering composed of the person's names (the rest are adresregels and land).
_AANSCHRIJVING: Final = frozenset({"aanhef", "aanschrijfwijze", "gebruikInLopendeTekst"})


def _categorieen_van(field: str) -> frozenset[str]:
    head, _, rest = field.partition(".")
    if head in _ADRESSERING:
        if not rest:
            return frozenset({_PERSOON, _VERBLIJFPLAATS})
        return frozenset({_PERSOON if rest.partition(".")[0] in _AANSCHRIJVING else _VERBLIJFPLAATS})
    categorie = _CATEGORIE.get(head)
    return frozenset({categorie}) if categorie else frozenset()


@functools.lru_cache(maxsize=1024)
def _gevraagde_categorieen(fields: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*(_categorieen_van(field) for field in fields))


def met_gevraagde_rni(antwoord: Json, fields: Iterable[str]) -> Json:
    """The answer (in place) with only the `rni` entries of the categories `fields` ask for.

    The order of the entries is kept (RvIG's: Persoon, Overlijden, Verblijfplaats, then the
    Nationaliteiten); without any entry left, `rni` is left out.
    """
    rni = antwoord.get("rni")
    if not isinstance(rni, list):
        return antwoord
    gevraagd = _gevraagde_categorieen(tuple(fields))
    kept = [entry for entry in rni if isinstance(entry, dict) and entry.get("categorie") in gevraagd]
    if kept:
        antwoord["rni"] = kept
    else:
        del antwoord["rni"]
    return antwoord
