"""Overzicht: `GET /beheer/t/{slug}`, for the tenant's admins and the operator.

Two parts, both aggregates without any person data:
- Usage over the last 30 UTC days, read from the tenant's protocol register exactly as the admin
  API's `/usage` reads it (`app.protocol.usage`), summarised and drawn by `app.portal.charts`:
  totals, and per AfnemerID a chart of requests per API and one of refusals and RvIG failures,
  each with the same numbers as a table.
- The connection to RvIG per AfnemerID as this broker process last saw it: the reachability of
  its environment (the readiness probe's latest result), whether it holds a usable token, and the
  expiry of the OIN certificate it presents. A page view never calls RvIG and never shows a
  token, a secret or a secret's reference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template
from markupsafe import Markup

from app.admin.writes import service_of
from app.brp import Api
from app.portal.charts import AfnemerUsage, Counts, DaySeries, Overview, stacked_bars_svg, summarise
from app.portal.dutch import ZONE, dutch_date, dutch_moment, dutch_number
from app.portal.web import page, tenant_admin_session
from app.protocol.access import read_unavailable
from app.protocol.usage import UsageDay, UsageReport, usage
from app.tenancy.models import AfnemerSpec
from app.upstream import OinIdentity

if TYPE_CHECKING:
    from app.main import Resources

__all__ = ["OVERVIEW_ROUTES", "Status", "certificate_status", "overview_page"]

DAYS: Final = 30
_API_LABELS: Final = {
    Api.PERSONEN.value: "Personen",
    Api.BEWONING.value: "Bewoning",
    Api.VERBLIJFPLAATSHISTORIE.value: "Verblijfplaatshistorie",
    "inzage": "Inzage",
}
_BRP_APIS: Final = frozenset(api.value for api in Api)

Badge = Literal["ok", "warn", "error", "muted"]


# --- view models -------------------------------------------------------------------------------------


class Card(msgspec.Struct, frozen=True):
    """One total at the top of the page."""

    label: str
    value: str


class Row(msgspec.Struct, frozen=True):
    """A table row: its header cell and its numbers (formatted)."""

    label: str
    cells: tuple[str, ...]


class Table(msgspec.Struct, frozen=True):
    """A chart's numbers as a data table; `total` is the last row."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    total: Row


class Chart(msgspec.Struct, frozen=True):
    """A chart (inline SVG, already escaped) and its table."""

    heading: str
    svg: Markup
    table: Table


class AfnemerSection(msgspec.Struct, frozen=True):
    """One AfnemerID's usage; a chart is None when it would show nothing."""

    key: str
    heading: str
    note: str
    requests: Chart | None
    refusals: Chart | None


class Status(msgspec.Struct, frozen=True):
    """A state as a badge (its text says it, not only its colour) and a sentence beside it."""

    badge: Badge
    label: str
    detail: str = ""


class Connection(msgspec.Struct, frozen=True):
    """How one AfnemerID reaches RvIG, as this broker process last saw it."""

    afnemer_id: str
    name: str
    environment: str
    identity: str
    oin: str | None
    reachability: Status
    token: Status
    certificate: Status


# --- the page ----------------------------------------------------------------------------------------


@get("/t/{slug:str}", name="portal_overview")
async def overview_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    """The tenant's usage over the last 30 days and its connection to RvIG."""
    session = await tenant_admin_session(request, slug)
    state = await service_of(request).read(slug)
    resources: Resources = request.app.state.resources
    async with read_unavailable():
        report = await usage(resources.pool, slug, DAYS)
    overview = summarise(report)
    afnemers = state.spec.afnemers
    now = dt.datetime.now(dt.UTC)
    context = {
        "tenant_name": state.spec.name,
        "period": f"{dutch_date(overview.from_)} tot en met {dutch_date(overview.to)}",
        "days": DAYS,
        "cards": _cards(overview.all_afnemers.totals),
        "sections": _sections(report, overview, afnemers),
        "connections": [_connection(resources, slug, afnemer, now) for afnemer in afnemers],
    }
    return page("overzicht.html", session, title="Overzicht", slug=slug, current="overzicht", context=context)


# --- usage -------------------------------------------------------------------------------------------


