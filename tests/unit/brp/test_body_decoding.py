"""A body that is not valid JSON text — bad UTF-8, nesting beyond any real query — is RvIG's 400.

The decoder raises errors of its own for these (`UnicodeDecodeError`, `RecursionError`) rather
than its `DecodeError`; a client must still get the plain "not valid JSON" problem, never a 500.
"""

from __future__ import annotations

import pytest

from app.brp import Api, ProblemError, parse_query

RAADPLEEG = (
    b'{"type":"RaadpleegMetBurgerservicenummer","burgerservicenummer":["999993653"],"fields":["naam"]}'
)

BAD_BODIES = {
    "invalid UTF-8 in a string": b'{"type":"Raadpleeg\xffMetBurgerservicenummer"}',
    "invalid UTF-8 at the start": b"\xff\xfe{}",
    "a lone surrogate half as UTF-8": b'{"type":"\xed\xa0\x80"}',
    "UTF-16 with a byte order mark": '{"type":"x"}'.encode("utf-16"),
    "arrays nested 1,000 deep": b"[" * 1000 + b"]" * 1000,
    "objects nested 1,000 deep": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "nesting 100,000 deep, unclosed": b"[" * 100_000,
    "deep nesting inside a valid query": RAADPLEEG[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
}


@pytest.mark.parametrize("api", list(Api))
@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_undecodable_body_is_rvigs_invalid_json_problem(api: Api, body: bytes) -> None:
    with pytest.raises(ProblemError) as raised:
        parse_query(api, body)
    problem = raised.value.problem
    assert raised.value.status == 400
    assert problem.title == "De bevraging bevat een fout."
    assert problem.detail == "Request body is geen geldige JSON."


def test_moderate_nesting_in_an_unknown_parameter_is_still_judged_as_a_query() -> None:
    # Depth alone is not an error: a shallow nested value is an unknown parameter, RvIG's own 400.
    body = RAADPLEEG[:-1] + b',"x":[[[1]]]}'
    with pytest.raises(ProblemError) as raised:
        parse_query(Api.PERSONEN, body)
    assert raised.value.problem.code == "paramsValidation"
