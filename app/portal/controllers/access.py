"""Toegang: `/beheer/t/{slug}/toegang`, a tenant's access rules and, for a samenwerkingsverband met
gezamenlijk personeel, which employee works for which member organisation.

Every write is the admin API's own (`PUT`/`DELETE .../rules/{name}`): `put_section_object` or
`remove_section_object` through `TenancyService.change`, with the ETag the page was rendered with
as `If-Match`. So the tenant file's validator decides, and every change is audited. This module
turns form fields into a rule, and the validator's problems into Dutch messages by the fields; it
never judges a rule itself.

- The preview ("Voorbeeld") is the same change as a dry run: validated, written, rolled back. What
  the rule would allow is described by `app.policy.allowance.describe` from the gegevenssets as the
  dry run leaves them, combined as the doelbinding engine combines them.
- "Wat mag rol X?" matches the rules with tenancy's own `Subject.matches`, as the gateway does.
- The employee ↔ member mapping is expressed by rules (`who = ["employee:E"]`, `afnemers` = the
  member's AfnemerIDs), as the admin API documents it. Adding one creates the rule
  `medewerker-<employee>-<member>`; removing one takes the employee out of its rule, and removes the
  rule when nobody is left in it.

`nieuw` and `medewerkers` are paths of this page, so the portal gives no new rule those names.
Employee numbers travel in POST bodies only; a URL holds the slug, a rule's name and a role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.admin.auth import AdminRole, require_tenant_role
from app.admin.writes import change_request, found, put_section_object, remove_section_object, service_of
from app.brp.problems import ProblemError, not_found
from app.identity import Principal
from app.policy.allowance import CombinedAllowance, describe
from app.portal.sessions import PortalSession
from app.portal.web import PORTAL_PATH, checked_form, field_errors, page, redirect, session_of
from app.tenancy import Change, RuleSpec, TenantSpec
from app.tenancy.models import REQUIRED_HEADER_NAMES, Subject
from app.tenancy.service import Edit, TenantState, etag_of

__all__ = ["ACCESS_ROUTES", "Choice", "MappingRow", "RuleForm", "RuleView", "mapping_rows", "role_rules"]

_SECTION: Final = "rules"
_TITLE: Final = "Toegang"
_LIST: Final = "toegang.html"
_FORM: Final = "toegang_regel.html"
_STALE: Final = "Iemand anders heeft dit intussen gewijzigd; de pagina toont nu de nieuwe stand."
_RESERVED: Final = frozenset({"nieuw", "medewerkers"})
_ROLE_LIMIT: Final = 100
_NAME_LIMIT: Final = 63
_PREVIEW: Final = "preview"
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

_HEADER_HINTS: Final = {
    "x-doelbinding": "het doel van de bevraging",
    "x-verwerking": "de verwerking (activiteit@organisatie)",
    "x-gebruiker": "wie de bevraging doet (voor applicaties)",
    "x-origin-oin": "het OIN van de organisatie waarvoor een applicatie vraagt",
}
# Form field → (element id, label in the summary).
_RULE_FIELDS: Final = {
    "name": ("regel-naam", "Naam"),
    "description": ("regel-omschrijving", "Omschrijving"),
    "who": ("regel-wie", "Wie"),
    "afnemers": ("regel-afnemers", "AfnemerID's"),
    "gegevenssets": ("regel-gegevenssets", "Gegevenssets"),
    "required_headers": ("regel-headers", "Verplichte headers"),
}
_MAPPING_FIELDS: Final = {
    "employee": ("medewerker-nummer", "Personeelsnummer"),
    "member": ("medewerker-lid", "Lid-organisatie"),
    "gegevenssets": ("medewerker-gegevenssets", "Gegevenssets"),
}
_ACTIONS: Final = {"add": "toevoegen", "change": "wijzigen", "remove": "verwijderen"}

# The validator's words (app.tenancy.files) in Dutch; anything else is shown as it comes.
_DUTCH: Final = (
    (re.compile(r"must name at least one subject"), "Vul ten minste één regel in bij Wie."),
    (
        re.compile(r"'(?P<v>[^']*)': a subject is .*"),
        "'{v}' kan niet: gebruik tenant, role:…, employee:…, client:… of organisation:….",
    ),
    (
        re.compile(r"'organisation:(?P<v>[^']*)': .* is not one of \[members\]"),
        "'{v}' is geen lid-organisatie van dit samenwerkingsverband.",
    ),
    (re.compile(r"must name at least one gegevensset"), "Kies ten minste één gegevensset."),
    (re.compile(r"unknown gegevensset '(?P<v>[^']*)'.*"), "De gegevensset '{v}' bestaat niet."),
    (re.compile(r"unknown afnemer '(?P<v>[^']*)'.*"), "AfnemerID {v} hoort niet bij deze organisatie."),
    (
        re.compile(r"a name is lower-case letters.*"),
        "Een naam bestaat uit kleine letters, cijfers, '-' en '_', en begint met een letter of cijfer.",
    ),
    (
        re.compile(r"no rule maps anyone to an afnemer.*"),
        "Er moet ten minste één regel zijn die mensen aan een AfnemerID koppelt (gezamenlijk personeel).",
    ),
)


class Choice(msgspec.Struct, frozen=True):
    """One checkbox or option: its value, label and a hint."""

    value: str
    label: str
    hint: str = ""


class Problem(msgspec.Struct, frozen=True):
    """One line of the error summary: a link to the field (none for the form as a whole)."""

    href: str
    label: str
    message: str


class RuleView(msgspec.Struct, frozen=True, kw_only=True):
    """A rule as the list shows it."""

    name: str
    who: tuple[str, ...]
    afnemers: tuple[str, ...]
    gegevenssets: tuple[str, ...]
    required_headers: tuple[str, ...]
    description: str
    etag: str

    @classmethod
    def of(cls, rule: RuleSpec) -> RuleView:
        """The view of a stored rule."""
        return cls(
            name=rule.name,
            who=rule.who,
            afnemers=rule.afnemers,
            gegevenssets=rule.gegevenssets,
            required_headers=rule.required_headers,
            description=rule.description,
            etag=etag_of(rule) or "",
        )


class RuleForm(msgspec.Struct, frozen=True, kw_only=True):
    """A rule's fields as the form shows and sends them (`who`: one subject per line)."""

    name: str = ""
    description: str = ""
    who: str = ""
    afnemers: tuple[str, ...] = ()
    gegevenssets: tuple[str, ...] = ()
    required_headers: tuple[str, ...] = ()

    @classmethod
    def of(cls, rule: RuleSpec) -> RuleForm:
        """The form of a stored rule."""
        return cls(
            name=rule.name,
            description=rule.description,
            who="\n".join(rule.who),
            afnemers=rule.afnemers,
            gegevenssets=rule.gegevenssets,
            required_headers=rule.required_headers,
        )

    @classmethod
    def sent(cls, form: Mapping[str, list[str]], name: str | None) -> RuleForm:
        """The form as sent (`name`: the rule's, from the path, when it is not new)."""
        return cls(
            name=name if name is not None else _first(form, "name").strip()[:_NAME_LIMIT],
            description=_first(form, "description").strip(),
            who=_first(form, "who"),
            afnemers=tuple(form.get("afnemers", ())),
            gegevenssets=tuple(form.get("gegevenssets", ())),
            required_headers=tuple(form.get("required_headers", ())),
        )

    def subjects(self) -> list[str]:
        """The subjects, one per non-empty line."""
        return [line.strip() for line in self.who.splitlines() if line.strip()]

    def body(self) -> dict[str, Any]:
        """The rule as the tenant file's `[rules.<name>]` (the admin API's request body)."""
        return {
            "who": self.subjects(),
            "gegevenssets": list(self.gegevenssets),
            "afnemers": list(self.afnemers),
            "required_headers": list(self.required_headers),
            "description": self.description,
        }


