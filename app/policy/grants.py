"""Grants: what one gegevensset allows, compiled so a request is judged with set lookups.

This module owns the meaning of a gegevensset's allow-lists:
- APIs; query types (`*` = every type of the set's APIs; a type of an API the set does not allow
  counts for nothing); parameters (`*` = all; `type` and `fields` are never parameters,
  `inclusiefOverledenPersonen: true` needs `inclusief_overleden_personen`, `false` needs nothing);
- field paths: `*` allows everything, `naam` and `naam.*` allow `naam` and everything below it. A
  requested path is covered when every catalogue leaf it returns is covered — so a group needs all
  of its sub-fields (or the group itself), and a date or Waardetabel sub-field
  (`geboorte.datum.jaar`) needs the whole object, because that is what RvIG delivers. Alias leaves
  (`verblijfplaatsBinnenland...`, `adresseringBinnenland...`) are covered by their counterpart
  (`verblijfplaats...`, `adressering...`) too; the reverse is not true.
Names it does not know grant nothing (deny by default; `check_gegevensset` reports them when the
tenant file is loaded). `QueryFacts` is what a grant looks at in a query, computed once per request.

It decides nothing about own residents or geheimhouding (`app.policy.engine` does), does no I/O and
keeps no state beyond the immutable objects it builds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Final

import msgspec

from app.brp.fields import FieldsCatalogue, ResponseType
from app.brp.queries import (
    QUERY_TYPES,
    Api,
    PersonenQuery,
    Query,
    api_of,
    response_type_for,
    search_parameters,
)
from app.policy.gegevensset import Gegevensset

__all__ = [
    "ALL",
    "DECEASED_PARAMETER",
    "FIELD_ALIASES",
    "GEMEENTE_PARAMETER",
    "FieldIndex",
    "Grant",
    "QueryFacts",
    "query_type_name",
]

ALL: Final = "*"
_GROUP_WILDCARD: Final = ".*"
GEMEENTE_PARAMETER: Final = "gemeenteVanInschrijving"
DECEASED_PARAMETER: Final = "inclusiefOverledenPersonen"

# alias → the field it is a restricted view of (DOMAIN.md §3): allowed wherever that field is.
FIELD_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {"verblijfplaatsBinnenland": "verblijfplaats", "adresseringBinnenland": "adressering"}
)

_API_NAMES: Final = frozenset(api.value for api in Api)
_TYPE_NAMES: Final[Mapping[type[Query], str]] = MappingProxyType(
    {cls: name for types in QUERY_TYPES.values() for name, cls in types.items()}
)


def query_type_name(query: Query) -> str:
    """RvIG's `type` value of a query."""
    return _TYPE_NAMES[type(query)]


class QueryFacts(msgspec.Struct, frozen=True):
    """What doelbinding looks at in one query."""

    api: Api
    query_type: str
    # Wire names of the search parameters used, without inclusiefOverledenPersonen.
    parameters: frozenset[str]
    # inclusiefOverledenPersonen: true
    deceased: bool
    fields: tuple[str, ...] = ()
    response_type: ResponseType | None = None
    gemeente: str | None = None

    @classmethod
    def of(cls, query: Query) -> QueryFacts:
        """The facts of a validated query."""
        used = search_parameters(query)
        facts = cls(
            api=api_of(query),
            query_type=query_type_name(query),
            parameters=frozenset(name for name in used if name != DECEASED_PARAMETER),
            deceased=used.get(DECEASED_PARAMETER) is True,
        )
        if isinstance(query, PersonenQuery):
            return msgspec.structs.replace(
                facts,
                fields=query.fields,
                response_type=response_type_for(query),
                gemeente=query.gemeente_van_inschrijving,
            )
        return facts

    def with_gemeente(self, code: str) -> QueryFacts:
        """The facts of the same query with gemeenteVanInschrijving set to `code`."""
        return msgspec.structs.replace(self, gemeente=code, parameters=self.parameters | {GEMEENTE_PARAMETER})


