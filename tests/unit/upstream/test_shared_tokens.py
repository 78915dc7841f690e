"""Sealing shared tokens: keys derived from the KEK, bound to their cache key, never in clear."""

from __future__ import annotations

import base64
import secrets
from typing import cast

import asyncpg
import msgspec
import pytest

from app.secrets import Secret, SecretKey, SecretReferenceError
from app.upstream import AfnemerAccount, TokenConfig, TokenManager, UpstreamClients
from app.upstream.shared_tokens import PostgresTokenStore, TokenSealer, shared_token_store
from app.upstream.tokens import TokenKey

ACCOUNT = AfnemerAccount(
    tenant="gemeente",
    afnemer_id="000001",
    environment="sandbox",
    identity="dev",
    oin="00000001234567890000",
    client_id="broker-dev-000001",
    client_secret=Secret("the-secret-itself"),
)
TOKEN = "eyJhbGciOiJSUzI1NiJ9.the-token-itself.signature"


class _UnusedPool:
    """Stands in for the app's pool: the store only asks its size before it is used."""

    def get_max_size(self) -> int:
        return 20


def _kek() -> bytes:
    return secrets.token_bytes(32)


def _sealer(kek: bytes) -> TokenSealer:
    return TokenSealer(SecretKey(kek))


def _key(sealer: TokenSealer, account: AfnemerAccount = ACCOUNT) -> TokenKey:
    # The store is not used for keys: a pool that is never touched will do.
    store = PostgresTokenStore(cast(asyncpg.Pool, _UnusedPool()), sealer, timeout=1.0)
    return TokenManager(UpstreamClients({}, {}), {}, TokenConfig(), store=store).key_for(account)


def test_every_derived_key_is_its_own_and_none_is_the_kek() -> None:
    kek = _kek()
    sealer = _sealer(kek)
    derived = {sealer.credentials_key, sealer.token_mac_key, sealer.seal_key}
    assert len(derived) == 3
    assert kek not in derived
    assert all(len(key) == 32 for key in derived)


def test_replicas_with_one_kek_derive_the_same_keys_and_another_kek_other_ones() -> None:
    kek = _kek()
    first, second, other = (
        _sealer(kek),
        _sealer(kek),
        _sealer(_kek()),
    )
    assert first.credentials_key == second.credentials_key
    assert _key(first) == _key(second)
    assert _key(first) != _key(other)
    assert first.row_key(_key(first)) == second.row_key(_key(second))


def test_a_sealed_token_opens_only_under_its_own_cache_key() -> None:
    sealer = _sealer(_kek())
    key = _key(sealer)
    sealed = sealer.seal(key, TOKEN)
    assert TOKEN.encode() not in sealed
    assert sealer.unseal(key, sealed) == TOKEN
    for other in [
        msgspec.structs.replace(ACCOUNT, tenant="andere-gemeente"),
        msgspec.structs.replace(ACCOUNT, afnemer_id="000002"),
        msgspec.structs.replace(ACCOUNT, client_secret=Secret("another-secret")),
        msgspec.structs.replace(ACCOUNT, environment="proef"),
    ]:
        assert sealer.unseal(_key(sealer, other), sealed) is None
    assert _sealer(_kek()).unseal(key, sealed) is None
    altered = bytes([sealed[0] ^ 1]) + sealed[1:]
    assert sealer.unseal(key, altered) is None
    assert sealer.unseal(key, b"short") is None


def test_sealing_twice_gives_two_ciphertexts() -> None:
    sealer = _sealer(_kek())
    key = _key(sealer)
    assert sealer.seal(key, TOKEN) != sealer.seal(key, TOKEN)


def test_the_token_mac_is_keyed_and_not_the_token() -> None:
    sealer = _sealer(_kek())
    mac = sealer.mac(TOKEN)
    assert len(mac) == 32 and TOKEN.encode() not in mac
    assert mac != _sealer(_kek()).mac(TOKEN)


def test_one_kek_gives_one_token_mac_in_every_replica() -> None:
    kek = _kek()
    assert _sealer(kek).mac(TOKEN) == _sealer(kek).mac(TOKEN)


def test_the_repr_shows_no_key() -> None:
    kek = _kek()
    sealer = _sealer(kek)
    text = repr(sealer)
    for key in (kek, sealer.credentials_key, sealer.seal_key, sealer.token_mac_key):
        assert key.hex() not in text
        assert base64.b64encode(key).decode() not in text


def test_without_a_kek_or_with_sharing_off_there_is_no_store() -> None:
    kek = base64.b64encode(_kek()).decode()
    pool = cast(asyncpg.Pool, _UnusedPool())
    assert shared_token_store(pool, "database", timeout=1.0, environ={}) is None
    assert shared_token_store(pool, "off", timeout=1.0, environ={"BROKER_SECRET_KEY": kek}) is None
    store = shared_token_store(pool, "database", timeout=1.0, environ={"BROKER_SECRET_KEY": kek})
    assert store is not None
    assert store.credentials_key == _sealer(base64.b64decode(kek)).credentials_key


def test_a_malformed_kek_is_refused_as_everywhere_else() -> None:
    with pytest.raises(SecretReferenceError, match="BROKER_SECRET_KEY"):
        shared_token_store(
            cast(asyncpg.Pool, _UnusedPool()),
            "database",
            timeout=1.0,
            environ={"BROKER_SECRET_KEY": "c2hvcnQ="},
        )


def test_without_a_store_each_manager_keys_with_its_own_random_key() -> None:
    first = TokenManager(UpstreamClients({}, {}), {}, TokenConfig())
    second = TokenManager(UpstreamClients({}, {}), {}, TokenConfig())
    assert first.key_for(ACCOUNT) != second.key_for(ACCOUNT)
