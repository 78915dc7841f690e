-- Aggregate records: requests refused before a tenant was known (tenant '-', mostly 401) are
-- accounted for per (api, status, problem code, ...) in one record per commit of their own lane,
-- so a flood of them costs the protocol a few rows a second instead of one row per request.
--
--   request_count     how many requests the record stands for (1: a record of one request)
--   last_occurred_at  when the last of them arrived (occurred_at: the first); NULL for one request
--   correlation_ids   the correlation ids of the requests after the first (correlation_id), bounded
--                     by the writer; the count is exact, the list may be shorter
--
-- The defaults describe a record of one request, so every existing row is one, unchanged; the
-- hash covers the three fields only where they differ from these defaults (app/protocol/chain.py),
-- so every existing chain still verifies. Only the reserved tenant '-' has aggregates: a tenant's
-- request is always a record of its own. The check is validated once, over every partition.

ALTER TABLE broker.protocol_records
    ADD COLUMN request_count    integer     NOT NULL DEFAULT 1,
    ADD COLUMN last_occurred_at timestamptz,
    ADD COLUMN correlation_ids  text[]      NOT NULL DEFAULT '{}';

ALTER TABLE broker.protocol_records
    ADD CONSTRAINT protocol_records_aggregate_shape CHECK (
        (request_count = 1 AND last_occurred_at IS NULL AND cardinality(correlation_ids) = 0)
        OR (tenant = '-' AND request_count > 1 AND last_occurred_at >= occurred_at
            AND cardinality(correlation_ids) < request_count)
    );

-- protocol_append as in 0003, plus the three columns: elements 24..26 of each record's array.
CREATE OR REPLACE FUNCTION broker.protocol_append(batch jsonb) RETURNS integer
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    grp      jsonb;
    t        text;
    appended integer := 0;
BEGIN
    FOR grp IN SELECT g FROM jsonb_array_elements(batch) AS g LOOP
        t := grp->>'tenant';
        PERFORM set_config('app.tenant_id', t, true);
        WITH rows AS (
            SELECT e FROM jsonb_array_elements(grp->'records') AS e
        ), records AS (
            INSERT INTO broker.protocol_records (
                tenant, seq, occurred_at, recorded_at, correlation_id, trace_id, member_organisation,
                subject, employee, client_application, afnemer_id, environment, doelbinding, verwerking,
                origin_oin, api, query_type, search_parameters, requested_fields, sent_fields, status,
                problem_code, latency_ms, prev_hash, hash, request_count, last_occurred_at,
                correlation_ids)
            SELECT t, (e->>0)::bigint, (e->>1)::timestamptz, (grp->>'recorded_at')::timestamptz, e->>2,
                   e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, e->>10, e->>11, e->>12, e->>13,
                   e->>14, (e->>15)::json, (e->>16)::text[], (e->>17)::text[], (e->>18)::integer,
                   e->>19, (e->>20)::double precision, decode(e->>21, 'hex'), decode(e->>22, 'hex'),
                   (e->>24)::integer, (e->>25)::timestamptz, (e->>26)::text[]
            FROM rows
        ), persons AS (
            INSERT INTO broker.protocol_persons (tenant, seq, occurred_at, position, bsn, role)
            SELECT t, (e->>0)::bigint, (e->>1)::timestamptz, p.i - 1, p.v->>0, p.v->>1
            FROM rows, jsonb_array_elements(e->23) WITH ORDINALITY AS p(v, i)
        )
        UPDATE broker.protocol_chain_heads h
           SET seq = (grp->>'head_seq')::bigint, hash = decode(grp->>'head_hash', 'hex'),
               updated_at = (grp->>'recorded_at')::timestamptz
         WHERE h.tenant = t AND h.seq = (grp->>'from_seq')::bigint
           AND h.hash = decode(grp->>'from_hash', 'hex');
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the protocol chain head is not where the batch was chained from'
                USING ERRCODE = 'serialization_failure';
        END IF;
        appended := appended + jsonb_array_length(grp->'records');
    END LOOP;
    RETURN appended;
END
$$;
