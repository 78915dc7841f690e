"""Signing keys and signed heads: what loads, what verifies, and what each refusal says (never a key)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import warnings
from pathlib import Path

import pytest
from joserfc import jws

from app.protocol.signing import (
    HEAD_TYPE,
    SIGNING_KEY_SETTING,
    PublicKeys,
    SignatureError,
    SignedHead,
    SigningKeyError,
    generate_signing_key,
    load_public_keys,
    load_signing_key,
    open_signed_head,
    read_signed_head,
)

HEAD = SignedHead(tenant="gemeente-a", seq=42, hash="ab" * 32, signed_at=dt.datetime.now(dt.UTC))


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_a_head_signed_with_a_key_file_opens_with_its_public_key(tmp_path: Path) -> None:
    key = generate_signing_key()
    loaded = load_signing_key(_write(tmp_path / "key.json", key.private_jwk()))
    token = loaded.sign(HEAD)

    opened = open_signed_head(token, PublicKeys.from_jwks(key.public_jwk()))

    assert opened.head == HEAD
    assert opened.key_id == key.key_id == loaded.key_id
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "Ed25519", "kid": key.key_id, "typ": HEAD_TYPE}


def test_the_key_id_is_the_kid_member_or_else_the_thumbprint(tmp_path: Path) -> None:
    key = generate_signing_key()
    without_kid = {k: v for k, v in key.private_jwk().items() if k != "kid"}
    assert load_signing_key(_write(tmp_path / "a.json", without_kid)).key_id == key.key_id  # the thumbprint
    named = {**without_kid, "kid": "broker-2026"}
    assert load_signing_key(_write(tmp_path / "b.json", named)).key_id == "broker-2026"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read the file (No such file or directory)"),
        ("not json but a secret s3cr3t", "not JSON"),
        ({"kty": "RSA", "n": "x", "e": "AQAB", "d": "s3cr3t"}, "not an Ed25519 key"),
        ("public", "is not a private JWK"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "d": "s3cr3t"}, "not a valid Ed25519 JWK"),
    ],
)
def test_an_unusable_key_file_is_named_with_its_setting_and_never_echoed(
    tmp_path: Path, content: object, problem: str
) -> None:
    path = tmp_path / "key.json"
    if content == "public":
        content = generate_signing_key().public_jwk()
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        _write(path, content)

    with pytest.raises(SigningKeyError) as raised:
        load_signing_key(path)

    message = str(raised.value)
    assert message.startswith(f"{SIGNING_KEY_SETTING}: {path}")
    assert problem in message
    assert "s3cr3t" not in message


def test_a_private_key_whose_halves_do_not_belong_together_is_refused(tmp_path: Path) -> None:
    mixed = {**generate_signing_key().private_jwk(), "x": generate_signing_key().public_jwk()["x"]}
    with pytest.raises(SigningKeyError, match="do not belong together"):
        load_signing_key(_write(tmp_path / "key.json", mixed))


def test_public_keys_refuse_a_private_key_and_two_keys_under_one_kid(tmp_path: Path) -> None:
    key = generate_signing_key("k1")
    with pytest.raises(SigningKeyError, match="is a private key"):
        load_public_keys(_write(tmp_path / "a.json", {"keys": [key.private_jwk()]}))
    clash = {"keys": [key.public_jwk(), generate_signing_key("k1").public_jwk()]}
    with pytest.raises(SigningKeyError, match="given twice"):
        load_public_keys(_write(tmp_path / "b.json", clash))
    assert load_public_keys(_write(tmp_path / "c.json", key.public_jwk())).key_ids == ("k1",)


def test_a_signature_under_an_unknown_key_or_another_key_with_the_same_id_fails() -> None:
    key = generate_signing_key("k1")
    token = key.sign(HEAD)
    with pytest.raises(SignatureError, match="not among the public keys"):
        open_signed_head(token, PublicKeys.from_jwks(generate_signing_key("k2").public_jwk()))
    with pytest.raises(SignatureError, match="does not verify under key 'k1'"):
        open_signed_head(token, PublicKeys.from_jwks(generate_signing_key("k1").public_jwk()))


def test_a_changed_payload_fails_and_so_does_a_token_that_is_not_a_head() -> None:
    key = generate_signing_key("k1")
    keys = PublicKeys.from_jwks(key.public_jwk())
    protected, _payload, signature = key.sign(HEAD).split(".")
    other = base64.urlsafe_b64encode(json.dumps({**json.loads(HEAD_JSON), "seq": 43}).encode()).rstrip(b"=")
    with pytest.raises(SignatureError, match="does not verify"):
        open_signed_head(f"{protected}.{other.decode()}.{signature}", keys)
    jwt_like = jws.serialize_compact({"alg": "Ed25519", "kid": "k1"}, b'{"sub": "x"}', key._key, ["Ed25519"])
    with pytest.raises(SignatureError, match="not a signed head"):
        open_signed_head(jwt_like, keys)
    with pytest.raises(SignatureError, match="not a JWS"):
        open_signed_head("eyJ.garbage", keys)


HEAD_JSON = json.dumps(
    {"hash": "ab" * 32, "seq": 42, "signed_at": "2026-01-01T00:00:00Z", "tenant": "gemeente-a"}
)


def test_a_head_signed_under_the_older_name_eddsa_still_verifies_without_a_warning() -> None:
    key = generate_signing_key("k1")
    header = {"alg": "EdDSA", "kid": "k1", "typ": HEAD_TYPE}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = jws.serialize_compact(header, HEAD_JSON, key._key, algorithms=["EdDSA"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opened = open_signed_head(token, PublicKeys.from_jwks(key.public_jwk()))
    assert opened.head.seq == 42


def test_read_signed_head_reads_without_keys_and_refuses_what_is_no_head() -> None:
    assert read_signed_head(generate_signing_key().sign(HEAD)) == HEAD
    with pytest.raises(SignatureError):
        read_signed_head("not-a-jws")


def test_the_jwks_keeps_every_key_for_rotation() -> None:
    old, new = generate_signing_key("2025"), generate_signing_key("2026")
    published = PublicKeys.from_jwks(old.public_jwk())
    merged = PublicKeys.from_jwks(new.public_jwk()).merged(published.items())
    assert [k["kid"] for k in merged.jwks()["keys"]] == ["2025", "2026"]
    assert all("d" not in k for k in merged.jwks()["keys"])
    assert repr(new) == "SigningKey(key_id='2026')"  # the key never prints
