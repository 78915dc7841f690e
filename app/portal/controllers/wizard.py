"""The onboarding wizard's data ("Nieuwe organisatie aansluiten"): its steps, what each asks, the
answers read from a POSTed step, the hidden fields that carry them, the tenant document built from
them, and where a problem of the validator belongs (step and form field).

Plain data and functions, no HTTP: the pages are `onboarding`. The AfnemerIDs' client secrets are
never part of a `Wizard`: they are read from the last step's POST only (`secrets_of`) and put into
the document that is created, never into a page.

A samenwerkingsverband met gezamenlijk personeel gives one AfnemerID per member (`AfnemerRow`) and
its first employees (`StaffRow`, step "Eerste medewerkers"): each row becomes a mapping rule
`medewerker-<employee>-<member>` (the Toegang page's `NewMapping`) granting a narrow first
gegevensset `basis`, because the validator wants such a pattern to map callers to AfnemerIDs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from app.admin.text import refuse_nul
from app.brp.problems import ProblemError
from app.portal.controllers.staff import NewMapping
from app.portal.forms import add_message, first, small_number
from app.tenancy.models import DEFAULT_ADMIN_ROLES, DEFAULT_PRIVACY_OFFICER_ROLES
from app.tenancy.service import Document

__all__ = [
    "ADMIN",
    "AFNEMER",
    "FIELD_LABELS",
    "FIRST_GEGEVENSSET",
    "ISSUER",
    "MEMBERS",
    "ORGANISATION",
    "REVIEW",
    "STAFF",
    "STEP_TITLES",
    "AfnemerRow",
    "MemberRow",
    "StaffRow",
    "StepErrors",
    "Wizard",
    "add_slug_taken",
    "carried",
    "check_member_codes",
    "check_staff",
    "field_label",
    "locate",
    "problem_errors",
    "secret_field",
    "secrets_of",
    "shown_step",
    "tenant_document",
    "wizard_of",
]

# Steps by number, in order; step 2 only for a samenwerkingsverband, step 5 only for one met
# gezamenlijk personeel.
ORGANISATION, MEMBERS, ISSUER, AFNEMER, STAFF, ADMIN, REVIEW = 1, 2, 3, 4, 5, 6, 7
STEP_TITLES: Final = {
    ORGANISATION: "Organisatie",
    MEMBERS: "Leden",
    ISSUER: "Identiteitsprovider",
    AFNEMER: "AfnemerID",
    STAFF: "Eerste medewerkers",
    ADMIN: "Eerste beheerder",
    REVIEW: "Controleren en aanmaken",
}
_DEFAULT_ALGORITHMS: Final = ("RS256", "ES256")
_SHARED_STAFF: Final = "gezamenlijk_personeel"
# The first gegevensset of a samenwerkingsverband met gezamenlijk personeel: its mapping rules need
# one, and the narrowest useful one is safest until the tenant admin refines it.
FIRST_GEGEVENSSET: Final = "basis"
_FIRST_GEGEVENSSET_BODY: Final = {
    "description": "Eerste gegevensset uit het aansluiten: naam bij burgerservicenummer. "
    "Verfijn hem onder Gegevenssets.",
    "apis": ["personen"],
    "query_types": ["RaadpleegMetBurgerservicenummer"],
    "fields": ["burgerservicenummer", "naam"],
    "parameters": ["burgerservicenummer"],
}
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
    STAFF: ("staff_employee", "staff_member"),
    ADMIN: ("admin_roles", "privacy_officer_roles"),
}
# The rows of step AfnemerID under gezamenlijk personeel: form name → `AfnemerRow` attribute.
_AFNEMER_ROW: Final = {
    "afnemer_row_id": "afnemer_id",
    "afnemer_row_name": "name",
    "afnemer_row_client_id": "client_id",
    "afnemer_row_gemeente": "gemeente",
    "afnemer_row_member": "member",
}
_LISTS: Final = (
    "member_code",
    "member_name",
    "member_gemeente",
    "algorithms",
    "staff_employee",
    "staff_member",
    *_AFNEMER_ROW,
)
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
    "afnemers": "AfnemerID's",
    "staff": "Eerste medewerkers",
    "admin_roles": "Rollen van beheerders",
    "privacy_officer_roles": "Rollen van functionarissen gegevensbescherming",
    "client_secret": "Client secret",
    "client_secret_reference": "Of: verwijzing naar het client secret",
    "form": "Algemeen",
}
_MEMBER_PARTS: Final = {"code": "code", "name": "naam", "gemeente": "gemeentecode"}
_AFNEMER_PARTS: Final = {
    "id": "AfnemerID",
    "name": "naam",
    "client_id": "client id",
    "gemeente": "gemeentecode",
}
_STAFF_PARTS: Final = {"employee": "personeelsnummer", "member": "lid-organisatie"}


class MemberRow(msgspec.Struct, frozen=True):
    """One member organisation as typed in step 2."""

    code: str
    name: str
    gemeente: str


class AfnemerRow(msgspec.Struct, frozen=True):
    """A member's AfnemerID (gezamenlijk personeel), as typed in step AfnemerID; no secret."""

    afnemer_id: str
    name: str
    client_id: str
    gemeente: str
    member: str


