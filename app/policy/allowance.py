"""What gegevenssets allow, described for people (the beheerportaal's preview of a rule or role).

The description is read off the engine's own compiled grants (`app.policy.grants.Grant`): each
grant is asked about every API, query type, search parameter and catalogue field, so wildcards,
group paths and aliases mean here exactly what they mean when a request is judged — nothing is
re-read from the gegevenssets' text. Sets combine as `app.policy.engine` combines them: a query is
allowed when one set allows all of it, and permissions are never mixed across sets. So a
combination is described set by set; only the APIs and query types are summed up across them.

Fields are listed per response type (which fields exist depends on it), and only for the response
types of the Personen query types the set allows: what RvIG answers those with (`response_type_for`).

Own residents only and `inclusiefOverledenPersonen` are stated per set: the engine injects the
set's gemeenteVanInschrijving itself, so that parameter need not be listed for such a set.

Pure: no I/O; the catalogue's field index is compiled once per catalogue.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from app.brp.fields import FieldsCatalogue, ResponseType, fields_catalogue
from app.brp.queries import QUERY_TYPES, Api, PersonenQuery, response_type_for
from app.policy.gegevensset import Gegevensset
from app.policy.grants import DECEASED_PARAMETER, FieldIndex, Grant, QueryFacts

__all__ = ["Allowance", "CombinedAllowance", "FieldsAllowance", "QueryTypeAllowance", "describe"]

_NOT_PARAMETERS: Final = frozenset({"type", "fields", DECEASED_PARAMETER})


class QueryTypeAllowance(msgspec.Struct, frozen=True):
    """A query type a set allows, with the search parameters it may use in it."""

    api: str
    name: str
    parameters: tuple[str, ...]
    # The type has inclusiefOverledenPersonen and the set allows it.
    deceased: bool = False


class FieldsAllowance(msgspec.Struct, frozen=True):
    """The Personen fields a set allows in answers of the response types: the top-most allowed paths
    (none listed when `everything`). Response types for which the set allows the same are one entry.
    """

    response_types: tuple[str, ...]
    paths: tuple[str, ...]
    everything: bool = False


class Allowance(msgspec.Struct, frozen=True):
    """What one gegevensset allows."""

    gegevensset: str
    description: str
    apis: tuple[str, ...]
    query_types: tuple[QueryTypeAllowance, ...]
    fields: tuple[FieldsAllowance, ...]
    own_residents_gemeente: str | None
    inclusief_overleden_personen: bool
    withholds_secret_persons: bool


class CombinedAllowance(msgspec.Struct, frozen=True):
    """What a combination of gegevenssets allows: each set's own, and the APIs and types of all."""

    sets: tuple[Allowance, ...]
    apis: tuple[str, ...]
    query_types: tuple[str, ...]


def describe(
    gegevenssets: Iterable[Gegevensset], catalogue: FieldsCatalogue | None = None
) -> CombinedAllowance:
    """What the gegevenssets allow together (as the engine combines them), set by set."""
    catalogue = catalogue or fields_catalogue()
    index = _index(catalogue)
    sets = tuple(_allowance(gegevensset, index, catalogue) for gegevensset in gegevenssets)
    apis = [api.value for api in Api if any(api.value in allowance.apis for allowance in sets)]
    types = dict.fromkeys(qt.name for allowance in sets for qt in allowance.query_types)
    return CombinedAllowance(sets=sets, apis=tuple(apis), query_types=tuple(types))


@functools.lru_cache(maxsize=4)
def _index(catalogue: FieldsCatalogue) -> FieldIndex:
    return FieldIndex(catalogue)


def _allowance(gegevensset: Gegevensset, index: FieldIndex, catalogue: FieldsCatalogue) -> Allowance:
    grant = Grant(gegevensset, index)
    apis = tuple(api for api in Api if grant.allows_api(api))
    types = tuple(
        _query_type(grant, api, name, cls)
        for api in apis
        for name, cls in QUERY_TYPES[api].items()
        if grant.allows_type(QueryFacts(api=api, query_type=name, parameters=frozenset(), deceased=False))
    )
    answered = {_response_type(qt.name) for qt in types if qt.api == Api.PERSONEN.value}
    return Allowance(
        gegevensset=gegevensset.name,
        description=gegevensset.description,
        apis=tuple(api.value for api in apis),
        query_types=types,
        fields=_fields_per_response_type(grant, catalogue, answered),
        own_residents_gemeente=gegevensset.own_residents_gemeente,
        inclusief_overleden_personen=gegevensset.inclusief_overleden_personen,
        withholds_secret_persons=gegevensset.geheimhouding == "withhold",
    )


def _query_type(grant: Grant, api: Api, name: str, cls: type) -> QueryTypeAllowance:
    wire = [field.encode_name for field in msgspec.structs.fields(cls)]
    names = frozenset(wire) - _NOT_PARAMETERS
    asked = QueryFacts(api=api, query_type=name, parameters=names, deceased=DECEASED_PARAMETER in wire)
    refused = grant.refused_parameters(asked)
    return QueryTypeAllowance(
        api=api.value,
        name=name,
        parameters=tuple(sorted(names - refused)),
        deceased=DECEASED_PARAMETER in wire and DECEASED_PARAMETER not in refused,
    )


@functools.cache
def _response_type(query_type: str) -> ResponseType:
    """The response type RvIG answers a Personen query type with, as `response_type_for` decides it.

    It decides by the query's class alone, so it is asked about a query without values (a struct's
    constructor checks nothing; this one is never sent or read).
    """
    cls = QUERY_TYPES[Api.PERSONEN][query_type]
    required: dict[str, Any] = {field.name: None for field in msgspec.structs.fields(cls) if field.required}
    specimen = cls(**required)
    assert isinstance(specimen, PersonenQuery)
    return response_type_for(specimen)


def _fields_per_response_type(
    grant: Grant, catalogue: FieldsCatalogue, answered: set[ResponseType]
) -> tuple[FieldsAllowance, ...]:
    """The fields per response type of `answered` (in ResponseType order); none when it is empty."""
    merged: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    for response_type in (rt for rt in ResponseType if rt in answered):
        merged.setdefault(_fields(grant, response_type, catalogue), []).append(response_type.value)
    return tuple(
        FieldsAllowance(tuple(types), paths, everything) for (paths, everything), types in merged.items()
    )


def _fields(
    grant: Grant, response_type: ResponseType, catalogue: FieldsCatalogue
) -> tuple[tuple[str, ...], bool]:
    paths = tuple(sorted(p for p in catalogue.paths(response_type) if not catalogue.is_forbidden(p)))
    asked = QueryFacts(
        api=Api.PERSONEN,
        query_type="",
        parameters=frozenset(),
        deceased=False,
        fields=paths,
        response_type=response_type,
    )
    allowed = frozenset(paths) - grant.refused_fields(asked)
    top = tuple(path for path in paths if path in allowed and not _has_allowed_parent(path, allowed))
    # Everything is everything, whatever the response type: one entry, no list.
    return ((), True) if len(allowed) == len(paths) else (top, False)


def _has_allowed_parent(path: str, allowed: frozenset[str]) -> bool:
    parent = path.rpartition(".")[0]
    while parent:
        if parent in allowed:
            return True
        parent = parent.rpartition(".")[0]
    return False