class MappingRow(msgspec.Struct, frozen=True, kw_only=True):
    """An employee and the member organisation(s) a rule lets them act for."""

    employee: str
    members: tuple[str, ...]
    afnemers: tuple[str, ...]
    rule: str
    gegevenssets: tuple[str, ...]
    etag: str


class RolePreview(msgspec.Struct, frozen=True, kw_only=True):
    """What a role may ask: the rules that hold for it and what their gegevenssets allow together."""

    role: str
    rules: tuple[RuleView, ...]
    gegevenssets: tuple[str, ...]
    allowance: CombinedAllowance


class RulePreview(msgspec.Struct, frozen=True, kw_only=True):
    """What a rule would allow, and what saving it would change (nothing when `saved`)."""

    rule: RuleView
    allowance: CombinedAllowance
    changes: tuple[str, ...] = ()
    saved: bool = False


# -- reading the tenant --------------------------------------------------------------------------------


def _rule(spec: TenantSpec, name: str) -> RuleSpec | None:
    return next((rule for rule in spec.rules if rule.name == name), None)


def _view(name: str) -> Any:
    return lambda state: _rule(state.spec, name)


def _allowance(spec: TenantSpec, names: Iterable[str]) -> CombinedAllowance:
    wanted = list(dict.fromkeys(names))
    by_name = {g.name: g for g in spec.gegevenssets}
    return describe(by_name[name] for name in wanted if name in by_name)


