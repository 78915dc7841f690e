"""The Personen `fields` catalogue and RvIG's field-selection semantics.

This module owns which field paths exist per response type (RvIG's own `fields-*.csv`, copied to
`app/brp/catalogue/`), which paths may never be requested, how a requested path maps to the data it
returns (group, date/Waardetabel, alias), and `filter_fields`: the reduction of one person object to
the fields a client asked for. The gateway uses it to strip what it added for the protocol; the
sandbox uses it to answer like RvIG.

Paths RvIG accepts (`resolve`): every listed path, and one unlisted name below a field of fixed
shape, a date or Waardetabel (`fixed_shape_fields`): `geboorte.land.nietBestaand` asks for
`geboorte.land` ("alle velden van geboorte.land wordt geleverd als bestaande/niet-bestaande
sub-velden hiervan wordt gevraagd", RvIG's Gherkin). RvIG's validator lists these fields as
`geboorte.land.*` and its proxy drops the last name, so even an empty one (`geboorte.land.`)
counts. Two names below (`geboorte.land.code.x`) RvIG's validator passes but its autorisatie and
protocollering cannot map (a 500 there): not accepted here.

It must never decide what a tenant may see (that is `policy/`) and never log or keep person data:
`filter_fields` builds a new dict and forgets it.

Semantics of `filter_fields` (DOMAIN.md §3, bevragen `features/`, devportal):
- a group path (`naam`) returns the whole group; a list group (`kinderen`) filters every item;
- a sub-field of a date or Waardetabel (`geboorte.datum.jaar`, `geslacht.code`) returns the whole
  date/Waardetabel object, as RvIG's proxy rewrites such paths to their parent;
- the aliases `verblijfplaatsBinnenland` / `adresseringBinnenland` answer under `verblijfplaats` /
  `adressering`, without foreign-address parts (a foreign verblijfplaats is left out entirely, a
  foreign address gives no adresregels);
- auto-delivered fields are kept when present: `geheimhoudingPersoonsgegevens`,
  `opschortingBijhouding`, `rni` and `verificatie` always; `indicatieVastgesteldVerblijftNietOpAdres`,
  the polymorphic `type` and `inOnderzoek` with any group of which something is returned. Of an
  `inOnderzoek` object only the flags of returned fields are kept, with the `datumIngangOnderzoek*`
  dates when at least one flag is (an approximation: RvIG's answer already holds only the dates of
  the fields asked upstream, so this never adds a date RvIG did not send);
- a requested list that is empty or absent is returned as `[]`; empty groups and `null` values are
  omitted, and so are list items that end up empty (the list itself stays).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any, Final, TypeAlias

__all__ = [
    "AUTO_DELIVERED_FIELDS",
    "FORBIDDEN_FIELD_PARTS",
    "MAX_FIELDS",
    "FieldsCatalogue",
    "ResponseType",
    "fields_catalogue",
    "filter_fields",
]


class ResponseType(StrEnum):
    """The person schema a Personen query answers with; it decides which `fields` exist."""

    PERSOON = "Persoon"
    PERSOON_BEPERKT = "PersoonBeperkt"
    GEZAG_PERSOON_BEPERKT = "GezagPersoonBeperkt"


MAX_FIELDS: Final = 130

# A path that *contains* one of these is refused with "niet toegestane veldnaam" before its
# existence is checked: auto-delivered fields are never requested, and `gezag` only as a whole.
FORBIDDEN_FIELD_PARTS: Final = (
    "opschortingBijhouding",
    "geheimhoudingPersoonsgegevens",
    "inOnderzoek",
    "verificatie",
    "rni",
    "indicatieVastgesteldVerblijftNietOpAdres",
    "gezag.",
)

# Top-level fields RvIG delivers without being asked, whenever they apply.
AUTO_DELIVERED_FIELDS: Final = frozenset(
    {"geheimhoudingPersoonsgegevens", "opschortingBijhouding", "rni", "verificatie"}
)
# Delivered with the group they belong to when (part of) that group is returned.
_GROUP_COMPANIONS: Final = frozenset({"type", "indicatieVastgesteldVerblijftNietOpAdres"})
_IN_ONDERZOEK: Final = "inOnderzoek"
_ONDERZOEK_DATE_PREFIX: Final = "datumIngangOnderzoek"

# Array-valued fields of Persoon / GezagPersoonBeperkt (personen-openapi.yaml): asked but empty → [].
_LIST_FIELDS: Final = frozenset({"nationaliteiten", "kinderen", "ouders", "partners", "gezag", "rni"})

# A child named like this marks its parent as a date (`langFormaat`) or Waardetabel (`code`) object,
# whose sub-fields are never delivered on their own.
_LEAF_OBJECT_MARKERS: Final = frozenset({"langFormaat", "code"})

# alias → (the field it answers under, the foreign-address parts it never shows)
_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {"verblijfplaatsBinnenland": "verblijfplaats", "adresseringBinnenland": "adressering"}
)
_FOREIGN_VERBLIJFADRES_PARTS: Final = frozenset({"land", "regel1", "regel2", "regel3"})
_FOREIGN_ADRESREGELS: Final = frozenset({"adresregel1", "adresregel2", "adresregel3", "land"})
_VERBLIJFPLAATS_BUITENLAND: Final = "VerblijfplaatsBuitenland"

_CSV_FILES: Final[Mapping[ResponseType, str]] = MappingProxyType(
    {rt: f"fields-{rt.value}.csv" for rt in ResponseType}
)
_PICKABLE_CSV_FILES: Final[Mapping[ResponseType, str]] = MappingProxyType(
    {rt: f"fields-filtered-{rt.value}.csv" for rt in ResponseType}
)
_AANVULLEND_CSV_FILE: Final = "fields-AanvullendAutorisatiebesluit.csv"


class FieldsCatalogue:
    """The field paths RvIG accepts in `fields`, per response type, with their group structure.

    Build it with `fields_catalogue()` (loaded once from `app/brp/catalogue/`); it is immutable.
    """

    __slots__ = ("_aanvullend", "_descendants", "_leaf_objects", "_paths", "_pickable")

    def __init__(
        self,
        paths: Mapping[ResponseType, Iterable[str]],
        pickable: Mapping[ResponseType, Iterable[str]] | None = None,
        aanvullend: Iterable[str] = (),
    ) -> None:
        self._paths = {rt: frozenset(paths.get(rt, ())) for rt in ResponseType}
        self._pickable = {rt: frozenset((pickable or {}).get(rt, ())) for rt in ResponseType}
        self._aanvullend = frozenset(aanvullend)
        self._descendants = {rt: _descendants(self._paths[rt]) for rt in ResponseType}
        self._leaf_objects = {rt: _leaf_objects(self._paths[rt]) for rt in ResponseType}

    @classmethod
    def from_directory(cls, directory: Traversable) -> FieldsCatalogue:
        """Load RvIG's `fields-*.csv` files from a directory (one path per line, header `pad`)."""
        return cls(
            paths={rt: _read_paths(directory / name) for rt, name in _CSV_FILES.items()},
            pickable={rt: _read_paths(directory / name) for rt, name in _PICKABLE_CSV_FILES.items()},
            aanvullend=_read_paths(directory / _AANVULLEND_CSV_FILE),
        )

    def paths(self, response_type: ResponseType) -> frozenset[str]:
        """Every path RvIG's list names for the response type (including refused `gezag.*` paths)."""
        return self._paths[response_type]

    def pickable_paths(self, response_type: ResponseType) -> frozenset[str]:
        """RvIG's "filtered" subset: the paths worth offering in a field-authorisation UI."""
        return self._pickable[response_type]

    def aanvullend_autorisatiebesluit_paths(self) -> frozenset[str]:
        """Paths of informatieproducten (RvIG list; meaning inferred, informative only)."""
        return self._aanvullend

    @staticmethod
    def is_forbidden(path: str) -> bool:
        """True if RvIG refuses the path as "niet toegestane veldnaam" (auto-delivered, `gezag.`)."""
        return any(part in path for part in FORBIDDEN_FIELD_PARTS)

    def exists(self, path: str, response_type: ResponseType) -> bool:
        """True if the path is in RvIG's list for the response type (case-sensitive)."""
        return path in self._paths[response_type]

    def is_valid_path(self, path: str, response_type: ResponseType) -> bool:
        """True if a client may put the path in `fields` for a query of this response type."""
        return not self.is_forbidden(path) and self.resolve(path, response_type) is not None

    def fixed_shape_fields(self, response_type: ResponseType) -> frozenset[str]:
        """The dates and Waardetabellen a client may request: RvIG only ever delivers them whole."""
        return frozenset(p for p in self._leaf_objects[response_type] if not self.is_forbidden(p))

    def resolve(self, path: str, response_type: ResponseType) -> str | None:
        """The listed path a requested path stands for, or None if RvIG does not know it.

        A listed path stands for itself; one unlisted name below a date or Waardetabel
        (`geboorte.land.nietBestaand`, `geboorte.land.`) for that whole object. Forbidden paths
        are judged like any other here (`is_forbidden` is RvIG's earlier check).
        """
        if path in self._paths[response_type]:
            return path
        parent, dot, _ = path.rpartition(".")
        return parent if dot and parent in self._leaf_objects[response_type] else None

    def canonical(self, path: str, response_type: ResponseType) -> str:
        """The path that is actually delivered: a date/Waardetabel sub-field, listed or not, is the object."""
        parent, _, _ = path.rpartition(".")
        return parent if parent in self._leaf_objects[response_type] else path

    def expand(self, fields: Iterable[str], response_type: ResponseType) -> frozenset[str]:
        """Every catalogue path the requested fields return: the (canonical) path and all below it.

        `naam` expands to `naam` and all `naam.*` paths; `geslacht.code` to `geslacht`,
        `geslacht.code` and `geslacht.omschrijving`. Unknown paths expand to themselves only.
        """
        descendants = self._descendants[response_type]
        out: set[str] = set()
        for path in fields:
            canonical = self.canonical(path, response_type)
            out.add(canonical)
            out.update(descendants.get(canonical, ()))
        return frozenset(out)

    def children(self, path: str, response_type: ResponseType) -> frozenset[str]:
        """The direct sub-field names of a path (empty for a leaf)."""
        prefix = path + "."
        return frozenset(
            p[len(prefix) :]
            for p in self._descendants[response_type].get(path, ())
            if "." not in p[len(prefix) :]
        )


