"""The BRP API contract, shared by the gateway and the sandbox.

Typed queries per RvIG `type` (`queries`), RvIG-identical validation (`validation`, `media`), the
`fields` catalogue and field selection (`fields`), the persons an answer is about (`persons`) and
RvIG's problem+json model (`problems`). This package knows nothing of tenants, tokens, HTTP
frameworks or the database, and never logs person data.
"""

from __future__ import annotations

from app.brp.fields import (
    AUTO_DELIVERED_FIELDS,
    FORBIDDEN_FIELD_PARTS,
    MAX_FIELDS,
    FieldsCatalogue,
    ResponseType,
    fields_catalogue,
    filter_fields,
)
from app.brp.media import RESPONSE_MEDIA_TYPE, check_media_types
from app.brp.persons import PersonRef, PersonRole, extract_persons
from app.brp.problems import (
    PROBLEM_MEDIA_TYPE,
    InvalidParam,
    Problem,
    ProblemError,
    bad_request,
    invalid_json,
    not_acceptable,
    unsupported_media_type,
)
from app.brp.queries import (
    API_PATHS,
    QUERY_TYPES,
    Api,
    BewoningMetPeildatum,
    BewoningMetPeriode,
    BewoningQuery,
    PersonenQuery,
    Query,
    RaadpleegMetBurgerservicenummer,
    RaadpleegMetPeildatum,
    RaadpleegMetPeriode,
    VerblijfplaatshistorieQuery,
    ZoekMetAdresseerbaarObjectIdentificatie,
    ZoekMetGeslachtsnaamEnGeboortedatum,
    ZoekMetNaamEnGemeenteVanInschrijving,
    ZoekMetNummeraanduidingIdentificatie,
    ZoekMetPostcodeEnHuisnummer,
    ZoekMetStraatHuisnummerEnGemeenteVanInschrijving,
    api_of,
    encode_query,
    max_results,
    response_type_for,
    search_parameters,
)
from app.brp.validation import decode_json, parse_query

__all__ = [
    "API_PATHS",
    "AUTO_DELIVERED_FIELDS",
    "FORBIDDEN_FIELD_PARTS",
    "MAX_FIELDS",
    "PROBLEM_MEDIA_TYPE",
    "QUERY_TYPES",
    "RESPONSE_MEDIA_TYPE",
    "Api",
    "BewoningMetPeildatum",
    "BewoningMetPeriode",
    "BewoningQuery",
    "FieldsCatalogue",
    "InvalidParam",
    "PersonRef",
    "PersonRole",
    "PersonenQuery",
    "Problem",
    "ProblemError",
    "Query",
    "RaadpleegMetBurgerservicenummer",
    "RaadpleegMetPeildatum",
    "RaadpleegMetPeriode",
    "ResponseType",
    "VerblijfplaatshistorieQuery",
    "ZoekMetAdresseerbaarObjectIdentificatie",
    "ZoekMetGeslachtsnaamEnGeboortedatum",
    "ZoekMetNaamEnGemeenteVanInschrijving",
    "ZoekMetNummeraanduidingIdentificatie",
    "ZoekMetPostcodeEnHuisnummer",
    "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving",
    "api_of",
    "bad_request",
    "check_media_types",
    "decode_json",
    "encode_query",
    "extract_persons",
    "fields_catalogue",
    "filter_fields",
    "invalid_json",
    "max_results",
    "not_acceptable",
    "parse_query",
    "response_type_for",
    "search_parameters",
    "unsupported_media_type",
]