def role_rules(spec: TenantSpec, role: str) -> tuple[RuleSpec, ...]:
    """The rules that hold for a caller with `role` (rules for `tenant` too), as the gateway matches."""
    caller = Principal(tenant=spec.slug, subject="voorbeeld", roles=(role,))
    return tuple(rule for rule in spec.rules if any(Subject.parse(s).matches(caller) for s in rule.who))


def _role_preview(spec: TenantSpec, role: str) -> RolePreview:
    rules = role_rules(spec, role)
    names = tuple(dict.fromkeys(name for rule in rules for name in rule.gegevenssets))
    return RolePreview(
        role=role,
        rules=tuple(RuleView.of(rule) for rule in rules),
        gegevenssets=names,
        allowance=_allowance(spec, names),
    )


def mapping_rows(spec: TenantSpec) -> list[MappingRow]:
    """Which employee works for which member organisation: every rule naming employees and AfnemerIDs
    of members (a rule without afnemers maps nobody to a member)."""
    members = {member.code: member.name for member in spec.members}
    member_of = {a.afnemer_id: a.member for a in spec.afnemers if a.member is not None}
    rows: list[MappingRow] = []
    for rule in spec.rules:
        codes = tuple(dict.fromkeys(member_of[a] for a in rule.afnemers if a in member_of))
        if not codes:
            continue
        for subject in rule.who:
            kind, _, employee = subject.partition(":")
            if kind != "employee" or not employee:
                continue
            rows.append(
                MappingRow(
                    employee=employee,
                    members=tuple(members.get(code, code) for code in codes),
                    afnemers=tuple(a for a in rule.afnemers if a in member_of),
                    rule=rule.name,
                    gegevenssets=rule.gegevenssets,
                    etag=etag_of(rule) or "",
                )
            )
    return sorted(rows, key=lambda row: (row.employee, row.rule))


def _afnemer_choices(spec: TenantSpec) -> list[Choice]:
    members = {member.code: member.name for member in spec.members}
    return [
        Choice(
            a.afnemer_id,
            f"{a.afnemer_id}{' – ' + a.name if a.name else ''}",
            f"voor {members.get(a.member, a.member)}" if a.member else "",
        )
        for a in spec.afnemers
    ]


def _gegevensset_choices(spec: TenantSpec) -> list[Choice]:
    return [Choice(g.name, g.name, g.description) for g in spec.gegevenssets]


def _member_choices(spec: TenantSpec) -> list[Choice]:
    with_afnemer = {a.member for a in spec.afnemers if a.member is not None}
    return [Choice(m.code, m.name, m.code) for m in spec.members if m.code in with_afnemer]


def _header_choices() -> list[Choice]:
    return [Choice(name, name, _HEADER_HINTS.get(name, "")) for name in REQUIRED_HEADER_NAMES]


# -- problems ----------------------------------------------------------------------------------------


def _dutch(reason: str) -> str:
    for pattern, text in _DUTCH:
        matched = pattern.search(reason)
        if matched:
            return text.format(**matched.groupdict())
    return reason


