"""The protocol-scale benchmark times the admin API's inzage with the heap as the server keeps it."""

from __future__ import annotations

import gc

import pytest

from tests.benchmarks.protocol_scale import server_heap


def _collected(thing: object) -> bool:
    return any(each is thing for each in gc.get_objects())


def test_what_was_alive_is_out_of_the_collectors_reach_while_timing_and_back_afterwards() -> None:
    alive: list[int] = [1]  # a list is tracked by the collector
    assert _collected(alive)

    with server_heap():
        assert gc.get_freeze_count() > 0
        assert not _collected(alive)

    assert gc.get_freeze_count() == 0
    assert _collected(alive)


def test_the_heap_is_given_back_when_a_timed_call_fails() -> None:
    with pytest.raises(RuntimeError), server_heap():
        raise RuntimeError("a timed call failed")

    assert gc.get_freeze_count() == 0
