"""Charts for the portal's Overzicht page: a usage report summarised, drawn as inline SVG on the server.

`summarise` turns a `UsageReport` into per-day counts for all afnemers together and for each
AfnemerID: requests per API, refusals (403, 429) and failures of RvIG (see `UPSTREAM_PROBLEM_CODES`).
The same structs feed a chart and the "Als tabel" data table beside it, so both show one set of numbers.

`stacked_bars_svg` draws one stacked bar per day as an `<svg role="img">` named by its own `<title>`
and `<desc>`. It needs no JavaScript and no CDN, and it works under a Content-Security-Policy without
'unsafe-inline': it never writes a `style` attribute or a `<style>` element, only presentation
attributes (`fill`, `font-size`) and class names the page's stylesheet may refine. Every text it
writes is escaped (markupsafe), whatever the caller passes as a title or series label.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final, NamedTuple

import msgspec
from markupsafe import Markup

from app.brp import Api
from app.portal.dutch import dutch_day, dutch_number
from app.protocol.usage import UsageCount, UsageReport

__all__ = [
    "EMPTY_TEXT",
    "PALETTE",
    "UPSTREAM_PROBLEM_CODES",
    "AfnemerUsage",
    "Counts",
    "DayCounts",
    "DaySeries",
    "Overview",
    "nice_ticks",
    "stacked_bars_svg",
    "summarise",
]

# The BRP APIs always get a column (also when unused), so every table of the page has the same shape;
# any other api in the report (`inzage`) follows in alphabetical order.
_KNOWN_APIS: Final = tuple(api.value for api in Api)
_FORBIDDEN: Final = 403
_RATE_LIMITED: Final = 429
_SERVER_ERROR: Final = 500
# The 5xx codes the forwarder gives when RvIG, or the way to it, fails (app/upstream/forwarder.py).
# A 5xx with another code is the broker's own (`protocolUnavailable`, `afnemerUnavailable`,
# `brokerStopping`, `serverError`) and counts as `other_errors`, so RvIG is not blamed for it.
UPSTREAM_PROBLEM_CODES: Final = frozenset(
    {
        "tokenUnavailable",
        "upstreamAuthentication",
        "upstreamError",
        "upstreamInvalidResponse",
        "upstreamNotAuthorised",
        "upstreamNotConfigured",
        "upstreamTimeout",
        "upstreamUnavailable",
        "upstreamUnreachable",
    }
)

# Okabe-Ito (colour-blind safe), purple and orange darkened: each has a contrast of at least 3:1
# against white (WCAG 1.4.11, graphical objects). Series take them in order.
PALETTE: Final = ("#0072B2", "#D55E00", "#009E73", "#A8517F", "#9A6700", "#4D4D4D")
_TEXT_COLOUR: Final = "#333333"
_GRID_COLOUR: Final = "#D9D9D9"
_AXIS_COLOUR: Final = "#767676"
# A white edge between stacked segments keeps neighbours apart even where their colours are close.
_SEGMENT_EDGE: Final = "#FFFFFF"

_FONT_FAMILY: Final = "system-ui, sans-serif"
_FONT_SIZE: Final = 12
_CHAR_WIDTH: Final = 7  # a generous average glyph width at _FONT_SIZE, to lay out the legend
_MARGIN_LEFT: Final = 48
_MARGIN_RIGHT: Final = 20
_MARGIN_TOP: Final = 8
_X_LABEL_BAND: Final = 22
_LEGEND_ROW: Final = 20
_LEGEND_SWATCH: Final = 12
_LEGEND_GAP: Final = 16
_MIN_PLOT_HEIGHT: Final = 40
_BAR_SHARE: Final = 0.7  # of each day's slot; the rest is the gap between bars
_X_LABEL_EVERY: Final = 7
_MAX_TICK_STEPS: Final = 3  # so the y axis has 3 or 4 labels, 0 included

EMPTY_TEXT: Final = "Geen verzoeken in deze periode"
_ID_PREFIX: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """Requests in some period; `per_api` follows the owning series' `apis`.

    `requests` counts every request, whatever its outcome (the sum of `per_api`); the refusals and
    errors are part of it. A 429 counts whether the broker's limiter or RvIG gave it.
    """

    requests: int
    per_api: tuple[int, ...]
    forbidden: int
    rate_limited: int
    upstream_errors: int
    other_errors: int


class DayCounts(Counts, frozen=True, kw_only=True):
    """The counts of one UTC day."""

    day: dt.date


class DaySeries(msgspec.Struct, frozen=True, kw_only=True):
    """Counts per day of the window (oldest first, every day present) and their totals."""

    apis: tuple[str, ...]
    days: tuple[DayCounts, ...]
    totals: Counts

    def dates(self) -> tuple[dt.date, ...]:
        """The days of the window, for a chart's x axis."""
        return tuple(day.day for day in self.days)

    def requests_per_api(self) -> dict[str, tuple[int, ...]]:
        """One series per API: its requests per day (the chart of all requests)."""
        return {api: tuple(day.per_api[i] for day in self.days) for i, api in enumerate(self.apis)}

    def refusals_and_errors(self) -> dict[str, tuple[int, ...]]:
        """Refusals and RvIG failures per day, labelled for a chart legend."""
        return {
            "geweigerd (403)": tuple(day.forbidden for day in self.days),
            "te veel verzoeken (429)": tuple(day.rate_limited for day in self.days),
            "fout bij RvIG": tuple(day.upstream_errors for day in self.days),
        }


