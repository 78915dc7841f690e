-- Thinning of signed chain heads (issue #15): `brp-broker protocol retention` keeps the table of
-- 0018 at a size that lasts the 20-year term.
--
-- The signer adds a row per minute per chain that moved, and one per heartbeat (30 min) per quiet
-- chain: about 525,000 rows per tenant per year, billions for hundreds of tenants over 20 years.
-- Most of them add nothing to the evidence: a signed (seq, hash) vouches for every record up to
-- seq, because each hash covers the whole chain before it. So older rows are thinned:
--
--   protocol_thin_signed_heads(tenant, keep_since), per tenant (chain), in its own statement:
--     * every signed head of the UTC days from `keep_since` on stays (the last N days in full;
--       `keep_since` lies at least one day before the database's clock, so the newest signed
--       head of a chain — which the signer and `verify`'s unsigned check read — always stays);
--     * before that day, the newest signed head of each UTC day stays: a day without one is a day
--       the signer did not run, or whose signatures were removed;
--     * the first signed head at or above the tenant's latest retention checkpoint stays: at its
--       seq `verify` compares it with the checkpoint's hash, just above it, it binds the first
--       records retention left to a signature;
--     * the rest signed before `keep_since` is deleted ("thinned");
--     * signed heads of records retention removed — below the latest checkpoint's seq, their
--       record gone, and signed more than 20 years ago (the legal term, the hard floor of
--       app/protocol/retention.py) — are deleted too ("pruned"): no record is left to compare them
--       with, and `verify` needs none of them but the one the checkpoint keeps (above).
--   It returns how many rows went for each reason.
--
-- The append-only trigger of 0018 lets a DELETE through only while this function runs: the
-- function switches `broker.thinning_signed_heads` on for its own deletes (transaction-local, off
-- again before it returns; a function's SET clause would need a superuser's grant for a custom
-- setting), and the only DELETE policy — for the owner role — requires that flag too. The
-- runtime role has neither the DELETE privilege nor EXECUTE on the function. The owner could set
-- the flag by hand, as it can disable any trigger: what protects signed heads from the database's
-- owner is that they are signed and published (verify --public-keys, --anchors), not the trigger,
-- which guards against mistakes.

-- Per tenant by time: the thinning's range scan (index-only: the window needs nothing else).
CREATE INDEX protocol_signed_heads_tenant_time ON broker.protocol_signed_heads (tenant, signed_at, seq);

CREATE OR REPLACE FUNCTION broker.protocol_signed_heads_refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('broker.thinning_signed_heads', true) = 'on' THEN
        RETURN NULL;  -- a statement trigger: the DELETE of protocol_thin_signed_heads() proceeds
    END IF;
    RAISE EXCEPTION 'signed protocol heads are append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA,
        TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE POLICY operator_thin ON broker.protocol_signed_heads FOR DELETE TO brp_owner
    USING (current_setting('broker.thinning_signed_heads', true) = 'on');

CREATE FUNCTION broker.protocol_thin_signed_heads(p_tenant text, p_keep_since timestamptz)
    RETURNS TABLE (thinned bigint, pruned bigint)
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    -- Whole UTC days only: a day is thinned once, when all of it lies before the boundary.
    boundary       timestamptz := date_trunc('day', p_keep_since AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    checkpoint_seq bigint;
    -- The first signed head at or above the retention checkpoint: kept.
    bound_seq      bigint;
    bound_at       timestamptz;
BEGIN
    IF p_keep_since IS NULL OR p_keep_since > now() - interval '1 day' THEN
        RAISE EXCEPTION 'signed heads of the last day are always kept: keep_since must lie a day back or more'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT r.through_seq INTO checkpoint_seq FROM broker.protocol_retention r
    WHERE r.tenant = p_tenant ORDER BY r.id DESC LIMIT 1;
    IF checkpoint_seq IS NOT NULL THEN
        SELECT s.seq, s.signed_at INTO bound_seq, bound_at FROM broker.protocol_signed_heads s
        WHERE s.tenant = p_tenant AND s.seq >= checkpoint_seq
        ORDER BY s.seq, s.signed_at DESC LIMIT 1;
    END IF;

    -- Transaction-local, and switched off again below: on only while this function deletes. (An
    -- error aborts the transaction or subtransaction, which undoes it too.)
    PERFORM set_config('broker.thinning_signed_heads', 'on', true);
    DELETE FROM broker.protocol_signed_heads h
    USING (
        SELECT d.seq, d.signed_at FROM (
            SELECT s.seq, s.signed_at,
                   row_number() OVER (PARTITION BY date_trunc('day', s.signed_at AT TIME ZONE 'UTC')
                                      ORDER BY s.signed_at DESC, s.seq DESC) AS newest_first
            FROM broker.protocol_signed_heads s
            WHERE s.tenant = p_tenant AND s.signed_at < boundary
        ) d
        WHERE d.newest_first > 1
          AND (bound_seq IS NULL OR (d.seq, d.signed_at) <> (bound_seq, bound_at))
    ) doomed
    WHERE h.tenant = p_tenant AND h.seq = doomed.seq AND h.signed_at = doomed.signed_at;
    GET DIAGNOSTICS thinned = ROW_COUNT;

    pruned := 0;
    IF checkpoint_seq IS NOT NULL THEN
        DELETE FROM broker.protocol_signed_heads h
        WHERE h.tenant = p_tenant AND h.seq < checkpoint_seq
          AND h.signed_at < now() - interval '20 years'
          AND NOT EXISTS (
              SELECT 1 FROM broker.protocol_records r WHERE r.tenant = h.tenant AND r.seq = h.seq);
        GET DIAGNOSTICS pruned = ROW_COUNT;
    END IF;
    PERFORM set_config('broker.thinning_signed_heads', 'off', true);
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION broker.protocol_thin_signed_heads(text, timestamptz) FROM PUBLIC;