class StaffRow(msgspec.Struct, frozen=True):
    """A first employee and the member organisation they work for (gezamenlijk personeel)."""

    employee: str
    member: str


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
    afnemer_rows: tuple[AfnemerRow, ...] = ()
    staff: tuple[StaffRow, ...] = ()
    admin_roles: str = " ".join(DEFAULT_ADMIN_ROLES)
    privacy_officer_roles: str = " ".join(DEFAULT_PRIVACY_OFFICER_ROLES)

    @property
    def federation(self) -> bool:
        """Whether the tenant is a samenwerkingsverband (and has members)."""
        return self.kind == "samenwerkingsverband"

    @property
    def shared_staff(self) -> bool:
        """Whether the tenant is a samenwerkingsverband met gezamenlijk personeel: an AfnemerID per
        member and employees mapped to members."""
        return self.federation and self.pattern == _SHARED_STAFF

    @property
    def afnemer_ids(self) -> tuple[str, ...]:
        """The AfnemerIDs the document will hold."""
        if self.shared_staff:
            return tuple(row.afnemer_id for row in self.afnemer_rows if row.afnemer_id)
        return (self.afnemer_id,) if self.afnemer_id else ()

    def steps(self) -> tuple[int, ...]:
        """The steps this tenant goes through."""
        skipped = {
            step for step, shown in ((MEMBERS, self.federation), (STAFF, self.shared_staff)) if not shown
        }
        return tuple(step for step in STEP_TITLES if step not in skipped)

    def afnemer_row(self, member: str) -> AfnemerRow:
        """The AfnemerID of `member` as typed (empty when none yet)."""
        return next((r for r in self.afnemer_rows if r.member == member), AfnemerRow("", "", "", "", member))


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
    return Wizard(
        seen=seen,
        members=tuple(
            MemberRow(*row) for row in _rows(form, ("member_code", "member_name", "member_gemeente"))
        ),
        afnemer_rows=tuple(AfnemerRow(*row) for row in _rows(form, tuple(_AFNEMER_ROW), keyed=4)),
        staff=tuple(StaffRow(*row) for row in _rows(form, ("staff_employee", "staff_member"))),
        algorithms=algorithms,
        **scalars,
    )


def _rows(form: Mapping[str, list[str]], names: tuple[str, ...], *, keyed: int = 0) -> list[tuple[str, ...]]:
    """The rows of repeated fields `names`, without the empty ones; with `keyed`, a row whose first
    `keyed` fields are empty is empty (the rest says which member the row is for)."""
    columns = [form.get(name, []) for name in names]
    count = max((len(column) for column in columns), default=0)
    rows = [tuple(c[i].strip() if i < len(c) else "" for c in columns) for i in range(count)]
    return [row for row in rows if any(row[: keyed or len(row)])]


def carried(wizard: Wizard, shown: int) -> list[tuple[str, str]]:
    """The hidden fields of a page showing step `shown`: every other step's values, no secret."""
    values: list[tuple[str, str]] = [("gezien", " ".join(str(s) for s in sorted(wizard.seen)))]
    for step, fields in _STEP_FIELDS.items():
        if step == shown:
            continue
        if step == MEMBERS:
            values += _member_values(wizard)
        elif step == STAFF:
            values += [
                v
                for row in wizard.staff
                for v in (("staff_employee", row.employee), ("staff_member", row.member))
            ]
        else:
            values += _step_values(wizard, fields)
        if step == AFNEMER:
            values += [
                (name, getattr(row, part))
                for row in wizard.afnemer_rows
                for name, part in _AFNEMER_ROW.items()
            ]
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