def _read_paths(file: Traversable) -> frozenset[str]:
    # RvIG's files: one path per line, header `pad` (not in the AanvullendAutorisatiebesluit
    # list), LF or CRLF line ends.
    lines = (line.strip() for line in file.read_text(encoding="utf-8").splitlines())
    return frozenset(line for line in lines if line and line != "pad")


def _descendants(paths: frozenset[str]) -> dict[str, frozenset[str]]:
    below: dict[str, set[str]] = {}
    for path in paths:
        for prefix in _proper_prefixes(path):
            below.setdefault(prefix, set()).add(path)
    return {prefix: frozenset(found) for prefix, found in below.items()}


def _proper_prefixes(path: str) -> Iterator[str]:
    parts = path.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end])


def _leaf_objects(paths: frozenset[str]) -> frozenset[str]:
    return frozenset(
        path.rpartition(".")[0]
        for path in paths
        if "." in path and path.rpartition(".")[2] in _LEAF_OBJECT_MARKERS
    )


@functools.cache
def fields_catalogue() -> FieldsCatalogue:
    """The catalogue built from `app/brp/catalogue/` (loaded on first use, then shared)."""
    return FieldsCatalogue.from_directory(resources.files(__package__ or "app.brp") / "catalogue")


# --- filter_fields -------------------------------------------------------------------------------

