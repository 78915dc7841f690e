"""RvIG's autorisatie in the sandbox: each 403 for non-gemeente afnemers, none for a gemeente.

Afnemers (app/sandbox/sandbox.toml): 000001 gemeente Rotterdam (0599); 000002 a non-gemeente with a
small allow-list; 000003 without ad hoc rights; 000005 a non-gemeente with historie and bewoning.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.sandbox.client import BEWONING, HISTORIE, PERSONEN, SandboxClient
from tests.integration.sandbox.testpersons import BEWONING_AOI, CELIK

ZOEK = {
    "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
    "geslachtsnaam": "celikbas",
    "geboortedatum": "1990-03-15",
    "fields": ["naam", "geboorte.datum"],
}
RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [CELIK], "fields": ["naam"]}
HISTORIE_QUERY = {"type": "RaadpleegMetPeildatum", "burgerservicenummer": CELIK, "peildatum": "2020-01-01"}
BEWONING_QUERY = {
    "type": "BewoningMetPeildatum",
    "adresseerbaarObjectIdentificatie": BEWONING_AOI,
    "peildatum": "2011-06-01",
}
# An adresseerbaar object in Den Haag (0518), where no test person of Rotterdam ever lived.
DEN_HAAG_QUERY = {**BEWONING_QUERY, "adresseerbaarObjectIdentificatie": "0518010000999999"}


def _forbidden(response: httpx.Response, path: str, code: str, title: str, detail: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.3",
        "title": title,
        "status": 403,
        "detail": detail,
        "instance": path,
        "code": code,
    }


def test_afnemer_without_ad_hoc_rights(brp: SandboxClient) -> None:
    _forbidden(
        brp.post(PERSONEN, RAADPLEEG, afnemer_id="000003"),
        PERSONEN,
        "unauthorized",
        "U bent niet geautoriseerd voor het gebruik van deze API.",
        "Niet geautoriseerd voor ad hoc bevragingen.",
    )


def test_unauthorized_parameter(brp: SandboxClient) -> None:
    _forbidden(
        brp.post(PERSONEN, {**ZOEK, "geslacht": "V"}, afnemer_id="000002"),
        PERSONEN,
        "unauthorizedParameter",
        "U bent niet geautoriseerd voor de gebruikte parameter(s).",
        "U bent niet geautoriseerd voor het gebruik van parameter(s): geslacht.",
    )


def test_unauthorized_fields_are_all_named(brp: SandboxClient) -> None:
    query = {**RAADPLEEG, "fields": ["naam", "geboorte.land", "geboorte.plaats", "geboorte.datum"]}
    _forbidden(
        brp.post(PERSONEN, query, afnemer_id="000002"),
        PERSONEN,
        "unauthorizedField",
        "U bent niet geautoriseerd voor één of meerdere opgegeven field waarden.",
        "U bent niet geautoriseerd om de volgende gegevens op te vragen met fields: "
        "geboorte.land, geboorte.plaats",
    )


def test_parameters_are_checked_before_fields(brp: SandboxClient) -> None:
    query = {**ZOEK, "gemeenteVanInschrijving": "0599", "fields": ["geboorte"]}
    response = brp.post(PERSONEN, query, afnemer_id="000002")
    assert response.json()["code"] == "unauthorizedParameter"
    response = brp.post(PERSONEN, {**ZOEK, "fields": ["geboorte"]}, afnemer_id="000002")
    assert response.json()["code"] == "unauthorizedField"


def test_verblijfplaatshistorie_needs_its_right(brp: SandboxClient) -> None:
    _forbidden(
        brp.post(HISTORIE, HISTORIE_QUERY, afnemer_id="000002"),
        HISTORIE,
        "unauthorized",
        "U bent niet geautoriseerd voor het gebruik van deze API.",
        "Niet geautoriseerd voor verblijfplaatshistorie.",
    )
    assert brp.post(HISTORIE, HISTORIE_QUERY, afnemer_id="000005").status_code == 200


def test_bewoning_is_for_gemeenten_only(brp: SandboxClient) -> None:
    _forbidden(
        brp.post(BEWONING, BEWONING_QUERY, afnemer_id="000002"),
        BEWONING,
        "unauthorized",
        "U bent niet geautoriseerd voor deze vraag.",
        "Alleen gemeenten mogen bewoningen raadplegen.",
    )
    # ...or afnemers with the bewoning right (AXBW01), anywhere in the country.
    assert brp.post(BEWONING, DEN_HAAG_QUERY, afnemer_id="000005").status_code == 200


def test_gemeente_only_for_adresseerbare_objecten_in_its_gemeente(brp: SandboxClient) -> None:
    _forbidden(
        brp.post(BEWONING, DEN_HAAG_QUERY, afnemer_id="000001"),
        BEWONING,
        "unauthorized",
        "U bent niet geautoriseerd voor deze vraag.",
        "Je mag alleen bewoning van adresseerbare objecten binnen de eigen gemeente raadplegen.",
    )
    assert brp.post(BEWONING, BEWONING_QUERY, afnemer_id="000001").status_code == 200
    assert brp.post(BEWONING, DEN_HAAG_QUERY, afnemer_id="000004").status_code == 200


def test_validation_comes_before_autorisatie(brp: SandboxClient) -> None:
    response = brp.post(PERSONEN, {**ZOEK, "geslacht": "X"}, afnemer_id="000002")
    assert response.status_code == 400


def test_allowed_query_of_a_non_gemeente(brp: SandboxClient) -> None:
    response = brp.post(PERSONEN, ZOEK, afnemer_id="000002")

    assert response.status_code == 200
    assert [p["naam"]["geslachtsnaam"] for p in response.json()["personen"]] == ["Çelikbaş"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (PERSONEN, {**ZOEK, "geslacht": "V", "fields": ["geboorte", "adressering", "leeftijd"]}),
        (
            PERSONEN,
            {**RAADPLEEG, "gemeenteVanInschrijving": "0599", "fields": ["aNummer", "partners", "kinderen"]},
        ),
        (HISTORIE, HISTORIE_QUERY),
        (BEWONING, BEWONING_QUERY),
    ],
    ids=["zoek-any-parameter-and-field", "raadpleeg-any-field", "historie", "bewoning"],
)
def test_gemeente_is_never_refused_a_field_or_parameter(
    brp: SandboxClient, path: str, query: dict[str, Any]
) -> None:
    assert brp.post(path, query, afnemer_id="000001").status_code == 200
