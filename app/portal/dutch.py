"""Numbers, days and moments as Dutch readers write them: the one place the portal formats them.

Every page and chart formats through these functions, so "6 december 2026", "1.234" and "2,5"
look the same everywhere. Moments are shown in the Netherlands' time (`ZONE`); a day that is
already a date (a UTC usage day, a day typed in a form) is shown as it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "ZONE",
    "dutch_date",
    "dutch_day",
    "dutch_decimal",
    "dutch_moment",
    "dutch_number",
    "dutch_timestamp",
]

ZONE: Final = ZoneInfo("Europe/Amsterdam")
_MONTHS: Final = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
_SHORT_MONTHS: Final = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def dutch_number(value: int) -> str:
    """A count with a point between the thousands: 1.234."""
    return f"{value:,}".replace(",", ".")


def dutch_decimal(value: float) -> str:
    """A number with a decimal comma and no trailing zeros (2,5; 5), as a form field shows it too:
    no thousands separator, so the text reads back as the same number."""
    return f"{value:g}".replace(".", ",")


def dutch_date(day: dt.date) -> str:
    """A day in words: "6 december 2026"."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def dutch_day(day: dt.date) -> str:
    """A day without the year, the month abbreviated (a chart's axis): "6 nov"."""
    return f"{day.day} {_SHORT_MONTHS[day.month - 1]}"


def dutch_moment(moment: dt.datetime, *, seconds: bool = True) -> str:
    """A moment in words, in the Netherlands' time: "5 maart 2026 om 14:03:27" (or "om 14:03")."""
    local = moment.astimezone(ZONE)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{dutch_date(local.date())} om {clock}"


def dutch_timestamp(moment: dt.datetime) -> str:
    """A moment in digits, in the Netherlands' time, for a table: "05-03-2026 14:03:27"."""
    return moment.astimezone(ZONE).strftime("%d-%m-%Y %H:%M:%S")
