"""Inzage groups the keys of a person's entries by month, the way its records statement reads them."""

from __future__ import annotations

import datetime as dt

from app.protocol.inzage import _by_month

_UTC = dt.UTC
# Any year will do (nothing here ages); derived from now all the same.
_YEAR = dt.datetime.now(_UTC).year


def _at(year: int, month: int, day: int = 1, microsecond: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, microsecond=microsecond, tzinfo=_UTC)


def test_no_keys_no_months() -> None:
    assert _by_month([]) == ([], [], [], [], [])


def test_each_month_holds_its_own_keys_and_moments() -> None:
    last_of_january = _at(_YEAR, 2) - dt.timedelta(microseconds=1)
    keys = [
        (7, _at(_YEAR - 1, 2)),
        (20, _at(_YEAR, 1, 3)),
        (21, _at(_YEAR, 1, 3)),
        (19, last_of_january),
        (30, _at(_YEAR, 2)),
        (41, _at(_YEAR + 1, 2, 9)),
    ]
    months = _by_month(keys)
    # February of two years apart are two months, not one.
    assert months.earliest == [_at(_YEAR - 1, 2), _at(_YEAR, 1, 3), _at(_YEAR, 2), _at(_YEAR + 1, 2, 9)]
    assert months.latest == [_at(_YEAR - 1, 2), last_of_january, _at(_YEAR, 2), _at(_YEAR + 1, 2, 9)]
    assert months.seqs == [7, 20, 21, 19, 30, 41]
    slices = [months.seqs[first - 1 : last] for first, last in zip(months.first, months.last, strict=True)]
    assert slices == [[7], [20, 21, 19], [30], [41]]


def test_keys_out_of_order_are_still_all_within_their_groups_bounds() -> None:
    keys = [(5, _at(_YEAR, 3, 9)), (3, _at(_YEAR, 3, 2)), (9, _at(_YEAR, 4, 1)), (4, _at(_YEAR, 3, 20))]
    months = _by_month(keys)
    for first, last, earliest, latest in zip(
        months.first, months.last, months.earliest, months.latest, strict=True
    ):
        for seq, moment in keys:
            if seq in months.seqs[first - 1 : last]:
                assert earliest <= moment <= latest
    assert sorted(months.seqs) == [3, 4, 5, 9]
