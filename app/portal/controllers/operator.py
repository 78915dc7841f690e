"""The operator's pages: every tenant with its status, suspend/resume, and onboarding a tenant.

- `GET /beheer/operator`: every tenant (`TenancyService.slugs` + `read`, as the admin API's list)
  with its status and who manages it. An API-managed tenant gets a suspend/resume button: the
  admin API's `PATCH /tenants/{slug}` edit (`status`) through `TenancyService.change`, with the
  ETag the page was rendered with. A suspension ends the tenant's portal sessions at once (the
  session check would also end them lazily). A file-managed tenant is read-only here.
- `/beheer/operator/nieuw`: "Nieuwe organisatie aansluiten", a server-rendered wizard that works
  without JavaScript. Every step POSTs its own fields plus the earlier steps' values (hidden
  fields) and gets the next step back. Each step is checked by the one validator of tenant
  documents (`TenancyService.validate`, i.e. `parse_tenant`) over the whole document built so
  far, keeping the problems of the steps done; the review step shows the plan of a dry-run
  `create`; "Aanmaken" calls `TenancyService.create`. Every problem comes back next to the field
  of the step it belongs to (`issuers[0].jwks_uri` → step Identiteitsprovider).

The AfnemerID's client secret is asked on the last step only, in a password field, and never
put into a page: no hidden field, no value attribute, no message carries it. Until then the
document holds a placeholder reference, which validates like any reference and is never read.

Operators only: anyone else gets 403 with the admin API's words (`app.admin.auth.operator_only`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.admin.schemas import PlannedChange, plan, tenant_view
from app.admin.text import refuse_nul
from app.admin.writes import change_request, service_of
from app.brp.problems import ProblemError, forbidden
from app.identity import ALLOWED_ALGORITHMS
from app.portal.sessions import PortalSession
from app.portal.web import PORTAL_PATH, checked_form, page, portal_of, redirect, session_of
from app.tenancy.models import DEFAULT_ADMIN_ROLES, DEFAULT_PRIVACY_OFFICER_ROLES
from app.tenancy.service import Document, TenantState, etag_of

__all__ = ["OPERATOR_ROUTES"]

# The admin API's words for a route only the operator may use (`operator_only`).
_FORBIDDEN_TITLE: Final = "U bent niet geautoriseerd voor deze operatie."
_OPERATOR_ONLY: Final = "Deze operatie is voorbehouden aan de operator."
_CHANGED_MEANWHILE: Final = "Iemand anders heeft dit intussen gewijzigd; de pagina toont nu de nieuwe stand."
_OPERATOR: Final = f"{PORTAL_PATH}/operator"

KIND_LABELS: Final = {"organisation": "organisatie", "samenwerkingsverband": "samenwerkingsverband"}
PATTERN_LABELS: Final = {
    "saas": "SaaS (eigen AfnemerID)",
    "delegatie": "samenwerkingsverband onder delegatie",
    "gezamenlijk_personeel": "samenwerkingsverband met gezamenlijk personeel",
}
# The objects of a plan (`app.tenancy.apply.Change.object`), in the portal's words.
RESOURCE_LABELS: Final = {
    "tenant": "organisatie",
    "member": "lid",
    "issuer": "identiteitsprovider",
    "afnemer": "AfnemerID",
    "gegevensset": "gegevensset",
    "rule": "toegangsregel",
    "limit": "limiet",
}
ENVIRONMENT_LABELS: Final = {
    "sandbox": "sandbox (lokale testomgeving)",
    "proef": "proef (RvIG-proefomgeving)",
    "productie": "productie",
}


# -- the tenants list -------------------------------------------------------------------------------


class TenantRow(msgspec.Struct, frozen=True, kw_only=True):
    """One tenant in the operator's list, with the ETag its status form carries."""

    slug: str
    name: str
    kind: str
    pattern: str
    active: bool
    file_managed: bool
    afnemers: int
    etag: str


