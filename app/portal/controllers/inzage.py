"""Inzage: `/beheer/t/{slug}/inzage` — the privacy officer's protocol inzage for a BSN, and the chain status.

For the tenant's own privacy officer only, never the operator (an inzage is the tenant's
processing, done by its own officer), exactly as the admin API's `POST .../inzage`:

- `GET  .../inzage`         the form (BSN, optional period) and the status of the tenant's hash chain
                            (`tenant_chain_status`: the admin API's verify, one at a time per process);
- `POST .../inzage`         the entries about the BSN as a table;
- `POST .../inzage/csv`     the same entries as a CSV download (`render(entries, "csv")`);
- `POST .../inzage/afdruk`  the same entries as a printable overview for the citizen's letter.

The BSN travels only in POST bodies (the results page carries it in hidden fields of its download
forms): never in a URL, a redirect, a page title or a log line. The form is parsed by the admin
API's own `parse_inzage_request` (same rule, same messages), and its period's days must also be
days the portal's forms take (`app.portal.forms.day_out_of_range`; the API takes any date). The
entries come from `protocolled_inzage`, which commits this inzage's own protocol record before
they may be shown; a record that cannot be committed is the router's 503 page and nothing is shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.admin.controllers.privacy import (
    ChainStatus,
    InzageRequest,
    parse_inzage_request,
    tenant_chain_status,
    utc_midnight,
)
from app.brp import PersonRole
from app.brp.problems import ProblemError
from app.correlation import correlation_id_of
from app.portal.dutch import ZONE, dutch_date, dutch_number, dutch_timestamp
from app.portal.forms import day_out_of_range, dutch_reason, field_errors, first, summary
from app.portal.sessions import PortalSession
from app.portal.web import checked_form, page, portal_of, privacy_officer_session
from app.protocol import BreakKind, InzageEntry, render
from app.protocol.access import read_unavailable
from app.protocol.inzage import INZAGE_API, InzageOfficer, protocolled_inzage
from app.telemetry.tracing import current_trace_id

__all__ = ["INZAGE_ROUTES", "InzageRow", "inzage_rows", "period_text"]

# The form's fields (also their element ids) and their labels.
_LABELS: Final = {"bsn": "Burgerservicenummer (BSN)", "from": "Vanaf", "to": "Tot"}
_APIS: Final = {
    "personen": "Personen bevragen",
    "bewoning": "Bewoning bevragen",
    "verblijfplaatshistorie": "Verblijfplaatshistorie bevragen",
    INZAGE_API: "Inzage door de functionaris gegevensbescherming",
}
_ROLES: Final = {
    PersonRole.CONSULTED: "Geraadpleegd",
    PersonRole.FOUND: "Gevonden bij een zoekvraag",
}
_BREAKS: Final = {
    BreakKind.CHANGED: "een record is gewijzigd",
    BreakKind.DUPLICATE: "een record komt dubbel voor",
    BreakKind.MISSING: "een record ontbreekt",
    BreakKind.LINK: "de schakel naar het vorige record klopt niet",
    BreakKind.HEAD: "het laatste record van de keten klopt niet",
    BreakKind.RETENTION: "het controlepunt van de bewaartermijn klopt niet",
    BreakKind.ORPHAN: "er is een record zonder plaats in de keten",
}
_TITLE: Final = "Inzage"
_PRINT_TITLE: Final = "Overzicht van verstrekkingen"


class InzageRow(msgspec.Struct, frozen=True, kw_only=True):
    """One entry as the pages show it: Dutch labels, the time in Europe/Amsterdam."""

    when: str
    who: tuple[str, ...]
    afnemer: str
    api: tuple[str, ...]
    fields: str
    doelbinding: str
    verwerking: str
    result: str
    correlation_id: str


class _Inzage(msgspec.Struct, frozen=True, kw_only=True):
    """A protocolled inzage of a POST: who asked, the form as sent, what it asked, the entries."""

    session: PortalSession
    form: dict[str, str]
    asked: InzageRequest
    entries: list[InzageEntry]


@get("/t/{slug:str}/inzage")
async def inzage_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The inzage form and the status of the tenant's protocol chain (the verify may take a while)."""
    session = await privacy_officer_session(request, slug)
    chain = await tenant_chain_status(request, slug)
    return _form_page(session, slug, form={}, errors={}, chain=chain)


