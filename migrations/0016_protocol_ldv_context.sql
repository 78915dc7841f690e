-- The context of Logboek Dataverwerkingen (LDV, Logius standard 1.0.0) in the protocol (issue #15).
--
-- The protocol is the durable, hash-chained source every LDV record is derived from, so what LDV
-- needs that no other column holds is recorded at request time, in the record (and its hash):
--
--   span_id              the broker's own span (8 bytes, lowercase hex) of the request; with
--                        trace_id (now set for every gateway request) the LDV action's identity
--   parent_span_id       the caller's span from a valid W3C `traceparent` (NULL without one)
--   processing_activity  dpl.core.processing_activity_id: the URI of the processing activity in
--                        the tenant's register (tenant file `[ldv]`), NULL when not configured
--   foreign_processor    dpl.core.foreign_operation.processor: the calling organisation's URI
--                        (`[ldv] caller`), only when the caller sent its trace context
--
-- The four columns are nullable: every existing row (and every record of a request without a
-- tenant) has none, and the hash covers them only when set (app/protocol/chain.py), so every
-- existing chain still verifies. The checks are NOT VALID: the rows before this migration hold
-- NULL in the new columns, so a validating scan of 20 years of partitions under an exclusive lock
-- would find nothing; every row written from now on is checked (also in partitions made later).
--
-- broker.protocol_append_linked reads the four values as elements 25..28 of each record's
-- positional array, after correlation_ids (app/protocol/append.py `_Row`). A writer of the
-- previous release sends the shorter array: e->>25.. are NULL, which is what it means. The
-- previous function, given the longer array, reads by position only and ignores the rest — so
-- migrate before the new release writes (a record whose new fields were dropped would no longer
-- match its digest, and `verify` would report it).

ALTER TABLE broker.protocol_records
    ADD COLUMN span_id             text,
    ADD COLUMN parent_span_id      text,
    ADD COLUMN processing_activity text,
    ADD COLUMN foreign_processor   text;

ALTER TABLE broker.protocol_records
    ADD CONSTRAINT protocol_records_span_id CHECK (span_id ~ '^[0-9a-f]{16}$') NOT VALID,
    ADD CONSTRAINT protocol_records_parent_span_id CHECK (parent_span_id ~ '^[0-9a-f]{16}$') NOT VALID;

CREATE OR REPLACE FUNCTION broker.protocol_append_linked(batch jsonb)
    RETURNS TABLE (head_tenant text, head_seq bigint, head_hash bytea)
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    link_domain constant bytea := convert_to(E'brp-broker protocol chain v2\n', 'UTF8');
    grp         jsonb;
    t           text;
    last_seq    bigint;
    last_hash   bytea;
    digest      bytea;
    seqs        bigint[];
    prevs       bytea[];
    hashes      bytea[];
BEGIN
    -- Groups arrive in tenant order, so two writers' batches lock heads in the same order.
    FOR grp IN SELECT g FROM jsonb_array_elements(batch) AS g ORDER BY g->>'tenant' LOOP
        t := grp->>'tenant';
        PERFORM set_config('app.tenant_id', t, true);
        SELECT h.seq, h.hash INTO last_seq, last_hash FROM broker.protocol_chain_heads h
         WHERE h.tenant = t FOR UPDATE;
        IF NOT FOUND THEN
            -- The tenant's first record; a replica doing the same at once makes ours a no-op.
            INSERT INTO broker.protocol_chain_heads (tenant, seq, hash)
                VALUES (t, 0, decode(grp->>'genesis', 'hex')) ON CONFLICT (tenant) DO NOTHING;
            SELECT h.seq, h.hash INTO last_seq, last_hash FROM broker.protocol_chain_heads h
             WHERE h.tenant = t FOR UPDATE;
        END IF;
        seqs := '{}'; prevs := '{}'; hashes := '{}';
        FOR digest IN SELECT decode(e->>20, 'hex') FROM jsonb_array_elements(grp->'records') AS e LOOP
            last_seq := last_seq + 1;
            seqs := seqs || last_seq;
            prevs := prevs || last_hash;
            last_hash := sha256(link_domain || last_hash || int8send(last_seq) || digest);
            hashes := hashes || last_hash;
        END LOOP;
        WITH rows AS (
            SELECT r.e, c.seq, c.prev, c.hash
            FROM jsonb_array_elements(grp->'records') WITH ORDINALITY AS r(e, i)
            JOIN unnest(seqs, prevs, hashes) WITH ORDINALITY AS c(seq, prev, hash, i) USING (i)
        ), records AS (
            INSERT INTO broker.protocol_records (
                tenant, seq, occurred_at, recorded_at, correlation_id, trace_id, member_organisation,
                subject, employee, client_application, afnemer_id, environment, doelbinding, verwerking,
                origin_oin, api, query_type, search_parameters, requested_fields, sent_fields, status,
                problem_code, latency_ms, prev_hash, hash, request_count, last_occurred_at,
                correlation_ids, span_id, parent_span_id, processing_activity, foreign_processor)
            SELECT t, rows.seq, (e->>0)::timestamptz, (grp->>'recorded_at')::timestamptz, e->>1,
                   e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, e->>10, e->>11, e->>12,
                   e->>13, (e->>14)::json, (e->>15)::text[], (e->>16)::text[], (e->>17)::integer,
                   e->>18, (e->>19)::double precision, rows.prev, rows.hash,
                   (e->>22)::integer, (e->>23)::timestamptz, (e->>24)::text[],
                   e->>25, e->>26, e->>27, e->>28
            FROM rows
        ), persons AS (
            INSERT INTO broker.protocol_persons (tenant, seq, occurred_at, position, bsn, role)
            SELECT t, rows.seq, (e->>0)::timestamptz, p.i - 1, p.v->>0, p.v->>1
            FROM rows, jsonb_array_elements(e->21) WITH ORDINALITY AS p(v, i)
        )
        UPDATE broker.protocol_chain_heads h
           SET seq = last_seq, hash = last_hash, updated_at = (grp->>'recorded_at')::timestamptz
         WHERE h.tenant = t;
        head_tenant := t; head_seq := last_seq; head_hash := last_hash;
        RETURN NEXT;
    END LOOP;
END
$$;

-- CREATE OR REPLACE keeps the function's owner and grants; stated again so this file says it all.
REVOKE ALL ON FUNCTION broker.protocol_append_linked(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION broker.protocol_append_linked(jsonb) TO brp_app;

-- The tenant's LDV configuration (tenant file `[ldv]`, app.tenancy.models.LdvSettings) as one
-- JSON object on the tenant row: read and written with the tenant's own attributes, under the
-- row-level security and grants the tenants table already has. '{}' is "not configured".
ALTER TABLE broker.tenants
    ADD COLUMN ldv jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(ldv) = 'object');
