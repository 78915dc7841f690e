"""RvIG-identical request validation: a request body in, a typed query or RvIG's 400 out.

This module owns the parameter rules of every query type (one table per type, below) and the exact
outcome RvIG gives for a body that breaks them: status, `code`, `title`, `detail` and every
`invalidParams` entry {code, name, reason}, all errors of a request at once. The rules and texts
come from DOMAIN.md §2–6, cross-checked with RvIG's validators (BRP-API/brp-shared-dotnet,
`Brp.Shared.Validatie`) and their Gherkin features.

It must never echo a parameter *value* in an error (only names and fixed texts), never log, and never
touch the network: it runs on every request before any upstream cost.

Choices where RvIG's behaviour is odd or unspecified (each replicates RvIG unless it says otherwise):

- Order of `invalidParams`: RvIG's validator order, which is a fixed order of rules per query type
  (FluentValidation reports rules in the order they are declared) — not the body order. Each table
  below lists its rules in exactly that order, including where the check for unknown properties
  sits (first for most types, after `inclusiefOverledenPersonen` for the two address searches).
  Within one rule, array items are reported by ascending index; unknown properties in body order.
  The one rule RvIG lacks, `gemeenteVanInschrijving` on ZoekMetPostcodeEnHuisnummer (RvIG accepts
  any value there), is checked here too, last: the broker never forwards an unchecked value.
- A body that is not a JSON *object* (`[]`, `3`, `"x"`, `null`, empty) is invalid JSON, as RvIG's
  `JObject.Parse` rejects it: 400 "Request body is geen geldige JSON." without `code`. So are bytes
  that are not UTF-8 (RvIG decodes those leniently; the broker forwards no mangled text).
- `type` absent or `null` → `required`; any other value that is not one of the API's type names
  (case-sensitive, also `""`) → `value`; then no other parameter is checked (RvIG picks the
  validator by type).
- Required text parameters: absent, `null`, empty or whitespace-only → `required`. Optional ones:
  `""` is checked against the pattern (and fails), except `huisletter` and `huisnummertoevoeging`,
  which RvIG skips when blank; the broker then leaves them out of the forwarded query.
- Array parameters (`burgerservicenummer` on Personen, `fields`): absent → `required`; anything but
  an array (`null`, a string) → `array`; then `minItems`/`maxItems`. BSN items are checked whatever
  the count; `fields` items only when 1..130 (as RvIG). A `null` item in `fields` → `required`
  (`fields[i]`); a `null` BSN item → `pattern` (RvIG lets it through; the broker does not).
- Scalars are read the way RvIG's `Value<string>` reads them: a JSON number or boolean counts as
  its text (`12`, `True`), so `huisnummer: 12` and `burgerservicenummer: [999993653]` are valid; an
  array or object where text is expected fails the pattern (RvIG answers 500 there).
- `huisnummer`: digits only (`integer`), then 1..99999 (`minimum` / `maximum`); encoded as a number.
  `inclusiefOverledenPersonen`: a boolean or the text true/false in any case (.NET `bool.TryParse`);
  present but `null` or `""` → `boolean`.
- Dates must be `yyyy-mm-dd` and exist (`date`); a period's `datumTot` is checked before
  `datumVan`, and "datumTot moet na datumVan liggen." (code `date`, on `datumTot`) only when both
  are valid dates and `datumTot` is not after `datumVan`.
- Patterns are RvIG's own texts (echoed in the reason) and must match the whole value; unlike .NET,
  a trailing newline does not pass.
- `fields` items: `pattern`, then "niet toegestane veldnaam" if the path *contains* an
  auto-delivered name or `gezag.`, then "niet bestaande veldnaam" if it is not in RvIG's list for
  the query's response type — except one unlisted name below a date or Waardetabel, which RvIG
  accepts and answers with the whole object (`FieldsCatalogue.resolve`). The typed query holds that
  object (`geboorte.land.nietBestaand` → `geboorte.land`): it is what is authorised, forwarded and
  protocolled, so a name the client made up never reaches RvIG or the protocol.
- Unknown property names are HTML-encoded in `name` and `detail`, as RvIG does (`<` → `&lt;`).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol

import msgspec

from app.brp.fields import MAX_FIELDS, FieldsCatalogue, ResponseType, fields_catalogue
from app.brp.problems import InvalidParam, bad_request, invalid_json
from app.brp.queries import QUERY_TYPES, Api, Query

__all__ = ["decode_json", "parse_query"]

# --- RvIG's reasons --------------------------------------------------------------------------------

_REQUIRED: Final = ("required", "Parameter is verplicht.")
_NOT_ARRAY: Final = ("array", "Parameter is geen array.")
_MIN_ITEMS: Final = ("minItems", "Array bevat minder dan 1 items.")
_UNKNOWN_PARAM: Final = ("unknownParam", "Parameter is niet verwacht.")
_BAD_TYPE: Final = ("value", "Waarde is geen geldig zoek type.")
_NOT_DATE: Final = ("date", "Waarde is geen geldige datum.")
_NOT_INTEGER: Final = ("integer", "Waarde is geen geldig getal.")
_NOT_BOOLEAN: Final = ("boolean", "Waarde is geen boolean.")
_FIELD_FORBIDDEN: Final = ("fields", "Parameter bevat een niet toegestane veldnaam.")
_FIELD_UNKNOWN: Final = ("fields", "Parameter bevat een niet bestaande veldnaam.")

# --- RvIG's patterns, verbatim (the reason echoes them; `[0-9]`, never `\d`) ------------------------

BSN: Final = r"^[0-9]{9}$"
GEMEENTE: Final = r"^[0-9]{4}$"
NAAM: Final = r"^[a-zA-Z0-9À-ž \.\-\']{1,200}$|^[a-zA-Z0-9À-ž \.\-\']{3,199}\*{1}$"
VOORNAMEN_OPTIONEEL: Final = r"^[a-zA-Z0-9À-ž \.\-\']{1,199}\*{0,1}$"
VOORVOEGSEL: Final = r"^[a-zA-Z \']{1,10}$"
GESLACHT: Final = r"^([Mm]|[Vv]|[Oo])$"
POSTCODE: Final = r"^[1-9]{1}[0-9]{3}[ ]?[A-Za-z]{2}$"
HUISLETTER: Final = r"^[a-zA-Z]{1}$"
HUISNUMMERTOEVOEGING: Final = r"^[a-zA-Z0-9 \-]{1,4}$"
STRAAT: Final = (
    r"^[a-zA-Z0-9À-ž \-\'\.]{1,80}$|^[a-zA-Z0-9À-ž \-\'\.]{7,79}\*{1}$|^\*{1}[a-zA-Z0-9À-ž \-\'\.]{7,79}$"
)
IDENTIFICATIE: Final = r"^(?!0{16})[0-9]{16}$"
FIELD_PATH: Final = r"^[a-zA-Z0-9\._]{1,200}$"

_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS: Final = re.compile(r"[0-9]+")
_MAX_BSNS: Final = 20
_HUISNUMMER_RANGE: Final = (1, 99999)


class _NotText:
    """Marks a JSON array or object where RvIG reads a text value."""

    __slots__ = ()


_NOT_TEXT: Final = _NotText()


def _as_text(value: Any) -> str | _NotText | None:
    # How RvIG's `JToken.Value<string>()` sees a value: numbers and booleans become their text.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return str(value)
    return _NOT_TEXT


def _error(code_reason: tuple[str, str], name: str) -> InvalidParam:
    return InvalidParam(code=code_reason[0], name=name, reason=code_reason[1])


def _pattern_error(name: str, pattern: str) -> InvalidParam:
    return InvalidParam(code="pattern", name=name, reason=f"Waarde voldoet niet aan patroon {pattern}.")


def _parse_date(text: str) -> datetime.date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return datetime.date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None


# --- Rules: each checks its parameter(s), appends errors, and yields the valid typed values ----------


class _Rule(Protocol):
    @property
    def names(self) -> tuple[str, ...]: ...

    def check(self, body: Mapping[str, Any], errors: list[InvalidParam]) -> Iterator[tuple[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class _Text:
    """A text parameter that must match one of RvIG's patterns."""

    name: str
    pattern: str
    required: bool = False
    blank_is_absent: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,)

    def check(self, body: Mapping[str, Any], errors: list[InvalidParam]) -> Iterator[tuple[str, Any]]:
        text = _as_text(body.get(self.name))
        blank = text is None or (isinstance(text, str) and not text.strip())
        if blank and (self.required or (self.blank_is_absent or text is None)):
            if self.required:
                errors.append(_error(_REQUIRED, self.name))
            return
        if isinstance(text, str) and self.regex.fullmatch(text):
            yield self.name, text
        else:
            errors.append(_pattern_error(self.name, self.pattern))