@post("/t/{slug:str}/inzage", status_code=200)
async def inzage_results(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The protocol entries about the BSN of the form, after this inzage is itself protocolled."""
    done = await _inzage(request, slug)
    if isinstance(done, Template):
        return done
    context = {
        "form": done.form,
        "bsn": done.asked.bsn,
        "period": period_text(done.asked),
        "rows": inzage_rows(done.entries),
        "count": dutch_number(len(done.entries)),
    }
    return page(
        "inzage_resultaat.html", done.session, title=_TITLE, slug=slug, current="inzage", context=context
    )


@post("/t/{slug:str}/inzage/csv", status_code=200)
async def inzage_csv(request: Request[Any, Any, Any], slug: FromPath[str]) -> Response[bytes] | Template:
    """The entries as CSV (`render(entries, "csv")`), as a download.

    The download reads the protocol again, so it is an inzage of its own and is protocolled like
    the first one (`protocolled_inzage`): that is correct, the citizen sees each time the data left.
    """
    done = await _inzage(request, slug)
    if isinstance(done, Template):
        return done
    return Response(
        render(done.entries, "csv").encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="inzage.csv"', "Cache-Control": "no-store"},
    )


@post("/t/{slug:str}/inzage/afdruk", status_code=200)
async def inzage_print(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """A printable overview for the citizen's letter: organisation, period, the entries, the date.

    Like the CSV download it reads the protocol again, so it is an inzage of its own and is
    protocolled like the first one (`protocolled_inzage`): that is correct.
    """
    done = await _inzage(request, slug)
    if isinstance(done, Template):
        return done
    tenant = portal_of(request).directory.snapshot.tenants.get(slug)
    context = {
        "bsn": done.asked.bsn,
        "organisation": tenant.name if tenant is not None else slug,
        "period": period_text(done.asked),
        "generated": dutch_date(dt.datetime.now(ZONE).date()),
        "rows": inzage_rows(done.entries),
    }
    return page(
        "inzage_afdruk.html", done.session, title=_PRINT_TITLE, slug=slug, current="inzage", context=context
    )


INZAGE_ROUTES: Final = (inzage_page, inzage_results, inzage_csv, inzage_print)


def inzage_rows(entries: Sequence[InzageEntry]) -> list[InzageRow]:
    """The entries as table rows, in the protocol's order (oldest first)."""
    return [_row(entry) for entry in entries]


def period_text(asked: InzageRequest) -> str:
    """The period of the inzage in words; `to` is excluded, so the last day shown is the day before."""
    if asked.from_ is None and asked.to is None:
        return "de hele bewaartermijn (alles wat is vastgelegd)"
    parts = []
    if asked.from_ is not None:
        parts.append(
            f"van {dutch_date(asked.from_)}" if asked.to is not None else f"vanaf {dutch_date(asked.from_)}"
        )
    if asked.to is not None:
        parts.append(f"tot en met {dutch_date(asked.to - dt.timedelta(days=1))}")
    return " ".join(parts)


async def _inzage(request: Request[Any, Any, Any], slug: str) -> _Inzage | Template:
    """The POST's inzage (every POST of this page is one, and protocolled), or the form again (400)."""
    session = await privacy_officer_session(request, slug)
    form = _values(await checked_form(request, session))
    try:
        asked = parse_inzage_request(_body(form))
    except ProblemError as error:
        return _invalid(session, slug, form, error)
    far = _days_out_of_range(asked)
    if far:  # before anything is protocolled: a refused form looked nobody up
        return _form_page(session, slug, form=form, errors=far, chain=None, status=400)
    entries = await _protocolled_entries(request, session, slug, asked)
    return _Inzage(session=session, form=form, asked=asked, entries=entries)


async def _protocolled_entries(
    request: Request[Any, Any, Any], session: PortalSession, slug: str, asked: InzageRequest
) -> list[InzageEntry]:
    """The entries about the BSN, once this inzage's own protocol record is committed (else 503)."""
    resources = request.app.state.resources
    officer = InzageOfficer(
        tenant=slug,
        subject=session.actor.subject,
        correlation_id=correlation_id_of(request.scope),
        trace_id=current_trace_id(),
    )
    async with read_unavailable():
        return await protocolled_inzage(
            resources.pool,
            resources.protocol,
            officer,
            asked.bsn,
            from_=utc_midnight(asked.from_),
            to=utc_midnight(asked.to),
        )


def _days_out_of_range(asked: InzageRequest) -> dict[str, str]:
    """Messages for a period day the portal does not take (its pages show the day before `to`)."""
    days = {"from": asked.from_, "to": asked.to}
    problems = {name: day_out_of_range(day) for name, day in days.items() if day is not None}
    return {name: problem for name, problem in problems.items() if problem is not None}


def _values(form: dict[str, list[str]]) -> dict[str, str]:
    """The inzage's fields of the form (first value of each; absent: empty)."""
    return {name: first(form, name) for name in _LABELS}


def _body(form: dict[str, str]) -> dict[str, str]:
    """The form as the admin API's body: the BSN as typed, the dates only when filled in."""
    body = {"bsn": form["bsn"]}
    body.update({name: form[name] for name in ("from", "to") if form[name]})
    return body


def _invalid(session: PortalSession, slug: str, form: dict[str, str], error: ProblemError) -> Template:
    """The form again with the problem's messages next to the fields (400); nobody was looked up."""
    if error.status != 400:
        raise error
    errors = {
        name if name in _LABELS else "bsn": dutch_reason(reason)
        for name, reason in field_errors(error).items()
    }
    return _form_page(session, slug, form=form, errors=errors, chain=None, status=400)


def _form_page(
    session: PortalSession,
    slug: str,
    *,
    form: dict[str, str],
    errors: dict[str, str],
    chain: ChainStatus | None,
    status: int = 200,
) -> Template:
    # After an invalid form the chain is not verified again (it may be slow): the section links to it.
    context = {
        "form": form,
        "errors": errors,
        "summary": summary(errors, {name: (name, label) for name, label in _LABELS.items()}),
        "labels": _LABELS,
        "chain": chain,
        "records": None if chain is None else dutch_number(chain.records),
        "break_text": _break_text(chain),
    }
    return page(
        "inzage.html", session, title=_TITLE, slug=slug, current="inzage", status_code=status, context=context
    )


def _break_text(chain: ChainStatus | None) -> str | None:
    broken = None if chain is None else chain.first_break
    if broken is None:
        return None
    return f"Bij record {broken.seq}: {_BREAKS.get(broken.kind, broken.kind)} ({broken.detail})."


def _row(entry: InzageEntry) -> InzageRow:
    return InzageRow(
        when=dutch_timestamp(entry.occurred_at),
        who=_who(entry),
        afnemer=_afnemer(entry),
        api=_api(entry),
        fields=", ".join(entry.fields) or "—",
        doelbinding=entry.doelbinding or "—",
        verwerking=entry.verwerking or "—",
        result=_ROLES.get(entry.role, entry.role),
        correlation_id=entry.correlation_id,
    )


def _who(entry: InzageEntry) -> tuple[str, ...]:
    lines = [f"Medewerker: {entry.employee}"] if entry.employee else []
    if entry.subject and entry.subject != entry.employee:
        lines.append(f"Account: {entry.subject}")
    if entry.client_application:
        lines.append(f"Applicatie: {entry.client_application}")
    if entry.member_organisation:
        lines.append(f"Organisatie: {entry.member_organisation}")
    if entry.origin_oin:
        lines.append(f"Namens OIN: {entry.origin_oin}")
    return tuple(lines) or ("Onbekend",)


def _afnemer(entry: InzageEntry) -> str:
    if entry.afnemer_id is None:
        return "—"  # an inzage asks RvIG nothing: no AfnemerID
    return f"{entry.afnemer_id} ({entry.environment})" if entry.environment else entry.afnemer_id


def _api(entry: InzageEntry) -> tuple[str, ...]:
    lines = [_APIS.get(entry.api, entry.api)]
    if entry.query_type:
        lines.append(entry.query_type)
    if entry.search_parameter_names:
        lines.append("Gezocht op: " + ", ".join(entry.search_parameter_names))
    return tuple(lines)
