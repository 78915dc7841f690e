"""The onboarding wizard's data ("Nieuwe organisatie aansluiten"): its steps, what each asks, the
answers read from a POSTed step, the hidden fields that carry them, the tenant document built from
them, and where a problem of the validator belongs (step and form field).

Plain data and functions, no HTTP: the pages are `onboarding`. The AfnemerID's client secret is
never part of a `Wizard`: it is read from the last step's POST only (`secret_of`) and put into the
document that is created, never into a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from app.admin.text import refuse_nul
from app.brp.problems import ProblemError
from app.portal.forms import add_message, first, small_number
from app.tenancy.models import DEFAULT_ADMIN_ROLES, DEFAULT_PRIVACY_OFFICER_ROLES
from app.tenancy.service import Document

__all__ = [
    "ADMIN",
    "AFNEMER",
    "FIELD_LABELS",
    "ISSUER",
    "MEMBERS",
    "ORGANISATION",
    "REVIEW",
    "STEP_TITLES",
    "MemberRow",
    "StepErrors",
    "Wizard",
    "add_slug_taken",
    "carried",
    "check_member_codes",
    "field_label",
    "locate",
    "problem_errors",
    "secret_of",
    "shown_step",
    "tenant_document",
    "wizard_of",
]

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
_WORDS: Final = re.compile(r"[\s,]+")

# The fields of step Identiteitsprovider that are the issuer's own keys too.
_ISSUER_FIELDS: Final = (
    "issuer",
    "audiences",
    "jwks_uri",
    "algorithms",
    "tenant_claim",
    "tenant_claim_value",
)
# The fields each step shows (form names; lists repeat the name).
_STEP_FIELDS: Final = {
    ORGANISATION: ("slug", "name", "kind", "pattern"),
    MEMBERS: ("member_code", "member_name", "member_gemeente"),
    ISSUER: (*_ISSUER_FIELDS, "login_client_id", "login_discovery_uri"),
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
_LISTS: Final = ("member_code", "member_name", "member_gemeente", "algorithms")
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
    "login_discovery_uri": "Discovery-URL voor inloggen (optioneel)",
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
_MEMBER_PARTS: Final = {"code": "code", "name": "naam", "gemeente": "gemeentecode"}


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
    login_discovery_uri: str = ""
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


# -- reading a step, and carrying it to the next -----------------------------------------------------


def wizard_of(form: Mapping[str, list[str]], step: int) -> Wizard:
    """The wizard's data from a POSTed step (its own fields and the carried ones)."""
    sent = (small_number(s) for s in first(form, "gezien", strip=True).split())
    seen = frozenset(number for number in sent if number is not None) | {step}
    scalars = {
        name: first(form, name, strip=True)
        for fields in _STEP_FIELDS.values()
        for name in fields
        if name not in _LISTS
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


def carried(wizard: Wizard, shown: int) -> list[tuple[str, str]]:
    """The hidden fields of a page showing step `shown`: every other step's values, no secret."""
    values: list[tuple[str, str]] = [("gezien", " ".join(str(s) for s in sorted(wizard.seen)))]
    for step, fields in _STEP_FIELDS.items():
        if step == shown:
            continue
        if step == MEMBERS:
            values += _member_values(wizard)
        else:
            values += _step_values(wizard, fields)
    return values


def _member_values(wizard: Wizard) -> list[tuple[str, str]]:
    values: list[tuple[str, str]] = []
    for row in wizard.members:
        values += [("member_code", row.code), ("member_name", row.name), ("member_gemeente", row.gemeente)]
    return values


def _step_values(wizard: Wizard, fields: tuple[str, ...]) -> list[tuple[str, str]]:
    values: list[tuple[str, str]] = []
    for name in fields:
        if name == "algorithms":
            values += [("algorithms", algorithm) for algorithm in wizard.algorithms]
        else:
            values.append((name, getattr(wizard, name)))
    return values


def secret_of(form: Mapping[str, list[str]]) -> dict[str, str]:
    """The secret as typed on the last step: a value, a reference, or (neither) an empty value the
    validator refuses."""
    value = first(form, "client_secret")
    reference = first(form, "client_secret_reference", strip=True)
    given = {"client_secret": value} if value else {}
    if reference:
        given["client_secret_reference"] = reference
    return given or {"client_secret": ""}


# -- the tenant document -----------------------------------------------------------------------------


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
    document["issuers"] = [_issuer(wizard)]
    if wizard.afnemer_id:
        document["afnemers"] = {wizard.afnemer_id: {**_afnemer(wizard), **secret}}
    document["admin"] = {
        "admin_roles": _words(wizard.admin_roles),
        "privacy_officer_roles": _words(wizard.privacy_officer_roles),
    }
    refuse_nul(document)
    return document


def _issuer(wizard: Wizard) -> dict[str, Any]:
    # A discovery URL without a client id still makes a login table: the validator then asks for
    # the client id, rather than the URL being dropped unseen.
    login = _compact({"client_id": wizard.login_client_id, "discovery_uri": wizard.login_discovery_uri})
    return _compact(
        {
            "issuer": wizard.issuer,
            "audiences": _words(wizard.audiences),
            "jwks_uri": wizard.jwks_uri,
            "algorithms": list(wizard.algorithms),
            "tenant_claim": wizard.tenant_claim,
            "tenant_claim_value": wizard.tenant_claim_value,
            "login": login or None,
        }
    )


def _afnemer(wizard: Wizard) -> dict[str, Any]:
    return _compact(
        {
            "name": wizard.afnemer_name,
            "environment": wizard.environment,
            "identity": wizard.identity,
            "client_id": wizard.client_id,
            "gemeente_code": wizard.gemeente_code,
            "member": wizard.member if wizard.federation else "",
        }
    )


# -- problems by step and field ----------------------------------------------------------------------

StepErrors = dict[int, dict[str, str]]

_AFNEMER_FIELDS: Final = {
    "name": "afnemer_name",
    "environment": "environment",
    "identity": "identity",
    "client_id": "client_id",
    "gemeente_code": "gemeente_code",
    "member": "member",
}
_MEMBER_FIELDS: Final = {"name": "name", "gemeente_code": "gemeente"}
_SLUG_TAKEN: Final = "Er is al een organisatie met deze korte naam."


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
        return "login_discovery_uri" if name.endswith(".login.discovery_uri") else "login_client_id"
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
    add_message(errors.setdefault(step, {}), field, message)


def problem_errors(error: ProblemError, wizard: Wizard) -> StepErrors:
    """A refusal of the service as messages by step and field."""
    errors: StepErrors = {}
    problem = error.problem
    for param in problem.invalid_params or ():
        step, field = locate(param.name, wizard)
        _add(errors, step, field, _sentence(param.reason))
    if problem.code == "tenantExists":
        _add(errors, ORGANISATION, "slug", _SLUG_TAKEN)
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


def add_slug_taken(errors: StepErrors) -> None:
    """The slug is another tenant's already."""
    _add(errors, ORGANISATION, "slug", _SLUG_TAKEN)


def check_member_codes(errors: StepErrors, wizard: Wizard) -> None:
    """Two rows with one code: the document (a table by code) would silently keep one of them."""
    codes: set[str] = set()
    for index, row in enumerate(wizard.members):
        if row.code and row.code in codes:
            _add(errors, MEMBERS, f"member-{index}-code", "Deze code staat al bij een ander lid.")
        codes.add(row.code)


def shown_step(errors: StepErrors, wizard: Wizard) -> int:
    """The first step with a problem (a step the tenant goes through)."""
    steps = wizard.steps()
    return min((step for step in errors if step in steps), default=REVIEW)


def field_label(field: str) -> str:
    """A field's label in the error summary (`member-0-code` → "Lid 1: code")."""
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    parts = field.split("-")
    index = small_number(parts[1]) if len(parts) == 3 and parts[0] == "member" else None
    if index is not None:
        return f"Lid {index + 1}: {_MEMBER_PARTS.get(parts[2], parts[2])}"
    return field
