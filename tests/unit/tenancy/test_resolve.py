"""Resolution by pattern: the AfnemerID each caller acts for, its gegevenssets, and every refusal."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import pytest

from app.brp import ProblemError
from app.identity import Principal
from app.tenancy import Access, DirectorySnapshot, TenancyResolver, TenantSpec, resolve_access
from tests.unit.tenancy.demo import DEV_OIN, SECRET_VALUE, SECRET_VARIABLE, demo_specs, snapshot_of

DOELBINDING = {"x-doelbinding": "BRPACT-Burgerzaken"}


@pytest.fixture
def specs(monkeypatch: pytest.MonkeyPatch) -> dict[str, TenantSpec]:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET_VALUE)
    return demo_specs()


@pytest.fixture
def snapshot(specs: dict[str, TenantSpec]) -> DirectorySnapshot:
    return snapshot_of(specs.values())


def _user(tenant: str, **kwargs: object) -> Principal:
    return Principal(tenant=tenant, subject=f"sub-{tenant}", **kwargs)  # type: ignore[arg-type]


def _resolve(
    snapshot: DirectorySnapshot,
    principal: Principal,
    requested: str | None = None,
    headers: Mapping[str, str] = DOELBINDING,
) -> Access:
    return resolve_access(snapshot, principal, requested, headers)


def _refusal(
    snapshot: DirectorySnapshot, principal: Principal, requested: str | None = None, **kwargs: object
) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        _resolve(snapshot, principal, requested, **kwargs)  # type: ignore[arg-type]
    return caught.value


def _names(access: Access) -> list[str]:
    return [g.name for g in access.gegevenssets]


# -- SaaS ---------------------------------------------------------------------------------------


def test_saas_every_caller_uses_the_tenants_own_afnemer(snapshot: DirectorySnapshot) -> None:
    clerk = _user("amsterdam", employee="A1", roles=("burgerzaken",))
    access = _resolve(snapshot, clerk)
    assert access.account.afnemer_id == "000101"
    assert access.account.gemeente_code == "0363"
    assert access.account.oin == DEV_OIN
    assert access.account.client_secret.reveal() == SECRET_VALUE
    assert access.member_organisation is None
    assert _names(access) == ["burgerzaken"]
    social = _user("amsterdam", employee="A2", roles=("sociaal-domein",))
    headers = {**DOELBINDING, "x-verwerking": "Wmo"}
    assert _resolve(snapshot, social, headers=headers).account.afnemer_id == "000101"
    assert _names(_resolve(snapshot, social, headers=headers)) == ["sociaal-domein"]


def test_saas_application_is_matched_by_its_client_id(snapshot: DirectorySnapshot) -> None:
    application = _user("amsterdam", client="zaaksysteem-sociaal-domein", kind="application", employee="A9")
    access = _resolve(snapshot, application, headers={**DOELBINDING, "x-verwerking": "Wmo"})
    assert access.account.afnemer_id == "000101"


def test_saas_accepts_its_own_afnemer_id_in_the_header(snapshot: DirectorySnapshot) -> None:
    clerk = _user("amsterdam", roles=("burgerzaken",))
    assert _resolve(snapshot, clerk, "000101").account.afnemer_id == "000101"


def test_saas_policy_is_compiled_once_per_combination(snapshot: DirectorySnapshot) -> None:
    clerk = _user("amsterdam", roles=("burgerzaken",))
    assert _resolve(snapshot, clerk).policy is _resolve(snapshot, clerk).policy


# -- samenwerkingsverband onder delegatie ----------------------------------------------------------


@pytest.mark.parametrize(
    ("organisation", "gegevensset"),
    [("rotterdam", "heffing-rotterdam"), ("hellevoetsluis", "heffing-hellevoetsluis")],
)
def test_delegatie_every_caller_uses_the_samenwerkingsverbands_afnemer(
    snapshot: DirectorySnapshot, organisation: str, gegevensset: str
) -> None:
    access = _resolve(snapshot, _user("belastingen-rijnmond", employee="B1", organisation=organisation))
    assert access.account.afnemer_id == "000201"
    assert access.account.gemeente_code is None
    assert _names(access) == [gegevensset]
    assert access.member_organisation == organisation


def test_delegatie_caller_without_a_rule_is_refused(snapshot: DirectorySnapshot) -> None:
    problem = _refusal(
        snapshot, _user("belastingen-rijnmond", employee="B1", organisation="schiedam")
    ).problem
    assert (problem.status, problem.code) == (403, "unauthorized")


# -- samenwerkingsverband met gezamenlijk personeel -------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "afnemer_id", "gegevensset"),
    [
        (_user("vallei-liemers", employee="E1001", organisation="ede"), "000301", "wijkteam-ede"),
        (_user("vallei-liemers", employee="E1002", organisation="duiven"), "000302", "wijkteam-duiven"),
        (_user("vallei-liemers", employee="E2002"), "000301", "wijkteam-ede"),
    ],
)
def test_gezamenlijk_personeel_mapped_to_one_afnemer_uses_it(
    snapshot: DirectorySnapshot, principal: Principal, afnemer_id: str, gegevensset: str
) -> None:
    access = _resolve(snapshot, principal)
    assert access.account.afnemer_id == afnemer_id
    assert _names(access) == [gegevensset]
    assert access.member_organisation == {"000301": "ede", "000302": "duiven"}[afnemer_id]


def test_gezamenlijk_personeel_two_afnemers_without_header_is_400(snapshot: DirectorySnapshot) -> None:
    problem = _refusal(snapshot, _user("vallei-liemers", employee="E2001")).problem
    assert (problem.status, problem.code) == (400, "paramsValidation")
    assert problem.invalid_params is not None
    (param,) = problem.invalid_params
    assert (param.name, param.code) == ("x-afnemer-id", "required")
    assert param.reason == "Header is verplicht: de medewerker werkt voor meerdere afnemers."


@pytest.mark.parametrize(
    ("afnemer_id", "gegevensset"), [("000301", "wijkteam-ede"), ("000302", "wijkteam-duiven")]
)
def test_gezamenlijk_personeel_two_afnemers_with_header_uses_the_chosen_one(
    snapshot: DirectorySnapshot, afnemer_id: str, gegevensset: str
) -> None:
    access = _resolve(snapshot, _user("vallei-liemers", employee="E2001"), afnemer_id)
    assert access.account.afnemer_id == afnemer_id
    # Only the rules that hold for the chosen afnemer: the other gemeente's residents stay out.
    assert _names(access) == [gegevensset]


def test_gezamenlijk_personeel_rule_without_afnemers_adds_to_the_chosen_one(
    snapshot: DirectorySnapshot,
) -> None:
    clerk = _user("vallei-liemers", employee="E2001", roles=("burgerzaken",))
    assert _names(_resolve(snapshot, clerk, "000302")) == ["burgerzaken", "wijkteam-duiven"]


@pytest.mark.parametrize("foreign", ["000302", "000101", "000201", "999999"])
def test_gezamenlijk_personeel_foreign_afnemer_id_is_403(snapshot: DirectorySnapshot, foreign: str) -> None:
    problem = _refusal(snapshot, _user("vallei-liemers", employee="E2002"), foreign).problem
    assert (problem.status, problem.code, problem.title) == (
        403,
        "unauthorized",
        "U bent niet geautoriseerd voor deze afnemer.",
    )


def test_gezamenlijk_personeel_role_alone_maps_to_no_afnemer(snapshot: DirectorySnapshot) -> None:
    problem = _refusal(snapshot, _user("vallei-liemers", employee="E9", roles=("burgerzaken",))).problem
    assert (problem.status, problem.code) == (403, "unauthorized")


def test_application_cannot_borrow_an_employees_mapping(snapshot: DirectorySnapshot) -> None:
    # The employee of an application token comes from its x-gebruiker header: never a grant.
    application = _user("vallei-liemers", employee="E2002", client="zaaksysteem", kind="application")
    assert _refusal(snapshot, application).status == 403


# -- isolation and refusals ---------------------------------------------------------------------


@pytest.mark.parametrize("other_tenants_afnemer", ["000201", "000301", "000302", "000001"])
def test_tenant_a_can_never_act_for_tenant_bs_afnemer(
    snapshot: DirectorySnapshot, other_tenants_afnemer: str
) -> None:
    clerk = _user("amsterdam", employee="A1", roles=("burgerzaken",))
    problem = _refusal(snapshot, clerk, other_tenants_afnemer).problem
    assert (problem.status, problem.code, problem.title) == (
        403,
        "unauthorized",
        "U bent niet geautoriseerd voor deze afnemer.",
    )


def test_unknown_or_suspended_tenant_is_refused(specs: dict[str, TenantSpec]) -> None:
    suspended = msgspec.structs.replace(specs["amsterdam"], status="suspended")
    snapshot = snapshot_of([suspended])
    clerk = _user("amsterdam", roles=("burgerzaken",))
    assert _refusal(snapshot, clerk).status == 403
    assert _refusal(snapshot, _user("nowhere", roles=("burgerzaken",))).status == 403
    assert snapshot.issuers_for("https://127.0.0.1:8443/dev-idp") == ()


def test_missing_required_headers_are_each_named(snapshot: DirectorySnapshot) -> None:
    social = _user("amsterdam", roles=("sociaal-domein",))
    problem = _refusal(snapshot, social, headers={"x-doelbinding": "  "}).problem
    assert problem.status == 400
    assert [(p.name, p.code) for p in problem.invalid_params or ()] == [
        ("x-doelbinding", "required"),
        ("x-verwerking", "required"),
    ]


def test_malformed_afnemer_id_is_400(snapshot: DirectorySnapshot) -> None:
    problem = _refusal(snapshot, _user("amsterdam", roles=("burgerzaken",)), "12345").problem
    assert problem.status == 400
    assert [(p.name, p.code) for p in problem.invalid_params or ()] == [("x-afnemer-id", "pattern")]


def test_unusable_afnemer_is_503(specs: dict[str, TenantSpec], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_VARIABLE)
    snapshot = snapshot_of(specs.values())
    afnemer = snapshot.tenants["amsterdam"].afnemers["000101"]
    assert afnemer.account is None
    assert afnemer.problem == f"client secret: environment variable {SECRET_VARIABLE} is not set"
    problem = _refusal(snapshot, _user("amsterdam", roles=("burgerzaken",))).problem
    assert (problem.status, problem.code) == (503, "afnemerUnavailable")


def test_shared_issuer_lists_every_active_tenant(snapshot: DirectorySnapshot) -> None:
    configs = snapshot.issuers_for("https://127.0.0.1:8443/dev-idp")
    assert sorted(c.tenant_claim_value or "" for c in configs) == [
        "amsterdam",
        "belastingen-rijnmond",
        "vallei-liemers",
    ]
    assert snapshot.issuers_for("https://elsewhere.example") == ()


def test_resolver_seam_reads_the_current_snapshot(snapshot: DirectorySnapshot) -> None:
    class Source:
        def __init__(self) -> None:
            self.snapshot = snapshot

    resolver = TenancyResolver(Source())
    clerk = _user("vallei-liemers", employee="E2001")
    assert resolver.resolve(clerk, "000302", DOELBINDING).account.afnemer_id == "000302"


def test_access_carries_the_compiled_doelbinding(snapshot: DirectorySnapshot) -> None:
    from app.brp import Api, parse_query

    social = _user("amsterdam", roles=("sociaal-domein",))
    access = _resolve(snapshot, social, headers={**DOELBINDING, "x-verwerking": "Wmo"})
    body = (
        b'{"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": ["999993653"], '
        b'"fields": ["naam"]}'
    )
    sent = access.policy.authorise(parse_query(Api.PERSONEN, body))
    assert sent.gemeente_van_inschrijving == "0363"  # type: ignore[union-attr]  # own residents only
