"""The doelbinding decision: API, type, parameters, deceased, own residents, union — as tables.

Each row: the caller's gegevenssets, the validated query, and either the query the broker must
send or the 403 (code, title, detail) the caller must get.
"""

from __future__ import annotations

import pytest

from app.brp import ProblemError, Query
from app.policy import DoelbindingPolicy, Gegevensset, authorise
from tests.unit.policy.builders import (
    AMSTERDAM,
    AOI_0362,
    AOI_0363,
    AOI_0518,
    BASIS,
    BEWONING,
    HISTORIE,
    INDEX,
    LEIDEN,
    PARAMETER_TITLE,
    QUESTION_TITLE,
    RAADPLEEG_ALLES,
    ZOEK_NAAM,
    Refused,
    api_refused,
    bewoning,
    decide,
    fields_refused,
    historie,
    in_gemeente,
    parameters_refused,
    postcode,
    raadpleeg,
    type_refused,
    with_,
    zoek_in_gemeente,
    zoek_naam,
)

Case = tuple[list[Gegevensset], Query, Query | Refused]


def run(cases: dict[str, Case]) -> pytest.MarkDecorator:
    """Parametrize a test over named cases."""
    return pytest.mark.parametrize(("sets", "query", "expected"), list(cases.values()), ids=list(cases))


DENY_BY_DEFAULT: dict[str, Case] = {
    "no sets, personen": ([], raadpleeg(), api_refused("personen")),
    "no sets, bewoning": ([], bewoning(), api_refused("bewoning")),
    "no sets, historie": ([], historie(), api_refused("verblijfplaatshistorie")),
    "set with no APIs": ([with_(BASIS, apis=())], raadpleeg(), api_refused("personen")),
    "unknown names grant nothing": (
        [with_(BASIS, apis=("Personen", "bewoningen"), query_types=("raadpleegMetBurgerservicenummer",))],
        raadpleeg(),
        api_refused("personen"),
    ),
    "default parameters: none": (
        [with_(BASIS, parameters=())],
        raadpleeg(),
        parameters_refused("burgerservicenummer"),
    ),
    "default fields: none": ([with_(BASIS, fields=())], raadpleeg("naam"), fields_refused("naam")),
}

API_AND_TYPE: dict[str, Case] = {
    "API refused": ([BASIS], bewoning(), api_refused("bewoning")),
    "historie API refused": ([BASIS, BEWONING], historie(), api_refused("verblijfplaatshistorie")),
    "type refused": ([ZOEK_NAAM], raadpleeg(), type_refused("RaadpleegMetBurgerservicenummer")),
    "type refused, title is the question's": (
        [with_(BEWONING, query_types=("BewoningMetPeriode",))],
        bewoning(),
        Refused(
            "unauthorized", QUESTION_TITLE, "U bent niet geautoriseerd voor de vraag BewoningMetPeildatum."
        ),
    ),
    "type of another API does not count": (
        [
            with_(
                BASIS,
                apis=("personen", "bewoning"),
                query_types=("BewoningMetPeildatum", "ZoekMetPostcodeEnHuisnummer"),
            )
        ],
        raadpleeg(),
        type_refused("RaadpleegMetBurgerservicenummer"),
    ),
    "wildcard type allows every type of the API": ([BASIS], postcode(), postcode()),
    "API allowed by one set, type by none": (
        [ZOEK_NAAM, with_(BEWONING, query_types=("BewoningMetPeriode",))],
        bewoning(),
        type_refused("BewoningMetPeildatum"),
    ),
}

PARAMETERS: dict[str, Case] = {
    "allowed parameters": ([ZOEK_NAAM], zoek_naam(), zoek_naam()),
    "one refused": ([ZOEK_NAAM], zoek_naam(geslacht="V"), parameters_refused("geslacht")),
    "all refused named, sorted": (
        [ZOEK_NAAM],
        zoek_naam(voorvoegsel="de", geslacht="V", voornamen="Suzanne"),
        parameters_refused("geslacht, voornamen, voorvoegsel"),
    ),
    "required parameters need allowing too": (
        [with_(ZOEK_NAAM, parameters=("geslachtsnaam",))],
        zoek_naam(),
        parameters_refused("geboortedatum"),
    ),
    "wildcard allows all": (
        [with_(ZOEK_NAAM, parameters=("*",))],
        zoek_naam(geslacht="V"),
        zoek_naam(geslacht="V"),
    ),
    "gemeenteVanInschrijving is a parameter like any other": (
        [ZOEK_NAAM],
        zoek_naam(gemeente="0363"),
        parameters_refused("gemeenteVanInschrijving"),
    ),
    "parameters are checked before fields": (
        [ZOEK_NAAM],
        zoek_naam("naam.voorvoegsel", geslacht="V"),
        parameters_refused("geslacht"),
    ),
    "the title is RvIG's": (
        [ZOEK_NAAM],
        zoek_naam(geslacht="V"),
        Refused(
            "unauthorizedParameter",
            PARAMETER_TITLE,
            "U bent niet geautoriseerd voor het gebruik van parameter(s): geslacht.",
        ),
    ),
}

