-- Protocollering (Wet BRP art. 3.11): the legal register of every request, kept 20 years.
--
--   protocol_records      one row per request; monthly range partitions on occurred_at
--   protocol_persons      one row per BSN in an answer (found | consulted); same partitions
--   protocol_chain_heads  per tenant: the sequence number and hash of the last record
--   protocol_retention    per tenant: where the chain continues after retention dropped partitions
--
-- Rules the database enforces itself, for every role the app could run as:
--   * append-only: brp_app may INSERT and SELECT protocol rows (under RLS) and move chain heads
--     forward, nothing else; a trigger refuses UPDATE, DELETE and TRUNCATE of protocol rows for
--     everyone, the owner and superusers included. Retention removes whole partitions with
--     DROP TABLE, which no trigger sees.
--   * the writer appends through two functions that run as the caller (protocol_lock_heads,
--     protocol_append); partitions come from protocol_ensure_partitions (runtime role) or
--     protocol_create_partitions (owner).
--   * fail-closed row-level security on `tenant` (text: the tenant's slug, independent of the
--     tenants registry on purpose: the register outlives any registry row). Requests without a
--     tenant (401) are stored under the reserved tenant '-', which no slug can be.
--   * the owner role (operators: verify, inzage, retention) may read every tenant's rows.
--   * no default partition: a row whose month has no partition is refused (the writer answers 503).

