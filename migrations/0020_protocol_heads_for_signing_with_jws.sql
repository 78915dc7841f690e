-- The signer trusts only signed heads it can verify (issue #15, part 3, hardening).
--
-- protocol_heads_for_signing() of 0018 gave the signer each chain's newest stored signed head as
-- bare columns, and the signer took that row's word for what it had signed last. The runtime role
-- may INSERT signed heads (the signer runs as it), so one forged row at the head — or dated in the
-- future — made every chain look freshly signed and stopped the heartbeat until the chain moved.
--
-- It now takes the signer's clock and returns, per chain, the newest signed head signed at or
-- before it (a row dated in the future is never the newest) WITH its key id and JWS, which the
-- signer checks with its own public key before it trusts the row (app/protocol/signed_heads.py).
-- Still one call per round for every chain: one backward probe of the (tenant, signed_at, seq)
-- index of 0019 per chain, instead of a round trip per tenant under its scope — which, with
-- thousands of tenants every minute, would cost thousands of round trips. Still SECURITY DEFINER
-- with search_path pg_catalog, and still no record nor person: slugs, sequence numbers, hashes and
-- signed heads (public by design) only.

DROP FUNCTION broker.protocol_heads_for_signing();

CREATE FUNCTION broker.protocol_heads_for_signing(p_not_after timestamptz)
    RETURNS TABLE (tenant text, seq bigint, hash bytea, signed_seq bigint, signed_hash bytea,
                   signed_at timestamptz, signed_key_id text, signed_jws text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT h.tenant, h.seq, h.hash, s.seq, s.hash, s.signed_at, s.key_id, s.jws
    FROM broker.protocol_chain_heads h
    LEFT JOIN LATERAL (
        -- Newest by signing time, not by seq: a forged row at a seq beyond the head is outrun by
        -- the signer's next signature instead of shadowing every later one.
        SELECT s.seq, s.hash, s.signed_at, s.key_id, s.jws FROM broker.protocol_signed_heads s
        WHERE s.tenant = h.tenant AND s.signed_at <= p_not_after
        ORDER BY s.signed_at DESC, s.seq DESC
        LIMIT 1
    ) s ON true
    WHERE h.seq > 0
    ORDER BY h.tenant
$$;

REVOKE ALL ON FUNCTION broker.protocol_heads_for_signing(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION broker.protocol_heads_for_signing(timestamptz) TO brp_app;