def _messages(error: ProblemError, name: str, fields: Mapping[str, str]) -> dict[str, str]:
    """A 400 of the service as Dutch messages by form field (`fields`: validator key → form field)."""
    messages: dict[str, str] = {}
    for key, reason in field_errors(error, prefix=f"{_SECTION}.{name}.").items():
        plain = key.partition("[")[0]
        if plain in (f"{_SECTION}.{name}", f"{_SECTION}."):
            field = fields.get("name", "form")
        else:
            field = fields.get(plain, "form")
        text = _dutch(reason)
        messages[field] = f"{messages[field]} {text}" if field in messages else text
    return messages


def _summary(messages: Mapping[str, str], labels: Mapping[str, tuple[str, str]]) -> list[Problem]:
    return [
        Problem(f"#{labels[field][0]}", labels[field][1], message)
        if field in labels
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
    mapping_errors: Mapping[str, str] | None = None,
    mapping_form: Mapping[str, list[str]] | None = None,
) -> Template:
    spec = state.spec
    role = (request.query_params.get("rol") or "").strip()[:_ROLE_LIMIT]
    shared_staff = spec.pattern == "gezamenlijk_personeel"
    sent = mapping_form or {}
    errors = dict(errors or {})
    mapping_errors = dict(mapping_errors or {})
    names = {rule.name for rule in spec.rules}
    context = {
        "rules": [RuleView.of(rule) for rule in spec.rules],
        "file_managed": state.managed_by == "file",
        "saved": _named(request, "opgeslagen", names, present=True) if status == 200 else None,
        "removed": _named(request, "verwijderd", names, present=False) if status == 200 else None,
        "notice": notice,
        "errors": _summary(errors, {}),
        "role": role,
        "role_preview": _role_preview(spec, role) if role else None,
        "shared_staff": shared_staff,
        "mappings": mapping_rows(spec) if shared_staff else [],
        "mapping_saved": request.query_params.get("koppeling") if status == 200 else None,
        "members": _member_choices(spec),
        "gegevenssets": _gegevensset_choices(spec),
        "mapping": {
            "employee": _first(sent, "employee"),
            "member": _first(sent, "member"),
            "gegevenssets": tuple(sent.get("gegevenssets", ())),
        },
        "mapping_errors": mapping_errors,
        "mapping_summary": _summary(mapping_errors, _MAPPING_FIELDS),
    }
    return page(
        _LIST, session, title=_TITLE, slug=spec.slug, current="toegang", status_code=status, context=context
    )


def _render_form(
    session: PortalSession,
    state: TenantState,
    form: RuleForm,
    *,
    new: bool,
    etag: str,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    preview: RulePreview | None = None,
) -> Template:
    spec = state.spec
    errors = dict(errors or {})
    title = "Nieuwe regel" if new else f"Regel {form.name}"
    context = {
        "form": form,
        "new": new,
        "etag": etag,
        "file_managed": state.managed_by == "file",
        "afnemers": _afnemer_choices(spec),
        "gegevenssets": _gegevensset_choices(spec),
        "headers": _header_choices(),
        "field_errors": errors,
        "errors": _summary(errors, _RULE_FIELDS),
        "notice": notice,
        "preview": preview,
        "shared_staff": spec.pattern == "gezamenlijk_personeel",
    }
    return page(
        _FORM, session, title=title, slug=spec.slug, current="toegang", status_code=status, context=context
    )


def _saved_preview(spec: TenantSpec, rule: RuleSpec) -> RulePreview:
    return RulePreview(rule=RuleView.of(rule), allowance=_allowance(spec, rule.gegevenssets), saved=True)


def _dry_run_preview(spec: TenantSpec, name: str, changes: Sequence[Change]) -> RulePreview | None:
    rule = _rule(spec, name)
    if rule is None:  # pragma: no cover - the dry run just put it
        return None
    said = tuple(f"de regel {_ACTIONS.get(c.action, c.action)}" for c in changes if c.key == name)
    return RulePreview(
        rule=RuleView.of(rule),
        allowance=_allowance(spec, rule.gegevenssets),
        changes=said or ("niets veranderen",),
    )


# -- handlers ----------------------------------------------------------------------------------------


def _first(form: Mapping[str, Sequence[str]], key: str) -> str:
    values = form.get(key) or ()
    return values[0] if values else ""