async def _operator_session(request: Request[Any, Any, Any]) -> PortalSession:
    """The request's session, if it is the operator's; 403 otherwise (as `operator_only`)."""
    session = await session_of(request)
    if not session.actor.is_operator:
        raise forbidden("unauthorized", _FORBIDDEN_TITLE, _OPERATOR_ONLY)
    return session


def _row(state: TenantState) -> TenantRow:
    spec = state.spec
    return TenantRow(
        slug=spec.slug,
        name=spec.name,
        kind=KIND_LABELS.get(spec.kind, spec.kind),
        pattern=PATTERN_LABELS.get(spec.pattern, spec.pattern),
        active=spec.status == "active",
        file_managed=state.managed_by != "api",
        afnemers=len(spec.afnemers),
        etag=etag_of(tenant_view(state)) or "",
    )


async def _tenant_rows(request: Request[Any, Any, Any]) -> list[TenantRow]:
    service = service_of(request)
    rows: list[TenantRow] = []
    for slug in await service.slugs():
        try:
            rows.append(_row(await service.read(slug)))
        except ProblemError:  # removed meanwhile
            continue
    return rows


def _notice(request: Request[Any, Any, Any], rows: list[TenantRow]) -> str | None:
    """The confirmation a redirect asked for (only about a tenant that is in the list)."""
    known = {row.slug for row in rows}
    texts = {
        "aangemaakt": "Organisatie {} is aangemaakt en aangesloten.",
        "opgeschort": "Organisatie {} is opgeschort. Haar sessies in het beheerportaal zijn beëindigd.",
        "hervat": "Organisatie {} is weer actief.",
    }
    for key, text in texts.items():
        slug = request.query_params.get(key)
        if slug in known:
            return text.format(slug)
    return None


