"""Tenant files: `tenants/<slug>.toml`, one per tenant, read and validated into `TenantSpec`s.

This module owns the file format (see `tenants/*.toml` for commented examples) and every check
on it. Validation collects *all* problems of all files before giving up, each naming the file,
the key (a dotted path such as `rules.burgerzaken.gegevenssets`) and what is wrong, so an operator
fixes a directory in one round. The database is not consulted: what is checked here is what a
file can get wrong on its own, and between the files what `app.tenancy.ownership` requires (an
AfnemerID in one file only; tenants sharing an identity provider told apart). `tenants apply`
checks the same against the tenants already in the database.

It never reads a secret: a client secret must be a reference (`env:`, `file:`) or an `enc:v1:`
value, and only an `enc:` value is checked further (decrypted and thrown away) when the
key-encryption key is at hand. No message ever quotes a secret value, nor any member of a key.

`[ldv]` (Logboek Dataverwerkingen, `LdvSettings`): URIs are absolute (`http`, `https` or `urn`,
at most 2048 characters, no user name or password); at most 200 `processing_activities`, each
key 1 to 256 characters; `subject_key` is a public JWK (EC P-256/P-384/P-521 or OKP X25519) that
joserfc imports and can encrypt to (a trial key agreement refuses an X25519 low-order point), its
`kid` at most 128 printable characters — a private key is refused; `endpoint` is https (plain
http only to a loopback host, for development) and needs `subject_key` and `processing_activity`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import msgspec
from joserfc import jwe
from joserfc.jwk import JWKRegistry

from app.identity import ALLOWED_ALGORITHMS, IssuerConfig, PortalLogin
from app.policy import Gegevensset, check_gegevensset
from app.secrets import SecretKey, SecretReferenceError, is_encrypted, validate_stored_secret
from app.tenancy.models import (
    REQUIRED_HEADER_NAMES,
    SUBJECT_KINDS,
    AdminRoles,
    AfnemerSpec,
    LdvSettings,
    Limits,
    MemberOrganisation,
    RuleSpec,
    TenantSpec,
    afnemer_secret_context,
)
from app.tenancy.ownership import IssuerTrust, afnemer_problems, shared_issuer_problems

__all__ = [
    "TenantFileError",
    "TenantFileProblem",
    "load_tenant_files",
    "parse_tenant",
    "tenant_document",
]

T = TypeVar("T")

SLUG: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# A slug names its tenant in log lines and metrics, which drop a run of nine digits: it could be a BSN.
_NINE_DIGITS: Final = re.compile(r"[0-9]{9}")
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_MEMBER_CODE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_AFNEMER_ID: Final = re.compile(r"^[0-9]{6}$")
_GEMEENTE_CODE: Final = re.compile(r"^[0-9]{4}$")
_OIN: Final = re.compile(r"^[0-9]{20}$")
_HTTPS: Final = re.compile(r"^https://\S+$")
# RFC 7518 §6.2.2 (EC), §6.3.2 (RSA), RFC 8037 (OKP): the members only a private key has.
_PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MSGSPEC_AT: Final = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN_FIELD: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`")
_MISSING_FIELD: Final = re.compile(r"^Object missing required field `(?P<name>[^`]+)`")
# [ldv]: RFC 8141 URNs; the bounds of a URI and of the mapping of processing activities.
_URN: Final = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$", re.IGNORECASE)
_MAX_URI: Final = 2048
_MAX_ACTIVITIES: Final = 200
_MAX_ACTIVITY_KEY: Final = 256
# Plain http is allowed to these hosts only (development and tests).
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})
# The keys data subject ids can be encrypted to (JWE ECDH-ES): key type → curves.
_SUBJECT_KEY_CURVES: Final = {"EC": ("P-256", "P-384", "P-521"), "OKP": ("X25519",)}
_MAX_SUBJECT_KID: Final = 128
_SUBJECT_PROBE_HEADER: Final = {"alg": "ECDH-ES", "enc": "A256GCM"}
_SUBJECT_PROBE_ALGORITHMS: Final = ["ECDH-ES", "A256GCM"]

_TOP_KEYS: Final = (
    "slug",
    "name",
    "kind",
    "pattern",
    "status",
    "members",
    "issuers",
    "afnemers",
    "gegevenssets",
    "rules",
    "limits",
    "admin",
    "ldv",
)
_KINDS: Final = ("organisation", "samenwerkingsverband")
_PATTERNS: Final = {"organisation": ("saas",), "samenwerkingsverband": ("delegatie", "gezamenlijk_personeel")}
_STATUSES: Final = ("active", "suspended")


class TenantFileProblem(msgspec.Struct, frozen=True):
    """One thing wrong in a tenant file."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}" if self.key else f"{self.file}: {self.message}"


