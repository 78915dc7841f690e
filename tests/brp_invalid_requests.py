"""Invalid BRP requests and RvIG's exact answer to each: one table for every test level.

A plain data module (no tests): `tests/unit/brp/test_validation.py` runs it against `parse_query`;
the sandbox and gateway suites send the same bodies over HTTPS and compare the problem+json with
`case.expected_problem()`. It imports nothing but `app.brp` and the standard library, and writes
RvIG's patterns and texts out literally, so it checks the code rather than repeating it.

Sources: DOMAIN.md §2–6 and RvIG's Gherkin (BRP-API/brp-shared-dotnet `features/validatie/`,
BRP-API/Haal-Centraal-BRP-bevragen `features/`). Where RvIG's behaviour is undefined or a 500, the
case says so and holds the broker's documented choice (see `app/brp/validation.py`).
`invalidParams` are listed in RvIG's validator order per query type, which is not the body order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.brp import API_PATHS, Api

__all__ = ["INVALID_REQUESTS", "InvalidRequestCase"]

BAD_REQUEST_TYPE = "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1"
PARAMS_TITLE = "Een of meerdere parameters zijn niet correct."
INVALID_JSON_TITLE = "De bevraging bevat een fout."
INVALID_JSON_DETAIL = "Request body is geen geldige JSON."

REQUIRED = "Parameter is verplicht."
NOT_ARRAY = "Parameter is geen array."
MIN_ITEMS = "Array bevat minder dan 1 items."
MAX_BSNS = "Array bevat meer dan 20 items."
MAX_FIELDS = "Array bevat meer dan 130 items."
UNKNOWN = "Parameter is niet verwacht."
BAD_TYPE = "Waarde is geen geldig zoek type."
NOT_DATE = "Waarde is geen geldige datum."
NOT_INTEGER = "Waarde is geen geldig getal."
BELOW_MINIMUM = "Waarde is lager dan minimum 1."
ABOVE_MAXIMUM = "Waarde is hoger dan maximum 99999."
NOT_BOOLEAN = "Waarde is geen boolean."
FIELD_FORBIDDEN = "Parameter bevat een niet toegestane veldnaam."
FIELD_UNKNOWN = "Parameter bevat een niet bestaande veldnaam."
TOT_NOT_AFTER_VAN = "datumTot moet na datumVan liggen."


def _pattern(regex: str) -> str:
    return f"Waarde voldoet niet aan patroon {regex}."


BSN_PATTERN = _pattern(r"^[0-9]{9}$")
GEMEENTE_PATTERN = _pattern(r"^[0-9]{4}$")
NAAM_PATTERN = _pattern(r"^[a-zA-Z0-9À-ž \.\-\']{1,200}$|^[a-zA-Z0-9À-ž \.\-\']{3,199}\*{1}$")
VOORNAMEN_PATTERN = _pattern(r"^[a-zA-Z0-9À-ž \.\-\']{1,199}\*{0,1}$")
VOORVOEGSEL_PATTERN = _pattern(r"^[a-zA-Z \']{1,10}$")
GESLACHT_PATTERN = _pattern(r"^([Mm]|[Vv]|[Oo])$")
POSTCODE_PATTERN = _pattern(r"^[1-9]{1}[0-9]{3}[ ]?[A-Za-z]{2}$")
HUISLETTER_PATTERN = _pattern(r"^[a-zA-Z]{1}$")
TOEVOEGING_PATTERN = _pattern(r"^[a-zA-Z0-9 \-]{1,4}$")
STRAAT_PATTERN = _pattern(
    r"^[a-zA-Z0-9À-ž \-\'\.]{1,80}$|^[a-zA-Z0-9À-ž \-\'\.]{7,79}\*{1}$|^\*{1}[a-zA-Z0-9À-ž \-\'\.]{7,79}$"
)
IDENTIFICATIE_PATTERN = _pattern(r"^(?!0{16})[0-9]{16}$")
FIELD_PATTERN = _pattern(r"^[a-zA-Z0-9\._]{1,200}$")

Param = tuple[str, str, str]  # (code, name, reason)


@dataclass(frozen=True, slots=True)
class InvalidRequestCase:
    """One request body and RvIG's answer: status, code, title and invalidParams in order."""

    id: str
    api: Api
    body: bytes
    status: int
    code: str | None
    title: str
    invalid_params: tuple[Param, ...]

    @property
    def path(self) -> str:
        """The endpoint path (RvIG's, served unchanged by the broker and the sandbox)."""
        return API_PATHS[self.api]

    @property
    def detail(self) -> str:
        """RvIG's `detail`: the names of the invalid parameters, or the invalid-JSON text."""
        if not self.invalid_params:
            return INVALID_JSON_DETAIL
        return "De foutieve parameter(s) zijn: " + ", ".join(name for _, name, _ in self.invalid_params) + "."

    def expected_problem(self) -> dict[str, Any]:
        """The whole problem+json body RvIG answers (invalid JSON has no `code`/`invalidParams`)."""
        problem: dict[str, Any] = {
            "type": BAD_REQUEST_TYPE,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": self.path,
        }
        if self.code is not None:
            problem["code"] = self.code
        if self.invalid_params:
            problem["invalidParams"] = [
                {"code": code, "name": name, "reason": reason} for code, name, reason in self.invalid_params
            ]
        return problem


def _body(value: dict[str, Any] | bytes) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()


def _params(case_id: str, api: Api, body: dict[str, Any] | bytes, *params: Param) -> InvalidRequestCase:
    return InvalidRequestCase(case_id, api, _body(body), 400, "paramsValidation", PARAMS_TITLE, params)