@dataclass(frozen=True, slots=True)
class _Date:
    """A `yyyy-mm-dd` date parameter."""

    name: str
    required: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,)

    def check(self, body: Mapping[str, Any], errors: list[InvalidParam]) -> Iterator[tuple[str, Any]]:
        date = _checked_date(self.name, body.get(self.name), errors, required=self.required)
        if date is not None:
            yield self.name, date


def _checked_date(
    name: str, value: Any, errors: list[InvalidParam], *, required: bool
) -> datetime.date | None:
    text = _as_text(value)
    if text is None or (required and isinstance(text, str) and not text.strip()):
        if required:
            errors.append(_error(_REQUIRED, name))
        return None
    date = _parse_date(text) if isinstance(text, str) else None
    if date is None:
        errors.append(_error(_NOT_DATE, name))
    return date


@dataclass(frozen=True, slots=True)
class _Periode:
    """`datumVan` and `datumTot`, both required, `datumTot` after `datumVan` (checked Tot first)."""

    names: tuple[str, ...] = ("datumVan", "datumTot")

    def check(self, body: Mapping[str, Any], errors: list[InvalidParam]) -> Iterator[tuple[str, Any]]:
        tot = _checked_date("datumTot", body.get("datumTot"), errors, required=True)
        van = _checked_date("datumVan", body.get("datumVan"), errors, required=True)
        if van is None or tot is None:
            return
        if tot <= van:
            errors.append(
                InvalidParam(code="date", name="datumTot", reason="datumTot moet na datumVan liggen.")
            )
            return
        yield "datumVan", van
        yield "datumTot", tot


