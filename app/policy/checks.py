"""Load-time checks of a gegevensset against the BRP contract: what a tenant file got wrong.

This module owns the list of mistakes a gegevensset can contain and their wording for the
tenant-file loader (which adds the file and the gegevensset's name):
- an unknown API, query type or parameter, or a query type / parameter of an API the set does not
  allow; `type` or `fields` listed as a parameter; `inclusiefOverledenPersonen` listed as one
  (the `inclusief_overleden_personen` switch governs it);
- `fields` without the personen API; a field path that is in none of RvIG's field lists; a
  wildcard anywhere but `*` or a trailing `.*`; a path RvIG never lets anyone request
  (auto-delivered fields, parts of `gezag`); a part of a date or Waardetabel (RvIG always delivers
  the whole object, so such a path can never cover a request);
- an own-residents gemeente code that is not four digits, former gemeenten without one, and
  own residents combined with Verblijfplaatshistorie (that API cannot be confined).
The engine itself ignores what it does not know (it grants nothing), so a mistake here is never a
hole — only a set that does less than its author meant.

It never raises for bad input and does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

import msgspec

from app.brp.fields import FieldsCatalogue, ResponseType, fields_catalogue
from app.brp.queries import QUERY_TYPES, Api, Query
from app.policy.gegevensset import Gegevensset
from app.policy.grants import ALL, DECEASED_PARAMETER

__all__ = ["check_gegevensset"]

_GEMEENTE_CODE: Final = re.compile(r"[0-9]{4}")
_GROUP_WILDCARD: Final = ".*"
_NEVER_PARAMETERS: Final = frozenset({"type", "fields"})
_API_NAMES: Final = tuple(sorted(api.value for api in Api))
_TYPE_API: Final = {name: api for api, types in QUERY_TYPES.items() for name in types}


def check_gegevensset(gegevensset: Gegevensset, catalogue: FieldsCatalogue | None = None) -> list[str]:
    """Every problem in the gegevensset as `"<key>: <what is wrong>"` lines; empty when sound."""
    apis = frozenset(Api(name) for name in gegevensset.apis if name in _API_NAMES)
    return [
        *_check_apis(gegevensset.apis),
        *_check_query_types(gegevensset.query_types, apis),
        *_check_parameters(gegevensset.parameters, _allowed_types(apis, gegevensset.query_types)),
        *_check_fields(gegevensset.fields, apis, catalogue or fields_catalogue()),
        *_check_own_residents(gegevensset, apis),
    ]


def _allowed_types(apis: frozenset[Api], names: tuple[str, ...]) -> list[type[Query]]:
    return [cls for api in apis for name, cls in QUERY_TYPES[api].items() if ALL in names or name in names]


def _check_apis(names: Iterable[str]) -> Iterator[str]:
    for name in names:
        if name not in _API_NAMES:
            yield f"apis: unknown API {name!r} (known: {', '.join(_API_NAMES)})"


def _check_query_types(names: Iterable[str], apis: frozenset[Api]) -> Iterator[str]:
    for name in names:
        api = _TYPE_API.get(name)
        if name == ALL:
            continue
        if api is None:
            yield f"query_types: unknown query type {name!r}"
        elif api not in apis:
            yield f"query_types: {name!r} belongs to API {api.value!r}, which apis does not allow"


def _check_parameters(names: Iterable[str], types: list[type[Query]]) -> Iterator[str]:
    known = {field.encode_name for cls in types for field in msgspec.structs.fields(cls)}
    for name in names:
        if name == ALL:
            continue
        if name in _NEVER_PARAMETERS:
            yield f"parameters: {name!r} is always allowed and must not be listed"
        elif name == DECEASED_PARAMETER:
            yield f"parameters: {name!r} is governed by inclusief_overleden_personen, not listed here"
        elif name not in known:
            yield f"parameters: {name!r} is not a parameter of any query type this set allows"


def _check_fields(paths: Iterable[str], apis: frozenset[Api], catalogue: FieldsCatalogue) -> Iterator[str]:
    paths = tuple(paths)
    if paths and Api.PERSONEN not in apis:
        yield "fields: only the personen API has fields, and apis does not allow it"
        return
    for path in paths:
        problem = _field_problem(path, catalogue)
        if problem is not None:
            yield f"fields: {path!r} {problem}"


def _field_problem(path: str, catalogue: FieldsCatalogue) -> str | None:
    if path == ALL:
        return None
    plain = path.removesuffix(_GROUP_WILDCARD)
    if ALL in plain:
        return "has a wildcard; only '*' on its own or a trailing '.*' is allowed"
    if catalogue.is_forbidden(plain):
        return "is delivered automatically or only as a whole (gezag) and can never be requested"
    found = [rt for rt in ResponseType if catalogue.exists(plain, rt)]
    if not found:
        return "is not a field path of the Personen API"
    whole = catalogue.canonical(plain, found[0])
    if whole != plain:
        return f"is part of a date or Waardetabel that RvIG delivers whole; allow {whole!r}"
    return None


def _check_own_residents(gegevensset: Gegevensset, apis: frozenset[Api]) -> Iterator[str]:
    code = gegevensset.own_residents_gemeente
    if code is not None and not _GEMEENTE_CODE.fullmatch(code):
        yield f"own_residents_gemeente: {code!r} is not a gemeente code of four digits"
    for former in gegevensset.own_residents_former_gemeenten:
        if not _GEMEENTE_CODE.fullmatch(former):
            yield f"own_residents_former_gemeenten: {former!r} is not a gemeente code of four digits"
    if gegevensset.own_residents_former_gemeenten and code is None:
        yield "own_residents_former_gemeenten: given without own_residents_gemeente"
    if code is not None and Api.VERBLIJFPLAATSHISTORIE in apis:
        yield (
            "own_residents_gemeente: verblijfplaatshistorie cannot be limited to own residents; "
            "this set never allows it (use a separate set without the restriction)"
        )
