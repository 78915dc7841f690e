"""Nieuwe organisatie aansluiten: `/beheer/operator/nieuw`, the operator's onboarding wizard.

A server-rendered wizard that works without JavaScript. Every step POSTs its own fields plus the
earlier steps' values (hidden fields) and gets the next step back. Each step is checked by the one
validator of tenant documents (`TenancyService.validate`, i.e. `parse_tenant`) over the whole
document built so far, keeping the problems of the steps done; the review step shows the plan of a
dry-run `create`; "Aanmaken" calls `TenancyService.create`. Every problem comes back next to the
field of the step it belongs to (`issuers[0].jwks_uri` → step Identiteitsprovider). The wizard's
data, the document and where a problem belongs are `wizard`; this module is its pages.

The AfnemerIDs' client secrets are asked on the last step only, in password fields (one per
AfnemerID: a samenwerkingsverband met gezamenlijk personeel has one per member), and never put
into a page: no hidden field, no value attribute, no message carries them. Until then the document
holds a placeholder reference, which validates like any reference and is never read.

Operators only: anyone else gets 403 with the admin API's words (`app.admin.auth.operator_only`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.response import Redirect, Template

from app.admin.schemas import PlannedChange, plan, tenant_view
from app.admin.writes import change_request, service_of
from app.brp.problems import ProblemError
from app.identity import ALLOWED_ALGORITHMS
from app.portal.controllers.operator import KIND_LABELS, OPERATOR_PATH, PATTERN_LABELS
from app.portal.controllers.wizard import (
    ADMIN,
    AFNEMER,
    FIELD_LABELS,
    FIRST_GEGEVENSSET,
    ISSUER,
    MEMBERS,
    ORGANISATION,
    REVIEW,
    STAFF,
    STEP_TITLES,
    MemberRow,
    StaffRow,
    StepErrors,
    Wizard,
    add_slug_taken,
    carried,
    check_member_codes,
    check_staff,
    field_label,
    problem_errors,
    secret_field,
    secrets_of,
    shown_step,
    tenant_document,
    wizard_of,
)
from app.portal.forms import Problem, first, small_number, summary
from app.portal.sessions import PortalSession
from app.portal.web import checked_form, operator_session, page, redirect

__all__ = ["ONBOARDING_ROUTES"]

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
_MEMBER_ROWS: Final = 3
# What the document holds instead of the secret until "Aanmaken": a reference that is never read.
_STAND_IN_REFERENCE: Final = "env:BRP_PORTAL_ONBOARDING_PLACEHOLDER"


# -- handlers ----------------------------------------------------------------------------------------


@get("/operator/nieuw")
async def onboarding_start(request: Request[Any, Any, Any]) -> Template:
    """Step 1 of "Nieuwe organisatie aansluiten"."""
    session = await operator_session(request)
    return _step_page(request, session, Wizard(), ORGANISATION)


@post("/operator/nieuw", status_code=200)
async def onboarding_step(request: Request[Any, Any, Any]) -> Template | Redirect:
    """One step of the wizard: back, one more member row, go to a step, next, or create."""
    session = await operator_session(request)
    form = await checked_form(request, session)
    sent = small_number(first(form, "stap", strip=True))
    step = ORGANISATION if sent is None else sent
    wizard = wizard_of(form, step)
    steps = wizard.steps()
    step = step if step in steps else ORGANISATION
    action = first(form, "actie", strip=True)
    target = small_number(first(form, "naar", strip=True))
    if target is not None and target in steps:
        return _step_page(request, session, wizard, target)
    if action == "terug":
        return _step_page(request, session, wizard, steps[max(steps.index(step) - 1, 0)])
    if action == "extra_lid" and step == MEMBERS:
        return _step_page(request, session, wizard, MEMBERS, extra_row=True)
    if action == "extra_medewerker" and step == STAFF:
        return _step_page(request, session, wizard, STAFF, extra_row=True)
    if action == "aanmaken" and step == REVIEW:
        return await _create(request, session, wizard, form)
    return await _next(request, session, wizard, step)


async def _next(
    request: Request[Any, Any, Any], session: PortalSession, wizard: Wizard, step: int
) -> Template:
    """The step after `step` once the steps so far are valid, else the first step with a problem."""
    errors = await _checked(request, wizard, step)
    if errors:
        shown = shown_step(errors, wizard)
        return _step_page(request, session, wizard, shown, errors=errors[shown], status_code=400)
    steps = wizard.steps()
    following = steps[min(steps.index(step) + 1, len(steps) - 1)]
    if following == REVIEW:
        return await _review_page(request, session, wizard)
    return _step_page(request, session, wizard, following)


async def _checked(request: Request[Any, Any, Any], wizard: Wizard, upto: int) -> StepErrors:
    """The validator's problems of the steps up to `upto`, over the document built so far."""
    errors: StepErrors = {}
    try:
        document = tenant_document(wizard, _stand_ins(wizard, "client_secret"))
        service_of(request).validate(document, wizard.slug or None)
    except ProblemError as error:
        if error.status != 400:
            raise
        errors = problem_errors(error, wizard)
    if wizard.slug and wizard.slug in await service_of(request).slugs():
        add_slug_taken(errors)
    _check_rows(errors, wizard)
    return {step: fields for step, fields in errors.items() if step <= upto and step in wizard.steps()}