@dataclass(frozen=True, slots=True)
class _Huisnummer:
    """`huisnummer`: a number or a text of digits, 1..99999."""

    names: tuple[str, ...] = ("huisnummer",)

    def check(self, body: Mapping[str, Any], errors: list[InvalidParam]) -> Iterator[tuple[str, Any]]:
        text = _as_text(body.get("huisnummer"))
        if text is None or (isinstance(text, str) and not text.strip()):
            errors.append(_error(_REQUIRED, "huisnummer"))
            return
        if not isinstance(text, str) or not _DIGITS.fullmatch(text):
            errors.append(_error(_NOT_INTEGER, "huisnummer"))
            return
        low, high = _HUISNUMMER_RANGE
        significant = text.lstrip("0") or "0"
        # Never int() a huge digit string: anything longer than the maximum is above it.
        number = int(significant) if len(significant) <= len(str(high)) else high + 1
        if number < low:
            errors.append(
                InvalidParam(code="minimum", name="huisnummer", reason=f"Waarde is lager dan minimum {low}.")
            )
        elif number > high:
            errors.append(
                InvalidParam(code="maximum", name="huisnummer", reason=f"Waarde is hoger dan maximum {high}.")
            )
        else:
            yield "huisnummer", number


@dataclass(frozen=True, slots=True)
class _InclusiefOverledenPersonen:
    """`inclusiefOverledenPersonen`: optional; a boolean or the text true/false (any case)."""

    names: tuple[str, ...] = ("inclusiefOverledenPersonen",)

    def check(self, body: Mapping[str, Any], errors: list[InvalidParam]) -> Iterator[tuple[str, Any]]:
        name = self.names[0]
        if name not in body:
            return
        value = body[name]
        if isinstance(value, bool):
            yield name, value
            return
        text = value.strip().lower() if isinstance(value, str) else None
        if text in ("true", "false"):
            yield name, text == "true"
        else:
            errors.append(_error(_NOT_BOOLEAN, name))


