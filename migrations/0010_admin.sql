-- The admin API (issue #12): who manages a tenant, its admin role names, and the operator's
-- ceilings for the limits a tenant admin may set.
--
-- * `tenants.managed_by`: 'file' (GitOps: `tenants apply` is the truth; the admin API refuses to
--   write) or 'api' (created through the admin API; `tenants apply` leaves it alone unless told to
--   take it over). Tenants from before this migration came from files.
-- * `tenants.admin_roles`, `tenants.privacy_officer_roles`: the role names in the tenant's own
--   tokens that make a tenant admin or a privacy officer (tenant file `[admin]`).
-- * `limit_ceilings`: per tenant and scope, the highest rate and burst a tenant admin may set.
--   Operator data about one tenant, under the same row-level security as the limits themselves;
--   only the admin API's operator path writes it.

ALTER TABLE broker.tenants
    ADD COLUMN managed_by text NOT NULL DEFAULT 'file' CHECK (managed_by IN ('file', 'api')),
    ADD COLUMN admin_roles text[] NOT NULL DEFAULT ARRAY['brp-admin']::text[]
        CHECK (cardinality(admin_roles) > 0),
    ADD COLUMN privacy_officer_roles text[] NOT NULL DEFAULT ARRAY['privacy-officer']::text[]
        CHECK (cardinality(privacy_officer_roles) > 0);

CREATE TABLE broker.limit_ceilings (
    tenant_id uuid NOT NULL REFERENCES broker.tenants (id) ON DELETE CASCADE,
    scope     text NOT NULL CHECK (scope IN ('tenant', 'afnemer', 'employee')),
    rate      double precision NOT NULL CHECK (rate > 0),
    burst     integer NOT NULL CHECK (burst >= 1),
    PRIMARY KEY (tenant_id, scope)
);

ALTER TABLE broker.limit_ceilings ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.limit_ceilings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON broker.limit_ceilings
    USING (tenant_id = broker.current_tenant())
    WITH CHECK (tenant_id = broker.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON broker.limit_ceilings TO brp_app;
