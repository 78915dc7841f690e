-- Inzage reads a person's rows from the index alone (issue #13, inzage at 10^8 records).
--
-- Inzage's first step reads every person row of one BSN in one tenant: its seq, occurred_at and
-- role, ordered by (occurred_at, seq, position). `protocol_persons_bsn` (tenant, bsn, occurred_at)
-- found them, but every row then cost a visit to the table's page it sits on (a hot BSN's ~2,100
-- rows lie on ~2,100 pages) and a sort. This index holds every column the step reads, in the order
-- it reads them: an index-only scan of a few leaf pages per month, no sort. Measured at 10^7
-- records with each BSN's entries as at 10^8 (tests/benchmarks/persons_index.py; README,
-- Performance): the hottest BSN's persons step 20.6 -> 13.4 ms and 3,015 -> 1,004 buffers; the hot
-- 1 %'s inzage p95 98.5 -> 69.4 ms warm and 546 -> 404 ms from disk; +35 bytes per record (+3 %).
-- 0023 drops `protocol_persons_bsn`, which this index makes redundant (its columns are a prefix).
--
-- Declared on the parent only: the migration runner builds it on each monthly partition with
-- CREATE INDEX CONCURRENTLY before the next migration runs (app/db/partitioned_indexes.py). A plain
-- CREATE INDEX would keep the protocol from being written while ~10^8 rows are indexed. The
-- declaration needs a moment's lock on the parent only, but while it waits for that lock the
-- protocol's writers queue behind it: it gives up after 3 s (the run fails; the next one retries).
SET LOCAL lock_timeout = '3s';
CREATE INDEX protocol_persons_lookup ON ONLY broker.protocol_persons (tenant, bsn, occurred_at, seq, position)
    INCLUDE (role);
