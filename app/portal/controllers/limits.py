"""Limieten: `/beheer/t/{slug}/limieten`, a tenant's rate limits under the operator's ceilings.

Tenant admins and the operator set the limits per scope (the whole organisation, each AfnemerID,
each employee); the operator also sets the ceilings (`/limieten/plafonds`). Every write is the
admin API's own: `TenancyService.change` with `document["limits"] = ...` (as `PUT .../limits`) and
`TenancyService.set_ceilings` (as `PUT .../limits/ceilings`), with the ETag the form was rendered
with as `If-Match`. So the tenant file's validator decides, the service checks the ceilings, and
every change is audited. This module only turns form text into numbers and the service's
problems into Dutch messages next to the fields; it never judges a limit itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Final

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.admin.auth import require_tenant_role
from app.admin.schemas import limits_view
from app.admin.writes import change_request, service_of
from app.brp.problems import ProblemError
from app.portal.dutch import dutch_decimal
from app.portal.forms import CHANGED_MEANWHILE, first, summary
from app.portal.sessions import PortalSession
from app.portal.web import PORTAL_PATH, checked_form, page, redirect, session_of, tenant_admin_session
from app.settings import Settings
from app.tenancy import RateLimit
from app.tenancy.service import LIMIT_SCOPES, ChangeRequest, Document, TenantState, etag_of

__all__ = ["LIMITS_ROUTES", "FieldView", "ScopeView"]

_TEMPLATE: Final = "limieten.html"
_TITLE: Final = "Limieten"
# Form text that reads as a number (a decimal comma too). At most nine digits before the comma:
# the database keeps a burst as a 32-bit integer, and no one means a larger limit.
_DECIMAL: Final = re.compile(r"[0-9]{1,9}(?:[.,][0-9]{1,6})?")
_WHOLE: Final = re.compile(r"[0-9]{1,9}")
_PARTS: Final = ("rate", "burst")

_SCOPE_LABELS: Final = {
    "tenant": "Hele organisatie",
    "afnemer": "Per AfnemerID",
    "employee": "Per medewerker",
}
_SCOPE_HINTS: Final = {
    "tenant": "Alle bevragingen van de organisatie samen.",
    "afnemer": "De bevragingen onder één AfnemerID (één autorisatiebesluit).",
    "employee": "De bevragingen van één medewerker of één applicatie.",
}
_SCOPE_PHRASES: Final = {
    "tenant": "hele organisatie",
    "afnemer": "per AfnemerID",
    "employee": "per medewerker",
}
_PART_LABELS: Final = {"rate": "Snelheid per seconde", "burst": "Piek (burst)"}
_PART_PROBLEMS: Final = {
    "rate": "Vul een getal groter dan 0 in, bijvoorbeeld 5 of 2,5.",
    "burst": "Vul een geheel getal van 1 of meer in, bijvoorbeeld 10.",
}
_FORMS: Final = {"limits": "limiet", "ceilings": "plafond"}
_SAVED: Final = {"limits": "limieten", "ceilings": "plafonds"}  # `?opgeslagen=` after a write


class FieldView(msgspec.Struct, frozen=True, kw_only=True):
    """One number field of a form: its name, element id, label, shown value and problem."""

    name: str
    id: str
    label: str
    context: str  # what tells it apart from its namesakes on the page (for screen readers)
    value: str
    error: str | None = None


class ScopeView(msgspec.Struct, frozen=True, kw_only=True):
    """One scope of the page: what is in force, the broker's default, the ceiling and both forms' fields."""

    key: str
    label: str
    hint: str
    limit: str | None
    default: str
    ceiling: str | None
    above_ceiling: bool
    fields: tuple[FieldView, FieldView]
    ceiling_fields: tuple[FieldView, FieldView]


class _FormProblems(Exception):
    """Form text that is not a number: messages by field id."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__("form problems")
        self.messages = messages


def _limit_text(limit: RateLimit | None) -> str | None:
    if limit is None:
        return None
    return f"{dutch_decimal(limit.rate)} per seconde, piek {limit.burst}"


def _default_of(settings: Settings, scope: str) -> RateLimit:
    """The broker's default limit for `scope` (settings `ratelimit_<scope>_rate/_burst`)."""
    rate: float = getattr(settings, f"ratelimit_{scope}_rate")
    burst: int = getattr(settings, f"ratelimit_{scope}_burst")
    return RateLimit(rate=rate, burst=burst)


def _field_id(form: str, scope: str, part: str) -> str:
    return f"{_FORMS[form]}-{scope}-{part}"


def _field_name(form: str, scope: str, part: str) -> str:
    return f"{_FORMS[form]}_{scope}_{part}"


def _stored_value(limit: RateLimit | None, part: str) -> str:
    if limit is None:
        return ""
    return dutch_decimal(limit.rate) if part == "rate" else str(limit.burst)