class AfnemerUsage(msgspec.Struct, frozen=True, kw_only=True):
    """One AfnemerID's series; `afnemer_id` None: requests refused before an afnemer was known."""

    afnemer_id: str | None
    series: DaySeries


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant's usage over `from_`..`to`: all afnemers together, and each one (by id, None last)."""

    tenant: str
    from_: dt.date
    to: dt.date
    apis: tuple[str, ...]
    all_afnemers: DaySeries
    afnemers: tuple[AfnemerUsage, ...]


def summarise(report: UsageReport) -> Overview:
    """Summarise `report` per day: for all afnemers together and for each AfnemerID in it."""
    apis = _apis(report)
    afnemer_ids = sorted({c.afnemer_id for d in report.days for c in d.counts}, key=_afnemer_order)
    return Overview(
        tenant=report.tenant,
        from_=report.from_,
        to=report.to,
        apis=apis,
        all_afnemers=_series(report, apis, lambda _: True),
        afnemers=tuple(
            AfnemerUsage(afnemer_id=a, series=_series(report, apis, _of_afnemer(a))) for a in afnemer_ids
        ),
    )


def _of_afnemer(afnemer_id: str | None) -> Callable[[UsageCount], bool]:
    return lambda count: count.afnemer_id == afnemer_id


def _apis(report: UsageReport) -> tuple[str, ...]:
    seen = {c.api for d in report.days for c in d.counts}
    return _KNOWN_APIS + tuple(sorted(seen - set(_KNOWN_APIS)))


def _afnemer_order(afnemer_id: str | None) -> tuple[bool, str]:
    return afnemer_id is None, afnemer_id or ""


def _series(report: UsageReport, apis: tuple[str, ...], keep: Callable[[UsageCount], bool]) -> DaySeries:
    days = tuple(_day(d.day, [c for c in d.counts if keep(c)], apis) for d in report.days)
    return DaySeries(apis=apis, days=days, totals=_totals(days, len(apis)))


def _day(day: dt.date, counts: Sequence[UsageCount], apis: tuple[str, ...]) -> DayCounts:
    per_api = dict.fromkeys(apis, 0)
    for count in counts:
        per_api[count.api] += count.requests
    return DayCounts(
        day=day,
        requests=sum(per_api.values()),
        per_api=tuple(per_api.values()),
        forbidden=_requests(counts, lambda c: c.status == _FORBIDDEN),
        rate_limited=_requests(counts, lambda c: c.status == _RATE_LIMITED),
        upstream_errors=_requests(counts, _is_upstream_error),
        other_errors=_requests(counts, lambda c: c.status >= _SERVER_ERROR and not _is_upstream_error(c)),
    )


def _is_upstream_error(count: UsageCount) -> bool:
    return count.status >= _SERVER_ERROR and count.problem_code in UPSTREAM_PROBLEM_CODES


def _requests(counts: Iterable[UsageCount], which: Callable[[UsageCount], bool]) -> int:
    return sum(c.requests for c in counts if which(c))


def _totals(days: Sequence[DayCounts], api_count: int) -> Counts:
    return Counts(
        requests=sum(d.requests for d in days),
        per_api=tuple(sum(d.per_api[i] for d in days) for i in range(api_count)),
        forbidden=sum(d.forbidden for d in days),
        rate_limited=sum(d.rate_limited for d in days),
        upstream_errors=sum(d.upstream_errors for d in days),
        other_errors=sum(d.other_errors for d in days),
    )


