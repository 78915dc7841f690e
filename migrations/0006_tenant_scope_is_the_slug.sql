-- One meaning for app.tenant_id everywhere: the tenant's slug. The protocol tables compare it as
-- text (their rows outlive a tenant's configuration); the configuration tables, keyed by uuid,
-- now reach it through the registry. Every policy still fails closed: with app.tenant_id unset
-- (or naming no tenant) `broker.current_tenant()` is NULL and no row matches or may be written.

CREATE FUNCTION broker.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE SET search_path = pg_catalog, broker AS $$
    SELECT r.id FROM broker.tenant_registry r WHERE r.slug = NULLIF(current_setting('app.tenant_id', true), '')
$$;
REVOKE ALL ON FUNCTION broker.current_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION broker.current_tenant() TO brp_app;

-- The tenants table carries the slug itself (a new tenant is not in the registry before its insert).
DROP POLICY tenant_isolation ON broker.tenants;
CREATE POLICY tenant_isolation ON broker.tenants
    USING (slug = NULLIF(current_setting('app.tenant_id', true), ''))
    WITH CHECK (slug = NULLIF(current_setting('app.tenant_id', true), ''));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'member_organisations', 'identity_providers', 'afnemers', 'gegevenssets',
        'access_rules', 'access_rule_afnemers', 'access_rule_gegevenssets', 'rate_limits'
    ] LOOP
        EXECUTE format('DROP POLICY tenant_isolation ON broker.%I', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON broker.%I '
            'USING (tenant_id = broker.current_tenant()) '
            'WITH CHECK (tenant_id = broker.current_tenant())',
            t
        );
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION broker.tenancy_notify() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, broker AS $$
BEGIN
    -- The changed tenant, or '*' (reload everything) for a write outside any tenant scope.
    PERFORM pg_notify('brp_tenancy', coalesce(NULLIF(current_setting('app.tenant_id', true), ''), '*'));
    RETURN NULL;
END
$$;