def _fields(
    form: str,
    scope: str,
    current: RateLimit | None,
    sent: Mapping[str, list[str]] | None,
    errors: Mapping[str, str],
) -> tuple[FieldView, FieldView]:
    """The rate and burst fields of `form` for `scope`: the sent values after a refusal, else the stored."""
    views = []
    for part in _PARTS:
        name = _field_name(form, scope, part)
        field_id = _field_id(form, scope, part)
        value = first(sent, name) if sent is not None else _stored_value(current, part)
        context = _SCOPE_PHRASES[scope] if form == "limits" else f"plafond {_SCOPE_PHRASES[scope]}"
        views.append(
            FieldView(
                name=name,
                id=field_id,
                label=_PART_LABELS[part],
                context=context,
                value=value,
                error=errors.get(field_id),
            )
        )
    return views[0], views[1]


def _scopes(
    state: TenantState,
    settings: Settings,
    *,
    sent: Mapping[str, Mapping[str, list[str]]],
    errors: Mapping[str, str],
) -> list[ScopeView]:
    views: list[ScopeView] = []
    for scope in LIMIT_SCOPES:
        limit: RateLimit | None = getattr(state.spec.limits, scope)
        ceiling = state.ceilings.get(scope)
        views.append(
            ScopeView(
                key=scope,
                label=_SCOPE_LABELS[scope],
                hint=_SCOPE_HINTS[scope],
                limit=_limit_text(limit),
                default=_limit_text(_default_of(settings, scope)) or "",
                ceiling=_limit_text(ceiling),
                above_ceiling=_above(limit, ceiling),
                fields=_fields("limits", scope, limit, sent.get("limits"), errors),
                ceiling_fields=_fields("ceilings", scope, ceiling, sent.get("ceilings"), errors),
            )
        )
    return views


def _above(limit: RateLimit | None, ceiling: RateLimit | None) -> bool:
    # A ceiling lowered after the limit was set leaves the limit above it until someone changes it.
    if limit is None or ceiling is None:
        return False
    return limit.rate > ceiling.rate or limit.burst > ceiling.burst


def _summary_fields() -> dict[str, tuple[str, str]]:
    """Every number field of the page: its element id and its label in the error summary."""
    fields: dict[str, tuple[str, str]] = {}
    for form in _FORMS:
        suffix = " (plafond)" if form == "ceilings" else ""
        for scope in LIMIT_SCOPES:
            for part in _PARTS:
                field_id = _field_id(form, scope, part)
                fields[field_id] = (field_id, f"{_SCOPE_LABELS[scope]}, {_PART_LABELS[part].lower()}{suffix}")
    return fields