def _invalid_json(case_id: str, api: Api, body: bytes) -> InvalidRequestCase:
    return InvalidRequestCase(case_id, api, body, 400, None, INVALID_JSON_TITLE, ())


P, B, H = Api.PERSONEN, Api.BEWONING, Api.VERBLIJFPLAATSHISTORIE

RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": ["999993653"],
    "fields": ["naam"],
}
GESLACHTSNAAM = {
    "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
    "geslachtsnaam": "Maassen",
    "geboortedatum": "1983-05-26",
    "fields": ["burgerservicenummer"],
}
NAAM_GEMEENTE = {
    "type": "ZoekMetNaamEnGemeenteVanInschrijving",
    "geslachtsnaam": "Maassen",
    "voornamen": "Pieter",
    "gemeenteVanInschrijving": "0518",
    "fields": ["burgerservicenummer"],
}
POSTCODE = {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "2628HJ", "huisnummer": 2, "fields": ["naam"]}
STRAAT = {
    "type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
    "straat": "Thorbeckelaan",
    "huisnummer": 731,
    "gemeenteVanInschrijving": "0518",
    "fields": ["naam"],
}
NUMMERAANDUIDING = {
    "type": "ZoekMetNummeraanduidingIdentificatie",
    "nummeraanduidingIdentificatie": "0599200051001501",
    "fields": ["naam"],
}
AOI = {
    "type": "ZoekMetAdresseerbaarObjectIdentificatie",
    "adresseerbaarObjectIdentificatie": "0518010060731001",
    "fields": ["naam"],
}
PEILDATUM = {
    "type": "BewoningMetPeildatum",
    "adresseerbaarObjectIdentificatie": "0599010000208579",
    "peildatum": "2015-08-08",
}
PERIODE = {
    "type": "BewoningMetPeriode",
    "adresseerbaarObjectIdentificatie": "0800010000000001",
    "datumVan": "2022-01-01",
    "datumTot": "2023-01-01",
}
HISTORIE_PEILDATUM = {
    "type": "RaadpleegMetPeildatum",
    "burgerservicenummer": "999993653",
    "peildatum": "2020-01-01",
}
HISTORIE_PERIODE = {
    "type": "RaadpleegMetPeriode",
    "burgerservicenummer": "999993653",
    "datumVan": "2008-01-01",
    "datumTot": "2020-01-01",
}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def _without(base: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k not in names}


_SCRIPT = "<script>alert('hello world');</script>"
_131_FIELDS = ["naam"] * 131
_21_BSNS = ["999993653"] * 21