@dataclass(frozen=True, slots=True)
class _Burgerservicenummers:
    """Personen `burgerservicenummer`: an array of 1..20 BSNs, each reported as `burgerservicenummer[i]`."""

    names: tuple[str, ...] = ("burgerservicenummer",)
    regex: re.Pattern[str] = re.compile(BSN)

    def check(self, body: Mapping[str, Any], errors: list[InvalidParam]) -> Iterator[tuple[str, Any]]:
        name = self.names[0]
        start = len(errors)
        items = _array(name, body, errors)
        if items is None:
            return
        if len(items) > _MAX_BSNS:
            errors.append(
                InvalidParam(code="maxItems", name=name, reason=f"Array bevat meer dan {_MAX_BSNS} items.")
            )
        bsns = [_as_text(item) for item in items]
        for index, bsn in enumerate(bsns):
            if not (isinstance(bsn, str) and self.regex.fullmatch(bsn)):
                errors.append(_pattern_error(f"{name}[{index}]", BSN))
        if len(errors) == start:  # values are only used when the whole body is valid
            yield name, tuple(bsns)


def _array(name: str, body: Mapping[str, Any], errors: list[InvalidParam]) -> list[Any] | None:
    # `required` only when absent: RvIG sees a JSON null as "not an array".
    if name not in body:
        errors.append(_error(_REQUIRED, name))
        return None
    items = body[name]
    if not isinstance(items, list):
        errors.append(_error(_NOT_ARRAY, name))
        return None
    if not items:
        errors.append(_error(_MIN_ITEMS, name))
    return items


@dataclass(frozen=True, slots=True)
class _Fields:
    """Personen `fields`: 1..130 paths that exist for the response type and are not forbidden."""

    response_type: ResponseType
    names: tuple[str, ...] = ("fields",)
    regex: re.Pattern[str] = re.compile(FIELD_PATH)

    def check(self, body: Mapping[str, Any], errors: list[InvalidParam]) -> Iterator[tuple[str, Any]]:
        items = _array("fields", body, errors)
        if not items:
            return
        if len(items) > MAX_FIELDS:
            errors.append(
                InvalidParam(
                    code="maxItems", name="fields", reason=f"Array bevat meer dan {MAX_FIELDS} items."
                )
            )
            return
        catalogue = fields_catalogue()
        before = len(errors)
        paths = [_as_text(item) for item in items]
        for index, path in enumerate(paths):
            problem = self._problem(path, catalogue)
            if problem is not None:
                errors.append(_error(problem, f"fields[{index}]"))
        if len(errors) == before:
            # All known now; each as the listed path it stands for (module docstring).
            yield "fields", tuple(catalogue.resolve(str(path), self.response_type) for path in paths)

    def _problem(self, path: str | _NotText | None, catalogue: FieldsCatalogue) -> tuple[str, str] | None:
        # Per item, in RvIG's order: present, pattern, forbidden (contains), exists.
        if path is None:
            return _REQUIRED
        if not (isinstance(path, str) and self.regex.fullmatch(path)):
            return ("pattern", f"Waarde voldoet niet aan patroon {FIELD_PATH}.")
        if catalogue.is_forbidden(path):
            return _FIELD_FORBIDDEN
        if catalogue.resolve(path, self.response_type) is None:
            return _FIELD_UNKNOWN
        return None


@dataclass(frozen=True, slots=True)
class _UnknownParameters:
    """Marks where RvIG checks for properties the type does not define (`unknownParam`)."""


