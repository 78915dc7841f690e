-- The first tenant-scoped table, and the pattern for every later one:
--   * a tenant_id column (here the table's own id),
--   * ENABLE + FORCE ROW LEVEL SECURITY (FORCE: the owner is bound too),
--   * a policy that fails closed: with no app.tenant_id set, NULLIF(...) is NULL and no row matches,
--     and WITH CHECK refuses every insert or update,
--   * grants to brp_app of only what the app needs.
CREATE TABLE broker.tenants (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind       text NOT NULL CHECK (kind IN ('organisation', 'samenwerkingsverband')),
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE broker.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.tenants FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON broker.tenants
    USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE ON broker.tenants TO brp_app;