def secret_field(wizard: Wizard, afnemer_id: str, field: str = "client_secret") -> str:
    """The last step's form field of an AfnemerID's secret (one per AfnemerID under gezamenlijk
    personeel)."""
    return f"{field}-{afnemer_id}" if wizard.shared_staff else field


def secrets_of(form: Mapping[str, list[str]], wizard: Wizard) -> dict[str, dict[str, str]]:
    """Each AfnemerID's secret as typed on the last step: a value, a reference, or (neither) an
    empty value the validator refuses."""
    return {afnemer: _secret_of(form, wizard, afnemer) for afnemer in wizard.afnemer_ids}


def _secret_of(form: Mapping[str, list[str]], wizard: Wizard, afnemer_id: str) -> dict[str, str]:
    value = first(form, secret_field(wizard, afnemer_id))
    reference = first(form, secret_field(wizard, afnemer_id, "client_secret_reference"), strip=True)
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


def tenant_document(wizard: Wizard, secrets: Mapping[str, Mapping[str, str]]) -> Document:
    """The tenant's whole document (the tenant file's shape) from the wizard, with `secrets` (by
    AfnemerID) as each afnemer's `client_secret` / `client_secret_reference`; 400 for text
    PostgreSQL cannot hold."""
    document: Document = _compact(
        {"slug": wizard.slug, "name": wizard.name, "kind": wizard.kind, "pattern": wizard.pattern}
    )
    if wizard.federation:
        document["members"] = {
            row.code: _compact({"name": row.name, "gemeente_code": row.gemeente}) for row in wizard.members
        }
    document["issuers"] = [_issuer(wizard)]
    afnemers = _shared_afnemers(wizard) if wizard.shared_staff else {wizard.afnemer_id: _afnemer(wizard)}
    if wizard.afnemer_ids:
        document["afnemers"] = {a: {**afnemers[a], **secrets.get(a, {})} for a in wizard.afnemer_ids}
    if wizard.shared_staff:
        document["gegevenssets"] = {FIRST_GEGEVENSSET: dict(_FIRST_GEGEVENSSET_BODY)}
        document["rules"] = {mapping.rule: mapping.body() for mapping in _mappings(wizard)}
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


def _shared_afnemers(wizard: Wizard) -> dict[str, dict[str, Any]]:
    common = {"environment": wizard.environment, "identity": wizard.identity}
    return {
        row.afnemer_id: _compact(
            {
                **common,
                "name": row.name,
                "client_id": row.client_id,
                "gemeente_code": row.gemeente,
                "member": row.member,
            }
        )
        for row in wizard.afnemer_rows
        if row.afnemer_id
    }


def _mappings(wizard: Wizard) -> list[NewMapping]:
    """The first employees as the Toegang page's mapping rules (named and written alike)."""
    return [
        NewMapping(
            employee=row.employee,
            member=row.member,
            afnemers=tuple(
                a.afnemer_id for a in wizard.afnemer_rows if a.afnemer_id and a.member == row.member
            ),
            gegevenssets=(FIRST_GEGEVENSSET,),
        )
        for row in wizard.staff
    ]


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
_SHARED_AFNEMER_FIELDS: Final = {"name": "name", "client_id": "client_id", "gemeente_code": "gemeente"}
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
    if head == "rules" and wizard.shared_staff:
        return STAFF, _staff_field(rest, wizard)
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
    own, _, field = rest.partition(".")
    field = field.split(".")[0] if own in wizard.afnemer_ids else ""
    if field in ("client_secret", "client_secret_reference"):
        return REVIEW, secret_field(wizard, own, field)
    if not wizard.shared_staff:
        return AFNEMER, _AFNEMER_FIELDS.get(field, "afnemer_id")
    if field in ("environment", "identity"):  # asked once for all of them
        return AFNEMER, field
    return AFNEMER, _afnemer_row_field(wizard, own, _SHARED_AFNEMER_FIELDS.get(field, "id"))


