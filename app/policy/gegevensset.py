"""`Gegevensset`: one declarative doelbinding rule set, as tenant admins write it.

A gegevensset says which APIs and query types may be used, which `fields` may be asked (paths,
with `*` wildcards, checked against the fields catalogue), which search parameters may be used,
whether deceased persons may be searched, whether only the tenant's own residents may be found
(and the gemeente code to inject), and what happens to persons with geheimhoudingPersoonsgegevens.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Gegevensset"]


class Gegevensset(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What one purpose (doel) allows; evaluated by `app.policy` before any upstream call."""

    name: str
    # "personen", "bewoning", "verblijfplaatshistorie"
    apis: tuple[str, ...] = ("personen",)
    # RvIG query type names, or ("*",) for every type of the allowed APIs.
    query_types: tuple[str, ...] = ("*",)
    # Field paths of Personen `fields`; "naam" allows all of naam; "naam.*" likewise; "*" everything.
    fields: tuple[str, ...] = ()
    # Search parameter names (wire names), or ("*",) for all; type and fields are always allowed,
    # inclusiefOverledenPersonen is governed by `inclusief_overleden_personen` alone.
    parameters: tuple[str, ...] = ()
    inclusief_overleden_personen: bool = False
    # "Own residents only": inject gemeenteVanInschrijving = this code, refuse any other value.
    own_residents_gemeente: str | None = None
    # Codes of former gemeenten merged into that one: BAG identifications keep the old code as
    # their first four digits, so Bewoning accepts an adresseerbaar object starting with these too.
    own_residents_former_gemeenten: tuple[str, ...] = ()
    # Persons with geheimhoudingPersoonsgegevens: deliver them, or leave them out of the answer.
    geheimhouding: Literal["deliver", "withhold"] = "deliver"
    description: str = ""