class TenantFileError(Exception):
    """The tenant files cannot be applied; `problems` lists every one, `str()` shows them all."""

    def __init__(self, problems: Iterable[TenantFileProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the tenant files:\n{lines}")


def load_tenant_files(directory: Path | str, *, secret_key: SecretKey | None = None) -> list[TenantSpec]:
    """Read and validate every `*.toml` in `directory`; raise `TenantFileError` with all problems.

    With `secret_key`, `enc:` client secrets are also checked to decrypt for their afnemer.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise TenantFileError([TenantFileProblem(str(folder), "", "is not a directory")])
    specs: list[TenantSpec] = []
    problems: list[TenantFileProblem] = []
    for path in sorted(folder.glob("*.toml")):
        spec, found = _load_file(path, secret_key)
        problems.extend(found)
        if spec is not None:
            specs.append(spec)
    problems.extend(_check_ownership(specs, {s.slug: _file_name(folder, s.slug) for s in specs}))
    if problems:
        raise TenantFileError(problems)
    return specs


def _file_name(folder: Path, slug: str) -> str:
    return str(folder / f"{slug}.toml")


def _load_file(path: Path, secret_key: SecretKey | None) -> tuple[TenantSpec | None, list[TenantFileProblem]]:
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        return None, [TenantFileProblem(str(path), "", f"cannot be read ({exc.strerror})")]
    except UnicodeDecodeError:
        return None, [TenantFileProblem(str(path), "", "is not UTF-8 text")]
    except tomllib.TOMLDecodeError as exc:
        return None, [TenantFileProblem(str(path), "", f"is not valid TOML ({exc})")]
    return parse_tenant(raw, str(path), expected_slug=path.stem, secret_key=secret_key)


def parse_tenant(
    raw: Mapping[str, Any],
    file: str,
    *,
    expected_slug: str | None = None,
    secret_key: SecretKey | None = None,
) -> tuple[TenantSpec | None, list[TenantFileProblem]]:
    """Validate one tenant's document; the spec (None when anything is wrong) and every problem."""
    checker = _Checker(file)
    spec = checker.tenant(raw, expected_slug, secret_key)
    if checker.problems:
        return None, checker.problems
    return spec, []


class _Checker:
    """Walks one tenant document, collecting problems instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[TenantFileProblem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(TenantFileProblem(self.file, key, message))

    # -- the whole tenant ------------------------------------------------------------------------

    def tenant(
        self, raw: Mapping[str, Any], expected_slug: str | None, secret_key: SecretKey | None
    ) -> TenantSpec | None:
        self.unknown_keys(raw, _TOP_KEYS, "")
        slug = self.slug(raw, expected_slug)
        name = self.text(raw, "name", "name", required=True, maximum=200)
        kind = self.choice(raw, "kind", _KINDS, required=True)
        pattern = self.choice(raw, "pattern", _flat_patterns(), required=True)
        if kind and pattern and pattern not in _PATTERNS[kind]:
            self.problem(
                "pattern", f"{pattern!r} does not fit kind {kind!r} ({' or '.join(_PATTERNS[kind])})"
            )
        status = self.choice(raw, "status", _STATUSES, required=False) or "active"
        members = self.members(raw.get("members"), kind)
        member_codes = {m.code for m in members}
        issuers = self.issuers(raw.get("issuers"), slug or "")
        afnemers = self.afnemers(raw.get("afnemers"), member_codes, slug or "", secret_key)
        gegevenssets = self.gegevenssets(raw.get("gegevenssets"))
        rules = self.rules(raw.get("rules"), afnemers, {g.name for g in gegevenssets}, member_codes)
        limits = self.limits(raw.get("limits"))
        admin = self.admin(raw.get("admin"))
        ldv = self.ldv(raw.get("ldv"))
        if pattern is not None:
            self.pattern_fits(pattern, afnemers, rules)
        if self.problems or not (slug and name and kind and pattern):
            return None
        return TenantSpec(
            slug=slug,
            name=name,
            kind=kind,  # type: ignore[arg-type]  # checked against _KINDS above
            pattern=pattern,  # type: ignore[arg-type]  # checked against _PATTERNS above
            status=status,  # type: ignore[arg-type]  # checked against _STATUSES above
            members=members,
            issuers=issuers,
            afnemers=afnemers,
            gegevenssets=gegevenssets,
            rules=rules,
            limits=limits or Limits(),
            admin=admin or AdminRoles(),
            ldv=ldv or LdvSettings(),
        )

    def slug(self, raw: Mapping[str, Any], expected: str | None) -> str | None:
        slug = self.text(raw, "slug", "slug", required=True)
        if slug is None:
            return None
        if not SLUG.match(slug):
            self.problem(
                "slug", "must be 2-63 lower-case letters, digits and '-', starting with a letter or digit"
            )
            return None
        if _NINE_DIGITS.search(slug):
            self.problem(
                "slug", "must not hold nine or more digits in a row (logs and metrics treat those as a BSN)"
            )
            return None
        if expected is not None and slug != expected:
            self.problem("slug", f"{slug!r} must equal the file name ({expected}.toml)")
            return None
        return slug

    def pattern_fits(
        self, pattern: str, afnemers: tuple[AfnemerSpec, ...], rules: tuple[RuleSpec, ...]
    ) -> None:
        if pattern in ("saas", "delegatie"):
            # One AfnemerID for every caller: the organisation's own, or the samenwerkingsverband's.
            if len(afnemers) != 1:
                self.problem(
                    "afnemers", f"the {pattern} pattern needs exactly one afnemer (found {len(afnemers)})"
                )
            for afnemer in afnemers:
                if afnemer.member is not None:
                    self.problem(
                        f"afnemers.{afnemer.afnemer_id}.member",
                        f"under the {pattern} pattern the afnemer is the tenant's own, not a member's",
                    )
            return
        if not afnemers:
            self.problem("afnemers", "the gezamenlijk_personeel pattern needs at least one afnemer")
        for afnemer in afnemers:
            if afnemer.member is None:
                self.problem(
                    f"afnemers.{afnemer.afnemer_id}.member",
                    "is required: under gezamenlijk_personeel each afnemer belongs to a member organisation",
                )
        if afnemers and not any(rule.afnemers for rule in rules):
            self.problem(
                "rules", "no rule maps anyone to an afnemer (gezamenlijk_personeel maps callers by rule)"
            )

    # -- sections --------------------------------------------------------------------------------

    def members(self, raw: Any, kind: str | None) -> tuple[MemberOrganisation, ...]:
        table = self.table(raw, "members")
        if kind == "organisation" and table:
            self.problem("members", "only a samenwerkingsverband has member organisations")
        if kind == "samenwerkingsverband" and len(table) < 2:
            self.problem("members", "a samenwerkingsverband needs at least two member organisations")
        found: list[MemberOrganisation] = []
        for code, entry in table.items():
            key = f"members.{code}"
            if not _MEMBER_CODE.match(code):
                self.problem(
                    key, "a member code is letters, digits and . _ : - (the organisation claim's value)"
                )
            member = self.convert(entry, MemberOrganisation, key, code=code)
            if member is None:
                continue
            self.pattern_value(member.gemeente_code, _GEMEENTE_CODE, f"{key}.gemeente_code", "four digits")
            self.pattern_value(member.oin, _OIN, f"{key}.oin", "twenty digits")
            found.append(member)
        return tuple(sorted(found, key=lambda m: m.code))

    def issuers(self, raw: Any, slug: str) -> tuple[IssuerConfig, ...]:
        entries = self.array_of_tables(raw, "issuers")
        if not entries and (raw is None or isinstance(raw, list)):
            self.problem("issuers", "at least one identity provider is required ([[issuers]])")
        found: dict[str, IssuerConfig] = {}
        for index, entry in enumerate(entries):
            key = f"issuers[{index}]"
            if isinstance(entry, Mapping) and "tenant" in entry:
                self.problem(f"{key}.tenant", "unknown key (the tenant is the file's slug)")
                continue
            issuer = self.convert(entry, IssuerConfig, key, tenant=slug)
            if issuer is None:
                continue
            self.check_issuer(issuer, key)
            if issuer.issuer in found:
                self.problem(f"{key}.issuer", f"{issuer.issuer!r} is listed twice")
            found[issuer.issuer] = issuer
        return tuple(sorted(found.values(), key=lambda i: i.issuer))

    def check_issuer(self, issuer: IssuerConfig, key: str) -> None:
        if not _HTTPS.match(issuer.issuer):
            self.problem(f"{key}.issuer", "must be an https:// URL")
        if not issuer.audiences or not all(issuer.audiences):
            self.problem(f"{key}.audiences", "must list at least one audience")
        if (issuer.jwks_uri is None) == (issuer.jwks is None):
            self.problem(key, "give exactly one of jwks_uri and jwks")
        if issuer.jwks_uri is not None and not _HTTPS.match(issuer.jwks_uri):
            self.problem(f"{key}.jwks_uri", "must be an https:// URL")
        if issuer.jwks is not None and not isinstance(issuer.jwks.get("keys"), list):
            self.problem(f"{key}.jwks", "must be a JSON Web Key Set (a table with a `keys` array)")
        elif issuer.jwks is not None:
            for index, jwk in enumerate(issuer.jwks["keys"]):
                problem = _private_key_problem(jwk)
                if problem is not None:
                    self.problem(f"{key}.jwks.keys[{index}]", problem)
        refused = [a for a in issuer.algorithms if a not in ALLOWED_ALGORITHMS]
        if refused or not issuer.algorithms:
            allowed = ", ".join(sorted(ALLOWED_ALGORITHMS))
            self.problem(f"{key}.algorithms", f"{', '.join(refused) or 'none given'}: only {allowed}")
        if issuer.tenant_claim is None and issuer.tenant_claim_value is not None:
            self.problem(f"{key}.tenant_claim_value", "is given without tenant_claim")
        if issuer.login is not None:
            self.check_login(issuer.login, f"{key}.login")

    def check_login(self, login: PortalLogin, key: str) -> None:
        if not login.client_id.strip():
            self.problem(f"{key}.client_id", "must not be empty")
        if login.discovery_uri is not None and not _HTTPS.match(login.discovery_uri):
            self.problem(f"{key}.discovery_uri", "must be an https:// URL")
        if "openid" not in login.scope.split():
            self.problem(f"{key}.scope", "must include openid")

    def afnemers(
        self, raw: Any, members: set[str], slug: str, secret_key: SecretKey | None
    ) -> tuple[AfnemerSpec, ...]:
        found: list[AfnemerSpec] = []
        for afnemer_id, entry in self.table(raw, "afnemers").items():
            key = f"afnemers.{afnemer_id}"
            if not _AFNEMER_ID.match(afnemer_id):
                self.problem(key, f"{afnemer_id!r} is not an AfnemerID (six digits)")
                continue
            afnemer = self.convert(entry, AfnemerSpec, key, afnemer_id=afnemer_id)
            if afnemer is None:
                continue
            self.check_afnemer(afnemer, key, members, slug, secret_key)
            found.append(afnemer)
        return tuple(sorted(found, key=lambda a: a.afnemer_id))

    def check_afnemer(
        self, afnemer: AfnemerSpec, key: str, members: set[str], slug: str, secret_key: SecretKey | None
    ) -> None:
        for field in ("identity", "client_id"):
            if not getattr(afnemer, field).strip():
                self.problem(f"{key}.{field}", "must not be empty")
        self.pattern_value(afnemer.gemeente_code, _GEMEENTE_CODE, f"{key}.gemeente_code", "four digits")
        if afnemer.member is not None and afnemer.member not in members:
            self.problem(f"{key}.member", f"{afnemer.member!r} is not one of [members]")
        self.check_secret(afnemer, f"{key}.client_secret", slug, secret_key)

    def check_secret(self, afnemer: AfnemerSpec, key: str, slug: str, secret_key: SecretKey | None) -> None:
        try:
            validate_stored_secret(afnemer.client_secret)
            # Without a valid slug the secret's context is unknown; the slug's problem says enough.
            if secret_key is not None and slug and is_encrypted(afnemer.client_secret):
                secret_key.decrypt(afnemer.client_secret, afnemer_secret_context(slug, afnemer.afnemer_id))
        except SecretReferenceError as exc:
            self.problem(key, str(exc))

    def gegevenssets(self, raw: Any) -> tuple[Gegevensset, ...]:
        found: list[Gegevensset] = []
        for name, entry in self.table(raw, "gegevenssets").items():
            key = f"gegevenssets.{name}"
            if not _NAME.match(name):
                self.problem(key, "a name is lower-case letters, digits, '-' and '_'")
            gegevensset = self.convert(entry, Gegevensset, key, name=name)
            if gegevensset is None:
                continue
            for line in check_gegevensset(gegevensset):
                field, _, message = line.partition(": ")
                self.problem(f"{key}.{field}", message)
            found.append(gegevensset)
        return tuple(sorted(found, key=lambda g: g.name))

    def rules(
        self, raw: Any, afnemers: tuple[AfnemerSpec, ...], gegevenssets: set[str], members: set[str]
    ) -> tuple[RuleSpec, ...]:
        known_afnemers = {a.afnemer_id for a in afnemers}
        found: list[RuleSpec] = []
        for name, entry in self.table(raw, "rules").items():
            key = f"rules.{name}"
            if not _NAME.match(name):
                self.problem(key, "a name is lower-case letters, digits, '-' and '_'")
            rule = self.convert(_who_as_list(entry), RuleSpec, key, name=name)
            if rule is None:
                continue
            self.check_rule(rule, key, known_afnemers, gegevenssets, members)
            found.append(_canonical_rule(rule))
        return tuple(sorted(found, key=lambda r: r.name))

    def check_rule(
        self, rule: RuleSpec, key: str, afnemers: set[str], gegevenssets: set[str], members: set[str]
    ) -> None:
        if not rule.who:
            self.problem(f"{key}.who", "must name at least one subject")
        for subject in rule.who:
            problem = _subject_problem(subject, members)
            if problem:
                self.problem(f"{key}.who", f"{subject!r}: {problem}")
        if not rule.gegevenssets:
            self.problem(f"{key}.gegevenssets", "must name at least one gegevensset")
        for name in rule.gegevenssets:
            if name not in gegevenssets:
                self.problem(f"{key}.gegevenssets", f"unknown gegevensset {name!r} (not in [gegevenssets])")
        for afnemer_id in rule.afnemers:
            if afnemer_id not in afnemers:
                self.problem(f"{key}.afnemers", f"unknown afnemer {afnemer_id!r} (not in [afnemers])")
        for header in rule.required_headers:
            if header not in REQUIRED_HEADER_NAMES:
                known = ", ".join(REQUIRED_HEADER_NAMES)
                self.problem(f"{key}.required_headers", f"{header!r} is not one of {known}")

    def limits(self, raw: Any) -> Limits | None:
        if raw is None:
            return None
        return self.convert(raw, Limits, "limits")

    def admin(self, raw: Any) -> AdminRoles | None:
        if raw is None:
            return None
        roles = self.convert(raw, AdminRoles, "admin")
        if roles is None:
            return None
        for field in ("admin_roles", "privacy_officer_roles"):
            names: tuple[str, ...] = getattr(roles, field)
            if not names or not all(name.strip() for name in names):
                self.problem(f"admin.{field}", "must list at least one role name")
        if set(roles.admin_roles) & set(roles.privacy_officer_roles):
            self.problem(
                "admin.privacy_officer_roles", "a role is either an admin role or a privacy officer role"
            )
        return roles

    def ldv(self, raw: Any) -> LdvSettings | None:
        if raw is None:
            return None
        settings = self.convert(raw, LdvSettings, "ldv")
        if settings is None:
            return None
        self.uri(settings.processing_activity, "ldv.processing_activity")
        self.uri(settings.caller, "ldv.caller")
        self.processing_activities(settings.processing_activities)
        if settings.subject_key is not None:
            problem = _subject_key_problem(settings.subject_key)
            if problem is not None:
                self.problem("ldv.subject_key", problem)
        if settings.endpoint is not None:
            problem = _endpoint_problem(settings.endpoint)
            if problem is not None:
                self.problem("ldv.endpoint", problem)
            for field in ("subject_key", "processing_activity"):
                if getattr(settings, field) is None:
                    self.problem(f"ldv.{field}", "is required when ldv.endpoint is given")
        return settings

    def processing_activities(self, activities: Mapping[str, str]) -> None:
        key = "ldv.processing_activities"
        if len(activities) > _MAX_ACTIVITIES:
            self.problem(key, f"at most {_MAX_ACTIVITIES} entries (found {len(activities)})")
        for stated, uri in activities.items():
            if not stated.strip() or stated != stated.strip() or len(stated) > _MAX_ACTIVITY_KEY:
                # The key is not quoted: it may be anything, of any length.
                self.problem(
                    key,
                    f"a key (an x-verwerking or x-doelbinding value) is 1 to {_MAX_ACTIVITY_KEY} "
                    "characters, without leading or trailing spaces",
                )
                continue
            self.uri(uri, f"{key}.{stated}")

    def uri(self, value: str | None, key: str) -> None:
        if value is not None:
            problem = _uri_problem(value)
            if problem is not None:
                self.problem(key, problem)

    # -- small checks ----------------------------------------------------------------------------

    def unknown_keys(self, raw: Mapping[str, Any], known: Iterable[str], prefix: str) -> None:
        allowed = tuple(known)
        for name in raw:
            if name not in allowed:
                self.problem(_join(prefix, name), f"unknown key (known: {', '.join(allowed)})")

    def text(
        self, raw: Mapping[str, Any], name: str, key: str, *, required: bool, maximum: int = 200
    ) -> str | None:
        value = raw.get(name)
        if value is None:
            if required:
                self.problem(key, "is required")
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > maximum:
            self.problem(key, f"must be text of 1 to {maximum} characters")
            return None
        return value

    def choice(
        self, raw: Mapping[str, Any], name: str, options: Iterable[str], *, required: bool
    ) -> str | None:
        choices = tuple(options)
        value = raw.get(name)
        if value is None:
            if required:
                self.problem(name, f"is required ({' or '.join(choices)})")
            return None
        if value not in choices:
            self.problem(name, f"{value!r} is not one of {', '.join(choices)}")
            return None
        return str(value)

    def pattern_value(self, value: str | None, pattern: re.Pattern[str], key: str, what: str) -> None:
        if value is not None and not pattern.match(value):
            self.problem(key, f"{value!r} must be {what}")

    def table(self, raw: Any, key: str) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.problem(key, f"must be a table ([{key}.<name>] sections)")
            return {}
        return dict(raw)

    def array_of_tables(self, raw: Any, key: str) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.problem(key, f"must be an array of tables ([[{key}]] sections)")
            return []
        return raw

    def convert(self, raw: Any, kind: type[T], key: str, **injected: Any) -> T | None:
        """`raw` as a `kind`, with every unknown key and the first type error reported."""
        if not isinstance(raw, Mapping):
            self.problem(key, "must be a table")
            return None
        known = [f.encode_name for f in msgspec.structs.fields(kind)]  # type: ignore[arg-type]
        self.unknown_keys({k: v for k, v in raw.items() if k not in injected}, known, key)
        for name in injected:
            if name in raw:
                self.problem(_join(key, name), "unknown key (it is given by the section's name)")
        cleaned = {k: v for k, v in raw.items() if k in known and k not in injected}
        try:
            return msgspec.convert({**cleaned, **injected}, kind, strict=False)
        except msgspec.ValidationError as exc:
            self.problem(*_translate(str(exc), key))
            return None


def tenant_document(spec: TenantSpec) -> dict[str, Any]:
    """`spec` as the document of its tenant file (TOML's shape as plain data); `parse_tenant` reads it back.

    Objects keyed by name are tables under that name (`[rules.<name>]`), issuers an array; defaults
    are left out, so the document says what a person would write.
    """

    def table(value: msgspec.Struct, *keys: str) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(value)
        return {k: v for k, v in data.items() if k not in keys and v is not None}

    document: dict[str, Any] = {
        "slug": spec.slug,
        "name": spec.name,
        "kind": spec.kind,
        "pattern": spec.pattern,
    }
    if spec.status != "active":
        document["status"] = spec.status
    if spec.admin != AdminRoles():
        document["admin"] = table(spec.admin)
    if spec.members:
        document["members"] = {m.code: table(m, "code") for m in spec.members}
    document["issuers"] = [table(issuer, "tenant") for issuer in spec.issuers]
    if spec.afnemers:
        document["afnemers"] = {a.afnemer_id: table(a, "afnemer_id") for a in spec.afnemers}
    if spec.gegevenssets:
        document["gegevenssets"] = {g.name: table(g, "name") for g in spec.gegevenssets}
    if spec.rules:
        document["rules"] = {r.name: table(r, "name") for r in spec.rules}
    limits = table(spec.limits)
    if limits:
        document["limits"] = limits
    if spec.ldv != LdvSettings():
        document["ldv"] = {k: v for k, v in table(spec.ldv).items() if v != {}}
    return document


def _flat_patterns() -> tuple[str, ...]:
    return tuple(p for patterns in _PATTERNS.values() for p in patterns)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _translate(message: str, prefix: str) -> tuple[str, str]:
    """A msgspec validation message as (key path, problem in plain words)."""
    at = _MSGSPEC_AT.search(message)
    path = at["path"] if at else ""
    text = message[: at.start()] if at else message
    key = prefix + path.replace("$", "")
    unknown = _UNKNOWN_FIELD.match(text)
    if unknown:
        return _join(key, unknown["name"]), "unknown key"
    missing = _MISSING_FIELD.match(text)
    if missing:
        return _join(key, missing["name"]), "is required"
    return key, text[0].lower() + text[1:]


def _private_key_problem(jwk: Any) -> str | None:
    """Why a JWK cannot be an identity provider's public key (never quoting its values)."""
    if not isinstance(jwk, Mapping):
        return "must be a JSON Web Key (a table)"
    if jwk.get("kty") == "oct":
        return "is a symmetric key: only public keys verify tokens (and a shared secret is never stored)"
    private = sorted(member for member in _PRIVATE_JWK_MEMBERS if member in jwk)
    if private:
        return f"holds private key material ({', '.join(private)}): give the public key only"
    return None


def _uri_problem(value: str) -> str | None:
    """Why `value` is not an absolute http(s) or urn URI within bounds (never quoting it)."""
    if not value or len(value) > _MAX_URI:
        return f"must be an absolute URI of 1 to {_MAX_URI} characters"
    if any(character.isspace() or not character.isprintable() for character in value):
        return "must be an absolute URI without spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return "must be an absolute URI (http, https or urn)"
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            return "must be an absolute URI with a host"
        if parts.username is not None or parts.password is not None:
            return "must not hold a user name or password"
        return None
    if scheme == "urn" and _URN.match(value):
        return None
    return "must be an absolute URI (http, https or urn)"


def _endpoint_problem(value: str) -> str | None:
    """Why `value` cannot be the OTLP/HTTP endpoint of a Logboek (never quoting it)."""
    problem = _uri_problem(value)
    if problem is not None:
        return problem
    parts = urlsplit(value)
    if parts.fragment:
        return "must not have a fragment (#...)"
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and parts.hostname in _LOOPBACK_HOSTS):
        return None
    return "must be an https:// URL (plain http only to 127.0.0.1, ::1 or localhost)"


def _subject_key_problem(jwk: Mapping[str, str]) -> str | None:
    """Why `jwk` cannot be the public key data subject ids are encrypted to (never quoting it)."""
    private = sorted(member for member in _PRIVATE_JWK_MEMBERS if member in jwk)
    if private:
        return f"holds private key material ({', '.join(private)}): give the tenant's public key only"
    curves = _SUBJECT_KEY_CURVES.get(jwk.get("kty", ""))
    if curves is None or jwk.get("crv") not in curves:
        return "must be an EC (P-256, P-384, P-521) or OKP (X25519) public key (JWK)"
    if jwk.get("use", "enc") != "enc":
        return "is not a key for encryption (use must be enc)"
    if jwk.get("alg", "ECDH-ES") != "ECDH-ES":
        return "is for another algorithm (alg must be ECDH-ES)"
    kid = jwk.get("kid")
    if kid is not None and not (0 < len(kid) <= _MAX_SUBJECT_KID and kid.isprintable()):
        # The kid travels in the header of every encrypted subject: a long one bloats every line.
        return f"kid must be 1 to {_MAX_SUBJECT_KID} printable characters"
    try:
        key = JWKRegistry.import_key(dict(jwk))
        # A key can import and still give no shared secret (an X25519 low-order point): try one.
        jwe.encrypt_compact(dict(_SUBJECT_PROBE_HEADER), b"probe", key, algorithms=_SUBJECT_PROBE_ALGORITHMS)
    except Exception:  # joserfc's errors vary by key type; their text may quote the key
        return "is not a valid public key (JWK): check its members"
    return None


def _who_as_list(entry: Any) -> Any:
    # `who = "role:x"` is shorthand for `who = ["role:x"]`.
    if isinstance(entry, Mapping) and isinstance(entry.get("who"), str):
        return {**entry, "who": [entry["who"]]}
    return entry


def _subject_problem(subject: str, members: set[str]) -> str | None:
    if subject == "tenant":
        return None
    kind, separator, value = subject.partition(":")
    if not separator or kind not in SUBJECT_KINDS or kind == "tenant" or not value:
        return "a subject is 'tenant' or role:R, employee:E, client:C, organisation:O"
    if kind == "organisation" and value not in members:
        return f"{value!r} is not one of [members]"
    return None


def _canonical_rule(rule: RuleSpec) -> RuleSpec:
    # Sets in meaning: sorted and without repeats, so the database's order compares equal.
    return msgspec.structs.replace(
        rule,
        who=_sorted_unique(rule.who),
        gegevenssets=_sorted_unique(rule.gegevenssets),
        afnemers=_sorted_unique(rule.afnemers),
        required_headers=_sorted_unique(rule.required_headers),
    )


def _sorted_unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _check_ownership(specs: list[TenantSpec], files: Mapping[str, str]) -> list[TenantFileProblem]:
    """Between the files: an AfnemerID in one file only; tenants sharing an issuer told apart."""
    problems = [TenantFileProblem(files[p.tenant], "afnemers", p.text) for p in afnemer_problems(specs, {})]
    trusts = [IssuerTrust.of(issuer) for spec in specs for issuer in spec.issuers]
    problems += [
        TenantFileProblem(files[p.tenant], "issuers", p.text) for p in shared_issuer_problems(trusts)
    ]
    return problems