async def _list_page(
    request: Request[Any, Any, Any],
    session: PortalSession,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    rows = await _tenant_rows(request)
    return page(
        "operator.html",
        session,
        title="Tenants",
        current="operator",
        status_code=status_code,
        context={"rows": rows, "notice": None if error else _notice(request, rows), "error": error},
    )


@get("/operator")
async def tenants_page(request: Request[Any, Any, Any]) -> Template:
    """Every tenant of the broker with its status; suspend/resume for API-managed tenants."""
    session = await _operator_session(request)
    return await _list_page(request, session)


@post("/operator/t/{slug:str}/status", status_code=200)
async def change_status(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Suspend (`status=suspended`) or resume (`status=active`) a tenant, as the admin API's PATCH."""
    session = await _operator_session(request)
    form = await checked_form(request, session)
    status = _first(form, "status")
    if status not in ("active", "suspended"):
        return await _list_page(request, session, error="Kies opschorten of hervatten.", status_code=400)

    def edit(document: Document) -> None:
        document.update({"status": status})

    etag = _first(form, "etag") or None
    try:
        await service_of(request).change(
            change_request(request, session.actor, slug, tenant_view, if_match=etag, dry_run=False), edit
        )
    except ProblemError as error:
        if error.status in (400, 409, 412, 428):
            return await _list_page(
                request, session, error=_status_refusal(error, slug), status_code=error.status
            )
        raise
    if status == "suspended":
        # At once, on every replica: the session check would only notice on the next request.
        await portal_of(request).sessions.close_tenant(slug)
    done = "opgeschort" if status == "suspended" else "hervat"
    return redirect(f"{_OPERATOR}?{urlencode({done: slug})}")


def _status_refusal(error: ProblemError, slug: str) -> str:
    code = error.problem.code
    if code == "tenantManagedByFile":
        return (
            f"Organisatie {slug} wordt beheerd met een tenantbestand (GitOps): "
            "wijzig de status in dat bestand, niet in dit portaal."
        )
    if error.status in (412, 428):
        return _CHANGED_MEANWHILE
    return error.problem.detail or error.problem.title


# -- the onboarding wizard: its data ------------------------------------------------------------------

# Steps by number; step 2 only for a samenwerkingsverband.
ORGANISATION, MEMBERS, ISSUER, AFNEMER, ADMIN, REVIEW = 1, 2, 3, 4, 5, 6
STEP_TITLES: Final = {
    ORGANISATION: "Organisatie",
    MEMBERS: "Leden",
    ISSUER: "Identiteitsprovider",
    AFNEMER: "AfnemerID",
    ADMIN: "Eerste beheerder",
    REVIEW: "Controleren en aanmaken",
}
_DEFAULT_ALGORITHMS: Final = ("RS256", "ES256")
_MEMBER_ROWS: Final = 3
# What the document holds instead of the secret until "Aanmaken": a reference that is never read.
_STAND_IN_REFERENCE: Final = "env:BRP_PORTAL_ONBOARDING_PLACEHOLDER"
_WORDS: Final = re.compile(r"[\s,]+")

# The fields each step shows (form names; lists repeat the name).
_STEP_FIELDS: Final = {
    ORGANISATION: ("slug", "name", "kind", "pattern"),
    MEMBERS: ("member_code", "member_name", "member_gemeente"),
    ISSUER: (
        "issuer",
        "audiences",
        "jwks_uri",
        "algorithms",
        "tenant_claim",
        "tenant_claim_value",
        "login_client_id",
    ),
    AFNEMER: (
        "afnemer_id",
        "afnemer_name",
        "environment",
        "identity",
        "client_id",
        "gemeente_code",
        "member",
    ),
    ADMIN: ("admin_roles", "privacy_officer_roles"),
}
FIELD_LABELS: Final = {
    "slug": "Korte naam (slug)",
    "name": "Naam van de organisatie",
    "kind": "Soort organisatie",
    "pattern": "Aansluitpatroon",
    "members": "Leden",
    "issuer": "Issuer-URL",
    "audiences": "Audience",
    "jwks_uri": "JWKS-URL",
    "algorithms": "Algoritmen",
    "tenant_claim": "Tenant-claim",
    "tenant_claim_value": "Waarde van de tenant-claim",
    "login_client_id": "Client id voor het beheerportaal",
    "afnemer_id": "AfnemerID",
    "afnemer_name": "Naam van de AfnemerID",
    "environment": "Omgeving",
    "identity": "OIN-identiteit",
    "client_id": "Client id bij RvIG",
    "gemeente_code": "Gemeentecode",
    "member": "Lid",
    "admin_roles": "Rollen van beheerders",
    "privacy_officer_roles": "Rollen van functionarissen gegevensbescherming",
    "client_secret": "Client secret",
    "client_secret_reference": "Of: verwijzing naar het client secret",
    "form": "Algemeen",
}


class MemberRow(msgspec.Struct, frozen=True):
    """One member organisation as typed in step 2."""

    code: str
    name: str
    gemeente: str


class Wizard(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the wizard asked so far, except the secret (never carried)."""

    seen: frozenset[int] = frozenset()
    slug: str = ""
    name: str = ""
    kind: str = ""
    pattern: str = ""
    members: tuple[MemberRow, ...] = ()
    issuer: str = ""
    audiences: str = ""
    jwks_uri: str = ""
    algorithms: tuple[str, ...] = _DEFAULT_ALGORITHMS
    tenant_claim: str = ""
    tenant_claim_value: str = ""
    login_client_id: str = ""
    afnemer_id: str = ""
    afnemer_name: str = ""
    environment: str = ""
    identity: str = ""
    client_id: str = ""
    gemeente_code: str = ""
    member: str = ""
    admin_roles: str = " ".join(DEFAULT_ADMIN_ROLES)
    privacy_officer_roles: str = " ".join(DEFAULT_PRIVACY_OFFICER_ROLES)

    @property
    def federation(self) -> bool:
        """Whether the tenant is a samenwerkingsverband (and has members)."""
        return self.kind == "samenwerkingsverband"

    def steps(self) -> tuple[int, ...]:
        """The steps this tenant goes through."""
        return tuple(step for step in STEP_TITLES if step != MEMBERS or self.federation)


def _first(form: Mapping[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _wizard_of(form: Mapping[str, list[str]], step: int) -> Wizard:
    """The wizard's data from a POSTed step (its own fields and the carried ones)."""
    seen = frozenset(int(s) for s in _first(form, "gezien").split() if s.isdigit()) | {step}
    scalars = {
        name: _first(form, name)
        for fields in _STEP_FIELDS.values()
        for name in fields
        if name not in ("member_code", "member_name", "member_gemeente", "algorithms")
    }
    if ADMIN not in seen:  # not asked yet: the defaults
        scalars.pop("admin_roles")
        scalars.pop("privacy_officer_roles")
    algorithms = tuple(form.get("algorithms", [])) if ISSUER in seen else _DEFAULT_ALGORITHMS
    return Wizard(seen=seen, members=_member_rows(form), algorithms=algorithms, **scalars)


def _member_rows(form: Mapping[str, list[str]]) -> tuple[MemberRow, ...]:
    codes, names, gemeenten = (form.get(f"member_{part}", []) for part in ("code", "name", "gemeente"))
    count = max(len(codes), len(names), len(gemeenten))

    def part(values: list[str], index: int) -> str:
        return values[index].strip() if index < len(values) else ""

    rows = (MemberRow(part(codes, i), part(names, i), part(gemeenten, i)) for i in range(count))
    return tuple(row for row in rows if row.code or row.name or row.gemeente)


def _carried(wizard: Wizard, shown: int) -> list[tuple[str, str]]:
    """The hidden fields of a page showing step `shown`: every other step's values, no secret."""
    values: list[tuple[str, str]] = [("gezien", " ".join(str(s) for s in sorted(wizard.seen)))]
    for step, fields in _STEP_FIELDS.items():
        if step == shown:
            continue
        if step == MEMBERS:
            for row in wizard.members:
                values += [
                    ("member_code", row.code),
                    ("member_name", row.name),
                    ("member_gemeente", row.gemeente),
                ]
        else:
            for name in fields:
                if name == "algorithms":
                    values += [("algorithms", algorithm) for algorithm in wizard.algorithms]
                else:
                    values.append((name, getattr(wizard, name)))
    return values


def _words(text: str) -> list[str]:
    return [word for word in _WORDS.split(text) if word]


def _compact(table: Mapping[str, Any]) -> dict[str, Any]:
    """`table` without what was left empty (so the validator says "is required", not "too short")."""
    return {key: value for key, value in table.items() if value is not None and value != ""}


def tenant_document(wizard: Wizard, secret: Mapping[str, str]) -> Document:
    """The tenant's whole document (the tenant file's shape) from the wizard, with `secret` as the
    afnemer's `client_secret` / `client_secret_reference`; 400 for text PostgreSQL cannot hold."""
    document: Document = _compact(
        {"slug": wizard.slug, "name": wizard.name, "kind": wizard.kind, "pattern": wizard.pattern}
    )
    if wizard.federation:
        document["members"] = {
            row.code: _compact({"name": row.name, "gemeente_code": row.gemeente}) for row in wizard.members
        }
    login = {"client_id": wizard.login_client_id} if wizard.login_client_id else None
    document["issuers"] = [
        _compact(
            {
                "issuer": wizard.issuer,
                "audiences": _words(wizard.audiences),
                "jwks_uri": wizard.jwks_uri,
                "algorithms": list(wizard.algorithms),
                "tenant_claim": wizard.tenant_claim,
                "tenant_claim_value": wizard.tenant_claim_value,
                "login": login,
            }
        )
    ]
    if wizard.afnemer_id:
        afnemer = {
            "name": wizard.afnemer_name,
            "environment": wizard.environment,
            "identity": wizard.identity,
            "client_id": wizard.client_id,
            "gemeente_code": wizard.gemeente_code,
            "member": wizard.member if wizard.federation else "",
        }
        document["afnemers"] = {wizard.afnemer_id: {**_compact(afnemer), **secret}}
    document["admin"] = {
        "admin_roles": _words(wizard.admin_roles),
        "privacy_officer_roles": _words(wizard.privacy_officer_roles),
    }
    refuse_nul(document)
    return document


# -- the onboarding wizard: problems by step and field ---------------------------------------------

StepErrors = dict[int, dict[str, str]]

_ISSUER_FIELDS: Final = (
    "issuer",
    "audiences",
    "jwks_uri",
    "algorithms",
    "tenant_claim",
    "tenant_claim_value",
)
_AFNEMER_FIELDS: Final = {
    "name": "afnemer_name",
    "environment": "environment",
    "identity": "identity",
    "client_id": "client_id",
    "gemeente_code": "gemeente_code",
    "member": "member",
}
_MEMBER_FIELDS: Final = {"name": "name", "gemeente_code": "gemeente"}


def locate(name: str, wizard: Wizard) -> tuple[int, str]:
    """The step and form field of a validator problem's key path (`issuers[0].jwks_uri`, ...)."""
    head, _, rest = name.partition(".")
    if head in ("slug", "name", "kind", "pattern"):
        return ORGANISATION, head
    if head == "members":
        return MEMBERS, _member_field(rest, wizard)
    if head.startswith("issuers"):
        return ISSUER, _issuer_field(name)
    if head == "afnemers":
        return _afnemer_field(rest, wizard)
    if head == "admin":
        return ADMIN, "privacy_officer_roles" if rest == "privacy_officer_roles" else "admin_roles"
    return REVIEW, "form"


def _member_field(rest: str, wizard: Wizard) -> str:
    for index, row in enumerate(wizard.members):
        if rest == row.code or rest.startswith(f"{row.code}."):
            field = rest.removeprefix(row.code).lstrip(".").split(".")[0]
            return f"member-{index}-{_MEMBER_FIELDS.get(field, 'code')}"
    return "members"


def _issuer_field(name: str) -> str:
    _, _, field = name.partition("].")
    field = field.split(".")[0]
    if field in _ISSUER_FIELDS:
        return field
    if field == "login":
        return "login_client_id"
    if field == "jwks" or not field:  # "give exactly one of jwks_uri and jwks"
        return "jwks_uri"
    return "issuer"


def _afnemer_field(rest: str, wizard: Wizard) -> tuple[int, str]:
    own = wizard.afnemer_id
    field = rest.removeprefix(own).lstrip(".").split(".")[0] if own and rest.startswith(own) else ""
    if field in ("client_secret", "client_secret_reference"):
        return REVIEW, field
    return AFNEMER, _AFNEMER_FIELDS.get(field, "afnemer_id")


def _add(errors: StepErrors, step: int, field: str, message: str) -> None:
    fields = errors.setdefault(step, {})
    fields[field] = f"{fields[field]} {message}" if field in fields else message


def problem_errors(error: ProblemError, wizard: Wizard) -> StepErrors:
    """A refusal of the service as messages by step and field."""
    errors: StepErrors = {}
    problem = error.problem
    for param in problem.invalid_params or ():
        step, field = locate(param.name, wizard)
        _add(errors, step, field, _sentence(param.reason))
    if problem.code == "tenantExists":
        _add(errors, ORGANISATION, "slug", "Er is al een organisatie met deze korte naam.")
    elif not errors:
        _add(errors, *_conflict_field(problem.detail or ""), problem.detail or problem.title)
    return errors


def _conflict_field(detail: str) -> tuple[int, str]:
    """Where a refusal of the database (ownership of issuers and AfnemerIDs) belongs."""
    if ": issuer " in detail:
        return ISSUER, "tenant_claim_value"
    if "afnemer " in detail:
        return AFNEMER, "afnemer_id"
    return REVIEW, "form"


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:] if reason else reason


# -- the onboarding wizard: pages -----------------------------------------------------------------


def _step_page(
    request: Request[Any, Any, Any],
    session: PortalSession,
    wizard: Wizard,
    step: int,
    *,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
    extra_row: bool = False,
    review: Mapping[str, Any] | None = None,
) -> Template:
    steps = wizard.steps()
    position = steps.index(step) + 1 if step in steps else 1
    errors = dict(errors or {})
    rows = list(wizard.members)
    if step == MEMBERS:
        wanted = max(_MEMBER_ROWS, len(rows) + 1) + (1 if extra_row else 0)
        rows += [MemberRow("", "", "")] * (wanted - len(rows))
    identities = sorted(request.app.state.resources.upstream.identities)
    return page(
        "operator_nieuw.html",
        session,
        title=f"Nieuwe organisatie aansluiten – stap {position} van {len(steps)}",
        current="operator",
        status_code=status_code,
        context={
            "step": step,
            "steps": [(s, STEP_TITLES[s]) for s in steps],
            "position": position,
            "total": len(steps),
            "w": wizard,
            "errors": errors,
            "summary": [
                (field, FIELD_LABELS.get(field, _row_label(field)), text) for field, text in errors.items()
            ],
            "carried": _carried(wizard, step),
            "rows": rows,
            "kinds": list(KIND_LABELS.items()),
            "kind_labels": KIND_LABELS,
            "pattern_labels": PATTERN_LABELS,
            "environment_labels": ENVIRONMENT_LABELS,
            "resource_labels": RESOURCE_LABELS,
            "patterns": list(PATTERN_LABELS.items()),
            "environments": list(ENVIRONMENT_LABELS.items()),
            "identities": [(name, name) for name in identities],
            "member_options": [(row.code, f"{row.name} ({row.code})") for row in wizard.members if row.code],
            "all_algorithms": sorted(ALLOWED_ALGORITHMS),
            "labels": FIELD_LABELS,
            "step_titles": STEP_TITLES,
            "review": review or {},
            "ORGANISATION": ORGANISATION,
            "MEMBERS": MEMBERS,
            "ISSUER": ISSUER,
            "AFNEMER": AFNEMER,
            "ADMIN": ADMIN,
            "REVIEW": REVIEW,
        },
    )


def _row_label(field: str) -> str:
    """The label of a member row's field (`member-0-code` → "Lid 1: code")."""
    parts = field.split("-")
    if len(parts) == 3 and parts[0] == "member" and parts[1].isdigit():
        what = {"code": "code", "name": "naam", "gemeente": "gemeentecode"}.get(parts[2], parts[2])
        return f"Lid {int(parts[1]) + 1}: {what}"
    return field


def _shown_step(errors: StepErrors, wizard: Wizard) -> int:
    """The first step with a problem (a step the tenant goes through)."""
    steps = wizard.steps()
    return min((step for step in errors if step in steps), default=REVIEW)


async def _checked(request: Request[Any, Any, Any], wizard: Wizard, upto: int) -> StepErrors:
    """The validator's problems of the steps up to `upto`, over the document built so far."""
    errors: StepErrors = {}
    try:
        document = tenant_document(wizard, {"client_secret": _STAND_IN_REFERENCE})
        service_of(request).validate(document, wizard.slug or None)
    except ProblemError as error:
        if error.status != 400:
            raise
        errors = problem_errors(error, wizard)
    if wizard.slug and wizard.slug in await service_of(request).slugs():
        _add(errors, ORGANISATION, "slug", "Er is al een organisatie met deze korte naam.")
    _check_member_codes(errors, wizard)
    return {step: fields for step, fields in errors.items() if step <= upto and step in wizard.steps()}


def _check_member_codes(errors: StepErrors, wizard: Wizard) -> None:
    """Two rows with one code: the document (a table by code) would silently keep one of them."""
    codes: set[str] = set()
    for index, row in enumerate(wizard.members):
        if row.code and row.code in codes:
            _add(errors, MEMBERS, f"member-{index}-code", "Deze code staat al bij een ander lid.")
        codes.add(row.code)


async def _review_page(
    request: Request[Any, Any, Any],
    session: PortalSession,
    wizard: Wizard,
    *,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """The review: everything asked (no secret) and the plan of a dry-run create, or the first
    step with a problem the dry run found."""
    changes: list[PlannedChange] = []
    review_errors = dict(errors or {})
    request_ = change_request(request, session.actor, wizard.slug, tenant_view, if_match=None, dry_run=True)
    try:
        _, planned = await service_of(request).create(
            request_, tenant_document(wizard, {"client_secret_reference": _STAND_IN_REFERENCE})
        )
        changes = plan(planned, dry_run=True).changes
    except ProblemError as error:
        if error.status not in (400, 409):
            raise
        found = problem_errors(error, wizard)
        shown = _shown_step(found, wizard)
        if shown != REVIEW:
            return _step_page(request, session, wizard, shown, errors=found[shown], status_code=error.status)
        review_errors.update(found.get(REVIEW, {}))
        status_code = max(status_code, error.status)
    return _step_page(
        request,
        session,
        wizard,
        REVIEW,
        errors=review_errors,
        status_code=status_code,
        review={"changes": changes, "ready": not any(f == "form" for f in review_errors)},
    )


@get("/operator/nieuw")
async def onboarding_start(request: Request[Any, Any, Any]) -> Template:
    """Step 1 of "Nieuwe organisatie aansluiten"."""
    session = await _operator_session(request)
    return _step_page(request, session, Wizard(), ORGANISATION)


@post("/operator/nieuw", status_code=200)
async def onboarding_step(request: Request[Any, Any, Any]) -> Template | Redirect:
    """One step of the wizard: back, one more member row, go to a step, next, or create."""
    session = await _operator_session(request)
    form = await checked_form(request, session)
    step = int(_first(form, "stap")) if _first(form, "stap").isdigit() else ORGANISATION
    wizard = _wizard_of(form, step)
    steps = wizard.steps()
    step = step if step in steps else ORGANISATION
    action = _first(form, "actie")
    target = _first(form, "naar")
    if target.isdigit() and int(target) in steps:
        return _step_page(request, session, wizard, int(target))
    if action == "terug":
        return _step_page(request, session, wizard, steps[max(steps.index(step) - 1, 0)])
    if action == "extra_lid" and step == MEMBERS:
        return _step_page(request, session, wizard, MEMBERS, extra_row=True)
    if action == "aanmaken" and step == REVIEW:
        return await _create(request, session, wizard, form)
    return await _next(request, session, wizard, step)


async def _next(
    request: Request[Any, Any, Any], session: PortalSession, wizard: Wizard, step: int
) -> Template:
    errors = await _checked(request, wizard, step)
    if errors:
        shown = _shown_step(errors, wizard)
        return _step_page(request, session, wizard, shown, errors=errors[shown], status_code=400)
    steps = wizard.steps()
    following = steps[min(steps.index(step) + 1, len(steps) - 1)]
    if following == REVIEW:
        return await _review_page(request, session, wizard)
    return _step_page(request, session, wizard, following)


def _secret_of(form: Mapping[str, list[str]]) -> dict[str, str]:
    """The secret as typed on the last step: a value, a reference, or (neither) an empty value the
    validator refuses."""
    value = (form.get("client_secret") or [""])[0]
    reference = _first(form, "client_secret_reference")
    given = {"client_secret": value} if value else {}
    if reference:
        given["client_secret_reference"] = reference
    return given or {"client_secret": ""}


async def _create(
    request: Request[Any, Any, Any], session: PortalSession, wizard: Wizard, form: Mapping[str, list[str]]
) -> Template | Redirect:
    request_ = change_request(request, session.actor, wizard.slug, tenant_view, if_match=None, dry_run=False)
    try:
        await service_of(request).create(request_, tenant_document(wizard, _secret_of(form)))
    except ProblemError as error:
        if error.status not in (400, 409):
            raise
        found = problem_errors(error, wizard)
        shown = _shown_step(found, wizard)
        if shown == REVIEW:
            return await _review_page(
                request, session, wizard, errors=found.get(REVIEW, {}), status_code=error.status
            )
        return _step_page(request, session, wizard, shown, errors=found[shown], status_code=error.status)
    return redirect(f"{_OPERATOR}?{urlencode({'aangemaakt': wizard.slug})}")


OPERATOR_ROUTES: Final = (tenants_page, change_status, onboarding_start, onboarding_step)
