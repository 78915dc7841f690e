"""What every portal form shares: reading a POSTed field, the service's validation problems as
Dutch messages by field, and the error summary at the top of a page.

The validators (the tenant file's `parse_tenant`, and `check_gegevensset` through it; the inzage's
`parse_inzage_request`) speak to the admin API: in English, or in the BRP APIs' terse Dutch. A page
shows their problems in plain Dutch through `dutch_reason`, one table for the whole portal. A
reason the table does not know is shown as it comes, never dropped. Each page only says which of
its fields (element id, label) a problem belongs to.

It also reads what forms send the same way everywhere: a day (`form_day`, `day_out_of_range`),
whose only failure is a Dutch message for the field, and a small whole number (`small_number`),
None when it is none — never an exception a page would turn into a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from app.brp.problems import ProblemError

__all__ = [
    "CHANGED_MEANWHILE",
    "EARLIEST_DAY",
    "LATEST_DAY",
    "Choice",
    "Problem",
    "add_message",
    "day_out_of_range",
    "dutch_reason",
    "field_errors",
    "first",
    "form_day",
    "small_number",
    "summary",
]

# A write with an ETag that is no longer current (412), or a new object whose name was taken (428).
CHANGED_MEANWHILE: Final = "Iemand anders heeft dit intussen gewijzigd; de pagina toont nu de nieuwe stand."

# The days a form takes. Nothing the broker records or is asked about lies outside them (the
# protocol and the audit start with the broker), and a person typing an early year to mean "from
# the start" still can. The margins keep every use of a day inside what `datetime` (years
# 1..9999) and PostgreSQL hold: midnight in Europe/Amsterdam (in year 1 still local mean time,
# +00:19:32, so before year 1 in UTC), the day after (the audit's `tot` includes its day), the day
# before (the inzage's last day shown).
EARLIEST_DAY: Final = dt.date(1900, 1, 1)
LATEST_DAY: Final = dt.date(9998, 12, 31)
_NOT_A_DAY: Final = "Vul een datum in als jjjj-mm-dd, bijvoorbeeld 2026-01-31."
_OUT_OF_RANGE_DAY: Final = "Vul een datum in tussen 1 januari 1900 en 31 december 9998."
# A step or row number: ASCII digits only (`str.isdigit` is also true for '²', which `int` refuses).
_SMALL_NUMBER: Final = re.compile(r"[0-9]{1,3}")

# The validators' words (app.tenancy.files, app.policy.checks, the inzage's request) in Dutch;
# the first match counts.
_DUTCH: Final = (
    # rules
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
        re.compile(r"no rule maps anyone to an afnemer.*"),
        "Er moet ten minste één regel zijn die mensen aan een AfnemerID koppelt (gezamenlijk personeel).",
    ),
    # gegevenssets
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
    # inzage (app.admin.controllers.privacy: the BRP APIs' words, which the admin API keeps)
    (re.compile(r"Waarde voldoet niet aan patroon \^\[0-9\]\{9\}\$\."), "Een BSN bestaat uit 9 cijfers."),
    (re.compile(r"Waarde ligt niet na from\."), "De einddatum moet na de begindatum liggen."),
    (re.compile(r"Invalid RFC3339 encoded date"), "Vul een geldige datum in."),
    # any named object
    (
        re.compile(r"a name is lower-case letters.*"),
        "Een naam bestaat uit kleine letters, cijfers, '-' en '_', en begint met een letter of cijfer.",
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


def first(form: Mapping[str, Sequence[str]], key: str, *, strip: bool = False) -> str:
    """The first value sent for `key` ("" when none), without surrounding spaces if `strip`."""
    values = form.get(key) or ()
    value = values[0] if values else ""
    return value.strip() if strip else value


def form_day(text: str) -> dt.date:
    """A typed day (jjjj-mm-dd) that every page can use; `ValueError` with the Dutch message else."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(_NOT_A_DAY) from None
    problem = day_out_of_range(day)
    if problem is not None:
        raise ValueError(problem)
    return day


def day_out_of_range(day: dt.date) -> str | None:
    """The Dutch message for a day outside `EARLIEST_DAY`..`LATEST_DAY` (None: inside)."""
    return None if EARLIEST_DAY <= day <= LATEST_DAY else _OUT_OF_RANGE_DAY


def small_number(text: str) -> int | None:
    """A step's or row's number as sent (0..999), None when `text` is anything else."""
    return int(text) if _SMALL_NUMBER.fullmatch(text) else None


def field_errors(error: ProblemError, prefix: str = "") -> dict[str, str]:
    """A validation problem as messages by field: the key path with `prefix` removed (`who`, ...)."""
    messages: dict[str, str] = {}
    for param in error.problem.invalid_params or ():
        name = param.name.removeprefix(prefix) if prefix else param.name
        messages.setdefault(name or "form", param.reason)
    return messages


def add_message(messages: dict[str, str], field: str, text: str) -> None:
    """Add `text` to the field's message (a field with more problems shows them one after another)."""
    messages[field] = f"{messages[field]} {text}" if field in messages else text


def dutch_reason(reason: str) -> str:
    """A validator's reason in Dutch (as it comes when the portal has no words for it)."""
    for pattern, text in _DUTCH:
        matched = pattern.search(reason)
        if matched:
            return text.format(**matched.groupdict())
    return reason


def summary(messages: Mapping[str, str], fields: Mapping[str, tuple[str, str]]) -> list[Problem]:
    """The error summary of `messages` (by field): a link to each field of `fields` (field →
    element id, label); a message of another field (the form as a whole) without a link."""
    return [
        Problem(f"#{fields[field][0]}", fields[field][1], message)
        if field in fields
        else Problem("", "", message)
        for field, message in messages.items()
    ]
