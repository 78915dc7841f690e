"""Client secrets at rest: `enc:v1:` under the key-encryption key, references, never plain."""

from __future__ import annotations

import base64
import logging

import pytest

from app.secrets import (
    Secret,
    SecretDecryptionError,
    SecretKey,
    SecretReferenceError,
    generate_secret_key,
    resolve_secret,
    validate_stored_secret,
)
from app.tenancy import afnemer_secret_context, encrypt_client_secret

CONTEXT = afnemer_secret_context("amsterdam", "000101")


@pytest.fixture
def key() -> SecretKey:
    return SecretKey.from_text(generate_secret_key())


def test_encrypted_secret_round_trips_with_the_key(key: SecretKey) -> None:
    stored = key.encrypt("s3cr3t-value", CONTEXT)
    assert stored.startswith(f"enc:v1:{key.key_id}:")
    assert "s3cr3t-value" not in stored
    validate_stored_secret(stored)
    assert resolve_secret(stored, key=key, associated_data=CONTEXT).reveal() == "s3cr3t-value"


def test_each_encryption_uses_a_fresh_nonce(key: SecretKey) -> None:
    assert key.encrypt("same", CONTEXT) != key.encrypt("same", CONTEXT)


def test_wrong_key_is_refused_and_named(key: SecretKey) -> None:
    stored = key.encrypt("s3cr3t-value", CONTEXT)
    other = SecretKey.from_text(generate_secret_key())
    with pytest.raises(
        SecretDecryptionError, match=rf"another key \(key id {key.key_id}\).*has key id {other.key_id}"
    ):
        other.decrypt(stored, CONTEXT)


def test_value_moved_to_another_afnemer_does_not_decrypt(key: SecretKey) -> None:
    stored = key.encrypt("s3cr3t-value", CONTEXT)
    with pytest.raises(
        SecretDecryptionError, match="altered, or was encrypted for another tenant or afnemer"
    ):
        key.decrypt(stored, afnemer_secret_context("amsterdam", "000102"))
    with pytest.raises(SecretDecryptionError):
        key.decrypt(stored, afnemer_secret_context("rotterdam", "000101"))


def test_altered_value_is_refused(key: SecretKey) -> None:
    stored = key.encrypt("s3cr3t-value", CONTEXT)
    flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(SecretDecryptionError, match="altered"):
        key.decrypt(flipped, CONTEXT)


def test_enc_secret_without_key_says_which_variable_is_missing(key: SecretKey) -> None:
    with pytest.raises(SecretReferenceError, match="BROKER_SECRET_KEY is not set"):
        resolve_secret(key.encrypt("x", CONTEXT), associated_data=CONTEXT)


def test_plain_secret_is_refused_without_quoting_it() -> None:
    with pytest.raises(SecretReferenceError, match="plain values are refused") as caught:
        validate_stored_secret("hunter2")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "value", ["env:", "file:", "env:not a name", "plain:x", "enc:v2:abc", "enc:v1:nothex:xx"]
)
def test_malformed_secret_is_refused(value: str) -> None:
    with pytest.raises(SecretReferenceError):
        validate_stored_secret(value)


def test_references_are_accepted() -> None:
    validate_stored_secret("env:AFNEMER_SECRET")
    validate_stored_secret("file:/run/secrets/afnemer-000101")


def test_key_from_environment() -> None:
    raw = bytes(range(32))
    assert SecretKey.from_environment({}) is None
    assert SecretKey.from_environment({"BROKER_SECRET_KEY": "  "}) is None
    standard = SecretKey.from_environment({"BROKER_SECRET_KEY": base64.b64encode(raw).decode()})
    urlsafe = SecretKey.from_environment(
        {"BROKER_SECRET_KEY": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    )
    assert standard is not None and urlsafe is not None
    assert standard.key_id == urlsafe.key_id


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64 !!", "is not base64"), (base64.b64encode(b"short").decode(), "must be 32 bytes")],
)
def test_bad_key_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(SecretReferenceError, match=message):
        SecretKey.from_text(text)


def test_secrets_and_keys_never_show_in_repr_or_logs(
    key: SecretKey, caplog: pytest.LogCaptureFixture
) -> None:
    secret = key.decrypt(key.encrypt("s3cr3t-value", CONTEXT), CONTEXT)
    logging.getLogger("test").warning("values %s %r %s %r", secret, secret, key, key)
    text = caplog.text + repr(secret) + str(secret) + repr(key) + str(key)
    assert "s3cr3t-value" not in text
    assert repr(secret) == "Secret('***')"
    assert repr(key) == f"SecretKey(key_id={key.key_id!r})"
    assert isinstance(secret, Secret)


def test_client_secret_encryption_for_a_tenant_file(key: SecretKey) -> None:
    stored = encrypt_client_secret(key, "amsterdam", "000101", "from-rvig")
    assert key.decrypt(stored, CONTEXT).reveal() == "from-rvig"
