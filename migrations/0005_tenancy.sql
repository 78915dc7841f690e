-- Tenancy: each tenant's connection pattern, member organisations, identity providers, afnemers,
-- gegevenssets, access rules and rate-limit settings (app/tenancy/ reads and writes them).
--
-- Every table that holds a tenant's configuration follows 0002's pattern: a tenant_id column,
-- ENABLE + FORCE ROW LEVEL SECURITY and a policy that fails closed
-- (NULLIF(current_setting('app.tenant_id', true), '')::uuid), so neither the runtime role nor the
-- owner reads or writes a row without naming the tenant it works for.
--
-- The one exception is `tenant_registry`: operator data, not tenant data. It holds only each
-- tenant's id, slug and status, so that the tenant directory (the in-memory cache every replica
-- keeps) can learn *which* tenants exist and then load each one inside its own tenant scope. The
-- alternative, a policy that lets some role see every tenant's configuration, would weaken the
-- fail-closed rule for the very tables that hold client credentials. A trigger keeps the
-- registry a faithful projection of `tenants`: whoever writes a tenant (the apply command, a later
-- admin API, psql), the registry follows, and nobody but the owner can write it directly.
--
-- Identity providers and gegevenssets are stored as the JSON encoding of their msgspec models
-- (`app.identity.IssuerConfig`, `app.policy.Gegevensset`), whose shape belongs to those modules:
-- a field added there needs no migration here, and nothing is silently dropped on the way to the
-- database. `app.tenancy` validates them on every write (tenant files) and every load (directory).
-- What the database itself must guarantee (keys, references between objects of one tenant, the
-- form of a client secret) are real columns and constraints.
--
-- Every change to a table below (any writer) sends NOTIFY brp_tenancy with the tenant's slug
-- ('*' when unknown), after commit; each replica's directory reloads that tenant within seconds.

-- Registry --------------------------------------------------------------------------------------
CREATE TABLE broker.tenant_registry (
    id     uuid PRIMARY KEY,
    slug   text NOT NULL UNIQUE,
    status text NOT NULL
);
COMMENT ON TABLE broker.tenant_registry IS
    'Operator data without RLS: which tenants exist (id, slug, status). Maintained by a trigger on '
    'broker.tenants; holds no configuration. The directory lists tenants here, then loads each one '
    'inside its own tenant scope.';
GRANT SELECT ON broker.tenant_registry TO brp_app;

-- SECURITY DEFINER: the runtime role may create tenants (0002 grants it INSERT) but must not be
-- able to write the registry itself; this function, owned by the owner, does it for it.
CREATE FUNCTION broker.tenant_registry_sync() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, broker AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM broker.tenant_registry WHERE id = OLD.id;
        RETURN OLD;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE broker.tenant_registry SET id = NEW.id, slug = NEW.slug, status = NEW.status WHERE id = OLD.id;
        RETURN NEW;
    END IF;
    INSERT INTO broker.tenant_registry (id, slug, status) VALUES (NEW.id, NEW.slug, NEW.status);
    RETURN NEW;
END
$$;

CREATE TRIGGER tenants_registry_sync
    AFTER INSERT OR UPDATE OF id, slug, status OR DELETE ON broker.tenants
    FOR EACH ROW EXECUTE FUNCTION broker.tenant_registry_sync();