INVALID_REQUESTS: list[InvalidRequestCase] = [
    # --- type and JSON (all APIs) ---------------------------------------------------------------
    _params("type-absent-empty-body", P, {}, ("required", "type", REQUIRED)),
    _params("type-absent-other-params", P, {"postcode": "3077AW"}, ("required", "type", REQUIRED)),
    _params("type-null", P, {"type": None, "fields": ["naam"]}, ("required", "type", REQUIRED)),
    _params("type-empty-string", P, {"type": ""}, ("value", "type", BAD_TYPE)),
    _params("type-unknown", P, {"type": "OnbekendZoekType"}, ("value", "type", BAD_TYPE)),
    _params(
        "type-wrong-case", P, {"type": "zoekmetgeslachtsnaamengeboortedatum"}, ("value", "type", BAD_TYPE)
    ),
    _params("type-of-other-api", P, _with(PEILDATUM), ("value", "type", BAD_TYPE)),
    _params("type-number", P, {"type": 5}, ("value", "type", BAD_TYPE)),
    _invalid_json("json-truncated", P, b'{"type": "RaadpleegMetBurgerservicenummer", "fields": ["naam"'),
    _invalid_json("json-not-json", P, b"type=RaadpleegMetBurgerservicenummer"),
    _invalid_json("json-empty-body", P, b""),
    _invalid_json("json-array", P, b"[]"),  # RvIG's JObject.Parse refuses a non-object
    _invalid_json("json-number", P, b"3"),
    _invalid_json("json-string", P, b'"RaadpleegMetBurgerservicenummer"'),
    _invalid_json("json-null", P, b"null"),
    # --- RaadpleegMetBurgerservicenummer -----------------------------------------------------------
    _params(
        "bsn-absent",
        P,
        _without(RAADPLEEG, "burgerservicenummer"),
        ("required", "burgerservicenummer", REQUIRED),
    ),
    _params(
        "bsn-empty-list",
        P,
        _with(RAADPLEEG, burgerservicenummer=[]),
        ("minItems", "burgerservicenummer", MIN_ITEMS),
    ),
    _params(
        "bsn-comma-separated-string",
        P,
        _with(RAADPLEEG, burgerservicenummer="999994086,999994086,999994086"),
        ("array", "burgerservicenummer", NOT_ARRAY),
    ),
    _params(
        "bsn-null", P, _with(RAADPLEEG, burgerservicenummer=None), ("array", "burgerservicenummer", NOT_ARRAY)
    ),
    _params(
        "bsn-8-digits",
        P,
        _with(RAADPLEEG, burgerservicenummer=["12345678"]),
        ("pattern", "burgerservicenummer[0]", BSN_PATTERN),
    ),
    _params(
        "bsn-10-digits",
        P,
        _with(RAADPLEEG, burgerservicenummer=["1234567890"]),
        ("pattern", "burgerservicenummer[0]", BSN_PATTERN),
    ),
    _params(
        "bsn-markup",
        P,
        _with(RAADPLEEG, burgerservicenummer=["<script>123456789</script>"]),
        ("pattern", "burgerservicenummer[0]", BSN_PATTERN),
    ),
    _params(
        "bsn-several-invalid",
        P,
        _with(RAADPLEEG, burgerservicenummer=["1234567890", "123456789", "1234567890"]),
        ("pattern", "burgerservicenummer[0]", BSN_PATTERN),
        ("pattern", "burgerservicenummer[2]", BSN_PATTERN),
    ),
    _params(
        "bsn-21",
        P,
        _with(RAADPLEEG, burgerservicenummer=_21_BSNS),
        ("maxItems", "burgerservicenummer", MAX_BSNS),
    ),
    _params(
        "bsn-21-one-invalid",  # RvIG checks the items whatever the count
        P,
        _with(RAADPLEEG, burgerservicenummer=[*_21_BSNS[:20], "1"]),
        ("maxItems", "burgerservicenummer", MAX_BSNS),
        ("pattern", "burgerservicenummer[20]", BSN_PATTERN),
    ),
    _params(
        "bsn-null-item",  # RvIG lets a null item through; the broker refuses it
        P,
        _with(RAADPLEEG, burgerservicenummer=["999993653", None]),
        ("pattern", "burgerservicenummer[1]", BSN_PATTERN),
    ),
    _params(
        "gemeente-3-digits",
        P,
        _with(RAADPLEEG, gemeenteVanInschrijving="123"),
        ("pattern", "gemeenteVanInschrijving", GEMEENTE_PATTERN),
    ),
    _params(
        "gemeente-5-digits",
        P,
        _with(RAADPLEEG, gemeenteVanInschrijving="12345"),
        ("pattern", "gemeenteVanInschrijving", GEMEENTE_PATTERN),
    ),
    _params(
        "gemeente-markup",
        P,
        _with(RAADPLEEG, gemeenteVanInschrijving=_SCRIPT),
        ("pattern", "gemeenteVanInschrijving", GEMEENTE_PATTERN),
    ),
    _params(
        "gemeente-empty-optional",
        P,
        _with(RAADPLEEG, gemeenteVanInschrijving=""),
        ("pattern", "gemeenteVanInschrijving", GEMEENTE_PATTERN),
    ),
    _params(
        "raadpleeg-unknown-voornamen",
        P,
        _with(RAADPLEEG, voornamen="Pietje"),
        ("unknownParam", "voornamen", UNKNOWN),
    ),
    _params(
        "raadpleeg-unknown-typo",
        P,
        _with(RAADPLEEG, gemeenteVanInschijving="0363"),
        ("unknownParam", "gemeenteVanInschijving", UNKNOWN),
    ),
    _params(
        "raadpleeg-unknown-markup-name",  # RvIG HTML-encodes the name
        P,
        _with(RAADPLEEG, **{_SCRIPT: "een waarde"}),
        ("unknownParam", "&lt;script&gt;alert(&#39;hello world&#39;);&lt;/script&gt;", UNKNOWN),
    ),
    _params(
        "raadpleeg-unknown-inclusief-overleden",
        P,
        _with(RAADPLEEG, inclusiefOverledenPersonen=True),
        ("unknownParam", "inclusiefOverledenPersonen", UNKNOWN),
    ),
    _params(
        "raadpleeg-all-errors-in-validator-order",  # body order differs on purpose
        P,
        {
            "type": "RaadpleegMetBurgerservicenummer",
            "fields": ["anummer"],
            "gemeenteVanInschrijving": "12",
            "burgerservicenummer": ["1"],
            "bestaatNiet": "x",
        },
        ("unknownParam", "bestaatNiet", UNKNOWN),
        ("pattern", "burgerservicenummer[0]", BSN_PATTERN),
        ("pattern", "gemeenteVanInschrijving", GEMEENTE_PATTERN),
        ("fields", "fields[0]", FIELD_UNKNOWN),
    ),
    # --- fields ------------------------------------------------------------------------------------
    _params("fields-absent", P, _without(RAADPLEEG, "fields"), ("required", "fields", REQUIRED)),
    _params("fields-absent-search", P, _without(GESLACHTSNAAM, "fields"), ("required", "fields", REQUIRED)),
    _params("fields-empty-list", P, _with(RAADPLEEG, fields=[]), ("minItems", "fields", MIN_ITEMS)),
    _params(
        "fields-comma-separated-string",
        P,
        _with(RAADPLEEG, fields="burgerservicenummer,geslacht"),
        ("array", "fields", NOT_ARRAY),
    ),
    _params("fields-131", P, _with(RAADPLEEG, fields=_131_FIELDS), ("maxItems", "fields", MAX_FIELDS)),
    _params(
        "fields-131-search", P, _with(GESLACHTSNAAM, fields=_131_FIELDS), ("maxItems", "fields", MAX_FIELDS)
    ),
    _params("fields-star", P, _with(RAADPLEEG, fields=["a*nummer"]), ("pattern", "fields[0]", FIELD_PATTERN)),
    _params(
        "fields-spaces",
        P,
        _with(RAADPLEEG, fields=["burger service nummer"]),
        ("pattern", "fields[0]", FIELD_PATTERN),
    ),
    _params(
        "fields-empty-path",
        P,
        _with(RAADPLEEG, fields=["", "burgerservicenummer"]),
        ("pattern", "fields[0]", FIELD_PATTERN),
    ),
    _params(
        "fields-201-characters",
        P,
        _with(RAADPLEEG, fields=["bestaatookniet" * 14 + "besta"]),
        ("pattern", "fields[0]", FIELD_PATTERN),
    ),
    _params("fields-null-path", P, _with(RAADPLEEG, fields=[None]), ("required", "fields[0]", REQUIRED)),
    _params(
        "fields-wrong-case", P, _with(RAADPLEEG, fields=["anummer"]), ("fields", "fields[0]", FIELD_UNKNOWN)
    ),
    _params(
        "fields-persoon-only-in-search",
        P,
        _with(GESLACHTSNAAM, fields=["burgerservicenummer", "aNummer"]),
        ("fields", "fields[1]", FIELD_UNKNOWN),
    ),
    _params(
        "fields-gezag-in-search",
        P,
        _with(GESLACHTSNAAM, fields=["burgerservicenummer", "gezag"]),
        ("fields", "fields[1]", FIELD_UNKNOWN),
    ),
    _params(
        "fields-geheimhouding",
        P,
        _with(RAADPLEEG, fields=["geheimhoudingPersoonsgegevens"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "fields-opschorting-sub-field",
        P,
        _with(RAADPLEEG, fields=["opschortingBijhouding.reden.omschrijving"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "fields-rni",
        P,
        _with(GESLACHTSNAAM, fields=["rni.deelnemer.code"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "fields-verificatie",
        P,
        _with(RAADPLEEG, fields=["verificatie.datum"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "fields-nested-in-onderzoek",
        P,
        _with(RAADPLEEG, fields=["naam.inOnderzoek.voornamen"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "fields-indicatie-verblijft-niet-op-adres",
        P,
        _with(GESLACHTSNAAM, fields=["adresseringBinnenland.indicatieVastgesteldVerblijftNietOpAdres"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "fields-gezag-sub-field",
        P,
        _with(RAADPLEEG, fields=["gezag.type"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "fields-gezag-non-existing-sub-field",  # forbidden is checked before existence
        P,
        _with(AOI, fields=["gezag.nietBestaand"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "fields-verblijfplaats-binnenland-foreign-part",
        P,
        _with(RAADPLEEG, fields=["verblijfplaatsBinnenland.verblijfadres.land"]),
        ("fields", "fields[0]", FIELD_UNKNOWN),
    ),
    _params(
        "fields-adressering-binnenland-adresregel3",
        P,
        _with(RAADPLEEG, fields=["adresseringBinnenland.adresregel3"]),
        ("fields", "fields[0]", FIELD_UNKNOWN),
    ),
    _params(
        "fields-several-invalid",
        P,
        _with(RAADPLEEG, fields=["naam", "a*", "rni", "bestaatNiet"]),
        ("pattern", "fields[1]", FIELD_PATTERN),
        ("fields", "fields[2]", FIELD_FORBIDDEN),
        ("fields", "fields[3]", FIELD_UNKNOWN),
    ),
    # --- ZoekMetGeslachtsnaamEnGeboortedatum -------------------------------------------------------
    _params(
        "geslachtsnaam-geboortedatum-absent",
        P,
        _without(GESLACHTSNAAM, "geslachtsnaam", "geboortedatum"),
        ("required", "geboortedatum", REQUIRED),
        ("required", "geslachtsnaam", REQUIRED),
    ),
    _params(
        "geslachtsnaam-geboortedatum-empty",
        P,
        _with(GESLACHTSNAAM, geslachtsnaam="", geboortedatum=""),
        ("required", "geboortedatum", REQUIRED),
        ("required", "geslachtsnaam", REQUIRED),
    ),
    _params(
        "geslachtsnaam-whitespace",
        P,
        _with(GESLACHTSNAAM, geslachtsnaam="   "),
        ("required", "geslachtsnaam", REQUIRED),
    ),
    _params(
        "geboortedatum-compact",
        P,
        _with(GESLACHTSNAAM, geboortedatum="19830526"),
        ("date", "geboortedatum", NOT_DATE),
    ),
    _params(
        "geboortedatum-words",
        P,
        _with(GESLACHTSNAAM, geboortedatum="26 mei 1983"),
        ("date", "geboortedatum", NOT_DATE),
    ),
    _params(
        "geboortedatum-not-a-day",
        P,
        _with(GESLACHTSNAAM, geboortedatum="2023-02-30"),
        ("date", "geboortedatum", NOT_DATE),
    ),
    _params(
        "geslachtsnaam-201-characters",
        P,
        _with(GESLACHTSNAAM, geslachtsnaam="a" * 201),
        ("pattern", "geslachtsnaam", NAAM_PATTERN),
    ),
    _params(
        "geslachtsnaam-markup",
        P,
        _with(GESLACHTSNAAM, geslachtsnaam=_SCRIPT),
        ("pattern", "geslachtsnaam", NAAM_PATTERN),
    ),
    _params(
        "geslachtsnaam-leading-wildcard",
        P,
        _with(GESLACHTSNAAM, geslachtsnaam="*sen"),
        ("pattern", "geslachtsnaam", NAAM_PATTERN),
    ),
    _params(
        "geslachtsnaam-double-wildcard",
        P,
        _with(GESLACHTSNAAM, geslachtsnaam="gr**"),
        ("pattern", "geslachtsnaam", NAAM_PATTERN),
    ),
    _params(
        "geslachtsnaam-inner-wildcard",
        P,
        _with(GESLACHTSNAAM, geslachtsnaam="g*oot"),
        ("pattern", "geslachtsnaam", NAAM_PATTERN),
    ),
    _params(
        "geslachtsnaam-wildcard-too-short",
        P,
        _with(GESLACHTSNAAM, geslachtsnaam="ma*"),
        ("pattern", "geslachtsnaam", NAAM_PATTERN),
    ),
    _params(
        "voornamen-optional-inner-wildcard",
        P,
        _with(GESLACHTSNAAM, voornamen="Pi*et"),
        ("pattern", "voornamen", VOORNAMEN_PATTERN),
    ),
    _params(
        "voorvoegsel-too-long",
        P,
        _with(GESLACHTSNAAM, voorvoegsel="van der van den"),
        ("pattern", "voorvoegsel", VOORVOEGSEL_PATTERN),
    ),
    _params(
        "geslacht-unknown-letter",
        P,
        _with(GESLACHTSNAAM, geslacht="X"),
        ("pattern", "geslacht", GESLACHT_PATTERN),
    ),
    _params(
        "geslacht-word", P, _with(GESLACHTSNAAM, geslacht="man"), ("pattern", "geslacht", GESLACHT_PATTERN)
    ),
    _params(
        "inclusief-overleden-empty",
        P,
        _with(GESLACHTSNAAM, inclusiefOverledenPersonen=""),
        ("boolean", "inclusiefOverledenPersonen", NOT_BOOLEAN),
    ),
    _params(
        "inclusief-overleden-words",
        P,
        _with(GESLACHTSNAAM, inclusiefOverledenPersonen="geen boolean"),
        ("boolean", "inclusiefOverledenPersonen", NOT_BOOLEAN),
    ),
    _params(
        "inclusief-overleden-number",
        P,
        _with(GESLACHTSNAAM, inclusiefOverledenPersonen=1),
        ("boolean", "inclusiefOverledenPersonen", NOT_BOOLEAN),
    ),
    _params(
        "inclusief-overleden-null",
        P,
        _with(GESLACHTSNAAM, inclusiefOverledenPersonen=None),
        ("boolean", "inclusiefOverledenPersonen", NOT_BOOLEAN),
    ),
    _params(
        "geslachtsnaam-search-validator-order",  # unknownParam first for this type, whatever the body order
        P,
        {
            "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
            "fields": ["gezag"],
            "geslacht": "X",
            "geslachtsnaam": "*",
            "geboortedatum": "1983",
            "huisnummer": 1,
        },
        ("unknownParam", "huisnummer", UNKNOWN),
        ("date", "geboortedatum", NOT_DATE),
        ("pattern", "geslachtsnaam", NAAM_PATTERN),
        ("pattern", "geslacht", GESLACHT_PATTERN),
        ("fields", "fields[0]", FIELD_UNKNOWN),
    ),
    # --- ZoekMetNaamEnGemeenteVanInschrijving ------------------------------------------------------
    _params(
        "naam-gemeente-absent",
        P,
        _without(NAAM_GEMEENTE, "geslachtsnaam", "voornamen", "gemeenteVanInschrijving"),
        ("required", "gemeenteVanInschrijving", REQUIRED),
        ("required", "geslachtsnaam", REQUIRED),
        ("required", "voornamen", REQUIRED),
    ),
    _params(
        "naam-gemeente-voornamen-wildcard-too-short",
        P,
        _with(NAAM_GEMEENTE, voornamen="Pi*"),
        ("pattern", "voornamen", NAAM_PATTERN),
    ),
    _params(
        "naam-gemeente-gemeente-empty",
        P,
        _with(NAAM_GEMEENTE, gemeenteVanInschrijving=""),
        ("required", "gemeenteVanInschrijving", REQUIRED),
    ),
    _params(
        "naam-gemeente-unknown-geboortedatum",
        P,
        _with(NAAM_GEMEENTE, geboortedatum="1983-05-26"),
        ("unknownParam", "geboortedatum", UNKNOWN),
    ),
    # --- ZoekMetPostcodeEnHuisnummer ---------------------------------------------------------------
    _params(
        "postcode-huisnummer-absent",
        P,
        _without(POSTCODE, "postcode", "huisnummer"),
        ("required", "postcode", REQUIRED),
        ("required", "huisnummer", REQUIRED),
    ),
    _params(
        "postcode-huisnummer-empty",
        P,
        _with(POSTCODE, postcode="", huisnummer=""),
        ("required", "postcode", REQUIRED),
        ("required", "huisnummer", REQUIRED),
    ),
    _params("huisnummer-word", P, _with(POSTCODE, huisnummer="twee"), ("integer", "huisnummer", NOT_INTEGER)),
    _params(
        "huisnummer-with-letter", P, _with(POSTCODE, huisnummer="2e"), ("integer", "huisnummer", NOT_INTEGER)
    ),
    _params(
        "huisnummer-markup",
        P,
        _with(POSTCODE, huisnummer="<script>alert('hello world')</script>"),
        ("integer", "huisnummer", NOT_INTEGER),
    ),
    _params(
        "huisnummer-fraction", P, _with(POSTCODE, huisnummer=12.5), ("integer", "huisnummer", NOT_INTEGER)
    ),
    _params("huisnummer-negative", P, _with(POSTCODE, huisnummer=-1), ("integer", "huisnummer", NOT_INTEGER)),
    _params("huisnummer-zero", P, _with(POSTCODE, huisnummer=0), ("minimum", "huisnummer", BELOW_MINIMUM)),
    _params(
        "huisnummer-zero-text", P, _with(POSTCODE, huisnummer="0"), ("minimum", "huisnummer", BELOW_MINIMUM)
    ),
    _params(
        "huisnummer-100000", P, _with(POSTCODE, huisnummer=100000), ("maximum", "huisnummer", ABOVE_MAXIMUM)
    ),
    _params(
        "huisnummer-huge-text",
        P,
        _with(POSTCODE, huisnummer="9" * 5000),
        ("maximum", "huisnummer", ABOVE_MAXIMUM),
    ),
    _params(
        "postcode-leading-zero",
        P,
        _with(POSTCODE, postcode="0628HJ"),
        ("pattern", "postcode", POSTCODE_PATTERN),
    ),
    _params(
        "postcode-two-spaces",
        P,
        _with(POSTCODE, postcode="2628  HJ"),
        ("pattern", "postcode", POSTCODE_PATTERN),
    ),
    _params(
        "postcode-trailing-newline",
        P,
        _with(POSTCODE, postcode="2628HJ\n"),
        ("pattern", "postcode", POSTCODE_PATTERN),
    ),
    _params(
        "postcode-and-huisnummer-invalid",
        P,
        _with(POSTCODE, postcode="0628HJ", huisnummer="twee"),
        ("pattern", "postcode", POSTCODE_PATTERN),
        ("integer", "huisnummer", NOT_INTEGER),
    ),
    _params(
        "huisletter-digit", P, _with(POSTCODE, huisletter="1"), ("pattern", "huisletter", HUISLETTER_PATTERN)
    ),
    _params(
        "huisletter-markup",
        P,
        _with(POSTCODE, huisletter=_SCRIPT),
        ("pattern", "huisletter", HUISLETTER_PATTERN),
    ),
    _params(
        "huisnummertoevoeging-dot",
        P,
        _with(POSTCODE, huisnummertoevoeging="123.45"),
        ("pattern", "huisnummertoevoeging", TOEVOEGING_PATTERN),
    ),
    _params(
        "postcode-inclusief-overleden-empty",
        P,
        _with(POSTCODE, inclusiefOverledenPersonen=""),
        ("boolean", "inclusiefOverledenPersonen", NOT_BOOLEAN),
    ),
    _params(
        "postcode-unknown-voornamen",
        P,
        _with(POSTCODE, voornamen="Pietje"),
        ("unknownParam", "voornamen", UNKNOWN),
    ),
    _params(
        "postcode-unknown-typo", P, _with(POSTCODE, huisleter="A"), ("unknownParam", "huisleter", UNKNOWN)
    ),
    _params(
        "postcode-geboortedatum-compact",
        P,
        _with(POSTCODE, geboortedatum="19830526"),
        ("date", "geboortedatum", NOT_DATE),
    ),
    _params(
        "postcode-geslachtsnaam-inner-wildcard",
        P,
        _with(POSTCODE, geslachtsnaam="Jan*sen"),
        ("pattern", "geslachtsnaam", NAAM_PATTERN),
    ),
    _params(
        "postcode-validator-order",  # RvIG checks unknown properties after inclusiefOverledenPersonen here
        P,
        {
            "type": "ZoekMetPostcodeEnHuisnummer",
            "fields": ["a b"],
            "bestaatNiet": 1,
            "inclusiefOverledenPersonen": "ja",
            "postcode": "x",
            "huisnummer": 3,
            "geboortedatum": "x",
        },
        ("pattern", "postcode", POSTCODE_PATTERN),
        ("boolean", "inclusiefOverledenPersonen", NOT_BOOLEAN),
        ("unknownParam", "bestaatNiet", UNKNOWN),
        ("pattern", "fields[0]", FIELD_PATTERN),
        ("date", "geboortedatum", NOT_DATE),
    ),
    # --- ZoekMetStraatHuisnummerEnGemeenteVanInschrijving ------------------------------------------
    _params(
        "straat-absent",
        P,
        _without(STRAAT, "straat", "huisnummer", "gemeenteVanInschrijving"),
        ("required", "gemeenteVanInschrijving", REQUIRED),
        ("required", "huisnummer", REQUIRED),
        ("required", "straat", REQUIRED),
    ),
    _params(
        "straat-wildcard-too-short", P, _with(STRAAT, straat="Thor*"), ("pattern", "straat", STRAAT_PATTERN)
    ),
    _params(
        "straat-leading-wildcard-too-short",
        P,
        _with(STRAAT, straat="*laan"),
        ("pattern", "straat", STRAAT_PATTERN),
    ),
    _params("straat-81-characters", P, _with(STRAAT, straat="s" * 81), ("pattern", "straat", STRAAT_PATTERN)),
    _params(
        "straat-gemeente-4-letters",
        P,
        _with(STRAAT, gemeenteVanInschrijving="abcd"),
        ("pattern", "gemeenteVanInschrijving", GEMEENTE_PATTERN),
    ),
    # --- ZoekMetNummeraanduidingIdentificatie ------------------------------------------------------
    _params(
        "nummeraanduiding-absent",
        P,
        _without(NUMMERAANDUIDING, "nummeraanduidingIdentificatie"),
        ("required", "nummeraanduidingIdentificatie", REQUIRED),
    ),
    _params(
        "nummeraanduiding-empty",
        P,
        _with(NUMMERAANDUIDING, nummeraanduidingIdentificatie=""),
        ("required", "nummeraanduidingIdentificatie", REQUIRED),
    ),
    _params(
        "nummeraanduiding-15-digits",
        P,
        _with(NUMMERAANDUIDING, nummeraanduidingIdentificatie="123456789012345"),
        ("pattern", "nummeraanduidingIdentificatie", IDENTIFICATIE_PATTERN),
    ),
    _params(
        "nummeraanduiding-16-zeros",
        P,
        _with(NUMMERAANDUIDING, nummeraanduidingIdentificatie="0" * 16),
        ("pattern", "nummeraanduidingIdentificatie", IDENTIFICATIE_PATTERN),
    ),
    # --- ZoekMetAdresseerbaarObjectIdentificatie ---------------------------------------------------
    _params(
        "aoi-search-absent",
        P,
        _without(AOI, "adresseerbaarObjectIdentificatie"),
        ("required", "adresseerbaarObjectIdentificatie", REQUIRED),
    ),
    _params(
        "aoi-search-17-digits",
        P,
        _with(AOI, adresseerbaarObjectIdentificatie="12345678901234567"),
        ("pattern", "adresseerbaarObjectIdentificatie", IDENTIFICATIE_PATTERN),
    ),
    _params(
        "aoi-search-gezag-sub-field",
        P,
        _with(AOI, fields=["gezag.minderjarige"]),
        ("fields", "fields[0]", FIELD_FORBIDDEN),
    ),
    _params(
        "aoi-search-persoon-field",
        P,
        _with(AOI, fields=["gezag", "kinderen"]),
        ("fields", "fields[1]", FIELD_UNKNOWN),
    ),
    _params(
        "aoi-search-inclusief-overleden-nee",
        P,
        _with(AOI, inclusiefOverledenPersonen="nee"),
        ("boolean", "inclusiefOverledenPersonen", NOT_BOOLEAN),
    ),
    # --- Bewoning ----------------------------------------------------------------------------------
    _params("bewoning-type-absent", B, _without(PEILDATUM, "type"), ("required", "type", REQUIRED)),
    _params("bewoning-type-of-personen", B, _with(RAADPLEEG), ("value", "type", BAD_TYPE)),
    _params(
        "bewoning-type-wrong-case",
        B,
        _with(PEILDATUM, type="bewoningmetpeildatum"),
        ("value", "type", BAD_TYPE),
    ),
    _invalid_json("bewoning-json-truncated", B, b'{"type": "BewoningMetPeildatum"'),
    _params(
        "bewoning-peildatum-absent",
        B,
        {"type": "BewoningMetPeildatum"},
        ("required", "adresseerbaarObjectIdentificatie", REQUIRED),
        ("required", "peildatum", REQUIRED),
    ),
    _params(
        "bewoning-peildatum-empty", B, _with(PEILDATUM, peildatum=""), ("required", "peildatum", REQUIRED)
    ),
    _params(
        "bewoning-peildatum-month-13",
        B,
        _with(PEILDATUM, peildatum="2022-13-01"),
        ("date", "peildatum", NOT_DATE),
    ),
    _params(
        "bewoning-aoi-16-zeros",
        B,
        _with(PEILDATUM, adresseerbaarObjectIdentificatie="0000000000000000"),
        ("pattern", "adresseerbaarObjectIdentificatie", IDENTIFICATIE_PATTERN),
    ),
    _params(
        "bewoning-aoi-markup",
        B,
        _with(PEILDATUM, adresseerbaarObjectIdentificatie="<script>1234567890123456</script>"),
        ("pattern", "adresseerbaarObjectIdentificatie", IDENTIFICATIE_PATTERN),
    ),
    _params(
        "bewoning-aoi-empty",
        B,
        _with(PERIODE, adresseerbaarObjectIdentificatie=""),
        ("required", "adresseerbaarObjectIdentificatie", REQUIRED),
    ),
    _params(
        "bewoning-peildatum-unknown-datum-van",
        B,
        _with(PEILDATUM, datumVan="2022-01-01"),
        ("unknownParam", "datumVan", UNKNOWN),
    ),
    _params(
        "bewoning-periode-absent",
        B,
        {"type": "BewoningMetPeriode"},
        ("required", "adresseerbaarObjectIdentificatie", REQUIRED),
        ("required", "datumTot", REQUIRED),
        ("required", "datumVan", REQUIRED),
    ),
    _params(
        "bewoning-periode-tot-absent", B, _without(PERIODE, "datumTot"), ("required", "datumTot", REQUIRED)
    ),
    _params("bewoning-periode-van-empty", B, _with(PERIODE, datumVan=""), ("required", "datumVan", REQUIRED)),
    _params(
        "bewoning-periode-tot-compact", B, _with(PERIODE, datumTot="19830526"), ("date", "datumTot", NOT_DATE)
    ),
    _params(
        "bewoning-periode-van-not-a-day",
        B,
        _with(PERIODE, datumVan="2023-02-29"),
        ("date", "datumVan", NOT_DATE),
    ),
    _params(
        "bewoning-periode-both-invalid",
        B,
        _with(PERIODE, datumVan="26 mei 1983", datumTot="2023-02-29"),
        ("date", "datumTot", NOT_DATE),
        ("date", "datumVan", NOT_DATE),
    ),
    _params(
        "bewoning-periode-tot-equals-van",
        B,
        _with(PERIODE, datumVan="2023-01-01", datumTot="2023-01-01"),
        ("date", "datumTot", TOT_NOT_AFTER_VAN),
    ),
    _params(
        "bewoning-periode-tot-before-van",
        B,
        _with(PERIODE, datumVan="2023-01-01", datumTot="2022-01-01"),
        ("date", "datumTot", TOT_NOT_AFTER_VAN),
    ),
    _params(
        "bewoning-periode-unknown-peildatum",
        B,
        _with(PERIODE, peildatum="2022-01-01"),
        ("unknownParam", "peildatum", UNKNOWN),
    ),
    _params(
        "bewoning-periode-unknown-geheimhouding",
        B,
        _with(PERIODE, geheimhouding=False),
        ("unknownParam", "geheimhouding", UNKNOWN),
    ),
    # --- Verblijfplaatshistorie ----------------------------------------------------------------------
    _params("historie-type-absent", H, _without(HISTORIE_PEILDATUM, "type"), ("required", "type", REQUIRED)),
    _params(
        "historie-type-of-personen",
        H,
        _with(HISTORIE_PEILDATUM, type="RaadpleegMetBurgerservicenummer"),
        ("value", "type", BAD_TYPE),
    ),
    _params(
        "historie-type-wrong-case",
        H,
        _with(HISTORIE_PERIODE, type="raadpleegmetperiode"),
        ("value", "type", BAD_TYPE),
    ),
    _params(
        "historie-type-plural",
        H,
        _with(HISTORIE_PERIODE, type="RaadpleegMetPeriodes"),
        ("value", "type", BAD_TYPE),
    ),
    _invalid_json("historie-json-object-unclosed", H, b"{"),
    _params(
        "historie-peildatum-bsn-absent",
        H,
        _without(HISTORIE_PEILDATUM, "burgerservicenummer"),
        ("required", "burgerservicenummer", REQUIRED),
    ),
    _params(
        "historie-bsn-empty",
        H,
        _with(HISTORIE_PEILDATUM, burgerservicenummer=""),
        ("required", "burgerservicenummer", REQUIRED),
    ),
    _params(
        "historie-bsn-8-digits",
        H,
        _with(HISTORIE_PEILDATUM, burgerservicenummer="12345678"),
        ("pattern", "burgerservicenummer", BSN_PATTERN),
    ),
    _params(
        "historie-bsn-with-space",
        H,
        _with(HISTORIE_PERIODE, burgerservicenummer="1234 6789"),
        ("pattern", "burgerservicenummer", BSN_PATTERN),
    ),
    _params(
        "historie-bsn-with-plus",
        H,
        _with(HISTORIE_PERIODE, burgerservicenummer="123456789+"),
        ("pattern", "burgerservicenummer", BSN_PATTERN),
    ),
    _params(
        "historie-bsn-as-array",  # RvIG answers 500 here; the broker: pattern
        H,
        _with(HISTORIE_PEILDATUM, burgerservicenummer=["999993653"]),
        ("pattern", "burgerservicenummer", BSN_PATTERN),
    ),
    _params(
        "historie-peildatum-june-31",
        H,
        _with(HISTORIE_PEILDATUM, peildatum="2019-06-31"),
        ("date", "peildatum", NOT_DATE),
    ),
    _params(
        "historie-peildatum-absent",
        H,
        _without(HISTORIE_PEILDATUM, "peildatum"),
        ("required", "peildatum", REQUIRED),
    ),
    _params(
        "historie-periode-absent",
        H,
        {"type": "RaadpleegMetPeriode"},
        ("required", "burgerservicenummer", REQUIRED),
        ("required", "datumTot", REQUIRED),
        ("required", "datumVan", REQUIRED),
    ),
    _params(
        "historie-periode-van-compact",
        H,
        _with(HISTORIE_PERIODE, datumVan="20190101"),
        ("date", "datumVan", NOT_DATE),
    ),
    _params(
        "historie-periode-van-short-parts",
        H,
        _with(HISTORIE_PERIODE, datumVan="2019-1-1"),
        ("date", "datumVan", NOT_DATE),
    ),
    _params(
        "historie-periode-van-zero-date",
        H,
        _with(HISTORIE_PERIODE, datumVan="0000-00-00"),
        ("date", "datumVan", NOT_DATE),
    ),
    _params(
        "historie-periode-tot-day-first",
        H,
        _with(HISTORIE_PERIODE, datumTot="01-01-2019"),
        ("date", "datumTot", NOT_DATE),
    ),
    _params(
        "historie-periode-tot-dashes",
        H,
        _with(HISTORIE_PERIODE, datumTot="--"),
        ("date", "datumTot", NOT_DATE),
    ),
    _params(
        "historie-periode-tot-before-van-leap-day",
        H,
        _with(HISTORIE_PERIODE, datumVan="2020-03-01", datumTot="2020-02-29"),
        ("date", "datumTot", TOT_NOT_AFTER_VAN),
    ),
    _params(
        "historie-periode-tot-equals-van",
        H,
        _with(HISTORIE_PERIODE, datumVan="2020-10-14", datumTot="2020-10-14"),
        ("date", "datumTot", TOT_NOT_AFTER_VAN),
    ),
    _params(
        "historie-periode-unknown-peildatum",
        H,
        _with(HISTORIE_PERIODE, peildatum="2020-07-01"),
        ("unknownParam", "peildatum", UNKNOWN),
    ),
    _params(
        "historie-periode-unknown-aoi",
        H,
        _with(HISTORIE_PERIODE, adresseerbaarObjectIdentificatie=""),
        ("unknownParam", "adresseerbaarObjectIdentificatie", UNKNOWN),
    ),
    _params(
        "historie-all-errors-in-validator-order",
        H,
        {
            "type": "RaadpleegMetPeriode",
            "datumVan": "x",
            "datumTot": "y",
            "burgerservicenummer": "1",
            "fields": ["naam"],
        },
        ("unknownParam", "fields", UNKNOWN),
        ("pattern", "burgerservicenummer", BSN_PATTERN),
        ("date", "datumTot", NOT_DATE),
        ("date", "datumVan", NOT_DATE),
    ),
]
