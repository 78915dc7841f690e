"""RvIG's Accept / Content-Type rules: 406 before 415, whole values, case and spaces ignored."""

from __future__ import annotations

import pytest

from app.brp import ProblemError, check_media_types

ACCEPTED_ACCEPT = [
    None,
    "",
    "*/*",
    "*/*; charset=utf-8",
    "*/*;charset=utf-8",
    "*/*;charset=UTF-8",
    "application/json",
    "application/json; charset=utf-8",
    "application/json;charset=utf-8",
    "application/json;charset=Utf-8",
    "application/json; charset=UTF-8",
    "Application/JSON",
    "  application/json ; charset = utf-8  ",
]
REFUSED_ACCEPT = [
    "application/xml",
    "text/csv",
    "application/problem+json",
    "application/json, text/plain",  # one header value, compared whole
    "application/json; charset=cp1252",
    "text/*",
]
ACCEPTED_CONTENT_TYPE = [
    None,
    "",
    "application/json",
    "application/json;charset=utf-8",
    "application/json; charset=utf-8",
    "application/json;charset=Utf-8",
    "application/json; charset=UTF-8",
    "APPLICATION/JSON",
]
REFUSED_CONTENT_TYPE = [
    "application/xml",
    "text/csv",
    "application/json; charset=cp1252",
    "*/*",
    "*/*; charset=utf-8",
    "*/*;charset=utf-8",
    "application/x-www-form-urlencoded",
    "text/plain",
]


@pytest.mark.parametrize("accept", ACCEPTED_ACCEPT)
@pytest.mark.parametrize("content_type", ACCEPTED_CONTENT_TYPE)
def test_accepted_headers_pass(content_type: str | None, accept: str | None) -> None:
    check_media_types(content_type, accept)


@pytest.mark.parametrize("accept", REFUSED_ACCEPT)
def test_unsupported_accept_is_406(accept: str) -> None:
    with pytest.raises(ProblemError) as raised:
        check_media_types("application/json", accept)

    problem = raised.value.problem
    assert (problem.status, problem.code) == (406, "notAcceptable")
    assert problem.title == "Gevraagde content type wordt niet ondersteund."
    assert problem.detail == "Ondersteunde content type: application/json; charset=utf-8."
    assert problem.type == "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.6"


@pytest.mark.parametrize("content_type", REFUSED_CONTENT_TYPE)
def test_unsupported_content_type_is_415(content_type: str) -> None:
    with pytest.raises(ProblemError) as raised:
        check_media_types(content_type, "application/json")

    problem = raised.value.problem
    assert (problem.status, problem.code) == (415, "unsupportedMediaType")
    assert problem.title == "Media Type wordt niet ondersteund."
    assert problem.detail == "Ondersteunde content type: application/json; charset=utf-8."
    assert problem.type == "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.13"


def test_accept_is_checked_before_content_type() -> None:
    with pytest.raises(ProblemError) as raised:
        check_media_types("application/xml", "application/xml")

    assert raised.value.status == 406
