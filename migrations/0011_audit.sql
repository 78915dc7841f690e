-- The audit log: every configuration change, through the admin API or `tenants apply`, recorded
-- append-only and tamper-evident (app/audit/ writes, reads and verifies it).
--
--   audit_log          one row per change of one object (a rule, an afnemer, the tenant itself ...):
--                      when, who (actor, role, via, source file), what (resource, key, action,
--                      before and after, secrets already replaced by a fingerprint), correlation id
--   audit_chain_heads  per tenant: the sequence number and hash of its last entry
--
-- Like the protocol (0003):
--   * one hash chain per tenant (`tenant` is the slug, independent of the tenants registry on
--     purpose: the audit of a removed tenant stays), numbered 1, 2, 3 ... without gaps; the writer
--     locks the tenant's head row FOR UPDATE, so concurrent changes queue and never fork a chain;
--   * append-only for every role: a statement trigger refuses UPDATE, DELETE and TRUNCATE of
--     audit rows for everyone (the owner and superusers included, and also when no row matches);
--     a head moves forward and never disappears;
--   * fail-closed row-level security on the tenant's slug; the owner role (operators) reads every
--     tenant's entries; the runtime role appends and reads within its tenant scope.
-- `before` and `after` are `json`, not `jsonb`: the exact text the writer hashed, byte for byte
-- (jsonb would rewrite numbers such as 1e300, and then the chain could not be verified).

CREATE FUNCTION broker.audit_refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE broker.audit_log (
    tenant         text        NOT NULL CHECK (tenant ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    seq            bigint      NOT NULL CHECK (seq > 0),
    recorded_at    timestamptz NOT NULL,
    actor          text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 500),
    role           text        NOT NULL CHECK (length(role) BETWEEN 1 AND 100),
    via            text        NOT NULL CHECK (via IN ('api', 'tenants apply')),
    -- The tenant file (or directory) `tenants apply` read; NULL for the API.
    source         text,
    resource       text        NOT NULL CHECK (length(resource) BETWEEN 1 AND 100),
    key            text        NOT NULL CHECK (length(key) BETWEEN 1 AND 500),
    action         text        NOT NULL CHECK (action IN ('add', 'change', 'remove')),
    before         json,
    after          json,
    correlation_id text,
    prev_hash      bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash           bytea       NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (tenant, seq)
);
-- Newest first, across tenants (operators) and within one (the primary key serves that too).
CREATE INDEX audit_log_recorded ON broker.audit_log (recorded_at DESC, tenant DESC, seq DESC);

CREATE TABLE broker.audit_chain_heads (
    tenant     text        PRIMARY KEY CHECK (tenant ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    seq        bigint      NOT NULL CHECK (seq >= 0),
    hash       bytea       NOT NULL CHECK (length(hash) = 32),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only, for every role ------------------------------------------------------------------
-- Statement triggers: they fire even when row-level security leaves no row to change, so an
-- attempt is an error, never a silent no-op.
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON broker.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION broker.audit_refuse_change();
CREATE TRIGGER audit_append_only BEFORE DELETE OR TRUNCATE ON broker.audit_chain_heads
    FOR EACH STATEMENT EXECUTE FUNCTION broker.audit_refuse_change();

CREATE FUNCTION broker.audit_head_moves_forward() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.seq <> 0 THEN
        RAISE EXCEPTION 'an audit chain starts at 0' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.tenant <> OLD.tenant OR NEW.seq < OLD.seq) THEN
        RAISE EXCEPTION 'an audit chain head only moves forward' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_head_forward BEFORE INSERT OR UPDATE ON broker.audit_chain_heads
    FOR EACH ROW EXECUTE FUNCTION broker.audit_head_moves_forward();

-- Row-level security (fail closed) --------------------------------------------------------------
ALTER TABLE broker.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON broker.audit_log FOR SELECT
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY tenant_append ON broker.audit_log FOR INSERT
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_read ON broker.audit_log FOR SELECT TO brp_owner USING (true);

ALTER TABLE broker.audit_chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.audit_chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON broker.audit_chain_heads
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_read ON broker.audit_chain_heads FOR SELECT TO brp_owner USING (true);

-- Grants: append and read; the heads also move forward. Nothing else. ---------------------------
GRANT SELECT, INSERT ON broker.audit_log TO brp_app;
GRANT SELECT, INSERT, UPDATE ON broker.audit_chain_heads TO brp_app;
