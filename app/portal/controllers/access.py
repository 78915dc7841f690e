"""Toegang: `/beheer/t/{slug}/toegang`, a tenant's access rules and, for a samenwerkingsverband met
gezamenlijk personeel, which employee works for which member organisation.

Every write is the admin API's own (`PUT`/`DELETE .../rules/{name}`), made by the flow that
Gegevenssets shares (`app.portal.sections`): the tenant file's validator decides, and every
change is audited. This module turns form fields into a rule, and says what the page shows; it
never judges a rule itself.

- The preview ("Voorbeeld") is the same change as a dry run. What the rule would allow is
  described by `app.policy.allowance.describe` from the gegevenssets as the dry run leaves them,
  combined as the doelbinding engine combines them.
- "Wat mag rol X?" matches the rules with tenancy's own `Subject.matches`, as the gateway does.
- The employee ↔ member mapping is expressed by rules (`staff`). Adding one creates the rule
  `medewerker-<employee>-<member>`; removing one takes the employee out of its rule, and removes the
  rule when nobody is left in it.

`nieuw` and `medewerkers` are paths of this page, so the portal gives no new rule those names.
Employee numbers travel in POST bodies only; a URL holds the slug, a rule's name and a role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.admin.writes import change_request, found, put_section_object, remove_section_object, service_of
from app.brp.problems import ProblemError, not_found
from app.identity import Principal
from app.policy.allowance import CombinedAllowance, describe
from app.portal.controllers.staff import (
    MAPPING_KEYS,
    NewMapping,
    mapping_form_context,
    mapping_rows,
    member_choices,
)
from app.portal.forms import Choice, first
from app.portal.sections import NAME_LIMIT, SectionPages, planned
from app.portal.sessions import PortalSession
from app.portal.web import checked_form, redirect, tenant_admin_session
from app.tenancy import Change, RuleSpec, TenantSpec
from app.tenancy.models import REQUIRED_HEADER_NAMES, Subject
from app.tenancy.service import Edit, TenantState, etag_of

__all__ = ["ACCESS_ROUTES", "RuleForm", "RuleView", "role_rules"]

_ROLE_LIMIT: Final = 100
_HEADER_HINTS: Final = {
    "x-doelbinding": "het doel van de bevraging",
    "x-verwerking": "de verwerking (activiteit@organisatie)",
    "x-gebruiker": "wie de bevraging doet (voor applicaties)",
    "x-origin-oin": "het OIN van de organisatie waarvoor een applicatie vraagt",
}


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
            name=name if name is not None else first(form, "name", strip=True)[:NAME_LIMIT],
            description=first(form, "description", strip=True),
            who=first(form, "who"),
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


# -- what the rules allow ----------------------------------------------------------------------------


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


# -- the form's choices ------------------------------------------------------------------------------


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


def _header_choices() -> list[Choice]:
    return [Choice(name, name, _HEADER_HINTS.get(name, "")) for name in REQUIRED_HEADER_NAMES]


# -- the pages ---------------------------------------------------------------------------------------


class RulePages(SectionPages[RuleSpec, RuleForm]):
    """The Toegang pages: the rules, what a role may ask, the employees per member organisation."""

    section = "rules"
    path = "toegang"
    title = "Toegang"
    noun = "regel"
    list_template = "toegang.html"
    form_template = "toegang_regel.html"
    reserved = frozenset({"nieuw", "medewerkers"})
    taken = "Er is al een regel met deze naam. Kies een andere naam of wijzig die regel."
    fields: ClassVar[Mapping[str, tuple[str, str]]] = {
        "name": ("regel-naam", "Naam"),
        "description": ("regel-omschrijving", "Omschrijving"),
        "who": ("regel-wie", "Wie"),
        "afnemers": ("regel-afnemers", "AfnemerID's"),
        "gegevenssets": ("regel-gegevenssets", "Gegevenssets"),
        "required_headers": ("regel-headers", "Verplichte headers"),
    }

    def objects(self, spec: TenantSpec) -> Sequence[RuleSpec]:
        """The tenant's rules."""
        return spec.rules

    def form_of(self, stored: RuleSpec) -> RuleForm:
        """The form of a stored rule."""
        return RuleForm.of(stored)

    def sent(self, form: Mapping[str, list[str]], name: str | None) -> RuleForm:
        """The rule as sent."""
        return RuleForm.sent(form, name)

    def list_context(
        self, request: Request[Any, Any, Any], state: TenantState, *, status: int
    ) -> dict[str, Any]:
        """The rules, what the role of `?rol=` may ask, and the employees per member organisation."""
        spec = state.spec
        role = (request.query_params.get("rol") or "").strip()[:_ROLE_LIMIT]
        shared_staff = spec.pattern == "gezamenlijk_personeel"
        return {
            "rules": [RuleView.of(rule) for rule in spec.rules],
            "role": role,
            "role_preview": _role_preview(spec, role) if role else None,
            "shared_staff": shared_staff,
            "mappings": mapping_rows(spec) if shared_staff else [],
            "mapping_saved": request.query_params.get("koppeling") if status == 200 else None,
            "members": member_choices(spec),
            "gegevenssets": _gegevensset_choices(spec),
            **mapping_form_context({}, {}),
        }

    def form_context(self, state: TenantState, form: RuleForm) -> dict[str, Any]:
        """The AfnemerIDs, gegevenssets and headers to choose from."""
        spec = state.spec
        return {
            "afnemers": _afnemer_choices(spec),
            "gegevenssets": _gegevensset_choices(spec),
            "headers": _header_choices(),
            "shared_staff": spec.pattern == "gezamenlijk_personeel",
        }

    def stored_preview(self, state: TenantState, stored: RuleSpec) -> RulePreview | None:
        """What a file-managed tenant's rule allows (its page has no preview button)."""
        if state.managed_by != "file":
            return None
        return RulePreview(
            rule=RuleView.of(stored), allowance=_allowance(state.spec, stored.gegevenssets), saved=True
        )

    def dry_run_preview(self, spec: TenantSpec, name: str, changes: Sequence[Change]) -> RulePreview | None:
        """What the rule as sent would allow, and what saving it would change."""
        rule = self.find(spec, name)
        if rule is None:  # pragma: no cover - the dry run just put it
            return None
        return RulePreview(
            rule=RuleView.of(rule),
            allowance=_allowance(spec, rule.gegevenssets),
            changes=planned(self.noun, name, changes),
        )


