"""The "own residents only" rule: how a query is confined to a gemeente, per API.

This module owns the per-API facts the rule rests on (DOMAIN.md §3, §7, §11):
- Personen: every query type has `gemeenteVanInschrijving` (a unit test holds the query structs to
  that), a filter RvIG applies silently; a query is confined by setting it, and
  RaadpleegMetBurgerservicenummer then answers `personen: []` for a resident of another gemeente.
- Bewoning has no such parameter and cannot be filtered: a query is confined when the adresseerbaar
  object's BAG identification starts with the gemeente's code, or with the code of a former
  gemeente merged into it (BAG identifications keep the code they were issued under).
- Verblijfplaatshistorie can be neither filtered nor checked before the answer (the address
  history of one BSN may lie anywhere), so it is never confined (`app.policy.engine` refuses it).

It never decides whether a query is allowed and does no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import msgspec

from app.brp.queries import BewoningQuery, PersonenQuery

__all__ = ["BAG_GEMEENTE_DIGITS", "confine", "lies_in"]

# A BAG identification starts with the four-digit code of the gemeente that issued it.
BAG_GEMEENTE_DIGITS: Final = 4


def confine(query: PersonenQuery, gemeente: str) -> PersonenQuery:
    """The same Personen query with gemeenteVanInschrijving set to `gemeente`."""
    return msgspec.structs.replace(query, gemeente_van_inschrijving=gemeente)


def lies_in(query: BewoningQuery, bag_codes: Collection[str]) -> bool:
    """True if the query's adresseerbaar object was issued by one of the gemeente codes."""
    return query.adresseerbaar_object_identificatie[:BAG_GEMEENTE_DIGITS] in bag_codes
