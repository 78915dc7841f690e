-- What the operator assigns to a tenant belongs to that tenant alone, enforced by the database
-- whoever writes (tenants apply, a later admin API as the runtime role, psql as the owner):
--
-- * An AfnemerID belongs to exactly one tenant of the whole broker. A second tenant declaring it
--   would have its callers act under the first one's autorisatiebesluit.
-- * Tenants sharing an issuer are told apart by a claim: each uses the same `tenant_claim` and a
--   `tenant_claim_value` of its own (default: its slug). An issuer trusted by a tenant without a
--   `tenant_claim` is that tenant's alone: a second tenant on it would make every token of the
--   issuer match twice, and the validator refuses ambiguous tokens (401 for the first tenant's
--   callers). So no tenant's configuration can change how another tenant's tokens are resolved.
--
-- The configuration tables have FORCE ROW LEVEL SECURITY per tenant, so a check across tenants
-- cannot read them. Two registries hold just enough to check (and to name the tenant that holds
-- something): `afnemer_registry` (AfnemerID -> tenant) and `issuer_registry` (issuer, tenant, its
-- claim and value). Like `tenant_registry` (0005) they are projections kept by SECURITY DEFINER
-- triggers, so nobody but the owner writes them. Unlike `tenant_registry` they are not for the
-- runtime role at all: row-level security is forced with a policy for the owner role only, so
-- `tenants apply` (which runs as the owner) reads them to refuse a conflict before writing, and a
-- future grant would still show the runtime role nothing.
--
-- AfnemerIDs: the registry's primary key is the constraint; the trigger turns a conflict into a
-- unique_violation that names both tenants. Concurrent claims of one AfnemerID queue on that key.
--
-- Issuers: checked at commit (a deferred constraint trigger), so only the state after the whole
-- transaction counts, whatever order its statements ran in (one apply may give tenant A its
-- tenant_claim and add tenant B to A's issuer). Writers of one issuer are serialised by a
-- transaction-level advisory lock taken by that check; in READ COMMITTED each check then sees what
-- the previous writer committed. REPEATABLE READ would not (its snapshot is older than the lock),
-- so such a write is refused; SERIALIZABLE detects the conflict by itself.
--
-- A tenant's slug is the default tenant_claim_value; a slug is never renamed by `tenants apply`
-- (a renamed file is another tenant), so the check compares the slug at the time of the write.

-- Registries ------------------------------------------------------------------------------------
CREATE TABLE broker.afnemer_registry (
    afnemer_id text PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES broker.tenant_registry (id) ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE broker.afnemer_registry IS
    'Operator data: which tenant holds each AfnemerID (one tenant per AfnemerID). Maintained by a '
    'trigger on broker.afnemers; readable by the owner role only.';

CREATE TABLE broker.issuer_registry (
    issuer             text NOT NULL,
    tenant_id          uuid NOT NULL REFERENCES broker.tenant_registry (id) ON DELETE CASCADE ON UPDATE CASCADE,
    tenant_claim       text,
    tenant_claim_value text,
    PRIMARY KEY (issuer, tenant_id)
);
COMMENT ON TABLE broker.issuer_registry IS
    'Operator data: which tenants trust each issuer, with the claim that tells them apart. '
    'Maintained by a trigger on broker.identity_providers; readable by the owner role only.';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['afnemer_registry', 'issuer_registry'] LOOP
        EXECUTE format('ALTER TABLE broker.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE broker.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY operator_only ON broker.%I TO brp_owner USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$$;

-- AfnemerIDs ------------------------------------------------------------------------------------
CREATE FUNCTION broker.afnemer_registry_sync() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, broker AS $$
DECLARE
    claimant text;
    holder   text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM broker.afnemer_registry WHERE afnemer_id = OLD.afnemer_id AND tenant_id = OLD.tenant_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    -- A claim of the same AfnemerID by a concurrent transaction makes this wait for it to end.
    INSERT INTO broker.afnemer_registry (afnemer_id, tenant_id) VALUES (NEW.afnemer_id, NEW.tenant_id)
        ON CONFLICT (afnemer_id) DO NOTHING;
    IF NOT FOUND THEN
        SELECT r.slug INTO holder FROM broker.afnemer_registry a
            JOIN broker.tenant_registry r ON r.id = a.tenant_id WHERE a.afnemer_id = NEW.afnemer_id;
        SELECT r.slug INTO claimant FROM broker.tenant_registry r WHERE r.id = NEW.tenant_id;
        RAISE unique_violation USING
            MESSAGE = format('tenant %L: afnemer %s already belongs to tenant %L', claimant, NEW.afnemer_id, holder),
            DETAIL = 'An AfnemerID belongs to exactly one tenant of the broker; the operator assigns it.',
            SCHEMA = 'broker', TABLE = 'afnemers', CONSTRAINT = 'afnemer_registry_pkey';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER afnemers_registry_sync
    AFTER INSERT OR UPDATE OF afnemer_id, tenant_id OR DELETE ON broker.afnemers
    FOR EACH ROW EXECUTE FUNCTION broker.afnemer_registry_sync();

-- Issuers ---------------------------------------------------------------------------------------
CREATE FUNCTION broker.issuer_registry_sync() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, broker AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM broker.issuer_registry WHERE issuer = OLD.issuer AND tenant_id = OLD.tenant_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    INSERT INTO broker.issuer_registry (issuer, tenant_id, tenant_claim, tenant_claim_value)
        VALUES (NEW.issuer, NEW.tenant_id, NEW.config ->> 'tenant_claim', NEW.config ->> 'tenant_claim_value');
    RETURN NEW;
END
$$;

CREATE TRIGGER identity_providers_registry_sync
    AFTER INSERT OR UPDATE OR DELETE ON broker.identity_providers
    FOR EACH ROW EXECUTE FUNCTION broker.issuer_registry_sync();

-- Why `tenant`'s trust of `trusted_issuer` breaks the rule for tenants sharing an issuer, or NULL.
-- app/tenancy/ownership.py states the same rule for `tenants apply` (which checks before writing).
CREATE FUNCTION broker.issuer_sharing_problem(trusted_issuer text, tenant uuid) RETURNS text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, broker AS $$
DECLARE
    mine  record;
    other record;
BEGIN
    SELECT r.slug, i.tenant_claim, coalesce(i.tenant_claim_value, r.slug) AS claim_value INTO mine
        FROM broker.issuer_registry i JOIN broker.tenant_registry r ON r.id = i.tenant_id
        WHERE i.issuer = trusted_issuer AND i.tenant_id = tenant;
    IF NOT FOUND THEN
        RETURN NULL;  -- removed again later in the same transaction
    END IF;
    FOR other IN
        SELECT r.slug, i.tenant_claim, coalesce(i.tenant_claim_value, r.slug) AS claim_value
            FROM broker.issuer_registry i JOIN broker.tenant_registry r ON r.id = i.tenant_id
            WHERE i.issuer = trusted_issuer AND i.tenant_id <> tenant
            ORDER BY r.slug
    LOOP
        IF other.tenant_claim IS NULL THEN
            RETURN format('tenant %L: issuer %s is trusted by tenant %L without tenant_claim; '
                          'the operator must first give tenant %L a tenant_claim',
                          mine.slug, trusted_issuer, other.slug, other.slug);
        ELSIF mine.tenant_claim IS NULL THEN
            RETURN format('tenant %L: issuer %s is shared with tenant %L and needs tenant_claim %L '
                          'with a tenant_claim_value of its own (default: the slug)',
                          mine.slug, trusted_issuer, other.slug, other.tenant_claim);
        ELSIF mine.tenant_claim <> other.tenant_claim THEN
            RETURN format('tenant %L: issuer %s: tenant_claim %L differs from the claim of tenant %L (%L); '
                          'tenants sharing an issuer use the same claim',
                          mine.slug, trusted_issuer, mine.tenant_claim, other.slug, other.tenant_claim);
        ELSIF mine.claim_value = other.claim_value THEN
            RETURN format('tenant %L: issuer %s: tenant_claim_value %L is already used by tenant %L',
                          mine.slug, trusted_issuer, mine.claim_value, other.slug);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION broker.issuer_sharing_check() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, broker AS $$
DECLARE
    problem text;
BEGIN
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE object_not_in_prerequisite_state USING
            MESSAGE = 'identity providers are written in READ COMMITTED or SERIALIZABLE transactions '
                      '(the check that keeps tenants sharing an issuer apart must see concurrent writers)';
    END IF;
    -- One writer per issuer until its commit ("brpi" and the issuer's hash).
    PERFORM pg_advisory_xact_lock(1651666025, hashtext(NEW.issuer));
    problem := broker.issuer_sharing_problem(NEW.issuer, NEW.tenant_id);
    IF problem IS NOT NULL THEN
        RAISE exclusion_violation USING
            MESSAGE = problem,
            DETAIL = 'Tenants sharing an issuer each use the same tenant_claim and their own tenant_claim_value.',
            SCHEMA = 'broker', TABLE = 'identity_providers';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER identity_providers_sharing
    AFTER INSERT OR UPDATE ON broker.identity_providers
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION broker.issuer_sharing_check();

-- Existing configuration --------------------------------------------------------------------------
-- FORCE ROW LEVEL SECURITY binds the owner too; lifted for this migration's transaction only (as
-- in 0005), to project every tenant's rows into the registries. A conflict that is already in the
-- database fails the migration, naming it: the operator resolves it, then migrates again.
ALTER TABLE broker.afnemers NO FORCE ROW LEVEL SECURITY;
ALTER TABLE broker.identity_providers NO FORCE ROW LEVEL SECURITY;

DO $$
DECLARE
    shared text;
BEGIN
    SELECT string_agg(format('afnemer %s is declared by more than one tenant (%s)', d.afnemer_id, d.tenants),
                      '; ' ORDER BY d.afnemer_id)
        INTO shared
        FROM (SELECT a.afnemer_id, string_agg(quote_literal(r.slug), ', ' ORDER BY r.slug) AS tenants
                FROM broker.afnemers a JOIN broker.tenant_registry r ON r.id = a.tenant_id
                GROUP BY a.afnemer_id HAVING count(*) > 1) d;
    IF shared IS NOT NULL THEN
        RAISE unique_violation USING MESSAGE = shared || '; an AfnemerID belongs to exactly one tenant: '
            'remove it from every tenant but one, then migrate again';
    END IF;
END
$$;
INSERT INTO broker.afnemer_registry (afnemer_id, tenant_id) SELECT afnemer_id, tenant_id FROM broker.afnemers;

INSERT INTO broker.issuer_registry (issuer, tenant_id, tenant_claim, tenant_claim_value)
    SELECT issuer, tenant_id, config ->> 'tenant_claim', config ->> 'tenant_claim_value'
    FROM broker.identity_providers;

DO $$
DECLARE
    problems text;
BEGIN
    SELECT string_agg(p.problem, '; ' ORDER BY p.problem) INTO problems
        FROM (SELECT broker.issuer_sharing_problem(i.issuer, i.tenant_id) AS problem
                FROM broker.issuer_registry i) p
        WHERE p.problem IS NOT NULL;
    IF problems IS NOT NULL THEN
        RAISE exclusion_violation USING MESSAGE = problems || '; resolve this in the tenant files '
            '(tenants sharing an issuer each use the same tenant_claim and their own value), then migrate again';
    END IF;
END
$$;

ALTER TABLE broker.afnemers FORCE ROW LEVEL SECURITY;
ALTER TABLE broker.identity_providers FORCE ROW LEVEL SECURITY;