def _cards(totals: Counts) -> list[Card]:
    return [
        Card("Verzoeken", dutch_number(totals.requests)),
        Card("Geweigerd (403)", dutch_number(totals.forbidden)),
        Card("Te veel verzoeken (429)", dutch_number(totals.rate_limited)),
        Card("Storingen bij RvIG", dutch_number(totals.upstream_errors)),
    ]


def _sections(
    report: UsageReport, overview: Overview, afnemers: Sequence[AfnemerSpec]
) -> list[AfnemerSection]:
    """Every configured AfnemerID (also a quiet one), then any other that occurs in the usage."""
    used = {entry.afnemer_id: entry.series for entry in overview.afnemers}
    names = {afnemer.afnemer_id: afnemer.name for afnemer in afnemers}
    quiet = _quiet(report)
    sections = [_section(a.afnemer_id, a.name, used.get(a.afnemer_id, quiet)) for a in afnemers]
    sections += [_section(e.afnemer_id, None, e.series) for e in _unconfigured(overview.afnemers, names)]
    return sections


def _unconfigured(entries: Iterable[AfnemerUsage], names: Mapping[str, str]) -> list[AfnemerUsage]:
    return [entry for entry in entries if entry.afnemer_id not in names]


def _quiet(report: UsageReport) -> DaySeries:
    """A series of only zeros over the report's days and the APIs every table shows."""
    days = tuple(UsageDay(day=day.day, requests=0) for day in report.days)
    return summarise(msgspec.structs.replace(report, requests=0, days=days)).all_afnemers


def _section(afnemer_id: str | None, name: str | None, series: DaySeries) -> AfnemerSection:
    if afnemer_id is None:
        key, heading = "geen", "Zonder AfnemerID"
        note = (
            "Verzoeken die zijn geweigerd voordat bekend was voor welke AfnemerID ze waren, "
            "en inzageverzoeken van de functionaris gegevensbescherming."
        )
    else:
        key, heading = afnemer_id, f"AfnemerID {afnemer_id}" + (f" · {name}" if name else "")
        note = "" if name is not None else "Deze AfnemerID is niet meer ingericht voor deze organisatie."
    totals = series.totals
    failures = totals.forbidden + totals.rate_limited + totals.upstream_errors
    return AfnemerSection(
        key=key,
        heading=heading,
        note=note,
        requests=_requests_chart(key, heading, series) if totals.requests else None,
        refusals=_refusals_chart(key, heading, series) if failures else None,
    )


def _requests_chart(key: str, owner: str, series: DaySeries) -> Chart:
    per_api = {
        _API_LABELS.get(api, api): counts
        for api, counts in series.requests_per_api().items()
        if api in _BRP_APIS or any(counts)
    }
    title = f"Verzoeken per dag, per API ({owner})"
    total = dutch_number(series.totals.requests)
    about = (
        f"Gestapelde staven: per dag het aantal verzoeken, per API. In totaal {total} verzoeken. "
        "De tabel 'Als tabel' eronder geeft dezelfde aantallen."
    )
    return _chart(
        series,
        per_api,
        id_prefix=f"verzoeken-{key}",
        heading="Verzoeken per dag, per API",
        title=title,
        about=about,
    )


def _refusals_chart(key: str, owner: str, series: DaySeries) -> Chart:
    title = f"Weigeringen en storingen per dag ({owner})"
    about = (
        "Gestapelde staven: per dag de weigeringen (403), de verzoeken boven de limiet (429) "
        "en de storingen bij RvIG. De tabel 'Als tabel' eronder geeft dezelfde aantallen."
    )
    labels = ("Geweigerd (403)", "Te veel verzoeken (429)", "Storing bij RvIG")
    counts = dict(zip(labels, series.refusals_and_errors().values(), strict=True))
    heading = "Weigeringen en storingen per dag"
    return _chart(series, counts, id_prefix=f"weigeringen-{key}", heading=heading, title=title, about=about)


def _chart(
    series: DaySeries,
    counts: Mapping[str, Sequence[int]],
    *,
    id_prefix: str,
    heading: str,
    title: str,
    about: str,
) -> Chart:
    """`counts` (label → one count per day of `series`) as a chart named `title`, described by `about`."""
    svg = stacked_bars_svg(series.dates(), counts, title=title, description=about, id_prefix=id_prefix)
    return Chart(heading=heading, svg=svg, table=_table(title, series, counts))


