"""Gegevenssets: `/beheer/t/{slug}/gegevenssets`, what each purpose may see, edited with a field
picker built from RvIG's fields catalogue.

Every write is the admin API's own (`PUT`/`DELETE .../gegevenssets/{name}`), made by the flow that
Toegang shares (`app.portal.sections`); so `check_gegevensset` (through the tenant file's
validator) judges the set against RvIG's catalogue, and every change is audited. The choices the
form offers come from `app.policy.choices` (the catalogue's pickable fields as groups → sub-fields,
the query types and parameters of each API), which offers only what the checker accepts. The
preview is the change as a dry run, described by `app.policy.allowance`.

The field picker is plain nested checkboxes (a group, and inside it its sub-fields); a ticked group
allows all of it, so sub-fields it covers are dropped before saving (`simplest_fields`). Values the
picker does not offer (`naam.*`, a path outside RvIG's pickable list) are kept as ticked extras, so
saving never loses what a tenant file or the admin API put there. `gegevenssets.js` adds a search
box and ticks a group's sub-fields along with it; without it the page works the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.policy import Gegevensset
from app.policy.allowance import CombinedAllowance, describe
from app.policy.choices import FieldNode, api_choices, field_tree, parameter_choices, simplest_fields
from app.portal.forms import Choice, first
from app.portal.sections import NAME_LIMIT, SectionPages, planned
from app.tenancy import Change, TenantSpec
from app.tenancy.service import TenantState, etag_of

__all__ = ["GEGEVENSSETS_ROUTES", "GegevenssetForm", "PickerNode", "picker"]

_ALL: Final = "*"
_GROUP_WILDCARD: Final = ".*"
_API_LABELS: Final = {
    "personen": "Personen (BRP bevragen)",
    "bewoning": "Bewoning (wie woonde op een adres)",
    "verblijfplaatshistorie": "Verblijfplaatshistorie",
}
_IN_USE: Final = re.compile(r"^rules\.(?P<rule>[^.]+)\.gegevenssets$")


class ApiGroup(msgspec.Struct, frozen=True):
    """The query types of one API, as a group of checkboxes."""

    api: str
    label: str
    choices: tuple[Choice, ...]


class PickerNode(msgspec.Struct, frozen=True, kw_only=True):
    """One checkbox of the field picker, with the sub-fields inside it."""

    path: str
    name: str
    id: str
    checked: bool
    open: bool
    children: tuple[PickerNode, ...] = ()


class GegevenssetView(msgspec.Struct, frozen=True, kw_only=True):
    """A gegevensset as the list shows it."""

    name: str
    description: str
    apis: tuple[str, ...]
    query_types: tuple[str, ...]
    fields: tuple[str, ...]
    parameters: tuple[str, ...]
    own_residents_gemeente: str | None
    inclusief_overleden_personen: bool
    used_by: tuple[str, ...]
    etag: str


class GegevenssetForm(msgspec.Struct, frozen=True, kw_only=True):
    """A gegevensset's fields as the form shows and sends them."""

    name: str = ""
    description: str = ""
    apis: tuple[str, ...] = ("personen",)
    query_types: tuple[str, ...] = (_ALL,)
    fields: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    inclusief_overleden_personen: bool = False
    own_residents_gemeente: str = ""
    own_residents_former_gemeenten: str = ""
    geheimhouding: str = "deliver"

    @classmethod
    def of(cls, gegevensset: Gegevensset) -> GegevenssetForm:
        """The form of a stored gegevensset."""
        return cls(
            name=gegevensset.name,
            description=gegevensset.description,
            apis=gegevensset.apis,
            query_types=gegevensset.query_types,
            fields=gegevensset.fields,
            parameters=gegevensset.parameters,
            inclusief_overleden_personen=gegevensset.inclusief_overleden_personen,
            own_residents_gemeente=gegevensset.own_residents_gemeente or "",
            own_residents_former_gemeenten=" ".join(gegevensset.own_residents_former_gemeenten),
            geheimhouding=gegevensset.geheimhouding,
        )

    @classmethod
    def sent(cls, form: Mapping[str, list[str]], name: str | None) -> GegevenssetForm:
        """The form as sent (`name`: the set's, from the path, when it is not new)."""
        return cls(
            name=name if name is not None else first(form, "name", strip=True)[:NAME_LIMIT],
            description=first(form, "description", strip=True),
            apis=tuple(form.get("apis", ())),
            query_types=_all_or(form.get("query_types", ())),
            fields=simplest_fields(form.get("fields", ())),
            parameters=_all_or(form.get("parameters", ())),
            inclusief_overleden_personen=first(form, "inclusief_overleden_personen") == "1",
            own_residents_gemeente=first(form, "own_residents_gemeente", strip=True),
            own_residents_former_gemeenten=first(form, "own_residents_former_gemeenten", strip=True),
            geheimhouding=first(form, "geheimhouding") or "deliver",
        )

    def body(self) -> dict[str, Any]:
        """The set as the tenant file's `[gegevenssets.<name>]` (the admin API's request body)."""
        body: dict[str, Any] = {
            "description": self.description,
            "apis": list(self.apis),
            "query_types": list(self.query_types),
            "fields": list(self.fields),
            "parameters": list(self.parameters),
            "inclusief_overleden_personen": self.inclusief_overleden_personen,
            "own_residents_former_gemeenten": re.split(r"[\s,;]+", self.own_residents_former_gemeenten)
            if self.own_residents_former_gemeenten
            else [],
            "geheimhouding": self.geheimhouding,
        }
        if self.own_residents_gemeente:
            body["own_residents_gemeente"] = self.own_residents_gemeente
        return body


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    """What the set would allow, and what saving it would change."""

    allowance: CombinedAllowance
    changes: tuple[str, ...] = ()