# A selection tree: field name → sub-selection, or None for "the whole value".
Selection: TypeAlias = Mapping[str, "Selection | None"]


class _Nothing:
    __slots__ = ()


_NOTHING: Final = _Nothing()


def filter_fields(
    obj: Mapping[str, Any], fields: Sequence[str], response_type: ResponseType
) -> dict[str, Any]:
    """Reduce ONE person object to the requested fields, with RvIG's semantics (module docstring).

    `fields` are validated paths (see `FieldsCatalogue.is_valid_path`); the object is not changed.
    """
    plain, aliased = _selections(tuple(fields), response_type)
    result = _select(obj, plain, root=True)
    if aliased:
        _merge_into(result, _select(_binnenland_view(obj), aliased, root=False))
    return result


@functools.lru_cache(maxsize=1024)
def _selections(fields: tuple[str, ...], response_type: ResponseType) -> tuple[Selection, Selection]:
    # Clients send the same few field lists again and again: build each tree once.
    catalogue = fields_catalogue()
    plain: dict[str, Any] = {}
    aliased: dict[str, Any] = {}
    for field in fields:
        parts = catalogue.canonical(field, response_type).split(".")
        if parts[0] in _ALIASES:
            _add_path(aliased, [_ALIASES[parts[0]], *parts[1:]])
        else:
            _add_path(plain, parts)
    return plain, aliased


