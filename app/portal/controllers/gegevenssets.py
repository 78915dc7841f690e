"""Gegevenssets: `/beheer/t/{slug}/gegevenssets`, what each purpose may see, edited with a field
picker built from RvIG's fields catalogue.

Every write is the admin API's own (`PUT`/`DELETE .../gegevenssets/{name}`): `put_section_object`
or `remove_section_object` through `TenancyService.change`, with the ETag the page was rendered
with as `If-Match`; so `check_gegevensset` (through the tenant file's validator) judges the set
against RvIG's catalogue, and every change is audited. The choices the form offers come from
`app.policy.choices` (the catalogue's pickable fields as groups → sub-fields, the query types and
parameters of each API), which offers only what the checker accepts. The preview is the change as
a dry run, described by `app.policy.allowance`.

The field picker is plain nested checkboxes (a group, and inside it its sub-fields); a ticked group
allows all of it, so sub-fields it covers are dropped before saving (`simplest_fields`). Values the
picker does not offer (`naam.*`, a path outside RvIG's pickable list) are kept as ticked extras, so
saving never loses what a tenant file or the admin API put there. `gegevenssets.js` adds a search
box and ticks a group's sub-fields along with it; without it the page works the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.admin.auth import AdminRole, require_tenant_role
from app.admin.writes import change_request, found, put_section_object, remove_section_object, service_of
from app.brp.problems import ProblemError
from app.policy import Gegevensset
from app.policy.allowance import CombinedAllowance, describe
from app.policy.choices import FieldNode, api_choices, field_tree, parameter_choices, simplest_fields
from app.portal.sessions import PortalSession
from app.portal.web import PORTAL_PATH, checked_form, field_errors, page, redirect, session_of
from app.tenancy import Change, TenantSpec
from app.tenancy.service import TenantState, etag_of

__all__ = ["GEGEVENSSETS_ROUTES", "GegevenssetForm", "PickerNode", "picker"]

_SECTION: Final = "gegevenssets"
_TITLE: Final = "Gegevenssets"
_LIST: Final = "gegevenssets.html"
_FORM: Final = "gegevensset.html"
_STALE: Final = "Iemand anders heeft dit intussen gewijzigd; de pagina toont nu de nieuwe stand."
_RESERVED: Final = frozenset({"nieuw"})
_NAME_LIMIT: Final = 63
_ALL: Final = "*"
_PREVIEW: Final = "preview"
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_GROUP_WILDCARD: Final = ".*"
_ACTIONS: Final = {"add": "toevoegen", "change": "wijzigen", "remove": "verwijderen"}

# Form field → (element id, label in the summary).
_FIELDS: Final = {
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
_API_LABELS: Final = {
    "personen": "Personen (BRP bevragen)",
    "bewoning": "Bewoning (wie woonde op een adres)",
    "verblijfplaatshistorie": "Verblijfplaatshistorie",
}

# check_gegevensset's words (app.policy.checks) in Dutch; anything else is shown as it comes.
_DUTCH: Final = (
    (re.compile(r"unknown API '(?P<v>[^']*)'.*"), "De API '{v}' bestaat niet."),
    (re.compile(r"unknown query type '(?P<v>[^']*)'"), "De zoekvraag '{v}' bestaat niet."),
    (
        re.compile(r"'(?P<v>[^']*)' belongs to API '(?P<a>[^']*)', which apis does not allow"),
        "De zoekvraag {v} hoort bij de API {a}: vink die API ook aan.",
    ),
    (
        re.compile(r"'(?P<v>[^']*)' is not a parameter of any query type this set allows"),
        "'{v}' is geen parameter van de aangevinkte zoekvragen.",
    ),
    (
        re.compile(r"only the personen API has fields.*"),
        "Alleen de Personen-API heeft velden: vink die API aan, of kies geen velden.",
    ),
    (
        re.compile(r"'(?P<v>[^']*)' is not a field path of the Personen API"),
        "'{v}' is geen veld van de Personen-API.",
    ),
    (
        re.compile(r"'(?P<v>[^']*)' has a wildcard.*"),
        "'{v}': een * mag alleen los staan of aan het eind (naam.*).",
    ),
    (
        re.compile(r"'(?P<v>[^']*)' is delivered automatically.*"),
        "'{v}' kan nooit gevraagd worden (dat levert RvIG vanzelf, of alleen in zijn geheel).",
    ),
    (
        re.compile(r"'(?P<v>[^']*)' is part of a date or Waardetabel .* allow '(?P<w>[^']*)'"),
        "'{v}' levert RvIG alleen in zijn geheel: kies '{w}'.",
    ),
    (
        re.compile(r"'(?P<v>[^']*)' is not a gemeente code of four digits"),
        "Vul een gemeentecode van vier cijfers in, bijvoorbeeld 0363.",
    ),
    (
        re.compile(r"given without own_residents_gemeente"),
        "Vul eerst de gemeente in waarvan alleen de eigen inwoners gevonden mogen worden.",
    ),
    (
        re.compile(r"verblijfplaatshistorie cannot be limited to own residents.*"),
        "Verblijfplaatshistorie kan niet tot eigen inwoners worden beperkt: "
        "gebruik daarvoor een aparte gegevensset zonder die beperking.",
    ),
    (
        re.compile(r"a name is lower-case letters.*"),
        "Een naam bestaat uit kleine letters, cijfers, '-' en '_', en begint met een letter of cijfer.",
    ),
)
_IN_USE: Final = re.compile(r"^rules\.(?P<rule>[^.]+)\.gegevenssets$")


class Problem(msgspec.Struct, frozen=True):
    """One line of the error summary: a link to the field (none for the form as a whole)."""

    href: str
    label: str
    message: str


class Choice(msgspec.Struct, frozen=True):
    """One checkbox: its value, label and a hint."""

    value: str
    label: str
    hint: str = ""


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
            name=name if name is not None else _first(form, "name").strip()[:_NAME_LIMIT],
            description=_first(form, "description").strip(),
            apis=tuple(form.get("apis", ())),
            query_types=_all_or(form.get("query_types", ())),
            fields=simplest_fields(form.get("fields", ())),
            parameters=_all_or(form.get("parameters", ())),
            inclusief_overleden_personen=_first(form, "inclusief_overleden_personen") == "1",
            own_residents_gemeente=_first(form, "own_residents_gemeente").strip(),
            own_residents_former_gemeenten=_first(form, "own_residents_former_gemeenten").strip(),
            geheimhouding=_first(form, "geheimhouding") or "deliver",
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


def _first(form: Mapping[str, Sequence[str]], key: str) -> str:
    values = form.get(key) or ()
    return values[0] if values else ""


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


# -- reading the tenant --------------------------------------------------------------------------------


def _gegevensset(spec: TenantSpec, name: str) -> Gegevensset | None:
    return next((g for g in spec.gegevenssets if g.name == name), None)


def _view(name: str) -> Any:
    return lambda state: _gegevensset(state.spec, name)


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


# -- problems ----------------------------------------------------------------------------------------


def _dutch(reason: str) -> str:
    for pattern, text in _DUTCH:
        matched = pattern.search(reason)
        if matched:
            return text.format(**matched.groupdict())
    return reason


def _messages(error: ProblemError, name: str) -> dict[str, str]:
    """A 400 of the service as Dutch messages by form field (others: for the form as a whole)."""
    messages: dict[str, str] = {}
    for key, reason in field_errors(error, prefix=f"{_SECTION}.{name}.").items():
        plain = key.partition("[")[0]
        in_use = _IN_USE.match(plain)
        if plain in (f"{_SECTION}.{name}", f"{_SECTION}."):
            field, text = "name", _dutch(reason)
        elif in_use is not None:
            field = "form"
            text = f"De regel {in_use['rule']} gebruikt deze gegevensset nog. Haal hem eerst uit die regel."
        else:
            field, text = (plain if plain in _FIELDS else "form"), _dutch(reason)
        messages[field] = f"{messages[field]} {text}" if field in messages else text
    return messages


def _summary(messages: Mapping[str, str]) -> list[Problem]:
    return [
        Problem(f"#{_FIELDS[field][0]}", _FIELDS[field][1], message)
        if field in _FIELDS
        else Problem("", "", message)
        for field, message in messages.items()
    ]


# -- rendering ---------------------------------------------------------------------------------------


def _render_list(
    request: Request[Any, Any, Any],
    session: PortalSession,
    state: TenantState,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: Mapping[str, str] | None = None,
) -> Template:
    names = {g.name for g in state.spec.gegevenssets}
    context = {
        "sets": _views(state.spec),
        "file_managed": state.managed_by == "file",
        "saved": _named(request, "opgeslagen", names, present=True) if status == 200 else None,
        "removed": _named(request, "verwijderd", names, present=False) if status == 200 else None,
        "notice": notice,
        "errors": _summary(dict(errors or {})),
    }
    return page(
        _LIST,
        session,
        title=_TITLE,
        slug=state.spec.slug,
        current="gegevenssets",
        status_code=status,
        context=context,
    )


def _render_form(
    session: PortalSession,
    state: TenantState,
    form: GegevenssetForm,
    *,
    new: bool,
    etag: str,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    preview: Preview | None = None,
) -> Template:
    errors = dict(errors or {})
    nodes, extras = picker(form.fields)
    context = {
        "form": form,
        "new": new,
        "etag": etag,
        "file_managed": state.managed_by == "file",
        "apis": [Choice(api.api, _API_LABELS.get(api.api, api.api)) for api in api_choices()],
        "api_groups": _api_groups(),
        "parameters": _parameter_choices(),
        "groups": [node for node in nodes if node.children],
        "single_fields": [node for node in nodes if not node.children],
        "extra_fields": extras,
        "all_fields": _ALL in form.fields,
        "field_errors": errors,
        "errors": _summary(errors),
        "notice": notice,
        "preview": preview,
    }
    title = "Nieuwe gegevensset" if new else f"Gegevensset {form.name}"
    return page(
        _FORM,
        session,
        title=title,
        slug=state.spec.slug,
        current="gegevenssets",
        status_code=status,
        context=context,
    )


def _preview(spec: TenantSpec, name: str, changes: Sequence[Change]) -> Preview:
    gegevensset = _gegevensset(spec, name)
    said = tuple(f"de gegevensset {_ACTIONS.get(c.action, c.action)}" for c in changes if c.key == name)
    return Preview(
        allowance=describe([gegevensset] if gegevensset is not None else []),
        changes=said or ("niets veranderen",),
    )


# -- handlers ----------------------------------------------------------------------------------------


def _named(request: Request[Any, Any, Any], key: str, names: set[str], *, present: bool) -> str | None:
    """The gegevensset a redirect names (`?opgeslagen=`), if it is (or for a removal: is no longer)
    there, so a crafted link cannot make the page say something else."""
    name: str | None = request.query_params.get(key)
    if not name or not _NAME.fullmatch(name) or (name in names) != present:
        return None
    return name


def _base(slug: str) -> str:
    return f"{PORTAL_PATH}/t/{slug}/gegevenssets"


async def _admin_session(request: Request[Any, Any, Any], slug: str) -> PortalSession:
    session = await session_of(request)
    require_tenant_role(session.actor, slug, AdminRole.TENANT_ADMIN, operator=True)
    return session


@get("/t/{slug:str}/gegevenssets")
async def gegevenssets_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """Every gegevensset, and which rules use it."""
    session = await _admin_session(request, slug)
    return _render_list(request, session, await service_of(request).read(slug))


@get("/t/{slug:str}/gegevenssets/nieuw")
async def new_gegevensset_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The form for a new gegevensset."""
    session = await _admin_session(request, slug)
    state = await service_of(request).read(slug)
    return _render_form(session, state, GegevenssetForm(), new=True, etag="")


