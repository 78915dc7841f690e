"""The three BRP APIs and their typed queries: one frozen struct per RvIG request `type`.

This module owns the names and paths of the APIs, the query types with their wire form (camelCase,
tagged on `type`), `encode_query` — the one place that encodes a request body for RvIG — and the
small facts about a query the rest of the broker needs (its search parameters, its response type,
RvIG's maximum number of results).

A query here is always valid: only `app.brp.validation.parse_query` builds one from client input.
This module must never validate, do I/O, or carry anything RvIG's contract does not define.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeAlias

import msgspec

from app.brp.fields import ResponseType

__all__ = [
    "API_PATHS",
    "QUERY_TYPES",
    "Api",
    "BewoningMetPeildatum",
    "BewoningMetPeriode",
    "BewoningQuery",
    "PersonenQuery",
    "Query",
    "RaadpleegMetBurgerservicenummer",
    "RaadpleegMetPeildatum",
    "RaadpleegMetPeriode",
    "VerblijfplaatshistorieQuery",
    "ZoekMetAdresseerbaarObjectIdentificatie",
    "ZoekMetGeslachtsnaamEnGeboortedatum",
    "ZoekMetNaamEnGemeenteVanInschrijving",
    "ZoekMetNummeraanduidingIdentificatie",
    "ZoekMetPostcodeEnHuisnummer",
    "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
    "api_of",
    "encode_query",
    "max_results",
    "response_type_for",
    "search_parameters",
]


class Api(StrEnum):
    """The three RvIG BRP APIs the broker fronts."""

    PERSONEN = "personen"
    BEWONING = "bewoning"
    VERBLIJFPLAATSHISTORIE = "verblijfplaatshistorie"


# The paths inside RvIG's reference stack (they appear as problem+json `instance`); the broker
# serves the same paths so a Haal Centraal client only changes its base URL.
API_PATHS: Final[Mapping[Api, str]] = MappingProxyType(
    {
        Api.PERSONEN: "/haalcentraal/api/brp/personen",
        Api.BEWONING: "/haalcentraal/api/bewoning/bewoningen",
        Api.VERBLIJFPLAATSHISTORIE: "/haalcentraal/api/brphistorie/verblijfplaatshistorie",
    }
)


class _Query(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel", tag_field="type"):
    """Base of every query: the wire form is `{"type": <tag>, <camelCase parameters>}`."""


# --- Personen ------------------------------------------------------------------------------------


class _PersonenQuery(_Query, frozen=True, kw_only=True):
    fields: tuple[str, ...]


class RaadpleegMetBurgerservicenummer(
    _PersonenQuery, frozen=True, kw_only=True, tag="RaadpleegMetBurgerservicenummer"
):
    """Consult up to 20 persons by BSN; answers `Persoon`."""

    burgerservicenummer: tuple[str, ...]
    gemeente_van_inschrijving: str | None = None


class ZoekMetGeslachtsnaamEnGeboortedatum(
    _PersonenQuery, frozen=True, kw_only=True, tag="ZoekMetGeslachtsnaamEnGeboortedatum"
):
    """Search by surname and date of birth; answers `PersoonBeperkt`, at most 10."""

    geslachtsnaam: str
    geboortedatum: datetime.date
    voornamen: str | None = None
    voorvoegsel: str | None = None
    geslacht: str | None = None
    inclusief_overleden_personen: bool | None = None
    gemeente_van_inschrijving: str | None = None


class ZoekMetNaamEnGemeenteVanInschrijving(
    _PersonenQuery, frozen=True, kw_only=True, tag="ZoekMetNaamEnGemeenteVanInschrijving"
):
    """Search by name within a gemeente; answers `PersoonBeperkt`, at most 10."""

    geslachtsnaam: str
    voornamen: str
    gemeente_van_inschrijving: str
    voorvoegsel: str | None = None
    geslacht: str | None = None
    inclusief_overleden_personen: bool | None = None


class ZoekMetPostcodeEnHuisnummer(
    _PersonenQuery, frozen=True, kw_only=True, tag="ZoekMetPostcodeEnHuisnummer"
):
    """Search the residents of an address; answers `PersoonBeperkt`, at most 30."""

    postcode: str
    huisnummer: int
    huisletter: str | None = None
    huisnummertoevoeging: str | None = None
    geboortedatum: datetime.date | None = None
    geslachtsnaam: str | None = None
    inclusief_overleden_personen: bool | None = None
    gemeente_van_inschrijving: str | None = None


class ZoekMetStraatHuisnummerEnGemeenteVanInschrijving(
    _PersonenQuery, frozen=True, kw_only=True, tag="ZoekMetStraatHuisnummerEnGemeenteVanInschrijving"
):
    """Search the residents of a street address in a gemeente; answers `PersoonBeperkt`, at most 30."""

    straat: str
    huisnummer: int
    gemeente_van_inschrijving: str
    huisletter: str | None = None
    huisnummertoevoeging: str | None = None
    inclusief_overleden_personen: bool | None = None


class ZoekMetNummeraanduidingIdentificatie(
    _PersonenQuery, frozen=True, kw_only=True, tag="ZoekMetNummeraanduidingIdentificatie"
):
    """Search the residents of a BAG nummeraanduiding; answers `PersoonBeperkt`, at most 30."""

    nummeraanduiding_identificatie: str
    inclusief_overleden_personen: bool | None = None
    gemeente_van_inschrijving: str | None = None


class ZoekMetAdresseerbaarObjectIdentificatie(
    _PersonenQuery, frozen=True, kw_only=True, tag="ZoekMetAdresseerbaarObjectIdentificatie"
):
    """Search the residents of a BAG adresseerbaar object; answers `GezagPersoonBeperkt`, at most 30."""

    adresseerbaar_object_identificatie: str
    inclusief_overleden_personen: bool | None = None
    gemeente_van_inschrijving: str | None = None


# --- Bewoning ------------------------------------------------------------------------------------


class BewoningMetPeildatum(_Query, frozen=True, kw_only=True, tag="BewoningMetPeildatum"):
    """Who lived at an adresseerbaar object on one day."""

    adresseerbaar_object_identificatie: str
    peildatum: datetime.date


class BewoningMetPeriode(_Query, frozen=True, kw_only=True, tag="BewoningMetPeriode"):
    """Who lived at an adresseerbaar object during a period (`datumTot` after `datumVan`)."""

    adresseerbaar_object_identificatie: str
    datum_van: datetime.date
    datum_tot: datetime.date


# --- Verblijfplaatshistorie ----------------------------------------------------------------------


class RaadpleegMetPeildatum(_Query, frozen=True, kw_only=True, tag="RaadpleegMetPeildatum"):
    """Where one person lived on one day."""

    burgerservicenummer: str
    peildatum: datetime.date


class RaadpleegMetPeriode(_Query, frozen=True, kw_only=True, tag="RaadpleegMetPeriode"):
    """Where one person lived during a period (`datumTot` after `datumVan`)."""

    burgerservicenummer: str
    datum_van: datetime.date
    datum_tot: datetime.date


PersonenQuery: TypeAlias = (
    RaadpleegMetBurgerservicenummer
    | ZoekMetGeslachtsnaamEnGeboortedatum
    | ZoekMetNaamEnGemeenteVanInschrijving
    | ZoekMetPostcodeEnHuisnummer
    | ZoekMetStraatHuisnummerEnGemeenteVanInschrijving
    | ZoekMetNummeraanduidingIdentificatie
    | ZoekMetAdresseerbaarObjectIdentificatie
)
BewoningQuery: TypeAlias = BewoningMetPeildatum | BewoningMetPeriode
VerblijfplaatshistorieQuery: TypeAlias = RaadpleegMetPeildatum | RaadpleegMetPeriode
Query: TypeAlias = PersonenQuery | BewoningQuery | VerblijfplaatshistorieQuery

# The query types each API accepts, by RvIG type name (the `type` value, case-sensitive).
QUERY_TYPES: Final[Mapping[Api, Mapping[str, type[Query]]]] = MappingProxyType(
    {
        Api.PERSONEN: MappingProxyType(
            {
                "RaadpleegMetBurgerservicenummer": RaadpleegMetBurgerservicenummer,
                "ZoekMetGeslachtsnaamEnGeboortedatum": ZoekMetGeslachtsnaamEnGeboortedatum,
                "ZoekMetNaamEnGemeenteVanInschrijving": ZoekMetNaamEnGemeenteVanInschrijving,
                "ZoekMetPostcodeEnHuisnummer": ZoekMetPostcodeEnHuisnummer,
                "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving": (
                    ZoekMetStraatHuisnummerEnGemeenteVanInschrijving
                ),
                "ZoekMetNummeraanduidingIdentificatie": ZoekMetNummeraanduidingIdentificatie,
                "ZoekMetAdresseerbaarObjectIdentificatie": ZoekMetAdresseerbaarObjectIdentificatie,
            }
        ),
        Api.BEWONING: MappingProxyType(
            {"BewoningMetPeildatum": BewoningMetPeildatum, "BewoningMetPeriode": BewoningMetPeriode}
        ),
        Api.VERBLIJFPLAATSHISTORIE: MappingProxyType(
            {"RaadpleegMetPeildatum": RaadpleegMetPeildatum, "RaadpleegMetPeriode": RaadpleegMetPeriode}
        ),
    }
)
_API_OF: Final[Mapping[type[Query], Api]] = MappingProxyType(
    {cls: api for api, types in QUERY_TYPES.items() for cls in types.values()}
)

# RvIG answers 400 `tooManyResults` above these (DOMAIN.md §3, since Personen v2.5.0).
_MAX_RESULTS: Final[Mapping[type[Query], int]] = MappingProxyType(
    {
        ZoekMetGeslachtsnaamEnGeboortedatum: 10,
        ZoekMetNaamEnGemeenteVanInschrijving: 10,
        ZoekMetPostcodeEnHuisnummer: 30,
        ZoekMetStraatHuisnummerEnGemeenteVanInschrijving: 30,
        ZoekMetNummeraanduidingIdentificatie: 30,
        ZoekMetAdresseerbaarObjectIdentificatie: 30,
    }
)

_ENCODER: Final = msgspec.json.Encoder()
_NOT_SEARCH_PARAMETERS: Final = frozenset({"type", "fields"})


def api_of(query: Query) -> Api:
    """The API a query belongs to."""
    return _API_OF[type(query)]


def encode_query(query: Query) -> bytes:
    """The canonical JSON body for RvIG: `type` first, only known properties, `null`s left out.

    Lenient client input arrives normalised: `huisnummer` as a number, `inclusiefOverledenPersonen`
    as a boolean, dates as `yyyy-mm-dd`.
    """
    return _ENCODER.encode(query)


def search_parameters(query: Query) -> dict[str, object]:
    """The query's parameters by wire name, without `type` and `fields` (for protocol and doelbinding).

    Values are JSON-ready builtins: dates as `yyyy-mm-dd` text, the Personen BSN list as a tuple.
    """
    wire = msgspec.to_builtins(query)
    return {name: value for name, value in wire.items() if name not in _NOT_SEARCH_PARAMETERS}


def response_type_for(query: PersonenQuery) -> ResponseType:
    """The person schema RvIG answers a Personen query with (it decides which `fields` exist)."""
    if isinstance(query, RaadpleegMetBurgerservicenummer):
        return ResponseType.PERSOON
    if isinstance(query, ZoekMetAdresseerbaarObjectIdentificatie):
        return ResponseType.GEZAG_PERSOON_BEPERKT
    return ResponseType.PERSOON_BEPERKT


def max_results(query: Query) -> int | None:
    """RvIG's maximum number of persons a search may find (None: not a search)."""
    return _MAX_RESULTS.get(type(query))
