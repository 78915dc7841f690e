"""`make dev`'s dev keys: the LDV subject key pair of a demo tenant, and the chain-head signing key."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import msgspec

from app.dev import demo_tenants, with_dev_signing_key
from app.protocol.ldv_subjects import PrivateSubjectKeys, SubjectKey
from app.protocol.signing import SignedHead, load_public_keys, load_signing_key, open_signed_head
from app.settings import Settings

TENANTS_DIR = Path(__file__).resolve().parents[2] / "tenants"


def test_a_demo_tenant_with_ldv_gets_the_public_half_of_a_dev_key(tmp_path: Path) -> None:
    specs = {
        s.slug: s for s in demo_tenants(TENANTS_DIR, sandbox_url="https://127.0.0.1:1", state_dir=tmp_path)
    }
    key_file = tmp_path / "secrets" / "ldv-amsterdam.jwk"
    public = specs["amsterdam"].ldv.subject_key
    assert public is not None
    assert "d" not in public
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # What the broker encrypts with the configured public half, the private file opens.
    token = SubjectKey.from_jwk(public).encrypt("999993653")
    assert PrivateSubjectKeys.from_json(key_file.read_bytes()).decrypt(token) == "999993653"
    # Tenants without an [ldv] table get no key.
    assert specs["belastingen-rijnmond"].ldv.subject_key is None
    assert not (tmp_path / "secrets" / "ldv-belastingen-rijnmond.jwk").exists()


def test_the_dev_key_is_kept_across_runs(tmp_path: Path) -> None:
    first = demo_tenants(TENANTS_DIR, sandbox_url="https://127.0.0.1:1", state_dir=tmp_path)
    second = demo_tenants(TENANTS_DIR, sandbox_url="https://127.0.0.1:1", state_dir=tmp_path)
    keys = [{s.slug: s.ldv.subject_key for s in run}["amsterdam"] for run in (first, second)]
    assert msgspec.json.encode(keys[0]) == msgspec.json.encode(keys[1])


def test_make_dev_signs_chain_heads_with_a_dev_key_kept_across_runs(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    first = with_dev_signing_key(settings)
    assert first.protocol_signing_key_file == (tmp_path / "secrets" / "protocol-signing.jwk").resolve()
    assert first.protocol_anchor_file == (tmp_path / "protocol-anchors.jsonl").resolve()
    assert stat.S_IMODE(first.protocol_signing_key_file.stat().st_mode) == 0o600
    key = load_signing_key(first.protocol_signing_key_file)
    # The published JWKS holds the public half only, and it verifies what the key signs.
    published = load_public_keys(tmp_path / "protocol-signing.jwks.json")
    assert published.key_ids == (key.key_id,)
    assert b'"d"' not in (tmp_path / "protocol-signing.jwks.json").read_bytes()
    head = SignedHead(
        tenant="amsterdam", seq=1, hash="00" * 32, signed_at=dt.datetime.now(dt.UTC).replace(microsecond=0)
    )
    assert open_signed_head(key.sign(head), published).head == head
    # A second run keeps the key; a key the developer configured is left alone.
    assert load_signing_key(with_dev_signing_key(settings).protocol_signing_key_file).key_id == key.key_id
    own = msgspec.structs.replace(settings, protocol_signing_key_file=tmp_path / "mine.jwk")
    assert with_dev_signing_key(own) is own
