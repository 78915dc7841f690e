"""Tenant files: the demo tenants load, and every kind of mistake is named by file, key and problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.secrets import SecretKey, generate_secret_key
from app.tenancy import TenantFileError, afnemer_secret_context, load_tenant_files
from tests.unit.tenancy.demo import TENANTS_DIR

VALID = """
slug = "{slug}"
name = "Gemeente Test"
kind = "organisation"
pattern = "saas"

[[issuers]]
issuer = "https://idp.example.org"
audiences = ["brp-broker"]
jwks_uri = "https://idp.example.org/jwks.json"
algorithms = ["RS256"]

[afnemers.000101]
environment = "proef"
identity = "supplier"
client_id = "client-000101"
client_secret = "env:SECRET_000101"
gemeente_code = "0363"

[gegevenssets.burgerzaken]
apis = ["personen"]
fields = ["naam", "geboorte"]
parameters = ["burgerservicenummer"]

[rules.burgerzaken]
who = ["role:burgerzaken"]
gegevenssets = ["burgerzaken"]
"""


def _write(folder: Path, slug: str, text: str) -> Path:
    path = folder / f"{slug}.toml"
    path.write_text(text)
    return path


def _problems(folder: Path) -> list[str]:
    with pytest.raises(TenantFileError) as caught:
        load_tenant_files(folder)
    return [str(p) for p in caught.value.problems]


def _one_problem(tmp_path: Path, text: str, slug: str = "test") -> str:
    path = _write(tmp_path, slug, text)
    problems = _problems(tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: ")
    return problems[0].removeprefix(f"{path}: ")


def test_demo_tenants_load() -> None:
    specs = {s.slug: s for s in load_tenant_files(TENANTS_DIR)}
    assert set(specs) == {"amsterdam", "belastingen-rijnmond", "vallei-liemers"}
    assert [specs[s].pattern for s in sorted(specs)] == ["saas", "delegatie", "gezamenlijk_personeel"]
    assert [a.afnemer_id for a in specs["vallei-liemers"].afnemers] == ["000301", "000302"]


def test_a_valid_file_loads(tmp_path: Path) -> None:
    _write(tmp_path, "test", VALID.format(slug="test"))
    (spec,) = load_tenant_files(tmp_path)
    assert spec.slug == "test"
    assert spec.issuers[0].tenant == "test"
    assert spec.afnemers[0].client_secret == "env:SECRET_000101"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace('kind = "organisation"', 'kind = "organisation"\ncolour = "red"')
    assert _one_problem(tmp_path, text).startswith("colour: unknown key")


def test_unknown_key_in_a_section(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace(
        'gemeente_code = "0363"', 'gemeente_code = "0363"\nclient_sekret = "x"'
    )
    assert _one_problem(tmp_path, text).startswith("afnemers.000101.client_sekret: unknown key")


def test_bad_afnemer_id(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace("[afnemers.000101]", "[afnemers.10101]")
    problems = _problems(_folder_with(tmp_path, text))
    assert any(p.endswith("afnemers.10101: '10101' is not an AfnemerID (six digits)") for p in problems)


def test_unknown_gegevensset_in_a_rule(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace(
        'gegevenssets = ["burgerzaken"]', 'gegevenssets = ["burgerzaken", "wmo"]'
    )
    assert _one_problem(tmp_path, text) == (
        "rules.burgerzaken.gegevenssets: unknown gegevensset 'wmo' (not in [gegevenssets])"
    )


def test_unknown_afnemer_in_a_rule(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace(
        'who = ["role:burgerzaken"]', 'who = ["role:x"]\nafnemers = ["999999"]'
    )
    assert (
        _one_problem(tmp_path, text)
        == "rules.burgerzaken.afnemers: unknown afnemer '999999' (not in [afnemers])"
    )


def test_unknown_field_path(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace(
        'fields = ["naam", "geboorte"]', 'fields = ["naam", "schoenmaat"]'
    )
    message = _one_problem(tmp_path, text)
    assert message.startswith("gegevenssets.burgerzaken.fields: 'schoenmaat'")
    assert "not a field path" in message


def test_plain_client_secret_is_refused_without_quoting_it(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace('"env:SECRET_000101"', '"hunter2-plain"')
    message = _one_problem(tmp_path, text)
    assert message.startswith("afnemers.000101.client_secret: a secret must be a reference")
    assert "hunter2" not in message


def test_enc_secret_is_checked_when_the_key_is_at_hand(tmp_path: Path) -> None:
    key = SecretKey.from_text(generate_secret_key())
    good = key.encrypt("value", afnemer_secret_context("test", "000101"))
    moved = key.encrypt("value", afnemer_secret_context("other", "000101"))
    _write(tmp_path, "test", VALID.format(slug="test").replace('"env:SECRET_000101"', f'"{good}"'))
    assert load_tenant_files(tmp_path, secret_key=key)[0].afnemers[0].client_secret == good
    _write(tmp_path, "test", VALID.format(slug="test").replace('"env:SECRET_000101"', f'"{moved}"'))
    with pytest.raises(TenantFileError, match=r"client_secret: cannot decrypt"):
        load_tenant_files(tmp_path, secret_key=key)


def test_slug_must_match_the_file_name(tmp_path: Path) -> None:
    assert (
        _one_problem(tmp_path, VALID.format(slug="other"))
        == "slug: 'other' must equal the file name (test.toml)"
    )


@pytest.mark.parametrize("slug", ["gemeente-123456789", "t-3620782781b"])
def test_a_slug_never_holds_nine_digits_in_a_row(tmp_path: Path, slug: str) -> None:
    # Logs redact such a run and metrics refuse it as a possible BSN: the tenant would lose its name there.
    assert _one_problem(tmp_path, VALID.format(slug=slug), slug=slug) == (
        "slug: must not hold nine or more digits in a row (logs and metrics treat those as a BSN)"
    )
    (tmp_path / f"{slug}.toml").unlink()
    _write(tmp_path, "gemeente-12345678", VALID.format(slug="gemeente-12345678"))
    assert [s.slug for s in load_tenant_files(tmp_path)] == ["gemeente-12345678"]


def test_pattern_must_fit_kind(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace('pattern = "saas"', 'pattern = "delegatie"')
    assert _one_problem(tmp_path, text) == "pattern: 'delegatie' does not fit kind 'organisation' (saas)"


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace('audiences = ["brp-broker"]', 'audiences = "brp-broker"')
    assert _one_problem(tmp_path, text) == "issuers[0].audiences: expected `array`, got `str`"


def test_hmac_algorithm_is_refused(tmp_path: Path) -> None:
    text = VALID.format(slug="test").replace('algorithms = ["RS256"]', 'algorithms = ["HS256"]')
    assert _one_problem(tmp_path, text).startswith("issuers[0].algorithms: HS256: only ")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    message = _one_problem(tmp_path, 'slug = "test"\nname = ')
    assert message.startswith("is not valid TOML")


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    broken = VALID.format(slug="test").replace('kind = "organisation"', 'kind = "gemeente"')
    broken = broken.replace('"env:SECRET_000101"', '"plain"').replace('["naam", "geboorte"]', '["naam.x"]')
    _write(tmp_path, "test", broken)
    _write(tmp_path, "second", VALID.format(slug="second").replace("[afnemers.000101]", "[afnemers.abc]"))
    problems = _problems(tmp_path)
    keys = sorted(re.sub(r"^.*?\.toml: ", "", p).split(":")[0] for p in problems)
    assert "kind" in keys
    assert "afnemers.000101.client_secret" in keys
    assert "gegevenssets.burgerzaken.fields" in keys
    assert "afnemers.abc" in keys
    assert any(p.startswith(str(tmp_path / "second.toml")) for p in problems)


def test_samenwerkingsverband_patterns_are_checked(tmp_path: Path) -> None:
    text = (
        VALID.format(slug="test")
        .replace('kind = "organisation"', 'kind = "samenwerkingsverband"')
        .replace('pattern = "saas"', 'pattern = "gezamenlijk_personeel"')
    )
    problems = _problems(_folder_with(tmp_path, text))
    messages = [p.split(".toml: ", 1)[1] for p in problems]
    assert "members: a samenwerkingsverband needs at least two member organisations" in messages
    assert any(m.startswith("afnemers.000101.member: is required") for m in messages)
    assert any(m.startswith("rules: no rule maps anyone to an afnemer") for m in messages)


def _own_afnemer(text: str, afnemer_id: str) -> str:
    return text.replace("000101", afnemer_id)


def test_shared_issuer_needs_a_tenant_claim(tmp_path: Path) -> None:
    _write(tmp_path, "one", VALID.format(slug="one"))
    _write(tmp_path, "two", _own_afnemer(VALID.format(slug="two"), "000102"))
    problems = _problems(tmp_path)
    assert problems == [
        f"{tmp_path / 'one.toml'}: issuers: issuer https://idp.example.org is shared with tenant 'two' "
        "and needs tenant_claim (the same claim for every tenant of the issuer) with a tenant_claim_value "
        "of its own (default: the slug)",
        f"{tmp_path / 'two.toml'}: issuers: issuer https://idp.example.org is shared with tenant 'one' "
        "and needs tenant_claim (the same claim for every tenant of the issuer) with a tenant_claim_value "
        "of its own (default: the slug)",
    ]


def test_tenants_sharing_an_issuer_use_one_claim_name(tmp_path: Path) -> None:
    for slug, claim, afnemer in (("one", "tenant", "000101"), ("two", "organisatie", "000102")):
        text = VALID.format(slug=slug).replace(
            'algorithms = ["RS256"]', f'algorithms = ["RS256"]\ntenant_claim = "{claim}"'
        )
        _write(tmp_path, slug, _own_afnemer(text, afnemer))
    assert _problems(tmp_path) == [
        f"{tmp_path / 'two.toml'}: issuers: issuer https://idp.example.org: tenant_claim 'organisatie' "
        "differs from the claim of tenant 'one' ('tenant'); tenants sharing an issuer use the same claim"
    ]


def test_an_afnemer_id_belongs_to_one_tenant_file(tmp_path: Path) -> None:
    for slug, issuer in (("one", "https://idp.one.example"), ("two", "https://idp.two.example")):
        _write(tmp_path, slug, VALID.format(slug=slug).replace("https://idp.example.org", issuer))
    assert _problems(tmp_path) == [
        f"{tmp_path / 'two.toml'}: afnemers: afnemer 000101 is declared by both tenant 'one' and "
        "tenant 'two' (an AfnemerID belongs to exactly one tenant)"
    ]


def test_missing_directory(tmp_path: Path) -> None:
    assert _problems(tmp_path / "nope") == [f"{tmp_path / 'nope'}: is not a directory"]


def _folder_with(folder: Path, text: str) -> Path:
    _write(folder, "test", text)
    return folder


def test_shared_issuer_tenant_claim_value_defaults_to_the_slug(tmp_path: Path) -> None:
    for slug, afnemer in (("one", "000101"), ("two", "000102")):
        text = VALID.format(slug=slug).replace(
            'algorithms = ["RS256"]', 'algorithms = ["RS256"]\ntenant_claim = "tenant"'
        )
        _write(tmp_path, slug, _own_afnemer(text, afnemer))
    assert [s.slug for s in load_tenant_files(tmp_path)] == ["one", "two"]
    text = VALID.format(slug="two").replace(
        'algorithms = ["RS256"]',
        'algorithms = ["RS256"]\ntenant_claim = "tenant"\ntenant_claim_value = "one"',
    )
    _write(tmp_path, "two", _own_afnemer(text, "000102"))
    assert _problems(tmp_path) == [
        f"{tmp_path / 'two.toml'}: issuers: issuer https://idp.example.org: tenant_claim_value 'one' is "
        "already used by tenant 'one'"
    ]


@pytest.mark.parametrize(
    ("jwk", "problem"),
    [
        (
            '{ kty = "EC", crv = "P-256", x = "AA", y = "AA", d = "c2VjcmV0" }',
            "holds private key material (d): give the public key only",
        ),
        (
            '{ kty = "oct", k = "c2VjcmV0" }',
            "is a symmetric key: only public keys verify tokens (and a shared secret is never stored)",
        ),
    ],
    ids=["private-ec", "symmetric"],
)
def test_an_inline_jwks_holds_public_keys_only(tmp_path: Path, jwk: str, problem: str) -> None:
    text = VALID.format(slug="test").replace(
        'jwks_uri = "https://idp.example.org/jwks.json"', f"jwks = {{ keys = [{jwk}] }}"
    )
    path = _write(tmp_path, "test", text)
    problems = _problems(tmp_path)
    assert problems == [f"{path}: issuers[0].jwks.keys[0]: {problem}"]
    assert "c2VjcmV0" not in problems[0]