def _named(request: Request[Any, Any, Any], key: str, names: set[str], *, present: bool) -> str | None:
    """The rule a redirect names (`?opgeslagen=`), if it is (or for a removal: is no longer) there,
    so a crafted link cannot make the page say something else."""
    name: str | None = request.query_params.get(key)
    if not name or not _NAME.fullmatch(name) or (name in names) != present:
        return None
    return name


def _base(slug: str) -> str:
    return f"{PORTAL_PATH}/t/{slug}/toegang"


async def _admin_session(request: Request[Any, Any, Any], slug: str) -> PortalSession:
    session = await session_of(request)
    require_tenant_role(session.actor, slug, AdminRole.TENANT_ADMIN, operator=True)
    return session


@get("/t/{slug:str}/toegang")
async def access_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The rules, what a role may ask (`?rol=`), and the employees per member organisation."""
    session = await _admin_session(request, slug)
    return _render_list(request, session, await service_of(request).read(slug))


@get("/t/{slug:str}/toegang/nieuw")
async def new_rule_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The form for a new rule."""
    session = await _admin_session(request, slug)
    state = await service_of(request).read(slug)
    return _render_form(session, state, RuleForm(), new=True, etag="")


@get("/t/{slug:str}/toegang/{name:str}")
async def rule_page(request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]) -> Template:
    """The form of an existing rule (read-only, with what it allows, for a file-managed tenant)."""
    session = await _admin_session(request, slug)
    state = await service_of(request).read(slug)
    rule = found(_rule(state.spec, name))
    preview = _saved_preview(state.spec, rule) if state.managed_by == "file" else None
    return _render_form(
        session, state, RuleForm.of(rule), new=False, etag=etag_of(rule) or "", preview=preview
    )