_UNKNOWN: Final = _UnknownParameters()

# --- One table of rules per query type, in RvIG's validator order -----------------------------------

_GEMEENTE_OPTIONEEL: Final = _Text("gemeenteVanInschrijving", GEMEENTE)
_GEMEENTE_VERPLICHT: Final = _Text("gemeenteVanInschrijving", GEMEENTE, required=True)
_INCLUSIEF_OVERLEDEN: Final = _InclusiefOverledenPersonen()
_HUISNUMMER: Final = _Huisnummer()
_HUISLETTER: Final = _Text("huisletter", HUISLETTER, blank_is_absent=True)
_HUISNUMMERTOEVOEGING: Final = _Text("huisnummertoevoeging", HUISNUMMERTOEVOEGING, blank_is_absent=True)
_VOORVOEGSEL: Final = _Text("voorvoegsel", VOORVOEGSEL)
_GESLACHT: Final = _Text("geslacht", GESLACHT)
_AOI: Final = _Text("adresseerbaarObjectIdentificatie", IDENTIFICATIE, required=True)

_Entry = _Rule | _UnknownParameters

_RULES: Final[Mapping[str, tuple[_Entry, ...]]] = MappingProxyType(
    {
        # Personen
        "RaadpleegMetBurgerservicenummer": (
            _UNKNOWN,
            _Burgerservicenummers(),
            _GEMEENTE_OPTIONEEL,
            _Fields(ResponseType.PERSOON),
        ),
        "ZoekMetGeslachtsnaamEnGeboortedatum": (
            _UNKNOWN,
            _Date("geboortedatum", required=True),
            _Text("geslachtsnaam", NAAM, required=True),
            _Text("voornamen", VOORNAMEN_OPTIONEEL),
            _VOORVOEGSEL,
            _GESLACHT,
            _INCLUSIEF_OVERLEDEN,
            _GEMEENTE_OPTIONEEL,
            _Fields(ResponseType.PERSOON_BEPERKT),
        ),
        "ZoekMetNaamEnGemeenteVanInschrijving": (
            _UNKNOWN,
            _GEMEENTE_VERPLICHT,
            _Text("geslachtsnaam", NAAM, required=True),
            _Text("voornamen", NAAM, required=True),
            _VOORVOEGSEL,
            _GESLACHT,
            _INCLUSIEF_OVERLEDEN,
            _Fields(ResponseType.PERSOON_BEPERKT),
        ),
        "ZoekMetPostcodeEnHuisnummer": (
            _Text("postcode", POSTCODE, required=True),
            _HUISNUMMER,
            _HUISLETTER,
            _HUISNUMMERTOEVOEGING,
            _INCLUSIEF_OVERLEDEN,
            _UNKNOWN,
            _Fields(ResponseType.PERSOON_BEPERKT),
            _Date("geboortedatum"),
            _Text("geslachtsnaam", NAAM),
            _GEMEENTE_OPTIONEEL,
        ),
        "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving": (
            _GEMEENTE_VERPLICHT,
            _HUISNUMMER,
            _Text("straat", STRAAT, required=True),
            _HUISLETTER,
            _HUISNUMMERTOEVOEGING,
            _INCLUSIEF_OVERLEDEN,
            _UNKNOWN,
            _Fields(ResponseType.PERSOON_BEPERKT),
        ),
        "ZoekMetNummeraanduidingIdentificatie": (
            _UNKNOWN,
            _Text("nummeraanduidingIdentificatie", IDENTIFICATIE, required=True),
            _INCLUSIEF_OVERLEDEN,
            _GEMEENTE_OPTIONEEL,
            _Fields(ResponseType.PERSOON_BEPERKT),
        ),
        "ZoekMetAdresseerbaarObjectIdentificatie": (
            _UNKNOWN,
            _AOI,
            _INCLUSIEF_OVERLEDEN,
            _GEMEENTE_OPTIONEEL,
            _Fields(ResponseType.GEZAG_PERSOON_BEPERKT),
        ),
        # Bewoning
        "BewoningMetPeildatum": (_UNKNOWN, _AOI, _Date("peildatum", required=True)),
        "BewoningMetPeriode": (_UNKNOWN, _AOI, _Periode()),
        # Verblijfplaatshistorie
        "RaadpleegMetPeildatum": (
            _UNKNOWN,
            _Text("burgerservicenummer", BSN, required=True),
            _Date("peildatum", required=True),
        ),
        "RaadpleegMetPeriode": (_UNKNOWN, _Text("burgerservicenummer", BSN, required=True), _Periode()),
    }
)