# --- drawing ---------------------------------------------------------------------------------------


class _Plot(NamedTuple):
    """The rectangle the bars stand in, the count at its top edge and the number of days (bars)."""

    left: float
    top: float
    width: float
    height: float
    maximum: int
    days: int

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def slot(self) -> float:
        """The width each day gets: its bar and the gap around it."""
        return self.width / max(self.days, 1)

    def y(self, value: float) -> float:
        return self.bottom - value / self.maximum * self.height


def stacked_bars_svg(
    days: Sequence[dt.date],
    series: Mapping[str, Sequence[int]],
    *,
    title: str,
    description: str,
    id_prefix: str,
    width: int = 720,
    height: int = 200,
) -> Markup:
    """An accessible SVG stacked bar chart: one bar per day, one segment per series (label → counts).

    `series` keeps its order (bottom to top, and in the legend) and takes the colours of `PALETTE` in
    that order; each sequence has one count per day. `id_prefix` makes the ids of the chart's
    `<title>` and `<desc>` unique on the page. Raises ValueError on counts that do not fit `days`,
    negative counts, more series than colours, an id prefix that is not a plain XML name, or a
    height that leaves no room for the bars.
    """
    _check(days, series, id_prefix)
    legend = _legend_positions(list(series), width)
    rows = max((row for _, row in legend), default=-1) + 1
    top = _MARGIN_TOP + rows * _LEGEND_ROW
    plot_height = height - top - _X_LABEL_BAND
    if plot_height < _MIN_PLOT_HEIGHT:
        raise ValueError(f"height {height} leaves no room for the bars")
    highest = max((sum(day) for day in zip(*series.values(), strict=True)), default=0)
    ticks = nice_ticks(highest)
    plot = _Plot(_MARGIN_LEFT, top, width - _MARGIN_LEFT - _MARGIN_RIGHT, plot_height, ticks[-1], len(days))
    parts = [
        Markup('<title id="{}-title">{}</title>').format(id_prefix, title),
        Markup('<desc id="{}-desc">{}</desc>').format(id_prefix, description),
        _legend(list(series), legend),
        _grid(plot, ticks),
        _bars(plot, days, series) if highest else _empty(plot),
        _x_labels(plot, days),
    ]
    return _svg(id_prefix, width, height, Markup("").join(parts))


def _check(days: Sequence[dt.date], series: Mapping[str, Sequence[int]], id_prefix: str) -> None:
    if not _ID_PREFIX.fullmatch(id_prefix):
        raise ValueError("id_prefix must be a letter followed by letters, digits, '-' or '_'")
    if len(series) > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} series, one per colour")
    for label, counts in series.items():
        if len(counts) != len(days):
            raise ValueError(f"series {label!r} has {len(counts)} counts for {len(days)} days")
        if any(count < 0 for count in counts):
            raise ValueError(f"series {label!r} has a negative count")


def nice_ticks(maximum: int) -> tuple[int, ...]:
    """The y axis labels for counts up to `maximum`: 0 and 2 or 3 steps of 1, 2 or 5 × 10ⁿ.

    The last tick is at least `maximum` (and at least 2, so an empty chart still has a scale).
    """
    step = 1
    while math.ceil(maximum / step) > _MAX_TICK_STEPS:
        step = _next_nice_step(step)
    steps = max(2, math.ceil(maximum / step))
    return tuple(i * step for i in range(steps + 1))


def _next_nice_step(step: int) -> int:
    """1 → 2 → 5 → 10 → 20 → 50 → 100 …"""
    leading = int(str(step)[0])
    return {1: 2, 2: 5}.get(leading, 10) * (step // leading)


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg(id_prefix: str, width: int, height: int, content: Markup) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        ' aria-labelledby="{p}-title {p}-desc" width="{w}" height="{h}" viewBox="0 0 {w} {h}"'
        ' font-family="{font}" font-size="{size}">{content}</svg>'
    ).format(p=id_prefix, w=width, h=height, font=_FONT_FAMILY, size=_FONT_SIZE, content=content)