RULES: Final = RulePages()


# -- handlers: the rules -----------------------------------------------------------------------------


@get("/t/{slug:str}/toegang")
async def access_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The rules, what a role may ask (`?rol=`), and the employees per member organisation."""
    return await RULES.list_page(request, slug)


@get("/t/{slug:str}/toegang/nieuw")
async def new_rule_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The form for a new rule."""
    return await RULES.new_page(request, slug, RuleForm())


@get("/t/{slug:str}/toegang/{name:str}")
async def rule_page(request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]) -> Template:
    """The form of an existing rule (read-only, with what it allows, for a file-managed tenant)."""
    return await RULES.object_page(request, slug, name)


@post("/t/{slug:str}/toegang/nieuw")
async def add_rule(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Save a new rule, or (`action=preview`) show what it would allow without saving it."""
    return await RULES.save(request, slug, None)


@post("/t/{slug:str}/toegang/{name:str}")
async def change_rule(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template | Redirect:
    """Save a changed rule, or (`action=preview`) show what it would allow without saving it."""
    return await RULES.save(request, slug, name)


@post("/t/{slug:str}/toegang/{name:str}/verwijderen")
async def remove_rule(
    request: Request[Any, Any, Any], slug: FromPath[str], name: FromPath[str]
) -> Template | Redirect:
    """Remove a rule (with the ETag it was listed with): whom it mapped loses what it granted."""
    return await RULES.remove(request, slug, name)


# -- handlers: the employees per member organisation -------------------------------------------------


@post("/t/{slug:str}/toegang/medewerkers")
async def add_mapping(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Let an employee act for a member organisation: a rule for the employee with its AfnemerIDs."""
    session = await tenant_admin_session(request, slug)
    form = await checked_form(request, session)
    service = service_of(request)
    state = await service.read(slug)
    mapping = NewMapping.sent(form, state.spec)
    problems = mapping.problems()
    if problems:
        extra = mapping_form_context(form, problems)
        return RULES.render_list(request, session, state, status=400, extra=extra)
    change = change_request(
        request, session.actor, slug, RULES.view(mapping.rule), if_match=None, dry_run=False
    )
    try:
        await service.change(change, put_section_object(RULES.section, mapping.rule, mapping.body()))
    except ProblemError as error:
        return await _refused_mapping(request, session, slug, error, form=form, name=mapping.rule)
    return redirect(f"{RULES.base(slug)}?koppeling=1#medewerkers")


async def _refused_mapping(
    request: Request[Any, Any, Any],
    session: PortalSession,
    slug: str,
    error: ProblemError,
    *,
    form: Mapping[str, list[str]],
    name: str,
) -> Template:
    """The list again after the service refused a new mapping: the problems by the mapping's fields
    (400), the employee already mapped (428), read-only (409, managed by its file)."""
    status = error.problem.status
    state = await service_of(request).read(slug)
    if status == 409:
        return RULES.render_list(request, session, state, status=409, notice=error.problem.title)
    if status == 400:
        errors = RULES.messages(error, name, MAPPING_KEYS)
    elif status == 428:
        errors = {"employee": "Deze medewerker werkt al voor deze lid-organisatie."}
    else:
        raise error
    extra = mapping_form_context(form, errors)
    return RULES.render_list(request, session, state, status=400 if status == 400 else 409, extra=extra)


@post("/t/{slug:str}/toegang/medewerkers/verwijderen")
async def remove_mapping(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Take an employee out of a rule (the rule goes when nobody is left in it)."""
    session = await tenant_admin_session(request, slug)
    form = await checked_form(request, session)
    state = await service_of(request).read(slug)
    name = first(form, "rule")
    rule = found(RULES.find(state.spec, name))
    edit = _without(rule, f"employee:{first(form, 'employee')}")
    done = f"{RULES.base(slug)}#medewerkers"
    return await RULES.write_from_list(
        request, session, slug, name, edit, etag=first(form, "etag"), done=done
    )


def _without(rule: RuleSpec, subject: str) -> Edit:
    """The edit that takes `subject` out of `rule` (removes the rule when nobody is left); 404 when
    the rule does not name it."""
    left = [s for s in rule.who if s != subject]
    if len(left) == len(rule.who):
        raise not_found()
    if not left:
        return remove_section_object(RULES.section, rule.name)
    return put_section_object(RULES.section, rule.name, {**RuleForm.of(rule).body(), "who": left})


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
