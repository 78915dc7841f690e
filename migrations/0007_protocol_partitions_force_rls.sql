-- Partitions are tables of their own: a query that names a partition directly is checked against
-- the partition's row-level security, not its parent's. The runtime role has no privilege on any
-- partition, but a future grant must not open one: every partition gets ENABLE + FORCE ROW LEVEL
-- SECURITY without policies of its own, so direct access shows and accepts nothing.

CREATE OR REPLACE FUNCTION broker.protocol_create_partitions(month date) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    first_day   date        := date_trunc('month', month)::date;
    lower_bound timestamptz := first_day::timestamp AT TIME ZONE 'UTC';
    upper_bound timestamptz := (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    suffix      text        := to_char(first_day, '"y"YYYY"m"MM');
    parent      text;
    partition   text;
    created     boolean     := false;
BEGIN
    FOREACH parent IN ARRAY ARRAY['protocol_records', 'protocol_persons'] LOOP
        partition := parent || '_' || suffix;
        IF to_regclass(format('broker.%I', partition)) IS NULL THEN
            EXECUTE format('CREATE TABLE broker.%I PARTITION OF broker.%I FOR VALUES FROM (%L) TO (%L)',
                           partition, parent, lower_bound, upper_bound);
            -- Statement triggers are not inherited: TRUNCATE of the partition itself is refused too.
            EXECUTE format('CREATE TRIGGER protocol_append_only_truncate BEFORE TRUNCATE ON broker.%I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION broker.protocol_refuse_change()', partition);
            EXECUTE format('ALTER TABLE broker.%I ENABLE ROW LEVEL SECURITY', partition);
            EXECUTE format('ALTER TABLE broker.%I FORCE ROW LEVEL SECURITY', partition);
            created := true;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

DO $$
DECLARE
    partition regclass;
BEGIN
    FOR partition IN
        SELECT i.inhrelid::regclass FROM pg_inherits i
        WHERE i.inhparent IN ('broker.protocol_records'::regclass, 'broker.protocol_persons'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', partition);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', partition);
    END LOOP;
END
$$;
