"""`[ldv]` of a tenant file: the Logboek Dataverwerkingen settings, validated as files and the API share.

Each mistake is named by its key (`ldv.<field>`), and no message ever quotes a key's members.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from joserfc.jwk import ECKey, OKPKey, RSAKey

from app.tenancy import LdvSettings, load_tenant_files
from app.tenancy.export import tenant_file_text
from app.tenancy.files import parse_tenant, tenant_document
from tests.unit.tenancy.demo import TENANTS_DIR
from tests.unit.tenancy.test_files import VALID

ACTIVITY = "https://register.example.nl/verwerkingsactiviteiten/brp-raadplegen"


def _public(key: ECKey | OKPKey | RSAKey) -> dict[str, str]:
    # Only text members: the public keys of these types have no others.
    return {name: value for name, value in key.as_dict(private=False).items() if isinstance(value, str)}


def _document(ldv: dict[str, Any]) -> dict[str, Any]:
    document = tomllib.loads(VALID.format(slug="test"))
    document["ldv"] = ldv
    return document


def _problems(ldv: dict[str, Any]) -> dict[str, str]:
    """The problems of a tenant with this `[ldv]`, by key (each key once)."""
    spec, problems = parse_tenant(_document(ldv), "test.toml", expected_slug="test")
    assert spec is None, "expected a problem"
    found = {problem.key: problem.message for problem in problems}
    assert len(found) == len(problems), problems
    return found


def _settings(ldv: dict[str, Any]) -> LdvSettings:
    spec, problems = parse_tenant(_document(ldv), "test.toml", expected_slug="test")
    assert problems == []
    assert spec is not None
    return spec.ldv


def test_a_tenant_without_ldv_has_the_unconfigured_defaults() -> None:
    spec, problems = parse_tenant(tomllib.loads(VALID.format(slug="test")), "test.toml")
    assert problems == []
    assert spec is not None
    assert spec.ldv == LdvSettings()
    assert spec.ldv.processing_activity_for("v", "d") is None
    assert "ldv" not in tenant_document(spec)


def test_the_demo_tenant_amsterdam_maps_its_processing_activities() -> None:
    amsterdam = {s.slug: s for s in load_tenant_files(TENANTS_DIR)}["amsterdam"].ldv
    assert amsterdam.caller == "https://app.amsterdam.example"
    assert amsterdam.processing_activity == (
        "https://register.amsterdam.example/verwerkingsactiviteiten/brp-raadplegen"
    )
    assert amsterdam.processing_activity_for(None, "burgerzaken") == (
        "https://register.amsterdam.example/verwerkingsactiviteiten/burgerzaken"
    )


@pytest.mark.parametrize(
    "key",
    [
        ECKey.generate_key("P-256"),
        ECKey.generate_key("P-384"),
        ECKey.generate_key("P-521"),
        OKPKey.generate_key("X25519"),
    ],
    ids=["P-256", "P-384", "P-521", "X25519"],
)
def test_a_complete_ldv_table_loads(key: ECKey | OKPKey) -> None:
    ldv = {
        "processing_activity": ACTIVITY,
        "processing_activities": {"wmo@sociaal-domein": "urn:nl:verwerking:wmo", "heffing": ACTIVITY + "/2"},
        "caller": "https://zaaksysteem.example.nl",
        "subject_key": {**_public(key), "use": "enc", "kid": "ldv-2025"},
        "endpoint": "https://logboek.example.nl/v1/traces",
    }
    settings = _settings(ldv)
    assert settings.subject_key is not None
    assert "d" not in settings.subject_key
    assert settings.endpoint == "https://logboek.example.nl/v1/traces"


def test_the_verwerking_is_looked_up_before_the_doelbinding_then_the_default() -> None:
    settings = LdvSettings(
        processing_activity="urn:nl:verwerking:default",
        processing_activities={"v1": "urn:nl:verwerking:v1", "d1": "urn:nl:verwerking:d1"},
    )
    assert settings.processing_activity_for("v1", "d1") == "urn:nl:verwerking:v1"
    assert settings.processing_activity_for("other", "d1") == "urn:nl:verwerking:d1"
    assert settings.processing_activity_for(None, "d1") == "urn:nl:verwerking:d1"
    assert settings.processing_activity_for("other", "other") == "urn:nl:verwerking:default"
    assert settings.processing_activity_for(None, None) == "urn:nl:verwerking:default"


def test_a_private_subject_key_is_refused_without_quoting_it() -> None:
    private = ECKey.generate_key("P-256", private=True).as_dict(private=True)
    problems = _problems({"subject_key": private})
    assert set(problems) == {"ldv.subject_key"}
    assert "private" in problems["ldv.subject_key"]
    for value in private.values():
        assert str(value) not in problems["ldv.subject_key"]


@pytest.mark.parametrize(
    ("jwk", "words"),
    [
        (_public(RSAKey.generate_key(2048)), "EC (P-256, P-384, P-521) or OKP (X25519)"),
        (_public(OKPKey.generate_key("Ed25519")), "EC (P-256, P-384, P-521) or OKP (X25519)"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "private key material"),
        ({**_public(ECKey.generate_key("P-256")), "use": "sig"}, "use must be enc"),
        ({**_public(ECKey.generate_key("P-256")), "alg": "ECDH-ES+A256KW"}, "alg must be ECDH-ES"),
        # A point that is not on the curve: joserfc refuses to import it.
        ({**_public(ECKey.generate_key("P-256")), "y": _public(ECKey.generate_key("P-256"))["y"]}, "valid"),
        ({"kty": "OKP", "crv": "X25519", "x": "dG9vLXNob3J0"}, "valid"),
    ],
    ids=["rsa", "ed25519", "symmetric", "signing", "other-alg", "off-curve", "short"],
)
def test_a_subject_key_that_cannot_encrypt_subject_ids_is_refused(jwk: dict[str, str], words: str) -> None:
    problems = _problems({"subject_key": jwk})
    assert set(problems) == {"ldv.subject_key"}
    assert words in problems["ldv.subject_key"]
    for member, value in jwk.items():
        if member not in ("kty", "crv", "use", "alg"):
            assert value not in problems["ldv.subject_key"]


def test_a_subject_key_member_that_is_not_text_is_named() -> None:
    problems = _problems({"subject_key": {**_public(ECKey.generate_key("P-256")), "key_ops": ["deriveKey"]}})
    (key,) = problems
    assert key.startswith("ldv.subject_key")
    assert problems[key] == "expected `str`, got `array`"


@pytest.mark.parametrize(
    "uri",
    [
        "register/verwerkingsactiviteiten/1",  # relative
        "ftp://register.example.nl/1",
        "https://",
        "https://register.example.nl/with space",
        "https://user:s3cr3t@register.example.nl/1",
        "https://register.example.nl:99999/1",
        "urn:",
        "mailto:privacy@example.nl",
        "https://register.example.nl/" + "x" * 2048,
        "",
    ],
)
def test_a_uri_must_be_absolute_http_https_or_urn_and_bounded(uri: str) -> None:
    problems = _problems({"processing_activity": uri, "caller": uri, "processing_activities": {"v": uri}})
    assert set(problems) == {"ldv.processing_activity", "ldv.caller", "ldv.processing_activities.v"}
    if uri:
        assert not any(uri in message for message in problems.values())


def test_at_most_200_processing_activities() -> None:
    many = {f"verwerking-{n}": f"{ACTIVITY}/{n}" for n in range(201)}
    assert "at most 200" in _problems({"processing_activities": many})["ldv.processing_activities"]
    assert (
        len(_settings({"processing_activities": dict(list(many.items())[:200])}).processing_activities) == 200
    )


@pytest.mark.parametrize("key", ["", "   ", " padded", "x" * 257])
def test_a_mapping_key_is_1_to_256_characters_and_never_quoted(key: str) -> None:
    problems = _problems({"processing_activities": {key: ACTIVITY}})
    assert set(problems) == {"ldv.processing_activities"}
    assert "1 to 256" in problems["ldv.processing_activities"]
    if key.strip():
        assert key.strip() not in problems["ldv.processing_activities"]


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:4318/v1/traces", "http://[::1]:4318/v1/traces", "http://localhost/v1/traces"],
)
def test_plain_http_is_only_for_a_loopback_endpoint(endpoint: str) -> None:
    key = _public(ECKey.generate_key("P-256"))
    settings = _settings({"endpoint": endpoint, "subject_key": key, "processing_activity": ACTIVITY})
    assert settings.endpoint == endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://logboek.example.nl/v1/traces",
        "http://10.0.0.5:4318/v1/traces",
        "grpc://logboek.example.nl:4317",
        "https://logboek.example.nl/v1/traces#x",
    ],
)
def test_an_endpoint_must_be_https(endpoint: str) -> None:
    key = _public(ECKey.generate_key("P-256"))
    problems = _problems({"endpoint": endpoint, "subject_key": key, "processing_activity": ACTIVITY})
    assert set(problems) == {"ldv.endpoint"}


def test_an_endpoint_needs_a_subject_key_and_a_default_processing_activity() -> None:
    problems = _problems({"endpoint": "https://logboek.example.nl/v1/traces"})
    assert problems == {
        "ldv.subject_key": "is required when ldv.endpoint is given",
        "ldv.processing_activity": "is required when ldv.endpoint is given",
    }


def test_an_unknown_ldv_key_is_named() -> None:
    assert _problems({"processing_activity": ACTIVITY, "sampling": 0.5}) == {
        "ldv.sampling": "unknown key (known: processing_activity, processing_activities, caller, "
        "subject_key, endpoint)"
    }


def test_ldv_round_trips_through_the_tenant_document_and_its_toml_file() -> None:
    ldv = {
        "processing_activity": ACTIVITY,
        "processing_activities": {"burgerzaken": ACTIVITY + "/bz"},
        "caller": "https://app.example.nl",
        "subject_key": _public(OKPKey.generate_key("X25519")),
        "endpoint": "https://logboek.example.nl/v1/traces",
    }
    spec, problems = parse_tenant(_document(ldv), "test.toml", expected_slug="test")
    assert problems == []
    assert spec is not None
    again, problems = parse_tenant(tenant_document(spec), "test.toml", expected_slug="test")
    assert (again, problems) == (spec, [])
    text = tenant_file_text(spec)
    assert "[ldv]" in text
    read_back, problems = parse_tenant(tomllib.loads(text), "test.toml", expected_slug="test")
    assert (read_back, problems) == (spec, [])


def test_a_file_with_ldv_loads_from_disk(tmp_path: Path) -> None:
    document = _document({"processing_activity": ACTIVITY, "caller": "https://app.example.nl"})
    (tmp_path / "test.toml").write_text(tomli_w.dumps(document))
    (spec,) = load_tenant_files(tmp_path)
    assert spec.ldv == LdvSettings(processing_activity=ACTIVITY, caller="https://app.example.nl")
