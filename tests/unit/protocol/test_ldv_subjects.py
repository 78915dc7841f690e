"""Data subjects of LDV lines: encrypted to the tenant's public key, readable with its private key only."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest

from app.protocol.ldv_subjects import (
    CURVES,
    LdvKeyError,
    PrivateSubjectKeys,
    SubjectKey,
    decrypt_lines,
    generate_private_key,
    public_jwk,
)

BSN = "999993653"


def header(token: str) -> dict[str, Any]:
    encoded = token.split(".", maxsplit=1)[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return decoded


def keys_of(*private: dict[str, Any]) -> PrivateSubjectKeys:
    document: Any = private[0] if len(private) == 1 else {"keys": list(private)}
    return PrivateSubjectKeys.from_json(msgspec.json.encode(document))


@pytest.mark.parametrize("curve", CURVES)
def test_the_tenants_private_key_decrypts_the_bsn(curve: str) -> None:
    private = generate_private_key(curve)  # type: ignore[arg-type]
    token = SubjectKey.from_jwk(public_jwk(private)).encrypt(BSN)
    assert BSN not in token
    assert keys_of(private).decrypt(token) == BSN


def test_the_value_is_a_compact_jwe_ecdh_es_a256gcm_with_the_keys_kid() -> None:
    private = generate_private_key()
    token = SubjectKey.from_jwk(public_jwk(private)).encrypt(BSN)
    assert len(token.split(".")) == 5
    assert token.split(".")[1] == ""  # ECDH-ES direct key agreement: no encrypted key
    protected = header(token)
    assert protected["alg"] == "ECDH-ES"
    assert protected["enc"] == "A256GCM"
    assert protected["kid"] == private["kid"]
    assert "epk" in protected


def test_another_tenants_private_key_cannot_decrypt() -> None:
    ours, theirs = generate_private_key(), generate_private_key()
    token = SubjectKey.from_jwk(public_jwk(ours)).encrypt(BSN)
    # Same kid stripped, so the other key is really tried (not only skipped by kid).
    stranger = {name: value for name, value in theirs.items() if name != "kid"}
    with pytest.raises(LdvKeyError, match="does not decrypt"):
        keys_of(stranger).decrypt(token)
    with pytest.raises(LdvKeyError, match="does not decrypt"):
        keys_of(theirs).decrypt(token)


def test_two_encryptions_of_one_bsn_differ_so_the_logboek_cannot_link_them() -> None:
    key = SubjectKey.from_jwk(public_jwk(generate_private_key()))
    first, second = key.encrypt(BSN), key.encrypt(BSN)
    assert first != second
    assert header(first)["epk"] != header(second)["epk"]


def test_a_rotated_key_set_opens_values_of_each_key_by_kid() -> None:
    old, new = generate_private_key(), generate_private_key("X25519")
    keys = keys_of(old, new)
    for private in (old, new):
        token = SubjectKey.from_jwk(public_jwk(private)).encrypt(BSN)
        assert keys.decrypt(token) == BSN


def test_the_public_half_has_no_private_member() -> None:
    private = generate_private_key()
    public = public_jwk(private)
    assert "d" in private and "d" not in public
    assert public["kid"] == private["kid"]
    assert public["use"] == "enc" and public["alg"] == "ECDH-ES"


def test_no_key_a_private_key_or_another_kind_of_key_is_refused() -> None:
    with pytest.raises(LdvKeyError, match="no \\[ldv\\] subject_key"):
        SubjectKey.from_jwk(None)
    with pytest.raises(LdvKeyError, match="private"):
        SubjectKey.from_jwk(generate_private_key())
    with pytest.raises(LdvKeyError, match="P-256"):
        SubjectKey.from_jwk(
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        )
    with pytest.raises(LdvKeyError, match="not a valid"):
        SubjectKey.from_jwk({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"})


def test_a_key_file_without_a_private_key_is_refused() -> None:
    with pytest.raises(LdvKeyError, match="not a private key"):
        PrivateSubjectKeys.from_json(msgspec.json.encode(public_jwk(generate_private_key())))
    with pytest.raises(LdvKeyError, match="not JSON"):
        PrivateSubjectKeys.from_json(b"-----BEGIN PRIVATE KEY-----")


def test_decrypt_lines_reveals_each_subject_and_keeps_everything_else() -> None:
    private = generate_private_key()
    key = SubjectKey.from_jwk(public_jwk(private))
    with_subject = {
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "attributes": {"dpl.core.data_subject_id": key.encrypt(BSN), "dpl.core.data_subject_id_type": "BSN"},
    }
    without = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "attributes": {}}
    given = [msgspec.json.encode(document) + b"\n" for document in (with_subject, without)]
    first, second = (json.loads(line) for line in decrypt_lines(given, keys_of(private)))
    assert first["attributes"]["dpl.core.data_subject_id"] == BSN
    assert first["trace_id"] == with_subject["trace_id"]
    assert second == without


def test_decrypt_lines_names_the_line_it_cannot_open_but_not_its_content() -> None:
    ours, theirs = generate_private_key(), generate_private_key()
    token = SubjectKey.from_jwk(public_jwk(ours)).encrypt(BSN)
    line = msgspec.json.encode({"attributes": {"dpl.core.data_subject_id": token}}) + b"\n"
    with pytest.raises(LdvKeyError) as raised:
        list(decrypt_lines([b"\n", line], keys_of(theirs)))
    assert str(raised.value).startswith("line 2: ")
    assert token not in str(raised.value)
    with pytest.raises(LdvKeyError, match="line 1: not JSON"):
        list(decrypt_lines([b"{nope\n"], keys_of(ours)))