def _render(
    request: Request[Any, Any, Any],
    session: PortalSession,
    slug: str,
    state: TenantState,
    *,
    status: int = 200,
    sent: Mapping[str, Mapping[str, list[str]]] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> Template:
    settings: Settings = request.app.state.resources.settings
    errors = errors or {}
    saved = request.query_params.get("opgeslagen") if status == 200 else None
    context = {
        "scopes": _scopes(state, settings, sent=sent or {}, errors=errors),
        "etag": etag_of(limits_view(state)) or "",
        "file_managed": state.managed_by == "file",
        "edits_ceilings": session.actor.is_operator,
        "errors": summary(errors, _summary_fields()),
        "notice": notice,
        "saved": saved if saved in ("limieten", "plafonds") else None,
    }
    return page(
        _TEMPLATE, session, title=_TITLE, slug=slug, current="limieten", status_code=status, context=context
    )


# -- form text ---------------------------------------------------------------------------------------


def _number(text: str, part: str) -> float | int:
    """A field's text as a number (a decimal comma too); `_FormProblems` is raised by the caller."""
    if part == "burst":
        if not _WHOLE.fullmatch(text):
            raise ValueError(text)
        return int(text)
    if not _DECIMAL.fullmatch(text):
        raise ValueError(text)
    return float(text.replace(",", "."))


def _pairs(form: Mapping[str, list[str]], kind: str) -> dict[str, dict[str, float | int]]:
    """The numbers given per scope (a scope with both fields empty is left out)."""
    given: dict[str, dict[str, float | int]] = {}
    problems: dict[str, str] = {}
    for scope in LIMIT_SCOPES:
        for part in _PARTS:
            text = first(form, _field_name(kind, scope, part), strip=True)
            if not text:
                continue
            try:
                given.setdefault(scope, {})[part] = _number(text, part)
            except ValueError:
                problems[_field_id(kind, scope, part)] = _PART_PROBLEMS[part]
    if problems:
        raise _FormProblems(problems)
    return given


def _ceilings(given: Mapping[str, Mapping[str, float | int]]) -> dict[str, RateLimit | None]:
    """Every scope's ceiling (None: none), each checked by `RateLimit` as the admin API does."""
    ceilings: dict[str, RateLimit | None] = {}
    problems: dict[str, str] = {}
    for scope in LIMIT_SCOPES:
        pair = given.get(scope)
        if pair is None:
            ceilings[scope] = None
            continue
        try:
            ceilings[scope] = msgspec.convert(dict(pair), RateLimit, strict=False)
        except msgspec.ValidationError as error:
            part = "burst" if "burst" in str(error) else "rate"
            problems[_field_id("ceilings", scope, part)] = _ceiling_problem(str(error), part)
    if problems:
        raise _FormProblems(problems)
    return ceilings


def _ceiling_problem(message: str, part: str) -> str:
    if "missing required field" in message:
        return "Vul ook dit veld in, of maak beide velden leeg voor geen plafond."
    return _PART_PROBLEMS[part]


# -- the service's problems --------------------------------------------------------------------------


def _messages(error: ProblemError, kind: str, state: TenantState) -> dict[str, str]:
    """A 400 of the service as Dutch messages by field id (unknown names: by their key path)."""
    prefix = "limits." if kind == "limits" else "ceilings."
    messages: dict[str, str] = {}
    for param in error.problem.invalid_params or ():
        scope, _, part = param.name.removeprefix(prefix).partition(".")
        if scope not in LIMIT_SCOPES or part not in _PARTS:
            messages.setdefault(param.name or "form", param.reason)
            continue
        messages.setdefault(
            _field_id(kind, scope, part), _message(param.code, param.reason, scope, part, state)
        )
    return messages


def _message(code: str, reason: str, scope: str, part: str, state: TenantState) -> str:
    if code == "ceiling":
        ceiling = state.ceilings.get(scope)
        if ceiling is not None:
            highest = dutch_decimal(ceiling.rate) if part == "rate" else str(ceiling.burst)
            return f"Dit is hoger dan het plafond van de operator ({highest}). Kies {highest} of minder."
        return "Dit is hoger dan het plafond van de operator."
    if reason == "is required":
        return "Vul ook dit veld in, of maak beide velden leeg voor de standaard van de broker."
    return _PART_PROBLEMS[part]


# -- handlers ----------------------------------------------------------------------------------------


@get("/t/{slug:str}/limieten")
async def limits_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The limits per scope, the broker's defaults and the ceilings; the forms to change them."""
    session = await tenant_admin_session(request, slug)
    return _render(request, session, slug, await service_of(request).read(slug))


@post("/t/{slug:str}/limieten")
async def save_limits(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """Set every limit at once (both fields of a scope empty: the broker's default)."""
    session = await tenant_admin_session(request, slug)
    form = await checked_form(request, session)
    try:
        given = _pairs(form, "limits")
    except _FormProblems as problems:
        return await _unreadable(request, session, slug, problems, kind="limits", form=form)

    def edit(document: Document) -> None:
        document["limits"] = given

    write = partial(service_of(request).change, edit=edit)
    return await _write(request, session, slug, write, kind="limits", form=form)


@post("/t/{slug:str}/limieten/plafonds")
async def save_ceilings(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template | Redirect:
    """The operator sets the ceilings (both fields of a scope empty: no ceiling)."""
    session = await session_of(request)
    # No tenant role suffices: the tenant's own admins get 403, another tenant's people 404.
    require_tenant_role(session.actor, slug, operator=True)
    form = await checked_form(request, session)
    try:
        ceilings = _ceilings(_pairs(form, "ceilings"))
    except _FormProblems as problems:
        return await _unreadable(request, session, slug, problems, kind="ceilings", form=form)
    write = partial(service_of(request).set_ceilings, ceilings=ceilings)
    return await _write(request, session, slug, write, kind="ceilings", form=form)


async def _unreadable(
    request: Request[Any, Any, Any],
    session: PortalSession,
    slug: str,
    problems: _FormProblems,
    *,
    kind: str,
    form: Mapping[str, list[str]],
) -> Template:
    """The page again with the form text that is not a number (nothing was written)."""
    state = await service_of(request).read(slug)
    errors = problems.messages
    return _render(request, session, slug, state, status=400, sent={kind: form}, errors=errors)


async def _write(
    request: Request[Any, Any, Any],
    session: PortalSession,
    slug: str,
    write: Callable[[ChangeRequest], Awaitable[object]],
    *,
    kind: str,
    form: Mapping[str, list[str]],
) -> Template | Redirect:
    """`write` the form `kind` with the ETag it was rendered with: the page with its confirmation, or
    the page again when the service refuses."""
    etag = first(form, "etag") or None
    change = change_request(request, session.actor, slug, limits_view, if_match=etag, dry_run=False)
    try:
        await write(change)
    except ProblemError as error:
        return await _refused(request, session, slug, error, kind=kind, form=form)
    return redirect(f"{PORTAL_PATH}/t/{slug}/limieten?opgeslagen={_SAVED[kind]}")


async def _refused(
    request: Request[Any, Any, Any],
    session: PortalSession,
    slug: str,
    error: ProblemError,
    *,
    kind: str,
    form: Mapping[str, list[str]],
) -> Template:
    """The page again after the service refused a write: the problems by the fields (400), the
    new state (412: changed meanwhile; 409: managed by its file); other problems: the error page."""
    status = error.problem.status
    if status not in (400, 409, 412):
        raise error
    state = await service_of(request).read(slug)
    if status == 400:
        errors = _messages(error, kind, state)
        return _render(request, session, slug, state, status=400, sent={kind: form}, errors=errors)
    notice = CHANGED_MEANWHILE if status == 412 else error.problem.title
    return _render(request, session, slug, state, status=status, notice=notice)


LIMITS_ROUTES: Final = (limits_page, save_limits, save_ceilings)
