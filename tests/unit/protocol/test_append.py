"""What `broker.protocol_append_linked` receives carries every stored field of the digested record."""

from __future__ import annotations

from pathlib import Path

from app.protocol.append import _Row
from app.protocol.chain import LINK_DOMAIN, ChainedRecord

_MIGRATION = Path(__file__).parents[3] / "migrations" / "0012_protocol_chain_links_in_one_statement.sql"


def test_the_positional_row_carries_every_stored_field_of_the_digested_record() -> None:
    # The tenant and recorded_at travel once per group; seq, prev_hash and hash are the database's.
    stored = set(ChainedRecord.__struct_fields__) - {"tenant", "recorded_at", "seq"}
    assert set(_Row.__struct_fields__) == stored | {"digest"}


def test_the_row_s_order_is_the_order_the_sql_function_reads() -> None:
    # broker.protocol_append_linked reads elements 0..24 by position (migration 0012).
    fields = _Row.__struct_fields__
    assert fields.index("occurred_at") == 0
    assert fields.index("latency_ms") == 19
    assert fields.index("digest") == 20
    assert fields.index("persons") == 21
    assert fields[22:] == ("request_count", "last_occurred_at", "correlation_ids")


def test_the_database_links_under_the_domain_the_verifier_uses() -> None:
    spelled = LINK_DOMAIN.decode().replace("\n", "\\n")
    assert f"convert_to(E'{spelled}', 'UTF8')" in _MIGRATION.read_text()
