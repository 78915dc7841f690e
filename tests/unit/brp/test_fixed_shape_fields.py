"""A `fields` path one name below a date or Waardetabel asks for that whole object, as at RvIG.

RvIG's rule, once per such field in its Gherkin (BRP-API/brp-shared-dotnet
`features/validatie/personen/raadpleeg-met-burgerservicenummer/fields-*.feature`, BRP-API/
Haal-Centraal-BRP-bevragen `features/input-validatie/velden-vragen-met-fields/`): "alle velden van
geboorte.land wordt geleverd als bestaande/niet-bestaande sub-velden hiervan wordt gevraagd". Its
validator lists these objects as `geboorte.land.*` (`Brp.Shared.Validatie/Personen/Constanten.cs`)
and its proxy and data service rewrite such a path to the object by dropping the last name.

Which fields have this fixed shape is generated here from RvIG's OpenAPI spec (every property that
is, or extends, `Waardetabel` or `AbstractDatum`), independently of the catalogue, and the two are
compared; every one of them is then requested with a name RvIG does not list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any, Final

import msgspec
import pytest
import yaml

from app.brp import (
    Api,
    PersonenQuery,
    ProblemError,
    ResponseType,
    fields_catalogue,
    filter_fields,
    parse_query,
)
from tests.brp_invalid_requests import (
    FIELD_FORBIDDEN,
    FIELD_UNKNOWN,
    PARAMS_TITLE,
    InvalidRequestCase,
    Param,
)

PERSOON = ResponseType.PERSOON
BEPERKT = ResponseType.PERSOON_BEPERKT
GEZAG = ResponseType.GEZAG_PERSOON_BEPERKT

# --- the fixed-shape fields, from RvIG's spec ------------------------------------------------------

_SPEC: Final[dict[str, Any]] = yaml.safe_load(
    (resources.files("app.brp") / "specs" / "personen-openapi.yaml").read_text(encoding="utf-8")
)
_SCHEMAS: Final[dict[str, Any]] = _SPEC["components"]["schemas"]
_FIXED_SHAPES: Final = frozenset({"Waardetabel", "AbstractDatum"})
_ALIASES: Final = {"verblijfplaats": "verblijfplaatsBinnenland", "adressering": "adresseringBinnenland"}


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def _is_fixed_shape(name: str) -> bool:
    # A Waardetabel or date, or a schema built on one (AdellijkeTitelPredicaatType adds `soort`).
    parts = _SCHEMAS[name].get("allOf", [])
    return name in _FIXED_SHAPES or any(
        "$ref" in part and _is_fixed_shape(_name(part["$ref"])) for part in parts
    )


def _properties(name: str, seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, dict[str, Any]]]:
    # Own properties, those of allOf parts, and those of every subtype of a discriminator.
    if name in seen:
        return
    seen |= {name}
    schema = _SCHEMAS[name]
    for part in schema.get("allOf", []):
        if "$ref" in part:
            yield from _properties(_name(part["$ref"]), seen)
        else:
            yield from part.get("properties", {}).items()
    yield from schema.get("properties", {}).items()
    for subtype in schema.get("discriminator", {}).get("mapping", {}).values():
        yield from _properties(_name(subtype), seen)


def _fixed_shape_paths(name: str, prefix: str = "") -> Iterator[str]:
    for prop, schema in _properties(name):
        ref = schema.get("items", schema).get("$ref")
        if ref is None:
            continue
        if _is_fixed_shape(_name(ref)):
            yield prefix + prop
        else:
            yield from _fixed_shape_paths(_name(ref), f"{prefix}{prop}.")


def spec_fixed_shape_fields(response_type: ResponseType) -> frozenset[str]:
    """Requestable dates and Waardetabellen of the schema, with their *Binnenland alias paths."""
    catalogue = fields_catalogue()
    found = {path for path in _fixed_shape_paths(response_type.value) if not catalogue.is_forbidden(path)}
    aliased = {
        _ALIASES[head] + dot + rest
        for head, dot, rest in (path.partition(".") for path in found)
        if head in _ALIASES and catalogue.exists(_ALIASES[head] + dot + rest, response_type)
    }
    return frozenset(found | aliased)


FIXED_SHAPE: Final = {rt: spec_fixed_shape_fields(rt) for rt in ResponseType}
CASES: Final = [(rt, path) for rt in ResponseType for path in sorted(FIXED_SHAPE[rt])]

# A valid query of each response type, without `fields`.
QUERY_OF: Final[dict[ResponseType, dict[str, Any]]] = {
    PERSOON: {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": ["999993653"]},
    BEPERKT: {
        "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
        "geslachtsnaam": "Maassen",
        "geboortedatum": "1983-05-26",
    },
    GEZAG: {
        "type": "ZoekMetAdresseerbaarObjectIdentificatie",
        "adresseerbaarObjectIdentificatie": "0599010000219679",
    },
}
EVERY_QUERY_TYPE: Final[list[dict[str, Any]]] = [
    QUERY_OF[PERSOON],
    QUERY_OF[BEPERKT],
    {
        "type": "ZoekMetNaamEnGemeenteVanInschrijving",
        "geslachtsnaam": "Maassen",
        "voornamen": "Pieter",
        "gemeenteVanInschrijving": "0599",
    },
    {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "2628HJ", "huisnummer": 2},
    {
        "type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
        "straat": "Boterdiep",
        "huisnummer": 31,
        "gemeenteVanInschrijving": "0599",
    },
    {"type": "ZoekMetNummeraanduidingIdentificatie", "nummeraanduidingIdentificatie": "0599200000219678"},
    QUERY_OF[GEZAG],
]


def _fields_of(query: dict[str, Any], *fields: str) -> tuple[str, ...]:
    parsed = parse_query(Api.PERSONEN, json.dumps({**query, "fields": list(fields)}).encode())
    assert isinstance(parsed, PersonenQuery)
    return parsed.fields


def _case_id(case: tuple[ResponseType, str]) -> str:
    return f"{case[0].value}:{case[1]}"


# --- which fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize("response_type", list(ResponseType))
def test_the_catalogue_knows_every_date_and_waardetabel_of_the_spec(response_type: ResponseType) -> None:
    assert fields_catalogue().fixed_shape_fields(response_type) == FIXED_SHAPE[response_type]


def test_there_are_as_many_as_in_rvigs_validator() -> None:
    # RvIG's Constanten.cs has one `<field>.*` wildcard (inOnderzoek aside) for each of them.
    assert {rt: len(paths) for rt, paths in FIXED_SHAPE.items()} == {PERSOON: 54, BEPERKT: 4, GEZAG: 4}
    assert FIXED_SHAPE[BEPERKT] == {
        "geboorte.datum",
        "geslacht",
        "naam.adellijkeTitelPredicaat",
        "adressering.land",
    }
    assert {
        "geboorte.land",
        "partners.geboorte.datum",
        "partners.naam.adellijkeTitelPredicaat",
        "ouders.datumIngangFamilierechtelijkeBetrekking",
        "kinderen.geboorte.plaats",
        "nationaliteiten.nationaliteit",
        "verblijfplaats.datumVan",
        "verblijfplaats.verblijfadres.land",
        "verblijfplaatsBinnenland.verblijfadres.aanduidingBijHuisnummer",
        "gemeenteVanInschrijving",
        "indicatieGezagMinderjarige",
        "verblijfstitel.datumEinde",
    } <= FIXED_SHAPE[PERSOON]
    assert "verblijfplaatsBinnenland.verblijfadres.land" not in FIXED_SHAPE[PERSOON]


# --- every one of them, with a name RvIG does not list ---------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_an_unlisted_name_below_a_fixed_shape_field_asks_for_the_whole_field(
    case: tuple[ResponseType, str],
) -> None:
    response_type, whole = case

    assert _fields_of(QUERY_OF[response_type], f"{whole}.nietBestaand") == (whole,)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_a_listed_sub_field_of_a_fixed_shape_field_stays_as_asked(case: tuple[ResponseType, str]) -> None:
    response_type, whole = case
    listed = sorted(fields_catalogue().children(whole, response_type))

    assert listed  # code/omschrijving, or type/datum/langFormaat/...
    for child in listed:
        assert _fields_of(QUERY_OF[response_type], f"{whole}.{child}") == (f"{whole}.{child}",)


def _waarde(whole: str, response_type: ResponseType) -> dict[str, Any]:
    if "langFormaat" in fields_catalogue().children(whole, response_type):
        return {"type": "Datum", "datum": "1983-05-26", "langFormaat": "26 mei 1983"}
    return {"code": "0599", "omschrijving": "Rotterdam"}


def _stored_at(whole: str) -> list[str]:
    # Where the field is in a person object: an alias answers under its plain field.
    head, *rest = whole.split(".")
    return [{alias: plain for plain, alias in _ALIASES.items()}.get(head, head), *rest]


def _person_with(whole: str, value: dict[str, Any]) -> dict[str, Any]:
    # The field, with a sibling on every level that is not asked for.
    node: dict[str, Any] = value
    for name in reversed(_stored_at(whole)):
        node = {name: node, "anders": "niet gevraagd"}
    for name in ("nationaliteiten", "kinderen", "ouders", "partners"):
        if name in node:
            node[name] = [node[name]]
    if "verblijfplaats" in node:
        node["verblijfplaats"]["type"] = "Adres"
    return node


def _at(answer: dict[str, Any], whole: str) -> Any:
    node: Any = answer
    for name in _stored_at(whole):
        node = node[0][name] if isinstance(node, list) else node[name]
    return node


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_filter_fields_delivers_the_whole_field_for_an_unlisted_name(case: tuple[ResponseType, str]) -> None:
    response_type, whole = case
    value = _waarde(whole, response_type)
    person = _person_with(whole, value)

    delivered = filter_fields(person, [f"{whole}.nietBestaand"], response_type)

    assert _at(delivered, whole) == value
    assert delivered == filter_fields(person, [whole], response_type)
    assert "anders" not in json.dumps(delivered)


# --- RvIG's own examples and the edges --------------------------------------------------------------


EXAMPLES: Final[list[tuple[dict[str, Any], str, str]]] = [
    (QUERY_OF[PERSOON], "geboorte.land.nietBestaand", "geboorte.land"),
    (QUERY_OF[PERSOON], "partners.geboorte.datum.foo", "partners.geboorte.datum"),
    (QUERY_OF[PERSOON], "nationaliteiten.nationaliteit.x", "nationaliteiten.nationaliteit"),
    (QUERY_OF[PERSOON], "verblijfplaats.datumVan.x", "verblijfplaats.datumVan"),
    (QUERY_OF[PERSOON], "verblijfplaatsBinnenland.datumVan.x", "verblijfplaatsBinnenland.datumVan"),
    (QUERY_OF[PERSOON], "europeesKiesrecht.aanduiding.nietBestaand", "europeesKiesrecht.aanduiding"),
    (
        QUERY_OF[PERSOON],
        "partners.naam.adellijkeTitelPredicaat.soort",
        "partners.naam.adellijkeTitelPredicaat.soort",
    ),
    (QUERY_OF[PERSOON], "geboorte.land.code", "geboorte.land.code"),
    (QUERY_OF[PERSOON], "geboorte.land.niet_bestaand_2", "geboorte.land"),
    # RvIG's validator matches `geboorte.land.*` by prefix and its rewrite drops the last
    # (here empty) name, so even this answers geboorte.land there.
    (QUERY_OF[PERSOON], "geboorte.land.", "geboorte.land"),
    (QUERY_OF[BEPERKT], "geboorte.datum.nietBestaand", "geboorte.datum"),
    (QUERY_OF[GEZAG], "geslacht.nietBestaand", "geslacht"),
    (QUERY_OF[GEZAG], "adressering.land.x", "adressering.land"),
]


@pytest.mark.parametrize(("query", "asked", "fields"), EXAMPLES, ids=[asked for _, asked, _ in EXAMPLES])
def test_rvigs_examples(query: dict[str, Any], asked: str, fields: str) -> None:
    assert _fields_of(query, asked) == (fields,)


@pytest.mark.parametrize("query", EVERY_QUERY_TYPE, ids=lambda query: str(query["type"]))
def test_every_query_type_accepts_a_name_below_the_birth_date(query: dict[str, Any]) -> None:
    assert _fields_of(query, "naam", "geboorte.datum.nietBestaand", "geslacht.code") == (
        "naam",
        "geboorte.datum",
        "geslacht.code",
    )


def _refused(query: dict[str, Any], fields: list[str], *params: Param) -> InvalidRequestCase:
    body = json.dumps({**query, "fields": fields}).encode()
    return InvalidRequestCase(fields[0], Api.PERSONEN, body, 400, "paramsValidation", PARAMS_TITLE, params)


def _unknown(index: int = 0) -> Param:
    return ("fields", f"fields[{index}]", FIELD_UNKNOWN)


REFUSED: Final = [
    # RvIG's own negative examples: a name below a group or a list is still unknown.
    _refused(QUERY_OF[PERSOON], ["naam.nietBestaand"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["partners.nietBestaand"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["partners.aangaanHuwelijkPartnerschap.nietBestaand"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["partners.geboorte.nietBestaand"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["ouders.naam.nietBestaand"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["verblijfplaats.verblijfadres.nietBestaand"], _unknown()),
    # below a plain value
    _refused(QUERY_OF[PERSOON], ["burgerservicenummer.x"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["leeftijd.x"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["naam.voornamen.x"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["nationaliteiten.type.x"], _unknown()),
    # two names below (a name below `code`, a plain text): RvIG's validator lets these through, but
    # its autorisatie and protocollering cannot map them (a 500); the broker refuses them up front.
    _refused(QUERY_OF[PERSOON], ["geboorte.land.code.x"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["geboorte.datum.jaar.x"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["geboorte.land.x.y"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["geboorte.land.."], _unknown()),
    # a fixed-shape field of another response type, or one the alias leaves out
    _refused(QUERY_OF[BEPERKT], ["geboorte.land.nietBestaand"], _unknown()),
    _refused(QUERY_OF[GEZAG], ["nationaliteiten.nationaliteit.x"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["verblijfplaatsBinnenland.verblijfadres.land.x"], _unknown()),
    _refused(QUERY_OF[PERSOON], ["Geboorte.land.x"], _unknown()),
    # "niet toegestaan" still comes first (RvIG: the path *contains* the name)
    _refused(QUERY_OF[PERSOON], ["geboorte.land.inOnderzoek"], ("fields", "fields[0]", FIELD_FORBIDDEN)),
    _refused(QUERY_OF[PERSOON], ["geslacht.rni"], ("fields", "fields[0]", FIELD_FORBIDDEN)),
    _refused(QUERY_OF[PERSOON], ["gezag.nietBestaand"], ("fields", "fields[0]", FIELD_FORBIDDEN)),
    _refused(QUERY_OF[PERSOON], ["opschortingBijhouding.datum.x"], ("fields", "fields[0]", FIELD_FORBIDDEN)),
    # the accepted ones do not hide the refused ones
    _refused(
        QUERY_OF[PERSOON],
        ["naam.x", "geboorte.land.x", "burgerservicenummer.y", "geslacht."],
        _unknown(0),
        _unknown(2),
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.id)
def test_other_unknown_paths_keep_rvigs_400(case: InvalidRequestCase) -> None:
    with pytest.raises(ProblemError) as raised:
        parse_query(case.api, case.body)

    problem: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(raised.value.problem.at(case.path)))
    assert problem == case.expected_problem()