@dataclass(frozen=True, slots=True)
class _QueryRules:
    """A query type's rule table, with what it needs to build the typed query."""

    query_type: type[Query]
    entries: tuple[_Entry, ...]
    allowed: frozenset[str]
    attribute_of: Mapping[str, str]

    @classmethod
    def build(cls, query_type: type[Query], entries: tuple[_Entry, ...]) -> _QueryRules:
        names = {
            name for entry in entries if not isinstance(entry, _UnknownParameters) for name in entry.names
        }
        attribute_of = {f.encode_name: f.name for f in msgspec.structs.fields(query_type)}
        if names != set(attribute_of):  # a table that does not match its struct is a bug
            raise RuntimeError(f"rules of {query_type.__name__} do not match its fields")
        return cls(query_type, entries, frozenset(names | {"type"}), MappingProxyType(attribute_of))

    def apply(self, body: Mapping[str, Any]) -> Query:
        errors: list[InvalidParam] = []
        values: dict[str, Any] = {}
        for entry in self.entries:
            if isinstance(entry, _UnknownParameters):
                errors.extend(
                    _error(_UNKNOWN_PARAM, _html_encode(name)) for name in body if name not in self.allowed
                )
            else:
                values.update(entry.check(body, errors))
        if errors:
            raise bad_request(errors)
        return self.query_type(**{self.attribute_of[name]: value for name, value in values.items()})


_TABLES: Final[Mapping[Api, Mapping[str, _QueryRules]]] = MappingProxyType(
    {
        api: MappingProxyType({name: _QueryRules.build(cls, _RULES[name]) for name, cls in types.items()})
        for api, types in QUERY_TYPES.items()
    }
)
_DECODER: Final = msgspec.json.Decoder()


def decode_json(body: bytes) -> Any:
    """The JSON document of a request body, or the 400 `invalid_json()` for one that is not JSON.

    Bad UTF-8 inside a string and nesting past the interpreter's depth surface as
    `UnicodeDecodeError` and `RecursionError` rather than as `DecodeError`; to a client all three
    are a body that is not JSON (never a 500).
    """
    try:
        return _DECODER.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise invalid_json() from None


def parse_query(api: Api, body: bytes) -> Query:
    """Validate a request body for one API and return the typed query.

    Raises `ProblemError`: `invalid_json()` for a body that is not a JSON object, else RvIG's 400
    `paramsValidation` listing every invalid parameter (order and texts: module docstring).
    """
    document = decode_json(body)
    if not isinstance(document, dict):
        raise invalid_json()
    return _rules_for(api, document).apply(document)


def _rules_for(api: Api, document: Mapping[str, Any]) -> _QueryRules:
    query_type = document.get("type")
    if query_type is None:
        raise bad_request([_error(_REQUIRED, "type")])
    rules = _TABLES[api].get(query_type) if isinstance(query_type, str) else None
    if rules is None:
        raise bad_request([_error(_BAD_TYPE, "type")])
    return rules


# .NET `HttpUtility.HtmlEncode`, which RvIG applies to unknown property names.
_HTML_ESCAPES: Final = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def _html_encode(name: str) -> str:
    return "".join(_HTML_ESCAPES.get(c) or (f"&#{ord(c)};" if 160 <= ord(c) <= 255 else c) for c in name)
