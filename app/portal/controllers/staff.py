"""Toegang's "Medewerkers per lid-organisatie": which employee of a samenwerkingsverband met
gezamenlijk personeel works for which member organisation.

The mapping is expressed by rules, as the admin API documents it: a rule with `who =
["employee:E"]` and as `afnemers` the member's AfnemerIDs. Adding one creates the rule
`medewerker-<employee>-<member>` (`NewMapping`); the handlers (in `access`) write it like any rule.
This module reads the rules into rows and the sent form into a rule; it never writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from app.portal.forms import Choice, first, summary
from app.portal.sections import NAME_LIMIT
from app.tenancy import TenantSpec
from app.tenancy.service import etag_of

__all__ = [
    "MAPPING_KEYS",
    "MappingRow",
    "NewMapping",
    "mapping_form_context",
    "mapping_rows",
    "member_choices",
]

# Form field → (element id, label in the summary).
_FIELDS: Final = {
    "employee": ("medewerker-nummer", "Personeelsnummer"),
    "member": ("medewerker-lid", "Lid-organisatie"),
    "gegevenssets": ("medewerker-gegevenssets", "Gegevenssets"),
}
# The validator's key of a mapping rule → the form field its problem belongs to.
MAPPING_KEYS: Final = {"who": "employee", "gegevenssets": "gegevenssets", "afnemers": "member"}


class MappingRow(msgspec.Struct, frozen=True, kw_only=True):
    """An employee and the member organisation(s) a rule lets them act for."""

    employee: str
    members: tuple[str, ...]
    afnemers: tuple[str, ...]
    rule: str
    gegevenssets: tuple[str, ...]
    etag: str


class NewMapping(msgspec.Struct, frozen=True, kw_only=True):
    """The form "Medewerker koppelen" as sent: an employee, a member and its AfnemerIDs."""

    employee: str
    member: str
    afnemers: tuple[str, ...]
    gegevenssets: tuple[str, ...]

    @classmethod
    def sent(cls, form: Mapping[str, list[str]], spec: TenantSpec) -> NewMapping:
        """The form as sent, with the AfnemerIDs of the chosen member."""
        member = first(form, "member")
        return cls(
            employee=first(form, "employee", strip=True),
            member=member,
            afnemers=tuple(a.afnemer_id for a in spec.afnemers if member and a.member == member),
            gegevenssets=tuple(form.get("gegevenssets", ())),
        )

    def problems(self) -> dict[str, str]:
        """What is missing before the rule can be written (by form field)."""
        problems: dict[str, str] = {}
        if not self.employee:
            problems["employee"] = "Vul het personeelsnummer in."
        if not self.afnemers:
            problems["member"] = "Kies een lid-organisatie met een AfnemerID."
        return problems

    @property
    def rule(self) -> str:
        """`medewerker-<employee>-<member>` in the characters a rule name may have."""
        plain = re.sub(r"[^a-z0-9_-]+", "-", f"{self.employee}-{self.member}".lower()).strip("-")
        return f"medewerker-{plain}"[:NAME_LIMIT]

    def body(self) -> dict[str, Any]:
        """The rule as the tenant file's `[rules.<name>]`."""
        return {
            "who": [f"employee:{self.employee}"],
            "afnemers": list(self.afnemers),
            "gegevenssets": list(self.gegevenssets),
            "description": f"Medewerker {self.employee} werkt voor {self.member}.",
        }


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
        rows += [
            MappingRow(
                employee=employee,
                members=tuple(members.get(code, code) for code in codes),
                afnemers=tuple(a for a in rule.afnemers if a in member_of),
                rule=rule.name,
                gegevenssets=rule.gegevenssets,
                etag=etag_of(rule) or "",
            )
            for employee in _employees(rule.who)
        ]
    return sorted(rows, key=lambda row: (row.employee, row.rule))


def _employees(who: tuple[str, ...]) -> list[str]:
    """The employee numbers of a rule's subjects (`employee:E`)."""
    kinds = (subject.partition(":") for subject in who)
    return [employee for kind, _, employee in kinds if kind == "employee" and employee]


def member_choices(spec: TenantSpec) -> list[Choice]:
    """The member organisations an employee can be mapped to: those with an AfnemerID."""
    with_afnemer = {a.member for a in spec.afnemers if a.member is not None}
    return [Choice(m.code, m.name, m.code) for m in spec.members if m.code in with_afnemer]


def mapping_form_context(form: Mapping[str, list[str]], errors: Mapping[str, str]) -> dict[str, Any]:
    """The form "Medewerker koppelen" of the Toegang page: as sent (empty: new), with `errors`."""
    return {
        "mapping": {
            "employee": first(form, "employee"),
            "member": first(form, "member"),
            "gegevenssets": tuple(form.get("gegevenssets", ())),
        },
        "mapping_errors": dict(errors),
        "mapping_summary": summary(errors, _FIELDS),
    }
