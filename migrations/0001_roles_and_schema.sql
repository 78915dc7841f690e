-- The owner role owns every object of the broker and runs the migrations after this one.
-- The runtime role (brp_app) owns nothing, cannot bypass row-level security, and gets exactly the
-- privileges each later migration grants it. The app logs in as brp_app (the operator gives it a
-- password or certificate: `ALTER ROLE brp_app PASSWORD ...`); a login role that is only a member
-- of brp_app also works (the pool then does SET ROLE brp_app).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'brp_owner') THEN
        CREATE ROLE brp_owner NOLOGIN NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'brp_app') THEN
        CREATE ROLE brp_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    -- Also when the role was made by someone else: it must never be able to bypass RLS.
    ALTER ROLE brp_app NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    IF NOT pg_has_role(current_user, 'brp_owner', 'MEMBER') THEN
        EXECUTE format('GRANT brp_owner TO %I', current_user);
    END IF;
    IF NOT pg_has_role(current_user, 'brp_app', 'MEMBER') THEN
        EXECUTE format('GRANT brp_app TO %I', current_user);
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS broker AUTHORIZATION brp_owner;
REVOKE ALL ON SCHEMA broker FROM PUBLIC;
GRANT USAGE ON SCHEMA broker TO brp_app;

-- Nothing the owner creates later is readable by anyone else unless a migration grants it.
ALTER DEFAULT PRIVILEGES FOR ROLE brp_owner IN SCHEMA broker REVOKE ALL ON TABLES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE brp_owner IN SCHEMA broker REVOKE ALL ON FUNCTIONS FROM PUBLIC;