def _all_or(values: Sequence[str]) -> tuple[str, ...]:
    # "*" (everything) makes any other choice meaningless.
    return (_ALL,) if _ALL in values else tuple(values)


# -- the picker ----------------------------------------------------------------------------------------


def picker(
    chosen: Sequence[str], tree: Sequence[FieldNode] | None = None
) -> tuple[tuple[PickerNode, ...], tuple[str, ...]]:
    """The field picker with `chosen` ticked (a ticked group ticks what it covers), and the chosen
    values the picker does not offer (kept as extras)."""
    tree = field_tree() if tree is None else tree
    groups = {path.removesuffix(_GROUP_WILDCARD) for path in chosen}
    offered = {path for node in tree for path in node.paths()}
    extras = tuple(p for p in chosen if p != _ALL and p not in offered)
    return tuple(_node(node, groups, implied=False) for node in tree), extras


def _node(node: FieldNode, groups: set[str], *, implied: bool) -> PickerNode:
    checked = implied or node.path in groups
    children = tuple(_node(child, groups, implied=checked) for child in node.children)
    return PickerNode(
        path=node.path,
        name=node.name,
        id="veld-" + node.path.replace(".", "-"),
        checked=checked,
        # Open where something inside is chosen on its own (a chosen group shows its fields ticked).
        open=not checked and any(child.checked or child.open for child in children),
        children=children,
    )


def _api_groups() -> list[ApiGroup]:
    return [
        ApiGroup(
            choice.api,
            _API_LABELS.get(choice.api, choice.api),
            tuple(Choice(name, name) for name in choice.query_types),
        )
        for choice in api_choices()
    ]


def _parameter_choices() -> list[Choice]:
    return [Choice(p.name, p.name, ", ".join(p.query_types)) for p in parameter_choices()]


# -- the pages ---------------------------------------------------------------------------------------


