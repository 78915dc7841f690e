-- Chain links made inside the database, in one self-committing statement (issue #13).
--
-- Until now the writer hashed its records onto a head it had locked over client round trips
-- (BEGIN; lock heads; append; COMMIT): a second writer for the same tenant (another worker or
-- replica) waited on those round trips, so two processes wrote 3.2x slower than one. Now:
--
--   * the writer computes each record's DIGEST (SHA-256 over the record's canonical document,
--     app/protocol/chain.py) — all of the record but its place in the chain;
--   * broker.protocol_append_linked(batch) locks each tenant's head, links the digests onto it
--     (hash = SHA-256(domain || prev_hash || seq as 8 bytes big-endian || digest)), inserts the
--     records with their persons and moves the head; called outside a transaction it is one
--     statement that commits on its own. The head's row lock is held from inside that statement
--     until its commit: a concurrent writer waits on server work only, never on a client.
--
-- Chain format 1 (the writer hashed the whole canonical document including seq) stays valid for
-- every record written before this migration: `verify` accepts a link in either format (both are
-- SHA-256 under their own domain, so neither can be passed off as the other). The old functions
-- stay for replicas of the previous release during a rolling upgrade: they lock the same head row,
-- so mixed writers still build one linear chain.
--
-- protocol_verified: where `brp-broker protocol verify` found a chain intact, so the next run
-- checks only what came after (a full verify remains possible). Written by the operator only.

CREATE FUNCTION broker.protocol_append_linked(batch jsonb)
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
                correlation_ids)
            SELECT t, rows.seq, (e->>0)::timestamptz, (grp->>'recorded_at')::timestamptz, e->>1,
                   e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, e->>10, e->>11, e->>12,
                   e->>13, (e->>14)::json, (e->>15)::text[], (e->>16)::text[], (e->>17)::integer,
                   e->>18, (e->>19)::double precision, rows.prev, rows.hash,
                   (e->>22)::integer, (e->>23)::timestamptz, (e->>24)::text[]
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

REVOKE ALL ON FUNCTION broker.protocol_append_linked(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION broker.protocol_append_linked(jsonb) TO brp_app;

-- Verified checkpoints -------------------------------------------------------------------------
CREATE TABLE broker.protocol_verified (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text        NOT NULL CHECK (tenant <> ''),
    -- The chain was intact from its start (or retention checkpoint) through this record.
    through_seq  bigint      NOT NULL CHECK (through_seq > 0),
    through_hash bytea       NOT NULL CHECK (length(through_hash) = 32),
    verified_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX protocol_verified_tenant ON broker.protocol_verified (tenant, id);

CREATE TRIGGER protocol_append_only BEFORE UPDATE OR DELETE ON broker.protocol_verified
    FOR EACH ROW EXECUTE FUNCTION broker.protocol_refuse_change();
CREATE TRIGGER protocol_append_only_truncate BEFORE TRUNCATE ON broker.protocol_verified
    FOR EACH STATEMENT EXECUTE FUNCTION broker.protocol_refuse_change();

ALTER TABLE broker.protocol_verified ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.protocol_verified FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON broker.protocol_verified FOR SELECT
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_all ON broker.protocol_verified TO brp_owner USING (true) WITH CHECK (true);
GRANT SELECT ON broker.protocol_verified TO brp_app;