@post("/t/{slug:str}/toegang/nieuw")
async def add_rule(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Save a new rule, or (`action=preview`) show what it would allow without saving it."""
    return await _save(request, slug, None)


@post("/t/{slug:str}/toegang/{name:str}")
async def change_rule(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template | Redirect:
    """Save a changed rule, or (`action=preview`) show what it would allow without saving it."""
    return await _save(request, slug, name)


async def _save(request: Request[Any, Any, Any], slug: str, path_name: str | None) -> Template | Redirect:
    session = await _admin_session(request, slug)
    form = await checked_form(request, session)
    service = service_of(request)
    sent = RuleForm.sent(form, path_name)
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
            session, after, sent, new=new, etag=etag, preview=_dry_run_preview(after.spec, sent.name, changes)
        )
    return redirect(f"{_base(slug)}?opgeslagen={quote(sent.name)}")


async def _refused_form(
    request: Request[Any, Any, Any],
    session: PortalSession,
    slug: str,
    error: ProblemError,
    sent: RuleForm,
    *,
    new: bool,
    etag: str,
) -> Template:
    """The form again after the service refused: problems by the fields (400), the current rule (412),
    read-only (409, managed by its file); a name already taken by the field. Else the error page."""
    status = error.problem.status
    state = await service_of(request).read(slug)
    fields = {key: key for key in _RULE_FIELDS}
    if status == 400:
        errors = _messages(error, sent.name, fields)
        return _render_form(session, state, sent, new=new, etag=etag, status=400, errors=errors)
    if status == 428 and new:
        taken = {"name": "Er is al een regel met deze naam. Kies een andere naam of wijzig die regel."}
        return _render_form(session, state, sent, new=True, etag="", status=409, errors=taken)
    if status in (412, 428):
        current = _rule(state.spec, sent.name)
        if current is None:
            return _render_list(request, session, state, status=412, notice=_STALE)
        return _render_form(
            session,
            state,
            RuleForm.of(current),
            new=False,
            etag=etag_of(current) or "",
            status=412,
            notice=_STALE,
        )
    if status == 409:
        return _render_form(session, state, sent, new=new, etag=etag, status=409, notice=error.problem.title)
    raise error


@post("/t/{slug:str}/toegang/{name:str}/verwijderen")
async def remove_rule(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template | Redirect:
    """Remove a rule (with the ETag it was listed with): whom it mapped loses what it granted."""
    session = await _admin_session(request, slug)
    form = await checked_form(request, session)
    return await _write_from_list(
        request,
        session,
        slug,
        name,
        remove_section_object(_SECTION, name),
        etag=_first(form, "etag"),
        done=f"{_base(slug)}?verwijderd={quote(name)}",
    )


@post("/t/{slug:str}/toegang/medewerkers")
async def add_mapping(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Let an employee act for a member organisation: a rule for the employee with its AfnemerIDs."""
    session = await _admin_session(request, slug)
    form = await checked_form(request, session)
    service = service_of(request)
    state = await service.read(slug)
    employee = _first(form, "employee").strip()
    member = _first(form, "member")
    afnemers = [a.afnemer_id for a in state.spec.afnemers if member and a.member == member]
    problems: dict[str, str] = {}
    if not employee:
        problems["employee"] = "Vul het personeelsnummer in."
    if not afnemers:
        problems["member"] = "Kies een lid-organisatie met een AfnemerID."
    if problems:
        return _render_list(request, session, state, status=400, mapping_errors=problems, mapping_form=form)
    name = _mapping_rule_name(employee, member)
    body = {
        "who": [f"employee:{employee}"],
        "afnemers": afnemers,
        "gegevenssets": list(form.get("gegevenssets", ())),
        "description": f"Medewerker {employee} werkt voor {member}.",
    }
    change = change_request(request, session.actor, slug, _view(name), if_match=None, dry_run=False)
    try:
        await service.change(change, put_section_object(_SECTION, name, body))
    except ProblemError as error:
        status = error.problem.status
        state = await service.read(slug)
        if status == 400:
            fields = {"who": "employee", "gegevenssets": "gegevenssets", "afnemers": "member"}
            errors = _messages(error, name, fields)
        elif status == 428:
            errors = {"employee": "Deze medewerker werkt al voor deze lid-organisatie."}
        elif status == 409:
            return _render_list(request, session, state, status=409, notice=error.problem.title)
        else:
            raise
        return _render_list(
            request,
            session,
            state,
            status=400 if status == 400 else 409,
            mapping_errors=errors,
            mapping_form=form,
        )
    return redirect(f"{_base(slug)}?koppeling=1#medewerkers")


def _mapping_rule_name(employee: str, member: str) -> str:
    """`medewerker-<employee>-<member>` in the characters a rule name may have."""
    plain = re.sub(r"[^a-z0-9_-]+", "-", f"{employee}-{member}".lower()).strip("-")
    return f"medewerker-{plain}"[:_NAME_LIMIT]


@post("/t/{slug:str}/toegang/medewerkers/verwijderen")
async def remove_mapping(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Take an employee out of a rule (the rule goes when nobody is left in it)."""
    session = await _admin_session(request, slug)
    form = await checked_form(request, session)
    state = await service_of(request).read(slug)
    name = _first(form, "rule")
    subject = f"employee:{_first(form, 'employee')}"
    rule = found(_rule(state.spec, name))
    left = [s for s in rule.who if s != subject]
    if len(left) == len(rule.who):
        raise not_found()
    edit: Edit
    if left:
        body = {**RuleForm.of(rule).body(), "who": left}
        edit = put_section_object(_SECTION, name, body)
    else:
        edit = remove_section_object(_SECTION, name)
    return await _write_from_list(
        request, session, slug, name, edit, etag=_first(form, "etag"), done=f"{_base(slug)}#medewerkers"
    )


async def _write_from_list(
    request: Request[Any, Any, Any],
    session: PortalSession,
    slug: str,
    name: str,
    edit: Edit,
    *,
    etag: str,
    done: str,
) -> Template | Redirect:
    """A write made from the list (removals): the list again with the reason when it is refused."""
    service = service_of(request)
    change = change_request(request, session.actor, slug, _view(name), if_match=etag or None, dry_run=False)
    try:
        await service.change(change, edit)
    except ProblemError as error:
        status = error.problem.status
        if status not in (400, 409, 412, 428):
            raise
        state = await service.read(slug)
        if status == 400:
            errors = _messages(error, name, {})
            return _render_list(request, session, state, status=400, errors=errors)
        notice = _STALE if status in (412, 428) else error.problem.title
        return _render_list(request, session, state, status=412 if status == 428 else status, notice=notice)
    return redirect(done)


ACCESS_ROUTES: Final = (
    access_page,
    new_rule_page,
    rule_page,
    add_rule,
    change_rule,
    remove_rule,
    add_mapping,
    remove_mapping,
)