-- Tenants created before this migration. FORCE RLS binds the owner too, so the owner lifts it
-- for this one statement (in this migration's transaction) to copy the three columns.
ALTER TABLE broker.tenants NO FORCE ROW LEVEL SECURITY;
INSERT INTO broker.tenant_registry (id, slug, status) SELECT id, slug, status FROM broker.tenants;
ALTER TABLE broker.tenants FORCE ROW LEVEL SECURITY;

-- Tenants: the connection pattern -----------------------------------------------------------------
-- An organisation uses the SaaS pattern (its own AfnemerID for all its callers); a
-- samenwerkingsverband works onder delegatie (its own AfnemerID for everyone) or met gezamenlijk
-- personeel (each employee the AfnemerID(s) of the member organisation(s) they work for).
ALTER TABLE broker.tenants
    ADD COLUMN pattern text NOT NULL DEFAULT 'saas'
        CHECK (pattern IN ('saas', 'delegatie', 'gezamenlijk_personeel'));
-- NOT VALID: rows from before this migration are not re-checked (the owner cannot see them under
-- FORCE RLS anyway); every insert and update from now on is.
ALTER TABLE broker.tenants
    ADD CONSTRAINT tenants_pattern_fits_kind CHECK ((kind = 'organisation') = (pattern = 'saas')) NOT VALID;

-- Change notification -------------------------------------------------------------------------------
CREATE FUNCTION broker.tenancy_notify() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, broker AS $$
DECLARE
    changed text;
BEGIN
    SELECT r.slug INTO changed FROM broker.tenant_registry r
        WHERE r.id = NULLIF(current_setting('app.tenant_id', true), '')::uuid;
    -- Unknown (a tenant just deleted, or a write outside any tenant scope): reload everything.
    PERFORM pg_notify('brp_tenancy', coalesce(changed, '*'));
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE ON broker.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION broker.tenancy_notify();

-- Member organisations (samenwerkingsverband) -------------------------------------------------------
-- `code` is the value the tenant's identity provider puts in the organisation claim.
CREATE TABLE broker.member_organisations (
    tenant_id     uuid NOT NULL REFERENCES broker.tenants (id) ON DELETE CASCADE,
    code          text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    gemeente_code text CHECK (gemeente_code ~ '^[0-9]{4}$'),
    oin           text CHECK (oin ~ '^[0-9]{20}$'),
    PRIMARY KEY (tenant_id, code)
);

-- Identity providers ---------------------------------------------------------------------------
CREATE TABLE broker.identity_providers (
    tenant_id uuid NOT NULL REFERENCES broker.tenants (id) ON DELETE CASCADE,
    issuer    text NOT NULL CHECK (issuer ~ '^https://.+'),
    -- app.identity.IssuerConfig without `tenant` and `issuer` (msgspec JSON encoding).
    config    jsonb NOT NULL CHECK (jsonb_typeof(config) = 'object'),
    PRIMARY KEY (tenant_id, issuer)
);

-- Afnemers ---------------------------------------------------------------------------------------
-- The client secret is never stored: only a reference to where it lives (env:NAME, file:/path)
-- or its encryption under the key-encryption key (enc:v1:<key id>:<nonce+ciphertext>, AES-256-GCM
-- with the tenant's slug and the AfnemerID as associated data; see app/secrets.py).
CREATE TABLE broker.afnemers (
    tenant_id           uuid NOT NULL REFERENCES broker.tenants (id) ON DELETE CASCADE,
    afnemer_id          text NOT NULL CHECK (afnemer_id ~ '^[0-9]{6}$'),
    name                text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    environment         text NOT NULL CHECK (environment IN ('sandbox', 'proef', 'productie')),
    -- The name of the OIN identity (PKIoverheid certificate) in the broker's settings.
    identity            text NOT NULL CHECK (length(identity) BETWEEN 1 AND 100),
    client_id           text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 200),
    client_secret       text NOT NULL CHECK (
        client_secret ~ '^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|enc:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+)$'
    ),
    gemeente_code       text CHECK (gemeente_code ~ '^[0-9]{4}$'),
    -- The member organisation this AfnemerID belongs to; NULL: the tenant's own.
    member_organisation text,
    PRIMARY KEY (tenant_id, afnemer_id),
    FOREIGN KEY (tenant_id, member_organisation) REFERENCES broker.member_organisations (tenant_id, code)
);

-- Gegevenssets ----------------------------------------------------------------------------------
CREATE TABLE broker.gegevenssets (
    tenant_id  uuid NOT NULL REFERENCES broker.tenants (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    -- app.policy.Gegevensset without `name` (msgspec JSON encoding).
    definition jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    PRIMARY KEY (tenant_id, name)
);

-- Access rules ---------------------------------------------------------------------------------
-- who → which afnemer(s) and gegevensset(s), and which request headers are then mandatory.
-- A subject is `tenant` (every caller), `role:R`, `employee:E`, `client:C` or `organisation:O`.
CREATE FUNCTION broker.valid_rule_subjects(subjects text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $$
    SELECT cardinality(subjects) > 0
       AND NOT EXISTS (
           SELECT 1 FROM unnest(subjects) AS s
           WHERE s IS NULL OR s !~ '^(tenant|(role|employee|client|organisation):.+)$'
       )
$$;
GRANT EXECUTE ON FUNCTION broker.valid_rule_subjects(text[]) TO brp_app;

CREATE TABLE broker.access_rules (
    tenant_id        uuid NOT NULL REFERENCES broker.tenants (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    description      text NOT NULL DEFAULT '',
    subjects         text[] NOT NULL CHECK (broker.valid_rule_subjects(subjects)),
    required_headers text[] NOT NULL DEFAULT '{}' CHECK (
        required_headers <@ ARRAY['x-doelbinding', 'x-verwerking', 'x-gebruiker', 'x-origin-oin']::text[]
    ),
    PRIMARY KEY (tenant_id, name)
);

-- The foreign keys include tenant_id: a rule can only ever name its own tenant's afnemers and
-- gegevenssets, whatever writes it.
CREATE TABLE broker.access_rule_afnemers (
    tenant_id  uuid NOT NULL,
    rule       text NOT NULL,
    afnemer_id text NOT NULL,
    PRIMARY KEY (tenant_id, rule, afnemer_id),
    FOREIGN KEY (tenant_id, rule) REFERENCES broker.access_rules (tenant_id, name)
        ON DELETE CASCADE ON UPDATE CASCADE,
    FOREIGN KEY (tenant_id, afnemer_id) REFERENCES broker.afnemers (tenant_id, afnemer_id)
);

CREATE TABLE broker.access_rule_gegevenssets (
    tenant_id   uuid NOT NULL,
    rule        text NOT NULL,
    gegevensset text NOT NULL,
    PRIMARY KEY (tenant_id, rule, gegevensset),
    FOREIGN KEY (tenant_id, rule) REFERENCES broker.access_rules (tenant_id, name)
        ON DELETE CASCADE ON UPDATE CASCADE,
    FOREIGN KEY (tenant_id, gegevensset) REFERENCES broker.gegevenssets (tenant_id, name)
);

-- Rate-limit settings (stored here; app.ratelimit enforces them) --------------------------------
-- One row per scope: the whole tenant, each of its afnemers, each of its employees.
CREATE TABLE broker.rate_limits (
    tenant_id uuid NOT NULL REFERENCES broker.tenants (id) ON DELETE CASCADE,
    scope     text NOT NULL CHECK (scope IN ('tenant', 'afnemer', 'employee')),
    -- Sustained requests per second, and how many may come at once.
    rate      double precision NOT NULL CHECK (rate > 0),
    burst     integer NOT NULL CHECK (burst >= 1),
    PRIMARY KEY (tenant_id, scope)
);

-- Row-level security, grants and notification for every configuration table ------------------------
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'member_organisations', 'identity_providers', 'afnemers', 'gegevenssets',
        'access_rules', 'access_rule_afnemers', 'access_rule_gegevenssets', 'rate_limits'
    ] LOOP
        EXECUTE format('ALTER TABLE broker.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE broker.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON broker.%I '
            'USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)',
            t
        );
        -- The directory reads; a later admin API for tenant admins writes, always under RLS.
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON broker.%I TO brp_app', t);
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON broker.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION broker.tenancy_notify()',
            t || '_notify', t
        );
    END LOOP;
END
$$;