DECEASED: dict[str, Case] = {
    "true refused by default": (
        [ZOEK_NAAM],
        zoek_naam(overleden=True),
        parameters_refused("inclusiefOverledenPersonen"),
    ),
    "false needs nothing": ([ZOEK_NAAM], zoek_naam(overleden=False), zoek_naam(overleden=False)),
    "true allowed by the switch": (
        [with_(ZOEK_NAAM, inclusief_overleden_personen=True)],
        zoek_naam(overleden=True),
        zoek_naam(overleden=True),
    ),
    "listing it as a parameter is not enough": (
        [with_(ZOEK_NAAM, parameters=("*",))],
        zoek_naam(overleden=True),
        parameters_refused("inclusiefOverledenPersonen"),
    ),
    "named together with other parameters": (
        [ZOEK_NAAM],
        zoek_naam(overleden=True, geslacht="V"),
        parameters_refused("geslacht, inclusiefOverledenPersonen"),
    ),
}

OWN_RESIDENTS: dict[str, Case] = {
    "injected into a search": ([AMSTERDAM], postcode(), in_gemeente(postcode(), "0363")),
    "injected into raadpleeg": ([AMSTERDAM], raadpleeg(), in_gemeente(raadpleeg(), "0363")),
    "own value kept": ([AMSTERDAM], postcode(gemeente="0363"), postcode(gemeente="0363")),
    "own value needs no parameter permission": (
        [with_(AMSTERDAM, parameters=("postcode", "huisnummer"))],
        postcode(gemeente="0363"),
        postcode(gemeente="0363"),
    ),
    "injection needs no parameter permission": (
        [with_(AMSTERDAM, parameters=("postcode", "huisnummer"))],
        postcode(),
        in_gemeente(postcode(), "0363"),
    ),
    "foreign value refused": (
        [AMSTERDAM],
        postcode(gemeente="0518"),
        parameters_refused("gemeenteVanInschrijving"),
    ),
    "foreign value refused even with all parameters": (
        [AMSTERDAM],
        zoek_in_gemeente("0518"),
        parameters_refused("gemeenteVanInschrijving"),
    ),
    "required gemeente, own value": ([AMSTERDAM], zoek_in_gemeente("0363"), zoek_in_gemeente("0363")),
    "foreign value named with the other refused parameters": (
        [with_(AMSTERDAM, parameters=("postcode",))],
        postcode(gemeente="0518"),
        parameters_refused("gemeenteVanInschrijving, huisnummer"),
    ),
    "unrestricted set that allows it: no injection": ([AMSTERDAM, BASIS], postcode(), postcode()),
    "unrestricted set first: no injection": ([BASIS, AMSTERDAM], postcode(), postcode()),
    "unrestricted set allows a foreign value": (
        [AMSTERDAM, BASIS],
        postcode(gemeente="0518"),
        postcode(gemeente="0518"),
    ),
    "unrestricted set that does not allow it: injection": (
        [AMSTERDAM, with_(BASIS, fields=("naam",))],
        postcode("geboorte"),
        in_gemeente(postcode("geboorte"), "0363"),
    ),
    "two gemeenten, none named: refused, caller must choose": (
        [AMSTERDAM, LEIDEN],
        postcode(),
        Refused(
            "unauthorizedParameter",
            PARAMETER_TITLE,
            "U mag alleen eigen inwoners zoeken; geef gemeenteVanInschrijving op (een van: 0363, 0546).",
        ),
    ),
    "two gemeenten, one named": ([AMSTERDAM, LEIDEN], postcode(gemeente="0546"), postcode(gemeente="0546")),
    "two gemeenten, only one allows the fields: injected": (
        [with_(AMSTERDAM, fields=("naam",)), LEIDEN],
        postcode("geboorte"),
        in_gemeente(postcode("geboorte"), "0546"),
    ),
    "other restrictions still apply": ([AMSTERDAM], postcode("kinderen"), fields_refused("kinderen")),
    "bewoning inside the gemeente": ([AMSTERDAM], bewoning(AOI_0363), bewoning(AOI_0363)),
    "bewoning inside a former gemeente": ([AMSTERDAM], bewoning(AOI_0362), bewoning(AOI_0362)),
    "bewoning outside": (
        [AMSTERDAM],
        bewoning(AOI_0518),
        Refused(
            "unauthorized",
            QUESTION_TITLE,
            "Je mag alleen bewoning van adresseerbare objecten binnen de eigen gemeente raadplegen.",
        ),
    ),
    "bewoning outside, unrestricted set allows": (
        [AMSTERDAM, BEWONING],
        bewoning(AOI_0518),
        bewoning(AOI_0518),
    ),
    "historie cannot be confined": (
        [with_(AMSTERDAM, apis=("verblijfplaatshistorie",))],
        historie(),
        Refused(
            "unauthorized",
            QUESTION_TITLE,
            "Verblijfplaatshistorie is niet tot eigen inwoners te beperken; "
            "u bent alleen geautoriseerd voor eigen inwoners.",
        ),
    ),
    "historie allowed by an unrestricted set": (
        [with_(AMSTERDAM, apis=("verblijfplaatshistorie",)), HISTORIE],
        historie(),
        historie(),
    ),
}