def _add_path(tree: dict[str, Any], parts: list[str]) -> None:
    node = tree
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part in node and node[part] is None:
            return  # the whole value is already selected
        if last:
            node[part] = None
            return
        node = node.setdefault(part, {})


def _select(obj: Mapping[str, Any], selection: Selection, *, root: bool) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in obj.items():
        if key in selection:
            picked = _pick(value, selection[key])
            if picked is not _NOTHING:
                kept[key] = picked
    missing_lists = [key for key in selection if key not in obj and key in _LIST_FIELDS]
    if not kept and not root:
        return {key: [] for key in missing_lists}
    result = _with_companions(obj, kept, root=root)
    for key in missing_lists:
        result[key] = []
    return result


def _pick(value: Any, selection: Selection | None) -> Any:
    if value is None:
        return _NOTHING
    if selection is None:
        return _NOTHING if value == {} else value
    if isinstance(value, list):
        items = (_select(item, selection, root=False) if isinstance(item, dict) else item for item in value)
        return [item for item in items if item not in ({}, None)]
    if isinstance(value, dict):
        return _select(value, selection, root=False) or _NOTHING
    return _NOTHING  # a sub-field of a scalar does not exist


def _with_companions(obj: Mapping[str, Any], kept: dict[str, Any], *, root: bool) -> dict[str, Any]:
    # Rebuild in the object's own key order so the answer reads like RvIG's.
    result: dict[str, Any] = {}
    for key, value in obj.items():
        if key in kept:
            result[key] = kept[key]
        elif value is None:
            continue
        elif (root and key in AUTO_DELIVERED_FIELDS) or (kept and key in _GROUP_COMPANIONS):
            result[key] = value
        elif kept and key == _IN_ONDERZOEK and isinstance(value, dict):
            flags = _in_onderzoek_for(value, kept, obj)
            if flags:
                result[key] = flags
    return result


def _in_onderzoek_for(
    in_onderzoek: Mapping[str, Any], kept: Mapping[str, Any], obj: Mapping[str, Any]
) -> dict[str, Any]:
    # The flags of what is returned (a companion such as `type` is returned too), plus the
    # onderzoek dates as soon as one flag is.
    flags = [k for k in in_onderzoek if k in kept or (k in _GROUP_COMPANIONS and k in obj)]
    if not flags:
        return {}
    return {k: v for k, v in in_onderzoek.items() if k in flags or k.startswith(_ONDERZOEK_DATE_PREFIX)}


def _binnenland_view(person: Mapping[str, Any]) -> dict[str, Any]:
    # What the *Binnenland aliases may show: the verblijfplaats unless it is abroad, and the
    # adressering without its foreign-address lines.
    view: dict[str, Any] = {}
    verblijfplaats = person.get("verblijfplaats")
    abroad = isinstance(verblijfplaats, dict) and verblijfplaats.get("type") == _VERBLIJFPLAATS_BUITENLAND
    if isinstance(verblijfplaats, dict) and not abroad:
        view["verblijfplaats"] = _without_foreign_verblijfadres(verblijfplaats)
    adressering = person.get("adressering")
    if isinstance(adressering, dict):
        abroad = abroad or "land" in adressering or "adresregel3" in adressering
        drop = _FOREIGN_ADRESREGELS if abroad else frozenset({"adresregel3", "land"})
        view["adressering"] = _without(adressering, drop)
    return view


def _without_foreign_verblijfadres(verblijfplaats: Mapping[str, Any]) -> dict[str, Any]:
    adres = verblijfplaats.get("verblijfadres")
    if not isinstance(adres, dict):
        return dict(verblijfplaats)
    binnenland = _without(adres, _FOREIGN_VERBLIJFADRES_PARTS)
    copy = {k: v for k, v in verblijfplaats.items() if k != "verblijfadres"}
    if binnenland:
        copy["verblijfadres"] = binnenland
    return copy


def _without(obj: Mapping[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in drop}
    in_onderzoek = out.get(_IN_ONDERZOEK)
    if isinstance(in_onderzoek, dict):
        out[_IN_ONDERZOEK] = {k: v for k, v in in_onderzoek.items() if k not in drop}
    return out


def _merge_into(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    # Builds new dicts where both sides have a group: `target` may hold the caller's own objects.
    for key, value in extra.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged = dict(current)
            _merge_into(merged, value)
            target[key] = merged
        elif key not in target:
            target[key] = value
