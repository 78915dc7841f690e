-- RvIG tokens shared by every replica (issue #13): one token per afnemer record per token lifetime
-- across the deployment, instead of one per process. app/upstream/shared_tokens.py reads and writes
-- this table; it is used only when BROKER_SECRET_KEY is set (and BROKER_TOKEN_SHARING is not off).
--
--   upstream_tokens   per tenant and cache key: the token SEALED (AES-256-GCM under a key derived
--                     from BROKER_SECRET_KEY, bound to its cache key), when it is due for refresh
--                     and when it stops being used
--
-- Never a token or a client secret in clear:
--   * `key` is SHA-256 over the cache key (tenant, AfnemerID, environment, identity, scope and an
--     HMAC of the client credentials under a key derived from BROKER_SECRET_KEY);
--   * `sealed` is nonce || ciphertext || tag; the cache key is its associated data, so a value
--     copied to another row (another afnemer, tenant or credentials) does not decrypt;
--   * `token_mac` is an HMAC of the token (another derived key): `invalidate` deletes a row only
--     while it still holds the token RvIG refused, comparing MACs, never tokens.
-- Writers serialise on pg_advisory_xact_lock(first 8 bytes of `key`) and call RvIG while holding
-- it, so replicas that need the same token at once make one token request.
-- Rows expire: a writer deletes its tenant's expired rows whenever it stores a token; a removed
-- tenant's rows go with it (foreign key).

CREATE TABLE broker.upstream_tokens (
    tenant      text        NOT NULL
                REFERENCES broker.tenant_registry (slug) ON DELETE CASCADE ON UPDATE CASCADE,
    key         bytea       NOT NULL CHECK (length(key) = 32),
    -- Not secret; for the operator's eyes (which afnemer a row serves).
    afnemer_id  text        NOT NULL CHECK (length(afnemer_id) BETWEEN 1 AND 40),
    environment text        NOT NULL CHECK (length(environment) BETWEEN 1 AND 40),
    sealed      bytea       NOT NULL CHECK (length(sealed) > 28),
    token_mac   bytea       NOT NULL CHECK (length(token_mac) = 32),
    obtained_at timestamptz NOT NULL,
    refresh_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL CHECK (refresh_at <= expires_at),
    PRIMARY KEY (tenant, key)
);
CREATE INDEX upstream_tokens_expiry ON broker.upstream_tokens (tenant, expires_at);

-- Row-level security (fail closed) --------------------------------------------------------------
ALTER TABLE broker.upstream_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.upstream_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON broker.upstream_tokens
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));

GRANT SELECT, INSERT, UPDATE, DELETE ON broker.upstream_tokens TO brp_app;