def _legend_positions(labels: Sequence[str], width: int) -> list[tuple[float, int]]:
    """Each legend item's x and row: left to right, wrapping where the chart ends."""
    positions: list[tuple[float, int]] = []
    x, row = float(_MARGIN_LEFT), 0
    for label in labels:
        item = _LEGEND_SWATCH + 4 + len(label) * _CHAR_WIDTH
        if x + item > width - _MARGIN_RIGHT and x > _MARGIN_LEFT:
            x, row = float(_MARGIN_LEFT), row + 1
        positions.append((x, row))
        x += item + _LEGEND_GAP
    return positions


def _legend(labels: Sequence[str], positions: Sequence[tuple[float, int]]) -> Markup:
    items = []
    for (x, row), label, colour in zip(positions, labels, PALETTE, strict=False):
        y = _MARGIN_TOP + row * _LEGEND_ROW
        items.append(
            Markup(
                '<rect x="{x}" y="{y}" width="{s}" height="{s}" fill="{fill}"/>'
                '<text x="{tx}" y="{ty}" fill="{text}">{label}</text>'
            ).format(
                x=_n(x),
                y=_n(y),
                s=_LEGEND_SWATCH,
                fill=colour,
                tx=_n(x + _LEGEND_SWATCH + 4),
                ty=_n(y + _LEGEND_SWATCH - 1),
                text=_TEXT_COLOUR,
                label=label,
            )
        )
    return Markup('<g class="chart-legend">{}</g>').format(Markup("").join(items))


def _grid(plot: _Plot, ticks: Sequence[int]) -> Markup:
    lines = [
        Markup(
            '<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="{grid}"/>'
            '<text x="{tx}" y="{ty}" text-anchor="end" fill="{text}">{label}</text>'
        ).format(
            x1=_n(plot.left),
            x2=_n(plot.left + plot.width),
            y=_n(plot.y(tick)),
            grid=_AXIS_COLOUR if tick == 0 else _GRID_COLOUR,
            tx=_n(plot.left - 6),
            ty=_n(plot.y(tick) + 4),
            text=_TEXT_COLOUR,
            label=dutch_number(tick),
        )
        for tick in ticks
    ]
    return Markup('<g class="chart-grid">{}</g>').format(Markup("").join(lines))


def _bars(plot: _Plot, days: Sequence[dt.date], series: Mapping[str, Sequence[int]]) -> Markup:
    segments = []
    for i, day in enumerate(days):
        x = plot.left + (i + (1 - _BAR_SHARE) / 2) * plot.slot
        low = 0
        for (label, counts), colour in zip(series.items(), PALETTE, strict=False):
            if counts[i]:
                hover = f"{dutch_day(day)}: {dutch_number(counts[i])} {label}"
                segments.append(
                    _segment(plot, x=x, low=low, high=low + counts[i], colour=colour, hover=hover)
                )
                low += counts[i]
    return Markup('<g class="chart-bars">{}</g>').format(Markup("").join(segments))


def _segment(plot: _Plot, *, x: float, low: int, high: int, colour: str, hover: str) -> Markup:
    """One rectangle from `low` to `high`, with its numbers as a tooltip (`<title>`)."""
    return Markup(
        '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" stroke="{edge}" stroke-width="1">'
        "<title>{hover}</title></rect>"
    ).format(
        x=_n(x),
        y=_n(plot.y(high)),
        w=_n(plot.slot * _BAR_SHARE),
        h=_n(plot.y(low) - plot.y(high)),
        fill=colour,
        edge=_SEGMENT_EDGE,
        hover=hover,
    )


def _empty(plot: _Plot) -> Markup:
    return Markup(
        '<text class="chart-empty" x="{x}" y="{y}" text-anchor="middle" fill="{text}">{label}</text>'
    ).format(
        x=_n(plot.left + plot.width / 2),
        y=_n(plot.top + plot.height / 2),
        text=_TEXT_COLOUR,
        label=EMPTY_TEXT,
    )


def _x_labels(plot: _Plot, days: Sequence[dt.date]) -> Markup:
    labels = [
        Markup('<text x="{x}" y="{y}" text-anchor="middle" fill="{text}">{label}</text>').format(
            x=_n(plot.left + (i + 0.5) * plot.slot),
            y=_n(plot.bottom + _X_LABEL_BAND - 6),
            text=_TEXT_COLOUR,
            label=dutch_day(day),
        )
        for i, day in enumerate(days)
        if i % _X_LABEL_EVERY == 0
    ]
    return Markup('<g class="chart-x-axis">{}</g>').format(Markup("").join(labels))