def _afnemer_row_field(wizard: Wizard, afnemer_id: str, part: str) -> str:
    """`afnemer-<i>-<part>` of the row (by member) holding `afnemer_id`, else the step's intro."""
    for index, member in enumerate(wizard.members):
        if afnemer_id and wizard.afnemer_row(member.code).afnemer_id == afnemer_id:
            return f"afnemer-{index}-{part}"
    return "afnemers"


def _staff_field(rest: str, wizard: Wizard) -> str:
    """A mapping rule's problem: the row that made the rule (`who` → employee, else member)."""
    name, _, key = rest.partition(".")
    for index, mapping in enumerate(_mappings(wizard)):
        if name == mapping.rule:
            return f"staff-{index}-{'employee' if key.startswith('who') else 'member'}"
    return "staff"


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
        _add(errors, *_conflict_field(problem.detail or "", wizard), problem.detail or problem.title)
    return errors


def _conflict_field(detail: str, wizard: Wizard) -> tuple[int, str]:
    """Where a refusal of the database (ownership of issuers and AfnemerIDs) belongs."""
    if ": issuer " in detail:
        return ISSUER, "tenant_claim_value"
    if "afnemer " in detail and wizard.shared_staff:
        named = next((a for a in wizard.afnemer_ids if a in detail), "")
        return AFNEMER, _afnemer_row_field(wizard, named, "id")
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


def check_staff(errors: StepErrors, wizard: Wizard) -> None:
    """Under gezamenlijk personeel: an AfnemerID given twice, and what a first employee's row lacks
    (the document would silently map them to nobody)."""
    if not wizard.shared_staff:
        return
    _check_afnemer_ids(errors, wizard)
    with_afnemer = {row.member for row in wizard.afnemer_rows if row.afnemer_id}
    seen: set[str] = set()
    for index, (row, mapping) in enumerate(zip(wizard.staff, _mappings(wizard), strict=True)):
        if not row.employee:
            _add(errors, STAFF, f"staff-{index}-employee", "Vul het personeelsnummer in.")
        if not row.member:
            _add(errors, STAFF, f"staff-{index}-member", "Kies het lid voor wie deze medewerker werkt.")
        elif row.member not in with_afnemer:
            _add(
                errors,
                STAFF,
                f"staff-{index}-member",
                "Dit lid heeft geen AfnemerID (zie de stap AfnemerID).",
            )
        elif mapping.rule in seen:
            _add(errors, STAFF, f"staff-{index}-employee", "Deze medewerker staat al bij dit lid.")
        seen.add(mapping.rule)


def _check_afnemer_ids(errors: StepErrors, wizard: Wizard) -> None:
    """One AfnemerID for two members: the document (a table by AfnemerID) would keep one of them."""
    ids: set[str] = set()
    for index, member in enumerate(wizard.members):
        afnemer_id = wizard.afnemer_row(member.code).afnemer_id
        if afnemer_id and afnemer_id in ids:
            _add(errors, AFNEMER, f"afnemer-{index}-id", "Deze AfnemerID staat al bij een ander lid.")
        ids.add(afnemer_id)


def shown_step(errors: StepErrors, wizard: Wizard) -> int:
    """The first step with a problem (a step the tenant goes through)."""
    steps = wizard.steps()
    return min((step for step in errors if step in steps), default=REVIEW)


def field_label(field: str) -> str:
    """A field's label in the error summary (`member-0-code` → "Lid 1: code")."""
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    parts = field.split("-")
    if parts[0] in ("client_secret", "client_secret_reference") and len(parts) == 2:
        return f"{FIELD_LABELS[parts[0]]} van AfnemerID {parts[1]}"
    index = small_number(parts[1]) if len(parts) == 3 else None
    if index is None:
        return field
    if parts[0] == "member":
        return f"Lid {index + 1}: {_MEMBER_PARTS.get(parts[2], parts[2])}"
    if parts[0] == "afnemer":
        return f"AfnemerID van lid {index + 1}: {_AFNEMER_PARTS.get(parts[2], parts[2])}"
    if parts[0] == "staff":
        return f"Medewerker {index + 1}: {_STAFF_PARTS.get(parts[2], parts[2])}"
    return field
