"""Gegevenssets, queries and expected refusals the policy tests share (plain data, no fixtures)."""

from __future__ import annotations

import datetime

import msgspec

from app.brp import (
    BewoningMetPeildatum,
    PersonenQuery,
    ProblemError,
    Query,
    RaadpleegMetBurgerservicenummer,
    RaadpleegMetPeildatum,
    ZoekMetGeslachtsnaamEnGeboortedatum,
    ZoekMetNaamEnGemeenteVanInschrijving,
    ZoekMetPostcodeEnHuisnummer,
    fields_catalogue,
)
from app.policy import DoelbindingPolicy, FieldIndex, Gegevensset

INDEX = FieldIndex(fields_catalogue())

API_TITLE = "U bent niet geautoriseerd voor het gebruik van deze API."
QUESTION_TITLE = "U bent niet geautoriseerd voor deze vraag."
PARAMETER_TITLE = "U bent niet geautoriseerd voor de gebruikte parameter(s)."
FIELD_TITLE = "U bent niet geautoriseerd voor één of meerdere opgegeven field waarden."

# --- gegevenssets --------------------------------------------------------------------------------

BASIS = Gegevensset(
    name="basis",
    parameters=("*",),
    fields=("naam", "geboorte", "verblijfplaats", "adressering"),
)
ZOEK_NAAM = Gegevensset(
    name="zoek-naam",
    query_types=("ZoekMetGeslachtsnaamEnGeboortedatum",),
    parameters=("geslachtsnaam", "geboortedatum"),
    fields=("naam.voornamen", "naam.geslachtsnaam", "geboorte.datum"),
)
RAADPLEEG_ALLES = Gegevensset(
    name="raadpleeg-alles",
    query_types=("RaadpleegMetBurgerservicenummer",),
    parameters=("burgerservicenummer",),
    fields=("*",),
)
BEWONING = Gegevensset(name="bewoning", apis=("bewoning",), parameters=("*",))
HISTORIE = Gegevensset(name="historie", apis=("verblijfplaatshistorie",), parameters=("*",))
AMSTERDAM = Gegevensset(
    name="eigen-inwoners-0363",
    apis=("personen", "bewoning"),
    parameters=("*",),
    fields=("naam", "geboorte"),
    own_residents_gemeente="0363",
    own_residents_former_gemeenten=("0362",),
)
LEIDEN = msgspec.structs.replace(AMSTERDAM, name="eigen-inwoners-0546", own_residents_gemeente="0546")


def with_(gegevensset: Gegevensset, **changes: object) -> Gegevensset:
    """A copy of a gegevensset with some fields changed."""
    return msgspec.structs.replace(gegevensset, **changes)


# --- queries -------------------------------------------------------------------------------------

BSN = "999993653"
AOI_0363 = "0363010000758545"
AOI_0362 = "0362010000123456"
AOI_0518 = "0518010060731001"


def raadpleeg(*fields: str, gemeente: str | None = None) -> RaadpleegMetBurgerservicenummer:
    """RaadpleegMetBurgerservicenummer for one BSN."""
    return RaadpleegMetBurgerservicenummer(
        burgerservicenummer=(BSN,), fields=fields or ("naam",), gemeente_van_inschrijving=gemeente
    )


def zoek_naam(
    *fields: str,
    gemeente: str | None = None,
    geslacht: str | None = None,
    voornamen: str | None = None,
    voorvoegsel: str | None = None,
    overleden: bool | None = None,
) -> ZoekMetGeslachtsnaamEnGeboortedatum:
    """ZoekMetGeslachtsnaamEnGeboortedatum with optional parameters."""
    return ZoekMetGeslachtsnaamEnGeboortedatum(
        fields=fields or ("naam.voornamen",),
        geslachtsnaam="Moulin",
        geboortedatum=datetime.date(1983, 5, 26),
        voornamen=voornamen,
        voorvoegsel=voorvoegsel,
        geslacht=geslacht,
        inclusief_overleden_personen=overleden,
        gemeente_van_inschrijving=gemeente,
    )


def zoek_in_gemeente(gemeente: str) -> ZoekMetNaamEnGemeenteVanInschrijving:
    """ZoekMetNaamEnGemeenteVanInschrijving (gemeenteVanInschrijving is required there)."""
    return ZoekMetNaamEnGemeenteVanInschrijving(
        fields=("naam",), geslachtsnaam="Moulin", voornamen="Suzanne", gemeente_van_inschrijving=gemeente
    )


def postcode(*fields: str, gemeente: str | None = None) -> ZoekMetPostcodeEnHuisnummer:
    """ZoekMetPostcodeEnHuisnummer."""
    return ZoekMetPostcodeEnHuisnummer(
        fields=fields or ("naam",), postcode="2563KJ", huisnummer=2, gemeente_van_inschrijving=gemeente
    )


def bewoning(aoi: str = AOI_0363) -> BewoningMetPeildatum:
    """BewoningMetPeildatum."""
    return BewoningMetPeildatum(adresseerbaar_object_identificatie=aoi, peildatum=datetime.date(2020, 1, 1))


def historie() -> RaadpleegMetPeildatum:
    """Verblijfplaatshistorie RaadpleegMetPeildatum."""
    return RaadpleegMetPeildatum(burgerservicenummer=BSN, peildatum=datetime.date(2020, 1, 1))


def in_gemeente(query: PersonenQuery, gemeente: str) -> PersonenQuery:
    """The query as the policy should send it: with gemeenteVanInschrijving injected."""
    return msgspec.structs.replace(query, gemeente_van_inschrijving=gemeente)


# --- outcomes ------------------------------------------------------------------------------------


class Refused(msgspec.Struct, frozen=True):
    """An expected 403: RvIG's code, title and our detail."""

    code: str
    title: str
    detail: str


def api_refused(api: str) -> Refused:
    return Refused("unauthorized", API_TITLE, f"U bent niet geautoriseerd voor de API {api}.")


def type_refused(query_type: str) -> Refused:
    return Refused("unauthorized", QUESTION_TITLE, f"U bent niet geautoriseerd voor de vraag {query_type}.")


def parameters_refused(names: str) -> Refused:
    return Refused(
        "unauthorizedParameter",
        PARAMETER_TITLE,
        f"U bent niet geautoriseerd voor het gebruik van parameter(s): {names}.",
    )


def fields_refused(paths: str) -> Refused:
    return Refused(
        "unauthorizedField",
        FIELD_TITLE,
        f"U bent niet geautoriseerd om de volgende gegevens op te vragen met fields: {paths}",
    )


def decide(gegevenssets: list[Gegevensset], query: Query) -> Query | Refused:
    """The policy's answer as data: the query to send, or the refusal."""
    try:
        return DoelbindingPolicy(gegevenssets, index=INDEX).authorise(query)
    except ProblemError as error:
        problem = error.problem
        assert problem.status == 403
        assert problem.code is not None and problem.detail is not None
        return Refused(problem.code, problem.title, problem.detail)