class GegevenssetPages(SectionPages[Gegevensset, GegevenssetForm]):
    """The Gegevenssets pages: every set and which rules use it; a set's form with the field picker."""

    section = "gegevenssets"
    path = "gegevenssets"
    title = "Gegevenssets"
    noun = "gegevensset"
    list_template = "gegevenssets.html"
    form_template = "gegevensset.html"
    reserved = frozenset({"nieuw"})
    taken = "Er is al een gegevensset met deze naam. Kies een andere naam of wijzig die."
    fields: ClassVar[Mapping[str, tuple[str, str]]] = {
        "name": ("set-naam", "Naam"),
        "description": ("set-omschrijving", "Omschrijving"),
        "apis": ("set-apis", "API's"),
        "query_types": ("set-zoekvragen", "Zoekvragen"),
        "fields": ("set-velden", "Velden"),
        "parameters": ("set-parameters", "Parameters"),
        "inclusief_overleden_personen": ("set-overleden", "Inclusief overleden personen"),
        "own_residents_gemeente": ("set-gemeente", "Alleen eigen inwoners van gemeente"),
        "own_residents_former_gemeenten": ("set-voormalig", "Voormalige gemeenten"),
        "geheimhouding": ("set-geheimhouding", "Personen met geheimhouding"),
    }

    def objects(self, spec: TenantSpec) -> Sequence[Gegevensset]:
        """The tenant's gegevenssets."""
        return spec.gegevenssets

    def form_of(self, stored: Gegevensset) -> GegevenssetForm:
        """The form of a stored gegevensset."""
        return GegevenssetForm.of(stored)

    def sent(self, form: Mapping[str, list[str]], name: str | None) -> GegevenssetForm:
        """The gegevensset as sent."""
        return GegevenssetForm.sent(form, name)

    def list_context(
        self, request: Request[Any, Any, Any], state: TenantState, *, status: int
    ) -> dict[str, Any]:
        """Every gegevensset, and which rules use it."""
        return {"sets": _views(state.spec)}

    def form_context(self, state: TenantState, form: GegevenssetForm) -> dict[str, Any]:
        """The APIs, query types, fields (the picker) and parameters to choose from."""
        nodes, extras = picker(form.fields)
        return {
            "apis": [Choice(api.api, _API_LABELS.get(api.api, api.api)) for api in api_choices()],
            "api_groups": _api_groups(),
            "parameters": _parameter_choices(),
            "groups": [node for node in nodes if node.children],
            "single_fields": [node for node in nodes if not node.children],
            "extra_fields": extras,
            "all_fields": _ALL in form.fields,
        }

    def stored_preview(self, state: TenantState, stored: Gegevensset) -> Preview:
        """What the stored set allows."""
        return Preview(allowance=describe([stored]))

    def dry_run_preview(self, spec: TenantSpec, name: str, changes: Sequence[Change]) -> Preview:
        """What the set as sent would allow, and what saving it would change."""
        gegevensset = self.find(spec, name)
        return Preview(
            allowance=describe([gegevensset] if gegevensset is not None else []),
            changes=planned(self.noun, name, changes),
        )

    def placed(self, key: str, reason: str, name: str, fields: Mapping[str, str]) -> tuple[str, str]:
        """A rule that still uses the set (a removal) is a problem of the form as a whole."""
        in_use = _IN_USE.match(key)
        if in_use is None:
            return super().placed(key, reason, name, fields)
        return (
            "form",
            f"De regel {in_use['rule']} gebruikt deze gegevensset nog. Haal hem eerst uit die regel.",
        )


SETS: Final = GegevenssetPages()


def _views(spec: TenantSpec) -> list[GegevenssetView]:
    return [
        GegevenssetView(
            name=g.name,
            description=g.description,
            apis=g.apis,
            query_types=g.query_types,
            fields=g.fields,
            parameters=g.parameters,
            own_residents_gemeente=g.own_residents_gemeente,
            inclusief_overleden_personen=g.inclusief_overleden_personen,
            used_by=tuple(rule.name for rule in spec.rules if g.name in rule.gegevenssets),
            etag=etag_of(g) or "",
        )
        for g in spec.gegevenssets
    ]


# -- handlers ----------------------------------------------------------------------------------------


@get("/t/{slug:str}/gegevenssets")
async def gegevenssets_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """Every gegevensset, and which rules use it."""
    return await SETS.list_page(request, slug)


@get("/t/{slug:str}/gegevenssets/nieuw")
async def new_gegevensset_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The form for a new gegevensset."""
    return await SETS.new_page(request, slug, GegevenssetForm())


@get("/t/{slug:str}/gegevenssets/{name:str}")
async def gegevensset_page(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template:
    """The form of an existing gegevensset (read-only for a file-managed tenant), with what it allows."""
    return await SETS.object_page(request, slug, name)


@post("/t/{slug:str}/gegevenssets/nieuw")
async def add_gegevensset(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Save a new gegevensset, or (`action=preview`) show what it would allow without saving it."""
    return await SETS.save(request, slug, None)


@post("/t/{slug:str}/gegevenssets/{name:str}")
async def change_gegevensset(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template | Redirect:
    """Save a changed gegevensset, or (`action=preview`) show what it would allow without saving it."""
    return await SETS.save(request, slug, name)


@post("/t/{slug:str}/gegevenssets/{name:str}/verwijderen")
async def remove_gegevensset(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template | Redirect:
    """Remove a gegevensset (with the ETag it was listed with); refused while a rule still uses it."""
    return await SETS.remove(request, slug, name)


GEGEVENSSETS_ROUTES: Final = (
    gegevenssets_page,
    new_gegevensset_page,
    gegevensset_page,
    add_gegevensset,
    change_gegevensset,
    remove_gegevensset,
)
