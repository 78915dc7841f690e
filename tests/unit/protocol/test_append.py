"""What `broker.protocol_append` receives carries every stored field of the record that was hashed."""

from __future__ import annotations

from app.protocol.append import _Row
from app.protocol.chain import ChainedRecord


def test_the_positional_row_carries_every_stored_field_of_the_hashed_record() -> None:
    # The tenant and recorded_at travel once per group; prev_hash and hash are the chain's own.
    stored = set(ChainedRecord.__struct_fields__) - {"tenant", "recorded_at"}
    assert set(_Row.__struct_fields__) == stored | {"prev_hash", "hash"}


def test_the_row_s_order_is_the_order_the_sql_function_reads() -> None:
    # broker.protocol_append reads elements 0..26 by position (migrations 0003 and 0009).
    assert _Row.__struct_fields__.index("persons") == 23
    assert _Row.__struct_fields__[24:] == ("request_count", "last_occurred_at", "correlation_ids")