def _check_rows(errors: StepErrors, wizard: Wizard) -> None:
    """The wizard's own checks of its rows: what the document would silently drop or merge."""
    check_member_codes(errors, wizard)
    check_staff(errors, wizard)


def _row_problems(wizard: Wizard) -> tuple[int, dict[str, str]] | None:
    """The first step whose rows have a problem (before a dry run or create), else None."""
    errors: StepErrors = {}
    _check_rows(errors, wizard)
    shown = shown_step(errors, wizard)
    return (shown, errors[shown]) if shown in errors else None


def _stand_ins(wizard: Wizard, field: str) -> dict[str, dict[str, str]]:
    """Each AfnemerID's secret until the last step: the placeholder reference as `field`."""
    return {afnemer: {field: _STAND_IN_REFERENCE} for afnemer in wizard.afnemer_ids}


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
    if (rows := _row_problems(wizard)) is not None:
        return _step_page(request, session, wizard, rows[0], errors=rows[1], status_code=400)
    request_ = change_request(request, session.actor, wizard.slug, tenant_view, if_match=None, dry_run=True)
    try:
        _, planned = await service_of(request).create(
            request_, tenant_document(wizard, _stand_ins(wizard, "client_secret_reference"))
        )
        changes = plan(planned, dry_run=True).changes
    except ProblemError as error:
        if error.status not in (400, 409):
            raise
        found = problem_errors(error, wizard)
        shown = shown_step(found, wizard)
        if shown != REVIEW:
            return _step_page(request, session, wizard, shown, errors=found[shown], status_code=error.status)
        review_errors.update(found.get(REVIEW, {}))
        status_code = max(status_code, error.status)
    review = {"changes": changes, "ready": not any(f == "form" for f in review_errors)}
    return _step_page(
        request, session, wizard, REVIEW, errors=review_errors, status_code=status_code, review=review
    )


async def _create(
    request: Request[Any, Any, Any], session: PortalSession, wizard: Wizard, form: Mapping[str, list[str]]
) -> Template | Redirect:
    """Create the tenant with the last step's secrets: the tenants list, or the step with the problem."""
    if (rows := _row_problems(wizard)) is not None:
        return _step_page(request, session, wizard, rows[0], errors=rows[1], status_code=400)
    request_ = change_request(request, session.actor, wizard.slug, tenant_view, if_match=None, dry_run=False)
    try:
        await service_of(request).create(request_, tenant_document(wizard, secrets_of(form, wizard)))
    except ProblemError as error:
        if error.status not in (400, 409):
            raise
        found = problem_errors(error, wizard)
        shown = shown_step(found, wizard)
        if shown == REVIEW:
            return await _review_page(
                request, session, wizard, errors=found.get(REVIEW, {}), status_code=error.status
            )
        return _step_page(request, session, wizard, shown, errors=found[shown], status_code=error.status)
    return redirect(f"{OPERATOR_PATH}?{urlencode({'aangemaakt': wizard.slug})}")


