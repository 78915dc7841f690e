"""The token cache key: per tenant, AfnemerID and credentials, and never the secret itself."""

from __future__ import annotations

import msgspec

from app.secrets import Secret
from app.upstream import AfnemerAccount, TokenConfig, TokenManager, UpstreamClients

ACCOUNT = AfnemerAccount(
    tenant="gemeente",
    afnemer_id="000001",
    environment="sandbox",
    identity="dev",
    oin="00000001234567890000",
    client_id="broker-dev-000001",
    client_secret=Secret("the-secret-itself"),
)


def _manager() -> TokenManager:
    return TokenManager(UpstreamClients({}, {}), {}, TokenConfig())


def test_equal_accounts_share_one_key() -> None:
    tokens = _manager()
    assert tokens.key_for(ACCOUNT) == tokens.key_for(msgspec.structs.replace(ACCOUNT))


def test_tenant_afnemer_client_id_and_secret_each_make_another_key() -> None:
    tokens = _manager()
    others = [
        msgspec.structs.replace(ACCOUNT, tenant="andere-gemeente"),
        msgspec.structs.replace(ACCOUNT, afnemer_id="000002"),
        msgspec.structs.replace(ACCOUNT, client_id="broker-dev-000002"),
        msgspec.structs.replace(ACCOUNT, client_secret=Secret("another-secret")),
        msgspec.structs.replace(ACCOUNT, environment="proef"),
        msgspec.structs.replace(ACCOUNT, identity="supplier"),
        msgspec.structs.replace(ACCOUNT, oin="00000009876543210000"),
    ]
    keys = {tokens.key_for(account) for account in [ACCOUNT, *others]}
    assert len(keys) == len(others) + 1


def test_the_key_holds_a_keyed_fingerprint_never_the_secret() -> None:
    first, second = _manager(), _manager()
    key = first.key_for(ACCOUNT)
    assert key.tenant == "gemeente" and key.afnemer_id == "000001"
    assert "the-secret-itself" not in repr(key)
    assert b"the-secret-itself" not in key.credentials
    # Keyed per token manager (a random key): not comparable across processes, and no use for
    # guessing a secret offline.
    assert key.credentials != second.key_for(ACCOUNT).credentials


def test_a_client_id_and_secret_cannot_be_shifted_into_each_other() -> None:
    tokens = _manager()
    joined = msgspec.structs.replace(ACCOUNT, client_id="ab", client_secret=Secret("c"))
    shifted = msgspec.structs.replace(ACCOUNT, client_id="a", client_secret=Secret("bc"))
    assert tokens.key_for(joined) != tokens.key_for(shifted)
