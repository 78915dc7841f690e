-- `protocol_persons_lookup` (0022) serves every lookup `protocol_persons_bsn` served: its first
-- columns are (tenant, bsn, occurred_at). Keeping both would cost every protocolled person a second
-- index entry.
--
-- The runner built 0022's index on every partition before this runs; should it not be complete,
-- stop here rather than leave inzage without an index.
DO $$
BEGIN
    IF NOT (SELECT indisvalid FROM pg_index WHERE indexrelid = 'broker.protocol_persons_lookup'::regclass) THEN
        RAISE EXCEPTION 'broker.protocol_persons_lookup is not built on every partition yet';
    END IF;
END
$$;
-- Dropping takes every partition's lock for a moment, and while it waits for them (behind a long
-- `protocol verify`, say) the protocol's writers queue behind it: it gives up after 3 s (the run
-- fails; the next one retries).
SET LOCAL lock_timeout = '3s';
DROP INDEX broker.protocol_persons_bsn;
