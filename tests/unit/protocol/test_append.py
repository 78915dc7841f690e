"""What `broker.protocol_append_linked` receives carries every stored field of the digested record."""

from __future__ import annotations

import re
from pathlib import Path

from app.protocol.append import _Row
from app.protocol.chain import LINK_DOMAIN, ChainedRecord

_MIGRATIONS = Path(__file__).parents[3] / "migrations"
# The migration that defines broker.protocol_append_linked as it is now.
_MIGRATION = _MIGRATIONS / "0016_protocol_ldv_context.sql"
_DEFINES_THE_APPEND = re.compile(
    r"CREATE\s+(OR\s+REPLACE\s+)?FUNCTION\s+broker\.protocol_append_linked\b", re.IGNORECASE
)


def test_the_positional_row_carries_every_stored_field_of_the_digested_record() -> None:
    # The tenant and recorded_at travel once per group; seq, prev_hash and hash are the database's.
    stored = set(ChainedRecord.__struct_fields__) - {"tenant", "recorded_at", "seq"}
    assert set(_Row.__struct_fields__) == stored | {"digest"}


def test_the_row_s_order_is_the_order_the_sql_function_reads() -> None:
    # broker.protocol_append_linked reads elements 0..28 by position (migrations 0012, 0016).
    fields = _Row.__struct_fields__
    assert fields.index("occurred_at") == 0
    assert fields.index("latency_ms") == 19
    assert fields.index("digest") == 20
    assert fields.index("persons") == 21
    assert fields[22:25] == ("request_count", "last_occurred_at", "correlation_ids")
    # Appended after every older element, so writers and functions of either release agree.
    assert fields[25:] == ("span_id", "parent_span_id", "processing_activity", "foreign_processor")


def test_the_sql_function_reads_the_ldv_context_at_the_row_s_positions() -> None:
    sql = _MIGRATION.read_text()
    assert "correlation_ids, span_id, parent_span_id, processing_activity, foreign_processor)" in sql
    assert "e->>25, e->>26, e->>27, e->>28" in sql


def test_no_later_migration_redefines_the_append_function() -> None:
    # Later migrations may ALTER its settings (0021: generic plans), not replace its body.
    later = [
        path.name
        for path in sorted(_MIGRATIONS.glob("*.sql"))
        if path.name > _MIGRATION.name and _DEFINES_THE_APPEND.search(path.read_text())
    ]
    assert later == []


def test_the_database_links_under_the_domain_the_verifier_uses() -> None:
    spelled = LINK_DOMAIN.decode().replace("\n", "\\n")
    assert f"convert_to(E'{spelled}', 'UTF8')" in _MIGRATION.read_text()