def _table(caption: str, series: DaySeries, counts: Mapping[str, Sequence[int]]) -> Table:
    """One row per day (oldest first) with a column per series and their sum, and a total row."""
    rows = tuple(
        Row(dutch_date(day), _cells([column[i] for column in counts.values()]))
        for i, day in enumerate(series.dates())
    )
    total = Row("Totaal", _cells([sum(column) for column in counts.values()]))
    return Table(caption=caption, columns=(*counts, "Totaal"), rows=rows, total=total)


def _cells(values: Sequence[int]) -> tuple[str, ...]:
    return tuple(dutch_number(value) for value in (*values, sum(values)))


# --- the connection to RvIG --------------------------------------------------------------------------


def _connection(resources: Resources, slug: str, afnemer: AfnemerSpec, now: dt.datetime) -> Connection:
    identity = resources.upstream.identities.get(afnemer.identity)
    return Connection(
        afnemer_id=afnemer.afnemer_id,
        name=afnemer.name,
        environment=afnemer.environment,
        identity=afnemer.identity,
        oin=identity.oin if identity is not None else None,
        reachability=_reachability(resources, afnemer),
        token=_token(resources, slug, afnemer.afnemer_id),
        certificate=certificate_status(identity, afnemer.identity, now),
    )


def _reachability(resources: Resources, afnemer: AfnemerSpec) -> Status:
    """The readiness probe's latest result for this route: the page itself never probes RvIG."""
    environment = resources.upstream.environments.get(afnemer.environment)
    if environment is None or environment.token_url is None:
        return Status("muted", "niet ingericht", "Deze omgeving heeft in de broker geen adres van RvIG.")
    if afnemer.identity not in resources.upstream.identities:
        return Status("muted", "onbekend", "Zonder certificaat kan de broker RvIG niet bereiken.")
    seen = resources.reachability.last_seen(afnemer.identity, afnemer.environment)
    if seen is None:
        return Status("muted", "nog niet gecontroleerd")
    checked = f"Laatst gecontroleerd op {dutch_moment(seen.checked_at, seconds=False)}."
    if seen.probe.reachable:
        return Status("ok", "bereikbaar", checked)
    return Status("error", "onbereikbaar", checked)


def _token(resources: Resources, slug: str, afnemer_id: str) -> Status:
    """Whether this process holds a usable RvIG token for the afnemer (never the token itself)."""
    tenant = resources.directory.snapshot.tenants.get(slug)
    afnemer = tenant.afnemers.get(afnemer_id) if tenant is not None else None
    if afnemer is None:
        return Status("muted", "nog niet in gebruik", "De broker heeft deze AfnemerID nog niet geladen.")
    if afnemer.account is None:
        # The reason (`afnemer.problem`) may name a secret's reference: it stays in the broker's log.
        detail = "De broker kan voor deze AfnemerID geen token aanvragen. Neem contact op met uw leverancier."
        return Status("error", "niet te gebruiken", detail)
    state = resources.upstream.tokens.state_of(afnemer.account)
    if state == "valid":
        return Status("ok", "geldig token", "De broker heeft een geldig token van RvIG.")
    if state == "failing":
        return Status("error", "aanvragen mislukt", "De laatste aanvraag van een token bij RvIG is mislukt.")
    return Status("muted", "geen token", "De broker vraagt een token aan bij het volgende verzoek.")


def certificate_status(identity: OinIdentity | None, name: str, now: dt.datetime) -> Status:
    """The expiry of the OIN certificate the broker presents (read when the broker started: a
    certificate file replaced since is not in use before a restart, so it is not shown)."""
    if identity is None:
        return Status("error", "ontbreekt", f"De broker heeft geen certificaat met de naam {name}.")
    day = dutch_date(identity.not_after.astimezone(ZONE).date())
    if identity.not_after <= now:
        ago = (now - identity.not_after).days
        return Status(
            "error",
            "verlopen",
            f"Verlopen op {day} ({_days(ago)} geleden)." if ago else f"Verlopen op {day}.",
        )
    left = identity.days_left(now)
    when = f"Verloopt op {day} (over {_days(left)})." if left else f"Verloopt op {day} (vandaag)."
    if identity.expires_soon(now):
        return Status("warn", "verloopt binnenkort", when)
    return Status("ok", "geldig", when)


def _days(count: int) -> str:
    return "1 dag" if count == 1 else f"{dutch_number(count)} dagen"


OVERVIEW_ROUTES: Final = (overview_page,)