CREATE FUNCTION broker.protocol_refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'the protocol is append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Records --------------------------------------------------------------------------------------
CREATE TABLE broker.protocol_records (
    tenant              text        NOT NULL CHECK (tenant <> ''),
    seq                 bigint      NOT NULL CHECK (seq > 0),
    occurred_at         timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL,
    correlation_id      text        NOT NULL,
    trace_id            text,
    member_organisation text,
    subject             text,
    employee            text,
    client_application  text,
    afnemer_id          text,
    environment         text,
    doelbinding         text,
    verwerking          text,
    origin_oin          text,
    api                 text        NOT NULL,
    query_type          text,
    -- `json`, not `jsonb`: the exact text the writer hashed, byte for byte.
    search_parameters   json        NOT NULL,
    requested_fields    text[]      NOT NULL,
    sent_fields         text[]      NOT NULL,
    status              integer     NOT NULL,
    problem_code        text,
    latency_ms          double precision NOT NULL,
    prev_hash           bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash                bytea       NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (tenant, seq, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE INDEX protocol_records_correlation ON broker.protocol_records (tenant, correlation_id);

-- Persons --------------------------------------------------------------------------------------
CREATE TABLE broker.protocol_persons (
    tenant      text        NOT NULL CHECK (tenant <> ''),
    seq         bigint      NOT NULL,
    occurred_at timestamptz NOT NULL,
    position    smallint    NOT NULL CHECK (position >= 0),
    bsn         text        NOT NULL CHECK (bsn ~ '^[0-9]{9}$'),
    role        text        NOT NULL CHECK (role IN ('found', 'consulted')),
    PRIMARY KEY (tenant, seq, occurred_at, position)
) PARTITION BY RANGE (occurred_at);

CREATE INDEX protocol_persons_bsn ON broker.protocol_persons (tenant, bsn, occurred_at);

-- Chain heads and retention checkpoints ---------------------------------------------------------
CREATE TABLE broker.protocol_chain_heads (
    tenant     text        PRIMARY KEY CHECK (tenant <> ''),
    seq        bigint      NOT NULL CHECK (seq >= 0),
    hash       bytea       NOT NULL CHECK (length(hash) = 32),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE broker.protocol_retention (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text        NOT NULL CHECK (tenant <> ''),
    -- Every record with seq <= through_seq may be gone; through_hash is the hash of that record.
    through_seq  bigint      NOT NULL CHECK (through_seq > 0),
    through_hash bytea       NOT NULL CHECK (length(through_hash) = 32),
    -- Records with seq <= through_seq that stayed (they fell in a younger partition).
    leftover     bigint      NOT NULL CHECK (leftover >= 0),
    cutoff       timestamptz NOT NULL,
    partitions   text[]      NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX protocol_retention_tenant ON broker.protocol_retention (tenant, id);

-- Append-only, for every role ------------------------------------------------------------------
CREATE TRIGGER protocol_append_only BEFORE UPDATE OR DELETE ON broker.protocol_records
    FOR EACH ROW EXECUTE FUNCTION broker.protocol_refuse_change();
CREATE TRIGGER protocol_append_only_truncate BEFORE TRUNCATE ON broker.protocol_records
    FOR EACH STATEMENT EXECUTE FUNCTION broker.protocol_refuse_change();
CREATE TRIGGER protocol_append_only BEFORE UPDATE OR DELETE ON broker.protocol_persons
    FOR EACH ROW EXECUTE FUNCTION broker.protocol_refuse_change();
CREATE TRIGGER protocol_append_only_truncate BEFORE TRUNCATE ON broker.protocol_persons
    FOR EACH STATEMENT EXECUTE FUNCTION broker.protocol_refuse_change();
CREATE TRIGGER protocol_append_only BEFORE UPDATE OR DELETE ON broker.protocol_retention
    FOR EACH ROW EXECUTE FUNCTION broker.protocol_refuse_change();
CREATE TRIGGER protocol_append_only_truncate BEFORE TRUNCATE ON broker.protocol_retention
    FOR EACH STATEMENT EXECUTE FUNCTION broker.protocol_refuse_change();
-- A head moves forward (UPDATE) but never disappears.
CREATE TRIGGER protocol_append_only BEFORE DELETE ON broker.protocol_chain_heads
    FOR EACH ROW EXECUTE FUNCTION broker.protocol_refuse_change();
CREATE TRIGGER protocol_append_only_truncate BEFORE TRUNCATE ON broker.protocol_chain_heads
    FOR EACH STATEMENT EXECUTE FUNCTION broker.protocol_refuse_change();
CREATE FUNCTION broker.protocol_head_moves_forward() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.seq <> 0 THEN
        RAISE EXCEPTION 'a protocol chain starts at 0' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.tenant <> OLD.tenant OR NEW.seq < OLD.seq) THEN
        RAISE EXCEPTION 'a protocol chain head only moves forward' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER protocol_head_forward BEFORE INSERT OR UPDATE ON broker.protocol_chain_heads
    FOR EACH ROW EXECUTE FUNCTION broker.protocol_head_moves_forward();

-- Row-level security (fail closed) --------------------------------------------------------------
ALTER TABLE broker.protocol_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.protocol_records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON broker.protocol_records FOR SELECT
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY tenant_append ON broker.protocol_records FOR INSERT
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_read ON broker.protocol_records FOR SELECT TO brp_owner USING (true);

ALTER TABLE broker.protocol_persons ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.protocol_persons FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON broker.protocol_persons FOR SELECT
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY tenant_append ON broker.protocol_persons FOR INSERT
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_read ON broker.protocol_persons FOR SELECT TO brp_owner USING (true);

ALTER TABLE broker.protocol_chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.protocol_chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON broker.protocol_chain_heads
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_read ON broker.protocol_chain_heads FOR SELECT TO brp_owner USING (true);

ALTER TABLE broker.protocol_retention ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.protocol_retention FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON broker.protocol_retention FOR SELECT
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY tenant_append ON broker.protocol_retention FOR INSERT
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_read ON broker.protocol_retention FOR SELECT TO brp_owner USING (true);

-- Grants: append and read; the heads also move forward. Nothing else. ---------------------------
GRANT SELECT, INSERT ON broker.protocol_records, broker.protocol_persons TO brp_app;
GRANT SELECT, INSERT, UPDATE ON broker.protocol_chain_heads TO brp_app;
GRANT SELECT ON broker.protocol_retention TO brp_app;

-- Appending ------------------------------------------------------------------------------------
-- Two functions bundle a batch's statements server-side, so a batch costs the same few round trips
-- however many tenants it spans. Both run as the caller (SECURITY INVOKER): the runtime role's own
-- grants and fail-closed policies apply, and they set app.tenant_id per tenant exactly as the app
-- would. Hashing stays in the writer (one canonical encoding, shared with verify).

-- Lock (creating when missing) the chain heads of `tenants`, in sorted order (no deadlocks between
-- replicas), and return them. `geneses[i]` is the genesis hash of `tenants[i]`.
CREATE FUNCTION broker.protocol_lock_heads(tenants text[], geneses bytea[])
    RETURNS TABLE (head_tenant text, head_seq bigint, head_hash bytea)
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    t       text;
    genesis bytea;
BEGIN
    FOR t, genesis IN SELECT u.t, u.g FROM unnest(tenants, geneses) AS u(t, g) ORDER BY u.t LOOP
        PERFORM set_config('app.tenant_id', t, true);
        RETURN QUERY SELECT h.tenant, h.seq, h.hash FROM broker.protocol_chain_heads h
                     WHERE h.tenant = t FOR UPDATE;
        IF NOT FOUND THEN
            -- The tenant's first record; a replica doing the same at once makes ours a no-op.
            INSERT INTO broker.protocol_chain_heads (tenant, seq, hash) VALUES (t, 0, genesis)
                ON CONFLICT (tenant) DO NOTHING;
            RETURN QUERY SELECT h.tenant, h.seq, h.hash FROM broker.protocol_chain_heads h
                         WHERE h.tenant = t FOR UPDATE;
        END IF;
    END LOOP;
END
$$;

-- Insert a batch chained onto known heads. `batch` is a JSON array of groups, one per tenant, in
-- tenant order: {tenant, recorded_at, from_seq, from_hash, head_seq, head_hash (hex), records}.
-- Each record is a JSON array in the column order below (fields as PostgreSQL array literals,
-- hashes in hex, persons as [[bsn, role], ...] in answer order). Each head moves from
-- (from_seq, from_hash) to (head_seq, head_hash); when a head is elsewhere (another writer moved
-- it) the whole batch fails with serialization_failure and nothing is written. The UPDATE takes
-- the head's row lock, so a writer that did not lock the heads first (optimistic) is still safe.
-- Returns the number of records inserted.
CREATE FUNCTION broker.protocol_append(batch jsonb) RETURNS integer
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
                problem_code, latency_ms, prev_hash, hash)
            SELECT t, (e->>0)::bigint, (e->>1)::timestamptz, (grp->>'recorded_at')::timestamptz, e->>2,
                   e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, e->>10, e->>11, e->>12, e->>13,
                   e->>14, (e->>15)::json, (e->>16)::text[], (e->>17)::text[], (e->>18)::integer,
                   e->>19, (e->>20)::double precision, decode(e->>21, 'hex'), decode(e->>22, 'hex')
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

REVOKE ALL ON FUNCTION broker.protocol_lock_heads(text[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION broker.protocol_append(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION broker.protocol_lock_heads(text[], bytea[]) TO brp_app;
GRANT EXECUTE ON FUNCTION broker.protocol_append(jsonb) TO brp_app;

-- Partitions -----------------------------------------------------------------------------------
-- One partition of each table per calendar month (UTC), named protocol_<table>_yYYYYmMM. Only the
-- owner may create arbitrary months (backfill, tests); the runtime role may only ask for the current
-- month and up to 12 ahead, through protocol_ensure_partitions.
-- SECURITY DEFINER so that every partition is owned by brp_owner, whoever (owner or superuser) asks.
CREATE FUNCTION broker.protocol_create_partitions(month date) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    first_day   date        := date_trunc('month', month)::date;
    lower_bound timestamptz := first_day::timestamp AT TIME ZONE 'UTC';
    upper_bound timestamptz := (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    suffix      text        := to_char(first_day, '"y"YYYY"m"MM');
    parent      text;
    created     boolean     := false;
BEGIN
    FOREACH parent IN ARRAY ARRAY['protocol_records', 'protocol_persons'] LOOP
        IF to_regclass(format('broker.%I', parent || '_' || suffix)) IS NULL THEN
            EXECUTE format('CREATE TABLE broker.%I PARTITION OF broker.%I FOR VALUES FROM (%L) TO (%L)',
                           parent || '_' || suffix, parent, lower_bound, upper_bound);
            -- Statement triggers are not inherited: TRUNCATE of the partition itself is refused too.
            EXECUTE format('CREATE TRIGGER protocol_append_only_truncate BEFORE TRUNCATE ON broker.%I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION broker.protocol_refuse_change()',
                           parent || '_' || suffix);
            created := true;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

CREATE FUNCTION broker.protocol_ensure_partitions(months_ahead integer DEFAULT 2) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    this_month date    := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    created    integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 12 THEN
        RAISE EXCEPTION 'months_ahead must lie between 0 and 12' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Serialise replicas that check at the same moment (key: "brp-prot").
    PERFORM pg_advisory_xact_lock(7093855703524339572);
    FOR i IN 0..months_ahead LOOP
        IF broker.protocol_create_partitions((this_month + make_interval(months => i))::date) THEN
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

REVOKE ALL ON FUNCTION broker.protocol_create_partitions(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION broker.protocol_ensure_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION broker.protocol_ensure_partitions(integer) TO brp_app;

SELECT broker.protocol_ensure_partitions(2);
