"""The 403 problems doelbinding answers with: RvIG's codes and titles, our details.

This module owns the wording of every refusal `app.policy` makes. Codes and titles are RvIG's own
(DOMAIN.md §6), so a Haal Centraal client handles the broker's refusals like RvIG's. A detail names
the refused API, query type, parameters or field paths — never a parameter *value* (that may be
person data); the only values it ever shows are the caller's own gemeente codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from app.brp.problems import ProblemError, forbidden
from app.brp.queries import Api

__all__ = [
    "Refusal",
    "ambiguous_gemeente_refused",
    "api_refused",
    "fields_refused",
    "foreign_object_refused",
    "historie_not_confinable",
    "parameters_refused",
    "query_type_refused",
    "refusal",
]


class Refusal(StrEnum):
    """RvIG's 403 codes."""

    UNAUTHORIZED = "unauthorized"
    PARAMETER = "unauthorizedParameter"
    FIELD = "unauthorizedField"


_API_TITLE: Final = "U bent niet geautoriseerd voor het gebruik van deze API."
_QUESTION_TITLE: Final = "U bent niet geautoriseerd voor deze vraag."
_TITLES: Final[Mapping[Refusal, str]] = MappingProxyType(
    {
        Refusal.UNAUTHORIZED: _QUESTION_TITLE,
        Refusal.PARAMETER: "U bent niet geautoriseerd voor de gebruikte parameter(s).",
        Refusal.FIELD: "U bent niet geautoriseerd voor één of meerdere opgegeven field waarden.",
    }
)


def refusal(code: Refusal, detail: str) -> ProblemError:
    """A 403 with RvIG's title for the code."""
    return forbidden(code.value, _TITLES[code], detail)


def api_refused(api: Api) -> ProblemError:
    """No gegevensset allows the API."""
    return forbidden(
        Refusal.UNAUTHORIZED.value, _API_TITLE, f"U bent niet geautoriseerd voor de API {api.value}."
    )


def query_type_refused(query_type: str) -> ProblemError:
    """No gegevensset that allows the API allows this query type."""
    return refusal(Refusal.UNAUTHORIZED, f"U bent niet geautoriseerd voor de vraag {query_type}.")


def parameters_refused(names: Iterable[str]) -> ProblemError:
    """Search parameters no gegevensset allows, all named at once, sorted (RvIG's detail)."""
    listed = ", ".join(sorted(names))
    return refusal(
        Refusal.PARAMETER, f"U bent niet geautoriseerd voor het gebruik van parameter(s): {listed}."
    )


def fields_refused(paths: Iterable[str]) -> ProblemError:
    """Requested `fields` paths no gegevensset covers, all named at once, sorted (RvIG's detail)."""
    listed = ", ".join(sorted(paths))
    return refusal(
        Refusal.FIELD, f"U bent niet geautoriseerd om de volgende gegevens op te vragen met fields: {listed}"
    )


def ambiguous_gemeente_refused(gemeenten: Iterable[str]) -> ProblemError:
    """Own residents of several gemeenten are allowed, and the query does not say which."""
    listed = ", ".join(sorted(gemeenten))
    return refusal(
        Refusal.PARAMETER,
        f"U mag alleen eigen inwoners zoeken; geef gemeenteVanInschrijving op (een van: {listed}).",
    )


def foreign_object_refused() -> ProblemError:
    """Bewoning of an adresseerbaar object outside the caller's own gemeente (RvIG's detail)."""
    return refusal(
        Refusal.UNAUTHORIZED,
        "Je mag alleen bewoning van adresseerbare objecten binnen de eigen gemeente raadplegen.",
    )


def historie_not_confinable() -> ProblemError:
    """Verblijfplaatshistorie is only allowed by gegevenssets limited to own residents."""
    return refusal(
        Refusal.UNAUTHORIZED,
        "Verblijfplaatshistorie is niet tot eigen inwoners te beperken; "
        "u bent alleen geautoriseerd voor eigen inwoners.",
    )
