-- The beheerportaal's sessions (issue #14): server-side, so every replica knows them and logout,
-- suspension or removal of a tenant ends them at once. app/portal/sessions.py reads and writes
-- these tables.
--
--   portal_logins     a login under way: the OIDC `state`, the PKCE verifier and the issuer it
--                     went to, for at most ten minutes, keyed by the SHA-256 of a random value in
--                     the browser's login cookie (so a callback only completes in the browser that
--                     started it)
--   portal_sessions   a logged-in person: keyed by the SHA-256 of the session cookie's random
--                     value (the database never holds the cookie itself), who they are (tenant,
--                     subject, the issuer that proved it and the roles its token carried), the
--                     form token that every POST must carry (CSRF), when it was last used and
--                     when it ends
--
-- No token of an identity provider is kept: the person is proven once, at login. Each request
-- re-derives the admin roles from `idp_roles` and the tenant's current role names, and checks the
-- tenant still trusts `issuer` (app/portal/web.py), so withdrawn trust or roles take effect at once.
-- Suspending a tenant ends its sessions here, whoever suspends it (admin API, portal, tenant file):
-- the trigger below, so a resume does not revive them.
-- No row-level security: a row is found only by the hash of a secret the browser holds, never by
-- tenant, and it holds no person data (the subject is an employee's identifier, as in the audit).
-- A tenant's sessions go with its registry entry (foreign key).

CREATE TABLE broker.portal_logins (
    id_hash       bytea       PRIMARY KEY CHECK (length(id_hash) = 32),
    state         text        NOT NULL CHECK (length(state) BETWEEN 20 AND 200),
    code_verifier text        NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
    -- The tenant whose identity provider was asked; NULL: the operator's.
    tenant        text        CHECK (tenant IS NULL OR length(tenant) BETWEEN 1 AND 63),
    issuer        text        NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2048),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX portal_logins_expiry ON broker.portal_logins (expires_at);

CREATE TABLE broker.portal_sessions (
    id_hash     bytea       PRIMARY KEY CHECK (length(id_hash) = 32),
    -- NULL: an operator (every tenant).
    tenant      text        REFERENCES broker.tenant_registry (slug) ON DELETE CASCADE ON UPDATE CASCADE,
    subject     text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 512),
    issuer      text        NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2048),
    -- The roles claim of the token at login, as the identity provider gave it.
    idp_roles   text[]      NOT NULL,
    csrf_token  text        NOT NULL CHECK (length(csrf_token) >= 32),
    created_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL CHECK (created_at < expires_at)
);
CREATE INDEX portal_sessions_tenant ON broker.portal_sessions (tenant);
CREATE INDEX portal_sessions_expiry ON broker.portal_sessions (expires_at);

CREATE FUNCTION broker.portal_sessions_end_on_suspension() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, broker AS $$
BEGIN
    IF NEW.status = 'suspended' AND OLD.status IS DISTINCT FROM 'suspended' THEN
        DELETE FROM broker.portal_sessions WHERE tenant = NEW.slug;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tenants_end_portal_sessions AFTER UPDATE OF status ON broker.tenants
    FOR EACH ROW EXECUTE FUNCTION broker.portal_sessions_end_on_suspension();

GRANT SELECT, INSERT, UPDATE, DELETE ON broker.portal_logins TO brp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON broker.portal_sessions TO brp_app;
