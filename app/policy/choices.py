"""What a gegevensset can name, as an editor offers it: APIs, query types, parameters and fields.

This module owns the lists a gegevensset editor (the beheerportaal) shows, derived from the BRP
contract so they never drift from it: the query types of each API (`app.brp.queries`), the search
parameters of those types as the allow-list names them, and RvIG's pickable fields
(`FieldsCatalogue.pickable_paths`, RvIG's own subset for authorisation screens) as a tree of groups
and sub-fields. It offers only what `check_gegevensset` accepts: no forbidden paths, no part of a
date or Waardetabel (RvIG delivers those whole), never `type`, `fields` or
`inclusiefOverledenPersonen` as a parameter. `simplest_fields` drops the paths a selected group
already covers, so a form that sends a group with its ticked sub-fields stores what a person writes.

It decides nothing (that is `app.policy.engine`), does no I/O and keeps no state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from app.brp.fields import FieldsCatalogue, ResponseType, fields_catalogue
from app.brp.queries import QUERY_TYPES
from app.policy.grants import ALL, DECEASED_PARAMETER

__all__ = [
    "ApiChoice",
    "FieldNode",
    "ParameterChoice",
    "api_choices",
    "field_tree",
    "parameter_choices",
    "simplest_fields",
]

_NEVER_PARAMETERS: Final = frozenset({"type", "fields", DECEASED_PARAMETER})
_GROUP_WILDCARD: Final = ".*"


class ApiChoice(msgspec.Struct, frozen=True):
    """An API and the RvIG query types it accepts."""

    api: str
    query_types: tuple[str, ...]


class ParameterChoice(msgspec.Struct, frozen=True):
    """A search parameter (wire name) and the query types that have it."""

    name: str
    query_types: tuple[str, ...]


class FieldNode(msgspec.Struct, frozen=True):
    """A pickable field path; `children` are the pickable paths directly below it."""

    path: str
    name: str
    children: tuple[FieldNode, ...] = ()

    def paths(self) -> tuple[str, ...]:
        """This path and every path below it, depth first."""
        return (self.path, *(path for child in self.children for path in child.paths()))


def api_choices() -> tuple[ApiChoice, ...]:
    """Every API with its query types, in RvIG's order."""
    return tuple(ApiChoice(api.value, tuple(types)) for api, types in QUERY_TYPES.items())


def parameter_choices() -> tuple[ParameterChoice, ...]:
    """Every search parameter a gegevensset may list, by name, with the query types using it."""
    found: dict[str, list[str]] = {}
    for types in QUERY_TYPES.values():
        for type_name, cls in types.items():
            for field in msgspec.structs.fields(cls):
                if field.encode_name not in _NEVER_PARAMETERS:
                    found.setdefault(field.encode_name, []).append(type_name)
    return tuple(ParameterChoice(name, tuple(found[name])) for name in sorted(found))


def field_tree(catalogue: FieldsCatalogue | None = None) -> tuple[FieldNode, ...]:
    """RvIG's pickable field paths (of every Personen response type) as groups → sub-fields, by name.

    A path whose parent is not pickable hangs below its nearest pickable ancestor (or at the top).
    """
    catalogue = catalogue or fields_catalogue()
    pickable = _pickable(catalogue)
    below: dict[str, list[str]] = {}
    for path in sorted(pickable):
        below.setdefault(_nearest_ancestor(path, pickable), []).append(path)

    def node(path: str) -> FieldNode:
        children = tuple(node(child) for child in below.get(path, ()))
        return FieldNode(path, path.rpartition(".")[2], children)

    return tuple(node(path) for path in below.get("", ()))


def simplest_fields(paths: Iterable[str]) -> tuple[str, ...]:
    """The paths without those a chosen group (`naam`, `naam.*`) or `*` already allows, sorted."""
    chosen = {path.strip() for path in paths if path.strip()}
    if ALL in chosen:
        return (ALL,)
    groups = {path.removesuffix(_GROUP_WILDCARD) for path in chosen}
    return tuple(
        sorted(path for path in chosen if not _below_any(path.removesuffix(_GROUP_WILDCARD), groups))
    )


def _pickable(catalogue: FieldsCatalogue) -> set[str]:
    # Offered only where a gegevensset may name it: not forbidden, not part of a date/Waardetabel.
    found: set[str] = set()
    for response_type in ResponseType:
        for path in catalogue.pickable_paths(response_type):
            if not catalogue.is_forbidden(path) and catalogue.canonical(path, response_type) == path:
                found.add(path)
    return found


def _nearest_ancestor(path: str, paths: set[str]) -> str:
    parent = path.rpartition(".")[0]
    while parent and parent not in paths:
        parent = parent.rpartition(".")[0]
    return parent


def _below_any(path: str, groups: set[str]) -> bool:
    parent = path.rpartition(".")[0]
    while parent:
        if parent in groups:
            return True
        parent = parent.rpartition(".")[0]
    return False