class FieldIndex:
    """Per response type: the catalogue leaves that requesting each catalogue path returns.

    Built once from a `FieldsCatalogue` and immutable; share one between all policies.
    """

    __slots__ = ("_leaves",)

    def __init__(self, catalogue: FieldsCatalogue) -> None:
        self._leaves: Mapping[ResponseType, Mapping[str, frozenset[str]]] = MappingProxyType(
            {rt: _leaves_per_path(catalogue, rt) for rt in ResponseType}
        )

    def leaves(self, response_type: ResponseType) -> Mapping[str, frozenset[str]]:
        """Requestable path → the leaf paths it returns (a leaf returns itself)."""
        return self._leaves[response_type]


def _leaves_per_path(catalogue: FieldsCatalogue, response_type: ResponseType) -> Mapping[str, frozenset[str]]:
    paths = catalogue.paths(response_type)
    inner = {prefix for path in paths for prefix in _prefixes(path) if prefix != path}
    return MappingProxyType({path: catalogue.expand((path,), response_type) - inner for path in paths})


def _prefixes(path: str) -> Iterator[str]:
    # "a.b.c" → "a", "a.b", "a.b.c"
    end = path.find(".")
    while end != -1:
        yield path[:end]
        end = path.find(".", end + 1)
    yield path


class Grant:
    """The permissions of one gegevensset, with the requestable paths it covers per response type."""

    __slots__ = ("_all_fields", "_all_parameters", "_apis", "_covered", "_deceased", "_parameters", "_types")

    def __init__(self, gegevensset: Gegevensset, index: FieldIndex) -> None:
        self._apis = frozenset(Api(name) for name in gegevensset.apis if name in _API_NAMES)
        self._types = _query_types(self._apis, gegevensset.query_types)
        self._parameters = frozenset(gegevensset.parameters) - {ALL}
        self._all_parameters = ALL in gegevensset.parameters
        self._deceased = gegevensset.inclusief_overleden_personen
        self._all_fields = ALL in gegevensset.fields
        self._covered: Mapping[ResponseType, frozenset[str]] = MappingProxyType(
            _covered_per_type(gegevensset.fields, index)
            if Api.PERSONEN in self._apis and not self._all_fields
            else {}
        )

    def allows_api(self, api: Api) -> bool:
        """True if the set allows the API."""
        return api in self._apis

    def allows_type(self, facts: QueryFacts) -> bool:
        """True if the set allows the query's API and type: it is a candidate for the query."""
        return facts.api in self._apis and facts.query_type in self._types

    def refused_parameters(self, facts: QueryFacts, own_gemeente: str | None = None) -> set[str]:
        """Every parameter used that the set does not allow.

        `own_gemeente`: a gemeenteVanInschrijving of this value is allowed without being listed
        (it is what the own-residents rule would inject itself).
        """
        refused = {name for name in facts.parameters if not self._allows_parameter(name, facts, own_gemeente)}
        if facts.deceased and not self._deceased:
            refused.add(DECEASED_PARAMETER)
        return refused

    def refused_fields(self, facts: QueryFacts) -> set[str]:
        """Every requested `fields` path the set does not cover."""
        if self._all_fields or facts.response_type is None:
            return set()
        covered = self._covered.get(facts.response_type, frozenset())
        return {path for path in facts.fields if path not in covered}

    def _allows_parameter(self, name: str, facts: QueryFacts, own_gemeente: str | None) -> bool:
        if self._all_parameters or name in self._parameters:
            return True
        return name == GEMEENTE_PARAMETER and own_gemeente is not None and facts.gemeente == own_gemeente


def _query_types(apis: frozenset[Api], names: Iterable[str]) -> frozenset[str]:
    known = {name for api in apis for name in QUERY_TYPES[api]}
    names = frozenset(names)
    return frozenset(known) if ALL in names else names & known


def _covered_per_type(paths: Iterable[str], index: FieldIndex) -> dict[ResponseType, frozenset[str]]:
    allowed = frozenset(path.removesuffix(_GROUP_WILDCARD) for path in paths)
    return {
        rt: frozenset(
            path
            for path, leaves in index.leaves(rt).items()
            if all(_covers(allowed, leaf) for leaf in leaves)
        )
        for rt in ResponseType
    }


def _covers(allowed: frozenset[str], leaf: str) -> bool:
    # An allowed path is the leaf or above it; an alias leaf also by its counterpart's.
    if any(prefix in allowed for prefix in _prefixes(leaf)):
        return True
    head, dot, rest = leaf.partition(".")
    counterpart = FIELD_ALIASES.get(head)
    return counterpart is not None and _covers(allowed, counterpart + dot + rest)
