"""Persons with geheimhoudingPersoonsgegevens: delivered or left out, per API and per set."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.brp import AUTO_DELIVERED_FIELDS, Query, ResponseType, filter_fields
from app.policy import DoelbindingPolicy, Gegevensset, withhold_secret_persons
from tests.unit.policy.builders import (
    AMSTERDAM,
    AOI_0363,
    BASIS,
    BEWONING,
    HISTORIE,
    INDEX,
    bewoning,
    historie,
    in_gemeente,
    postcode,
    raadpleeg,
    with_,
)

OPEN = {"burgerservicenummer": "999993653", "naam": {"voornamen": "Suzanne"}}
SECRET = {
    "burgerservicenummer": "999990639",
    "geheimhoudingPersoonsgegevens": True,
    "naam": {"voornamen": "Jan"},
}
PERSONEN: dict[str, Any] = {"type": "ZoekMetPostcodeEnHuisnummer", "personen": [OPEN, SECRET]}
PERSONEN_WITHHELD: dict[str, Any] = {"type": "ZoekMetPostcodeEnHuisnummer", "personen": [OPEN]}
BEWONINGEN: dict[str, Any] = {
    "bewoningen": [
        {
            "adresseerbaarObjectIdentificatie": AOI_0363,
            "bewoners": [SECRET, OPEN],
            "mogelijkeBewoners": [SECRET],
        }
    ]
}
BEWONINGEN_WITHHELD: dict[str, Any] = {
    "bewoningen": [
        {"adresseerbaarObjectIdentificatie": AOI_0363, "bewoners": [OPEN], "mogelijkeBewoners": []}
    ]
}
HISTORIE_SECRET: dict[str, Any] = {
    "geheimhoudingPersoonsgegevens": True,
    "verblijfplaatsen": [{"type": "Adres", "verblijfadres": {"postcode": "2563KJ"}}],
}

DELIVER = BASIS
WITHHOLD = with_(BASIS, name="basis-zonder-geheim", geheimhouding="withhold")

CASES: dict[str, tuple[list[Gegevensset], Query, dict[str, Any], dict[str, Any]]] = {
    "set delivers": ([DELIVER], postcode(), PERSONEN, PERSONEN),
    "set withholds": ([WITHHOLD], postcode(), PERSONEN, PERSONEN_WITHHELD),
    "no sets: withheld": ([], postcode(), PERSONEN, PERSONEN_WITHHELD),
    "a delivering set that allows the query too": ([WITHHOLD, DELIVER], postcode(), PERSONEN, PERSONEN),
    "a delivering set that does not allow the query": (
        [WITHHOLD, with_(DELIVER, fields=("naam.voornamen",))],
        postcode("geboorte"),
        PERSONEN,
        PERSONEN_WITHHELD,
    ),
    "own residents set delivers for the injected query": (
        [AMSTERDAM],
        in_gemeente(postcode(), "0363"),
        PERSONEN,
        PERSONEN,
    ),
    "answer without secret persons is kept": ([WITHHOLD], postcode(), PERSONEN_WITHHELD, PERSONEN_WITHHELD),
    "bewoners and mogelijke bewoners": (
        [with_(BEWONING, geheimhouding="withhold")],
        bewoning(),
        BEWONINGEN,
        BEWONINGEN_WITHHELD,
    ),
    "bewoning delivered": ([BEWONING], bewoning(), BEWONINGEN, BEWONINGEN),
    "historie of a secret person": (
        [with_(HISTORIE, geheimhouding="withhold")],
        historie(),
        HISTORIE_SECRET,
        {"verblijfplaatsen": []},
    ),
    "historie delivered": ([HISTORIE], historie(), HISTORIE_SECRET, HISTORIE_SECRET),
    "a problem body passes": (
        [WITHHOLD],
        raadpleeg(),
        {"status": 404, "title": "Opgevraagde resource bestaat niet."},
        {"status": 404, "title": "Opgevraagde resource bestaat niet."},
    ),
}


@pytest.mark.parametrize(("sets", "query", "answer", "expected"), list(CASES.values()), ids=list(CASES))
def test_secret_persons(
    sets: list[Gegevensset], query: Query, answer: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = copy.deepcopy(answer)

    assert DoelbindingPolicy(sets, index=INDEX).withhold_secret_persons(query, answer) == expected
    assert answer == before  # never changed in place


def test_the_free_function_withholds_like_the_compiled_policy() -> None:
    assert withhold_secret_persons([WITHHOLD], postcode(), PERSONEN) == PERSONEN_WITHHELD
    assert withhold_secret_persons([DELIVER], postcode(), PERSONEN) == PERSONEN


def test_geheimhouding_arrives_without_being_requested() -> None:
    # RvIG delivers the flag unasked, and the broker's own field filter keeps it.
    person = {
        "burgerservicenummer": "999990639",
        "geheimhoudingPersoonsgegevens": True,
        "naam": {"voornamen": "Jan"},
    }

    assert "geheimhoudingPersoonsgegevens" in AUTO_DELIVERED_FIELDS
    assert filter_fields(person, ["naam.voornamen"], ResponseType.PERSOON_BEPERKT)[
        "geheimhoudingPersoonsgegevens"
    ]