@get("/t/{slug:str}/gegevenssets/{name:str}")
async def gegevensset_page(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template:
    """The form of an existing gegevensset (read-only for a file-managed tenant), with what it allows."""
    session = await _admin_session(request, slug)
    state = await service_of(request).read(slug)
    gegevensset = found(_gegevensset(state.spec, name))
    return _render_form(
        session,
        state,
        GegevenssetForm.of(gegevensset),
        new=False,
        etag=etag_of(gegevensset) or "",
        preview=Preview(allowance=describe([gegevensset])),
    )


@post("/t/{slug:str}/gegevenssets/nieuw")
async def add_gegevensset(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Save a new gegevensset, or (`action=preview`) show what it would allow without saving it."""
    return await _save(request, slug, None)


@post("/t/{slug:str}/gegevenssets/{name:str}")
async def change_gegevensset(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template | Redirect:
    """Save a changed gegevensset, or (`action=preview`) show what it would allow without saving it."""
    return await _save(request, slug, name)


async def _save(request: Request[Any, Any, Any], slug: str, path_name: str | None) -> Template | Redirect:
    session = await _admin_session(request, slug)
    form = await checked_form(request, session)
    service = service_of(request)
    sent = GegevenssetForm.sent(form, path_name)
    new = path_name is None
    preview = _first(form, "action") == _PREVIEW
    etag = _first(form, "etag")
    if new and sent.name in _RESERVED:
        state = await service.read(slug)
        message = {"name": "Deze naam gebruikt het portaal zelf. Kies een andere naam."}
        return _render_form(session, state, sent, new=True, etag="", status=400, errors=message)
    change = change_request(
        request,
        session.actor,
        slug,
        _view(sent.name),
        if_match=None if new else etag or None,
        dry_run=preview,
    )
    try:
        after, changes = await service.change(change, put_section_object(_SECTION, sent.name, sent.body()))
    except ProblemError as error:
        return await _refused_form(request, session, slug, error, sent, new=new, etag=etag)
    if preview:
        return _render_form(
            session, after, sent, new=new, etag=etag, preview=_preview(after.spec, sent.name, changes)
        )
    return redirect(f"{_base(slug)}?opgeslagen={quote(sent.name)}")


async def _refused_form(
    request: Request[Any, Any, Any],
    session: PortalSession,
    slug: str,
    error: ProblemError,
    sent: GegevenssetForm,
    *,
    new: bool,
    etag: str,
) -> Template:
    """The form again after the service refused: problems by the fields (400), the current set (412),
    read-only (409, managed by its file); a name already taken by the field. Else the error page."""
    status = error.problem.status
    state = await service_of(request).read(slug)
    if status == 400:
        errors = _messages(error, sent.name)
        return _render_form(session, state, sent, new=new, etag=etag, status=400, errors=errors)
    if status == 428 and new:
        taken = {"name": "Er is al een gegevensset met deze naam. Kies een andere naam of wijzig die."}
        return _render_form(session, state, sent, new=True, etag="", status=409, errors=taken)
    if status in (412, 428):
        current = _gegevensset(state.spec, sent.name)
        if current is None:
            return _render_list(request, session, state, status=412, notice=_STALE)
        return _render_form(
            session,
            state,
            GegevenssetForm.of(current),
            new=False,
            etag=etag_of(current) or "",
            status=412,
            notice=_STALE,
        )
    if status == 409:
        return _render_form(session, state, sent, new=new, etag=etag, status=409, notice=error.problem.title)
    raise error


@post("/t/{slug:str}/gegevenssets/{name:str}/verwijderen")
async def remove_gegevensset(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template | Redirect:
    """Remove a gegevensset (with the ETag it was listed with); refused while a rule still uses it."""
    session = await _admin_session(request, slug)
    form = await checked_form(request, session)
    service = service_of(request)
    etag = _first(form, "etag")
    change = change_request(request, session.actor, slug, _view(name), if_match=etag or None, dry_run=False)
    try:
        await service.change(change, remove_section_object(_SECTION, name))
    except ProblemError as error:
        status = error.problem.status
        if status not in (400, 409, 412, 428):
            raise
        state = await service.read(slug)
        if status == 400:
            return _render_list(request, session, state, status=400, errors=_messages(error, name))
        notice = _STALE if status in (412, 428) else error.problem.title
        return _render_list(request, session, state, status=412 if status == 428 else status, notice=notice)
    return redirect(f"{_base(slug)}?verwijderd={quote(name)}")


GEGEVENSSETS_ROUTES: Final = (
    gegevenssets_page,
    new_gegevensset_page,
    gegevensset_page,
    add_gegevensset,
    change_gegevensset,
    remove_gegevensset,
)