# -- the page ----------------------------------------------------------------------------------------


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
    """The wizard showing `step`, with `errors` by its fields (and, on the review, `review`)."""
    steps = wizard.steps()
    position = steps.index(step) + 1 if step in steps else 1
    errors = dict(errors or {})
    context = {
        "step": step,
        "steps": [(s, STEP_TITLES[s]) for s in steps],
        "position": position,
        "total": len(steps),
        "w": wizard,
        "errors": errors,
        "summary": _summary(errors),
        "carried": carried(wizard, step),
        "rows": _member_rows(wizard, step, extra_row=extra_row),
        "afnemer_rows": [(member, wizard.afnemer_row(member.code)) for member in wizard.members],
        "staff_rows": _staff_rows(wizard, step, extra_row=extra_row),
        "secret_fields": [
            (afnemer, secret_field(wizard, afnemer), secret_field(wizard, afnemer, "client_secret_reference"))
            for afnemer in wizard.afnemer_ids
        ],
        "first_gegevensset": FIRST_GEGEVENSSET,
        "review": review or {},
        **_choices(request, wizard),
    }
    return page(
        "operator_nieuw.html",
        session,
        title=f"Nieuwe organisatie aansluiten – stap {position} van {len(steps)}",
        current="operator",
        status_code=status_code,
        context=context,
    )


def _summary(errors: Mapping[str, str]) -> list[Problem]:
    """The error summary: every problem links to its field (the form's own: to the step's title)."""
    return summary(
        errors, {field: ("stap-titel" if field == "form" else field, field_label(field)) for field in errors}
    )


def _member_rows(wizard: Wizard, step: int, *, extra_row: bool) -> list[MemberRow]:
    """The member rows the page shows: on the members step, with empty rows to fill in."""
    rows = list(wizard.members)
    if step == MEMBERS:
        wanted = max(_MEMBER_ROWS, len(rows) + 1) + (1 if extra_row else 0)
        rows += [MemberRow("", "", "")] * (wanted - len(rows))
    return rows


def _staff_rows(wizard: Wizard, step: int, *, extra_row: bool) -> list[StaffRow]:
    """The first employees the page shows: on their step at least one row, and one more on request."""
    rows = list(wizard.staff)
    if step == STAFF:
        wanted = max(1, len(rows)) + (1 if extra_row else 0)
        rows += [StaffRow("", "")] * (wanted - len(rows))
    return rows


def _choices(request: Request[Any, Any, Any], wizard: Wizard) -> dict[str, Any]:
    """What the steps offer to choose from, their labels, and the step numbers."""
    identities = sorted(request.app.state.resources.upstream.identities)
    return {
        "kinds": list(KIND_LABELS.items()),
        "kind_labels": KIND_LABELS,
        "pattern_labels": PATTERN_LABELS,
        "environment_labels": ENVIRONMENT_LABELS,
        "resource_labels": RESOURCE_LABELS,
        "patterns": list(PATTERN_LABELS.items()),
        "environments": list(ENVIRONMENT_LABELS.items()),
        "identities": [(name, name) for name in identities],
        "member_options": [(row.code, f"{row.name} ({row.code})") for row in wizard.members if row.code],
        "member_names": {row.code: row.name for row in wizard.members},
        "all_algorithms": sorted(ALLOWED_ALGORITHMS),
        "labels": FIELD_LABELS,
        "step_titles": STEP_TITLES,
        "ORGANISATION": ORGANISATION,
        "MEMBERS": MEMBERS,
        "ISSUER": ISSUER,
        "AFNEMER": AFNEMER,
        "STAFF": STAFF,
        "ADMIN": ADMIN,
        "REVIEW": REVIEW,
    }


ONBOARDING_ROUTES: Final = (onboarding_start, onboarding_step)
