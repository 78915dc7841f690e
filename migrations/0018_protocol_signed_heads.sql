-- Signed chain heads (issue #15, part 3): make a rewrite of a whole chain detectable by someone
-- who holds only the broker's PUBLIC signing key, which the database never sees.
--
--   protocol_signed_heads  per tenant: (seq, hash) of the chain head as the broker signed it,
--                          when, with which key, and the JWS itself (app/protocol/signing.py)
--
-- The broker signs every chain whose head moved since its last signature, and every chain again
-- after a heartbeat even when it did not move (app/protocol/signed_heads.py), so `verify
-- --public-keys` can tell a quiet chain from signatures that were removed. Like the rest of the
-- protocol:
--   * append-only for every role: a statement trigger refuses UPDATE, DELETE and TRUNCATE (the
--     owner and superusers included, short of disabling triggers — which is what the signatures
--     are for);
--   * fail-closed row-level security on the tenant's slug; the runtime role inserts and reads
--     within its tenant scope, the owner role (operators: verify) reads every tenant's rows.
--   * several replicas (or worker processes) may sign at once: the primary key and ON CONFLICT DO
--     NOTHING keep one row per (tenant, seq, signed_at), and the signer takes a transaction-level
--     advisory lock so that only one of them signs in a round (no duplicate signatures).
--
-- The signer runs as the runtime role and must see every chain's head; row-level security shows
-- it one tenant at a time. protocol_heads_for_signing() is the one narrow exception: a SECURITY
-- DEFINER function (owned by brp_owner, whose operator_read policies see every tenant) that returns
-- per chain only its slug, head (seq, hash) and its latest signed head — no record, no person.

CREATE TABLE broker.protocol_signed_heads (
    tenant    text        NOT NULL CHECK (tenant <> ''),
    seq       bigint      NOT NULL CHECK (seq > 0),
    hash      bytea       NOT NULL CHECK (length(hash) = 32),
    -- As in the signed payload; the JWS is authoritative, these columns index it.
    signed_at timestamptz NOT NULL,
    key_id    text        NOT NULL CHECK (length(key_id) BETWEEN 1 AND 128),
    jws       text        NOT NULL CHECK (length(jws) BETWEEN 1 AND 4096),
    stored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, seq, signed_at)
);

CREATE FUNCTION broker.protocol_signed_heads_refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'signed protocol heads are append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA,
        TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
-- A statement trigger fires even when row-level security leaves no row to change.
CREATE TRIGGER protocol_signed_heads_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON broker.protocol_signed_heads
    FOR EACH STATEMENT EXECUTE FUNCTION broker.protocol_signed_heads_refuse_change();

ALTER TABLE broker.protocol_signed_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.protocol_signed_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON broker.protocol_signed_heads FOR SELECT
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY tenant_append ON broker.protocol_signed_heads FOR INSERT
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_read ON broker.protocol_signed_heads FOR SELECT TO brp_owner USING (true);

GRANT SELECT, INSERT ON broker.protocol_signed_heads TO brp_app;

-- Every chain with records: its head, and the newest signed head (NULLs when none yet).
CREATE FUNCTION broker.protocol_heads_for_signing()
    RETURNS TABLE (tenant text, seq bigint, hash bytea, signed_seq bigint, signed_hash bytea,
                   signed_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT h.tenant, h.seq, h.hash, s.seq, s.hash, s.signed_at
    FROM broker.protocol_chain_heads h
    LEFT JOIN LATERAL (
        SELECT s.seq, s.hash, s.signed_at FROM broker.protocol_signed_heads s
        WHERE s.tenant = h.tenant
        ORDER BY s.seq DESC, s.signed_at DESC
        LIMIT 1
    ) s ON true
    WHERE h.seq > 0
    ORDER BY h.tenant
$$;

REVOKE ALL ON FUNCTION broker.protocol_heads_for_signing() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION broker.protocol_heads_for_signing() TO brp_app;