UNION: dict[str, Case] = {
    "first set allows": ([ZOEK_NAAM, RAADPLEEG_ALLES], zoek_naam(), zoek_naam()),
    "second set allows": ([ZOEK_NAAM, RAADPLEEG_ALLES], raadpleeg("kinderen"), raadpleeg("kinderen")),
    "neither allows": ([ZOEK_NAAM, RAADPLEEG_ALLES], zoek_naam(geslacht="V"), parameters_refused("geslacht")),
    "one set's fields do not ride along on another set's type": (
        [ZOEK_NAAM, RAADPLEEG_ALLES],
        zoek_naam("naam.voorvoegsel"),
        fields_refused("naam.voorvoegsel"),
    ),
    "one set's parameters do not ride along": (
        [ZOEK_NAAM, with_(ZOEK_NAAM, name="geslacht", parameters=("geslacht",))],
        zoek_naam(geslacht="V"),
        parameters_refused("geslacht"),
    ),
    "the refusal of the closest set is given": (
        [with_(BASIS, fields=("naam",)), with_(BASIS, fields=("naam", "geboorte"))],
        raadpleeg("naam", "geboorte", "kinderen"),
        fields_refused("kinderen"),
    ),
    "equally close: the first set's refusal": (
        [with_(BASIS, fields=("naam",)), with_(BASIS, fields=("geboorte",))],
        raadpleeg("naam", "geboorte"),
        fields_refused("geboorte"),
    ),
}


@run(DENY_BY_DEFAULT)
def test_deny_by_default(sets: list[Gegevensset], query: Query, expected: Query | Refused) -> None:
    assert decide(sets, query) == expected


@run(API_AND_TYPE)
def test_api_and_query_type(sets: list[Gegevensset], query: Query, expected: Query | Refused) -> None:
    assert decide(sets, query) == expected


@run(PARAMETERS)
def test_parameters(sets: list[Gegevensset], query: Query, expected: Query | Refused) -> None:
    assert decide(sets, query) == expected


@run(DECEASED)
def test_inclusief_overleden_personen(
    sets: list[Gegevensset], query: Query, expected: Query | Refused
) -> None:
    assert decide(sets, query) == expected


@run(OWN_RESIDENTS)
def test_own_residents(sets: list[Gegevensset], query: Query, expected: Query | Refused) -> None:
    assert decide(sets, query) == expected


@run(UNION)
def test_union_of_sets(sets: list[Gegevensset], query: Query, expected: Query | Refused) -> None:
    assert decide(sets, query) == expected


def test_the_free_function_decides_like_the_compiled_policy() -> None:
    query = postcode()

    assert authorise([AMSTERDAM], query) == DoelbindingPolicy([AMSTERDAM]).authorise(query)
    with pytest.raises(ProblemError) as refused:
        authorise([], query)
    assert (refused.value.status, refused.value.problem.code) == (403, "unauthorized")


def test_a_policy_keeps_nothing_between_requests() -> None:
    policy = DoelbindingPolicy([AMSTERDAM, LEIDEN, BASIS], index=INDEX)
    queries: list[Query] = [postcode(), postcode(gemeente="0546"), raadpleeg("kinderen"), bewoning(AOI_0518)]

    def answer(query: Query) -> Query | str | None:
        try:
            return policy.authorise(query)
        except ProblemError as error:
            return error.problem.detail

    forwards = [answer(q) for q in queries]

    assert [answer(q) for q in reversed(queries)] == list(reversed(forwards))
    assert policy.gegevenssets == (AMSTERDAM, LEIDEN, BASIS)
