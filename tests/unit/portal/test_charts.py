"""Overzicht charts: a usage report summarised per afnemer, drawn as accessible SVG without inline style."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from app.portal.charts import (
    EMPTY_TEXT,
    PALETTE,
    DaySeries,
    nice_ticks,
    stacked_bars_svg,
    summarise,
)
from app.portal.dutch import dutch_day
from app.protocol.usage import UsageCount, UsageDay, UsageReport

_SVG = "{http://www.w3.org/2000/svg}"
_TODAY = dt.datetime.now(dt.UTC).date()


def _count(
    afnemer_id: str | None, api: str, status: int, requests: int, problem_code: str | None = None
) -> UsageCount:
    return UsageCount(
        afnemer_id=afnemer_id, api=api, status=status, problem_code=problem_code, requests=requests
    )


def _report(*days: tuple[UsageCount, ...]) -> UsageReport:
    """A report over len(days) days ending today, oldest first."""
    first = _TODAY - dt.timedelta(days=len(days) - 1)
    usage_days = tuple(
        UsageDay(day=first + dt.timedelta(days=i), requests=sum(c.requests for c in counts), counts=counts)
        for i, counts in enumerate(days)
    )
    return UsageReport(
        tenant="gemeente-a",
        from_=first,
        to=_TODAY,
        requests=sum(d.requests for d in usage_days),
        days=usage_days,
    )


def _window(length: int) -> list[dt.date]:
    return [_TODAY - dt.timedelta(days=length - 1 - i) for i in range(length)]


def _parse(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))


def _bar_rects(root: ET.Element) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{_SVG}rect") if rect.find(f"{_SVG}title") is not None]


def _texts(root: ET.Element) -> list[str]:
    return [text.text or "" for text in root.iter(f"{_SVG}text")]


# --- summarise ---------------------------------------------------------------------------------------

_MIXED = _report(
    (
        _count("000002", "personen", 200, 10),
        _count("000001", "bewoning", 200, 4),
        _count("000001", "personen", 403, 2, "unauthorizedField"),
        _count(None, "personen", 401, 3, "authentication"),
    ),
    (),
    (
        _count("000001", "personen", 429, 5, "tooManyRequests"),
        _count("000001", "personen", 503, 1, "upstreamUnavailable"),
        _count("000001", "verblijfplaatshistorie", 504, 2, "upstreamTimeout"),
        _count("000002", "personen", 502, 1, "upstreamError"),
        _count("000002", "personen", 503, 6, "protocolUnavailable"),
        _count("000002", "inzage", 200, 1),
    ),
)


def test_summarise_counts_every_request_per_day_and_api_for_all_afnemers() -> None:
    overview = summarise(_MIXED)
    everyone = overview.all_afnemers

    assert overview.apis == ("personen", "bewoning", "verblijfplaatshistorie", "inzage")
    assert everyone.dates() == tuple(_window(3))
    assert [d.per_api for d in everyone.days] == [(15, 4, 0, 0), (0, 0, 0, 0), (13, 0, 2, 1)]
    assert [d.requests for d in everyone.days] == [19, 0, 16]
    assert everyone.totals.requests == _MIXED.requests == 35
    assert everyone.totals.per_api == (28, 4, 2, 1)


def test_summarise_separates_refusals_rvig_failures_and_the_brokers_own_failures() -> None:
    totals = summarise(_MIXED).all_afnemers.totals

    assert totals.forbidden == 2
    assert totals.rate_limited == 5
    # 503 upstreamUnavailable, 504 upstreamTimeout, 502 upstreamError; not the 503 protocolUnavailable.
    assert totals.upstream_errors == 4
    assert totals.other_errors == 6


def test_summarise_gives_one_series_per_afnemer_sorted_with_the_unknown_afnemer_last() -> None:
    afnemers = summarise(_MIXED).afnemers

    assert [a.afnemer_id for a in afnemers] == ["000001", "000002", None]
    first = afnemers[0].series
    assert [d.per_api for d in first.days] == [(2, 4, 0, 0), (0, 0, 0, 0), (6, 0, 2, 0)]
    assert (first.totals.forbidden, first.totals.rate_limited, first.totals.upstream_errors) == (2, 5, 3)
    assert afnemers[2].series.totals.requests == 3
    assert sum(a.series.totals.requests for a in afnemers) == summarise(_MIXED).all_afnemers.totals.requests


def test_summarise_of_a_quiet_window_keeps_every_day_and_the_brp_apis() -> None:
    overview = summarise(_report((), (), ()))

    assert overview.apis == ("personen", "bewoning", "verblijfplaatshistorie")
    assert overview.afnemers == ()
    assert [d.requests for d in overview.all_afnemers.days] == [0, 0, 0]
    assert overview.all_afnemers.totals.per_api == (0, 0, 0)


def test_series_give_chart_input_with_one_count_per_day() -> None:
    series: DaySeries = summarise(_MIXED).all_afnemers

    assert series.requests_per_api()["personen"] == (15, 0, 13)
    assert series.refusals_and_errors() == {
        "geweigerd (403)": (2, 0, 0),
        "te veel verzoeken (429)": (0, 0, 5),
        "fout bij RvIG": (0, 0, 4),
    }


# --- stacked_bars_svg ------------------------------------------------------------------------------


def _chart(series: dict[str, list[int]], *, title: str = "Verzoeken per dag", days: int = 30) -> Markup:
    return stacked_bars_svg(
        _window(days), series, title=title, description="Aantal verzoeken per API.", id_prefix="verzoeken"
    )


def test_chart_is_an_image_labelled_by_its_own_title_and_description() -> None:
    root = _parse(_chart({"personen": [1] * 30}))

    assert root.tag == f"{_SVG}svg"
    assert root.get("role") == "img"
    ids = {element.get("id"): element for element in root.iter() if element.get("id")}
    labelled_by = (root.get("aria-labelledby") or "").split()
    assert [ids[i].tag for i in labelled_by] == [f"{_SVG}title", f"{_SVG}desc"]
    assert ids[labelled_by[0]].text == "Verzoeken per dag"


def test_ids_follow_the_prefix_so_two_charts_on_a_page_do_not_clash() -> None:
    first = stacked_bars_svg([_TODAY], {"a": [1]}, title="a", description="a", id_prefix="one")
    second = stacked_bars_svg([_TODAY], {"a": [1]}, title="a", description="a", id_prefix="two")

    first_ids = {e.get("id") for e in _parse(first).iter() if e.get("id")}
    second_ids = {e.get("id") for e in _parse(second).iter() if e.get("id")}
    assert first_ids and not first_ids & second_ids


def test_chart_draws_one_rect_per_non_zero_segment_with_its_numbers_as_tooltip() -> None:
    personen = [i % 3 for i in range(30)]  # a third of the days zero
    bewoning = [1 if i % 2 else 0 for i in range(30)]
    root = _parse(_chart({"personen": personen, "bewoning": bewoning}))

    rects = _bar_rects(root)
    assert len(rects) == sum(1 for n in personen + bewoning if n)
    days = _window(30)
    tooltips = {rect.findtext(f"{_SVG}title") for rect in rects}
    assert f"{dutch_day(days[1])}: 1 personen" in tooltips
    assert f"{dutch_day(days[5])}: 2 personen" in tooltips
    assert f"{dutch_day(days[5])}: 1 bewoning" in tooltips
    assert {rect.get("fill") for rect in rects} == {PALETTE[0], PALETTE[1]}


def test_segments_of_a_day_stack_without_gaps_and_the_highest_bar_stays_inside_the_chart() -> None:
    root = _parse(_chart({"personen": [7], "bewoning": [3]}, days=1))

    lower, upper = _bar_rects(root)
    assert float(upper.get("y", "")) + float(upper.get("height", "")) == pytest.approx(
        float(lower.get("y", ""))
    )
    assert float(lower.get("height", "")) / float(upper.get("height", "")) == pytest.approx(7 / 3)
    assert float(upper.get("y", "")) >= 0


def test_chart_has_no_inline_style_so_a_strict_csp_allows_it() -> None:
    svg = _chart({"personen": list(range(30)), "bewoning": [2] * 30})
    root = _parse(svg)

    assert all("style" not in element.attrib for element in root.iter())
    assert not list(root.iter(f"{_SVG}style"))
    assert "style" not in str(svg)
    assert "<script" not in str(svg)


def test_every_text_is_escaped() -> None:
    svg = _chart({"<b>&amp;</b>": [1] * 30}, title='Afnemer "<&>"')
    root = _parse(svg)

    assert "<b>" not in str(svg)
    assert root.findtext(f"{_SVG}title") == 'Afnemer "<&>"'
    assert "<b>&amp;</b>" in _texts(root)
    assert _bar_rects(root)[0].findtext(f"{_SVG}title", "").endswith(": 1 <b>&amp;</b>")


def test_empty_data_draws_an_empty_chart_with_the_dutch_text() -> None:
    root = _parse(_chart({"personen": [0] * 30, "bewoning": [0] * 30}))

    assert _bar_rects(root) == []
    assert EMPTY_TEXT == "Geen verzoeken in deze periode"
    assert EMPTY_TEXT in _texts(root)


def test_chart_without_series_is_empty_too() -> None:
    assert EMPTY_TEXT in _texts(_parse(_chart({})))


def test_x_axis_labels_every_seventh_day_in_dutch() -> None:
    days = _window(30)
    root = _parse(_chart({"personen": [1] * 30}))

    labels = [t for t in _texts(root) if t in {dutch_day(d) for d in days}]
    assert labels == [dutch_day(days[i]) for i in (0, 7, 14, 21, 28)]


def test_dutch_day_uses_dutch_month_abbreviations() -> None:
    assert dutch_day(_TODAY.replace(month=11, day=6)) == "6 nov"
    assert dutch_day(_TODAY.replace(month=3, day=31)) == "31 mrt"
    assert dutch_day(_TODAY.replace(month=5, day=1)) == "1 mei"


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [(0, (0, 1, 2)), (1, (0, 1, 2)), (7, (0, 5, 10)), (1234, (0, 500, 1000, 1500))],
)
def test_tick_labels_are_few_round_and_cover_the_highest_bar(maximum: int, expected: tuple[int, ...]) -> None:
    assert nice_ticks(maximum) == expected


@pytest.mark.parametrize("maximum", [0, 1, 2, 3, 4, 7, 9, 10, 11, 99, 101, 999, 1234, 50_001, 10**7])
def test_ticks_always_start_at_zero_step_evenly_and_number_three_or_four(maximum: int) -> None:
    ticks = nice_ticks(maximum)

    assert ticks[0] == 0
    assert 3 <= len(ticks) <= 4
    assert ticks[-1] >= maximum
    assert len({b - a for a, b in itertools.pairwise(ticks)}) == 1


def test_y_axis_shows_the_ticks_with_dutch_digit_grouping() -> None:
    root = _parse(_chart({"personen": [1234] + [0] * 29}))

    assert {"0", "500", "1.000", "1.500"} <= set(_texts(root))


def _contrast_with_white(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


def test_every_palette_colour_contrasts_at_least_three_to_one_with_white() -> None:
    assert all(_contrast_with_white(colour) >= 3 for colour in PALETTE)
    assert len(set(PALETTE)) == len(PALETTE)


@pytest.mark.parametrize(
    ("series", "id_prefix"),
    [
        ({"personen": [1, 2]}, "chart"),  # two counts for one day
        ({"personen": [-1]}, "chart"),
        ({f"s{i}": [1] for i in range(len(PALETTE) + 1)}, "chart"),
        ({"personen": [1]}, 'x" onload="alert(1)'),
        ({"personen": [1]}, ""),
    ],
)
def test_chart_refuses_input_it_cannot_draw_honestly(series: dict[str, list[int]], id_prefix: str) -> None:
    with pytest.raises(ValueError):
        stacked_bars_svg([_TODAY], series, title="t", description="d", id_prefix=id_prefix)


def test_chart_refuses_a_height_without_room_for_bars() -> None:
    with pytest.raises(ValueError, match="height"):
        stacked_bars_svg([_TODAY], {"a": [1]}, title="t", description="d", id_prefix="c", height=60)


def test_a_long_legend_wraps_and_the_bars_move_down() -> None:
    labels = {f"een heel lange naam voor reeks {i}": [1] for i in range(len(PALETTE))}
    root = _parse(stacked_bars_svg([_TODAY], labels, title="t", description="d", id_prefix="c", width=400))

    legend = root.find(f"{_SVG}g[@class='chart-legend']")
    assert legend is not None
    rows = {rect.get("y") for rect in legend.iter(f"{_SVG}rect")}
    assert len(rows) > 1
    highest_legend_row = max(float(y or 0) for y in rows)
    assert min(float(rect.get("y", "")) for rect in _bar_rects(root)) > highest_legend_row
