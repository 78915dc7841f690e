"""Caller headers: each invalid value is a 400 naming the header; the employee of a request."""

from __future__ import annotations

import json

import msgspec
import pytest
from litestar.datastructures import Headers

from app.brp.problems import ProblemError
from app.identity import CallerHeaders, JwtAuthenticator, Principal, parse_caller_headers
from tests.unit.identity.conftest import bearer, request_with
from tests.unit.identity.signing import TestIssuer

USER = Principal(tenant="gemeente-a", subject="u1", employee="E1", kind="user")
APPLICATION = Principal(tenant="gemeente-a", subject="svc", client="zaaksysteem", kind="application")


def headers(**values: str) -> Headers:
    """Headers as a server hands them over: UTF-8 bytes read as ISO-8859-1 text."""
    raw = [(k.replace("_", "-").encode(), v.encode("utf-8")) for k, v in values.items()]
    return Headers(raw)


def invalid_params(error: ProblemError) -> list[tuple[str, str]]:
    params = error.problem.invalid_params or ()
    return [(p.name, p.code) for p in params]


def refused(values: Headers, principal: Principal = USER) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        parse_caller_headers(values, principal)
    assert caught.value.status == 400
    assert caught.value.problem.code == "paramsValidation"
    return caught.value


def test_all_headers_valid() -> None:
    parsed = parse_caller_headers(
        headers(
            x_doelbinding="BRPACT-Totaal",
            x_verwerking="Behandelen aanvraag@Paspoort",
            x_gebruiker="jdevries",
            x_origin_oin="00000001234567890000",
            x_afnemer_id="000123",
        ),
        USER,
    )
    assert parsed == CallerHeaders(
        doelbinding="BRPACT-Totaal",
        verwerking="Behandelen aanvraag@Paspoort",
        gebruiker="E1",  # the token's employee, not the header's
        origin_oin="00000001234567890000",
        afnemer_id="000123",
    )


def test_no_headers_at_all_for_a_user_token() -> None:
    assert parse_caller_headers(headers(), USER) == CallerHeaders(gebruiker="E1")


def test_verwerking_of_242_characters_is_accepted() -> None:
    value = "a" * 120 + "@" + "b" * 121
    assert parse_caller_headers(headers(x_verwerking=value), USER).verwerking == value


def test_verwerking_of_243_characters_is_refused() -> None:
    error = refused(headers(x_verwerking="a" * 243))
    assert invalid_params(error) == [("x-verwerking", "maxLength")]
    assert error.problem.invalid_params is not None
    assert error.problem.invalid_params[0].reason == "Waarde is langer dan maximale lengte 242."


def test_verwerking_with_two_at_signs_is_refused() -> None:
    error = refused(headers(x_verwerking="taak@zaaktype@extra"))
    assert invalid_params(error) == [("x-verwerking", "pattern")]
    assert error.problem.invalid_params is not None
    assert error.problem.invalid_params[0].reason.startswith("Waarde voldoet niet aan patroon ^")


def test_verwerking_without_at_sign_is_accepted() -> None:
    assert (
        parse_caller_headers(headers(x_verwerking="Behandelen aanvraag"), USER).verwerking
        == "Behandelen aanvraag"
    )


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("x_doelbinding", "d" * 243, "maxLength"),
        ("x_doelbinding", "tab\there", "pattern"),
        ("x_gebruiker", "g" * 243, "maxLength"),
        ("x_gebruiker", "bell\x07", "pattern"),
        ("x_origin_oin", "0000000123456789000", "pattern"),
        ("x_origin_oin", "0000000123456789000a", "pattern"),
        ("x_origin_oin", "000000012345678900000", "pattern"),
        ("x_afnemer_id", "12345", "pattern"),
        ("x_afnemer_id", "12345x", "pattern"),
        ("x_afnemer_id", "１２３４５６", "pattern"),  # fullwidth digits are no AfnemerID
    ],
)
def test_each_invalid_header_is_named(name: str, value: str, code: str) -> None:
    error = refused(headers(**{name: value}))
    header = name.replace("_", "-")
    assert invalid_params(error) == [(header, code)]
    assert error.problem.detail == f"De foutieve parameter(s) zijn: {header}."
    assert value not in json.dumps(msgspec.to_builtins(error.problem), ensure_ascii=False)


def test_every_invalid_header_is_reported_at_once() -> None:
    error = refused(headers(x_verwerking="a@b@c", x_origin_oin="1", x_afnemer_id="1"), APPLICATION)
    assert invalid_params(error) == [
        ("x-verwerking", "pattern"),
        ("x-origin-oin", "pattern"),
        ("x-afnemer-id", "pattern"),
        ("x-gebruiker", "required"),
    ]


def test_header_sent_twice_is_refused() -> None:
    error = refused(Headers([(b"x-doelbinding", b"a"), (b"x-doelbinding", b"b")]))
    assert invalid_params(error) == [("x-doelbinding", "value")]


def test_blank_header_counts_as_absent() -> None:
    assert parse_caller_headers(headers(x_doelbinding="   ", x_origin_oin=""), USER) == CallerHeaders(
        gebruiker="E1"
    )


def test_values_are_read_as_utf8() -> None:
    parsed = parse_caller_headers(headers(x_gebruiker="José Müller"), APPLICATION)
    assert parsed.gebruiker == "José Müller"


def test_application_token_takes_the_employee_from_x_gebruiker() -> None:
    assert parse_caller_headers(headers(x_gebruiker="jdevries"), APPLICATION).gebruiker == "jdevries"


def test_application_token_without_x_gebruiker_is_refused() -> None:
    error = refused(headers(x_doelbinding="BRPACT-Totaal"), APPLICATION)
    assert invalid_params(error) == [("x-gebruiker", "required")]
    assert error.problem.invalid_params is not None
    assert error.problem.invalid_params[0].reason == "Parameter is verplicht."


def test_user_token_ignores_a_different_x_gebruiker() -> None:
    assert parse_caller_headers(headers(x_gebruiker="someone-else"), USER).gebruiker == "E1"


# --- through the authenticator ----------------------------------------------------------------------


async def test_application_principal_carries_the_named_employee(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer
) -> None:
    token = issuer_a.token(sub="svc", employee_id=None, azp="zaaksysteem")
    caller = await authenticator.identify(
        bearer(token, x_gebruiker="jdevries", x_doelbinding="BRPACT-Totaal")
    )
    assert caller.principal.kind == "application"
    assert caller.principal.employee == "jdevries"
    assert caller.headers.doelbinding == "BRPACT-Totaal"


async def test_application_token_without_x_gebruiker_gets_400(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer
) -> None:
    token = issuer_a.token(sub="svc", employee_id=None)
    with pytest.raises(ProblemError) as caught:
        await authenticator.authenticate(bearer(token))
    assert caught.value.status == 400
    assert invalid_params(caught.value) == [("x-gebruiker", "required")]


async def test_invalid_token_is_401_before_any_header_check(authenticator: JwtAuthenticator) -> None:
    request = request_with({"authorization": "Bearer a.b.c", "x-origin-oin": "bad"})
    with pytest.raises(ProblemError) as caught:
        await authenticator.authenticate(request)
    assert caught.value.status == 401
