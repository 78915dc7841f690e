"""Usage: how many requests one tenant made per day, by AfnemerID, API, status and problem code.

What a dashboard shows, read from the tenant's own protocol register — the one place where every
request that reached the pipeline is counted exactly once (refusals, failures, cancellations and
the privacy officer's inzages, api `inzage`, included). Aggregates only: never a BSN, an employee,
a search parameter or a correlation id.

The window is the last `days` calendar days in UTC, today included: `from` = today − (days − 1),
`to` = today. The answer has one `UsageDay` per day of the window, oldest first and zero-filled
(a chart needs every day on its x axis, also the quiet ones), each with its total and the sparse
list of the (afnemer, api, status, problem code) groups that occurred that day.

Reads as the runtime role inside the tenant's transaction (row-level security: only that tenant's
rows) or as the operator (owner URL). The query is bounded by the monthly partitions the window
touches (at most 13 for the maximum window) and finds the tenant's rows in each through the
primary key (tenant, seq, occurred_at); see the README for its cost on very large tenants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Final

import asyncpg
import msgspec

from app.protocol.access import Connection, ProtocolSource, operator_connection, tenant_transaction

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "UsageCount", "UsageDay", "UsageReport", "usage", "usage_window"]

DEFAULT_DAYS: Final = 30
# A year and a day: a leap year's full year, for a year-on-year view; a longer window is an export.
MAX_DAYS: Final = 366

_QUERY: Final = """
SELECT (r.occurred_at AT TIME ZONE 'UTC')::date AS day, r.afnemer_id, r.api, r.status, r.problem_code,
       sum(r.request_count)::bigint AS requests
FROM protocol_records r
WHERE r.tenant = $1 AND r.occurred_at >= $2 AND r.occurred_at < $3
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2 NULLS FIRST, 3, 4, 5 NULLS FIRST
"""


class UsageCount(msgspec.Struct, frozen=True, kw_only=True):
    """How many requests of one (AfnemerID, API, status, problem code) group arrived on a day."""

    afnemer_id: str | None
    api: str
    status: int
    problem_code: str | None
    requests: int


class UsageDay(msgspec.Struct, frozen=True, kw_only=True):
    """One UTC calendar day: its total and its groups (only those that occurred)."""

    day: dt.date
    requests: int
    counts: tuple[UsageCount, ...] = ()


class UsageReport(msgspec.Struct, frozen=True, kw_only=True, rename={"from_": "from"}):
    """A tenant's requests over the window `from_`..`to` (UTC days, both included)."""

    tenant: str
    from_: dt.date
    to: dt.date
    requests: int
    days: tuple[UsageDay, ...]


def usage_window(days: int, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day (both included) of a window of `days` days ending `today`."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must lie between 1 and {MAX_DAYS}")
    return today - dt.timedelta(days=days - 1), today


async def usage(
    source: ProtocolSource,
    tenant: str,
    days: int = DEFAULT_DAYS,
    *,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> UsageReport:
    """`tenant`'s requests per UTC day over the last `days` days (today included), zero-filled."""
    first, last = usage_window(days, now().astimezone(dt.UTC).date())
    if isinstance(source, str):
        async with operator_connection(source) as connection:
            rows = await _rows(connection, tenant, first, last)
    else:
        async with tenant_transaction(source, tenant, readonly=True) as connection:
            rows = await _rows(connection, tenant, first, last)
    return _report(tenant, first, last, rows)


async def _rows(connection: Connection, tenant: str, first: dt.date, last: dt.date) -> list[asyncpg.Record]:
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
    return list(await connection.fetch(_QUERY, tenant, start, end))


def _report(tenant: str, first: dt.date, last: dt.date, rows: Sequence[asyncpg.Record]) -> UsageReport:
    by_day: dict[dt.date, list[UsageCount]] = {}
    for row in rows:
        by_day.setdefault(row["day"], []).append(
            UsageCount(
                afnemer_id=row["afnemer_id"],
                api=row["api"],
                status=int(row["status"]),
                problem_code=row["problem_code"],
                requests=int(row["requests"]),
            )
        )
    days = []
    day = first
    while day <= last:
        counts = tuple(by_day.get(day, ()))
        days.append(UsageDay(day=day, requests=sum(c.requests for c in counts), counts=counts))
        day += dt.timedelta(days=1)
    return UsageReport(
        tenant=tenant, from_=first, to=last, requests=sum(d.requests for d in days), days=tuple(days)
    )
