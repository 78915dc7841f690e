-- Delivery of Logboek Dataverwerkingen (LDV) lines to each tenant's own Logboek (issue #15).
--
--   protocol_ldv_delivery   per tenant: the sequence number up to which its protocol records were
--                           delivered (the Logboek confirmed them with a 2xx), and when that moved
--
-- The protocol is the durable source; this row is only a cursor into it (app/protocol/ldv_delivery.py):
--   * a replica locks the tenant's row (SELECT ... FOR UPDATE SKIP LOCKED) for one batch, posts the
--     batch and, on the Logboek's confirmation, moves delivered_seq forward in that same
--     transaction; another replica skips a locked row, so one tenant is delivered by one replica
--     at a time, and a replica that dies releases its lock with its connection;
--   * the row is created at the tenant's chain head when its endpoint is first seen: delivery
--     starts "from now" (history stays available through `brp-broker protocol export --format ldv`).
-- Not tied to the tenant registry, like the protocol itself: a tenant re-created under its slug
-- continues where delivery stopped rather than sending its whole register again.
--
-- Fail-closed row-level security on `tenant`, as every tenant table; the runtime role may read,
-- create and move its rows, never delete them; the owner (operators) may read every row.

CREATE TABLE broker.protocol_ldv_delivery (
    tenant        text        PRIMARY KEY CHECK (tenant <> '' AND tenant <> '-'),
    delivered_seq bigint      NOT NULL CHECK (delivered_seq >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE broker.protocol_ldv_delivery ENABLE ROW LEVEL SECURITY;
ALTER TABLE broker.protocol_ldv_delivery FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON broker.protocol_ldv_delivery
    USING (tenant = NULLIF(current_setting('app.tenant_id', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('app.tenant_id', true), ''));
CREATE POLICY operator_read ON broker.protocol_ldv_delivery FOR SELECT TO brp_owner USING (true);

GRANT SELECT, INSERT, UPDATE ON broker.protocol_ldv_delivery TO brp_app;
