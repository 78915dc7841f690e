"""Which persons a BRP answer is about: the BSNs the protocol records (Wet BRP art. 3.11).

This module owns the rule that turns a validated query and RvIG's response body into person
references, each marked as *consulted* (asked for by BSN) or *found* (delivered by a search).
It must never log, store or return anything but BSNs and roles, and never look at other data.

Rules:
- Personen: every `personen[].burgerservicenummer`; CONSULTED for RaadpleegMetBurgerservicenummer,
  FOUND for the Zoek* types. Related persons inside a person (partners, kinderen, ouders, gezag)
  are data *of* that person's persoonslijst and are not listed, as RvIG protocols per delivered
  persoonslijst.
- Bewoning: `bewoners[]` and `mogelijkeBewoners[]` of every bewoning → FOUND.
- Verblijfplaatshistorie: the query's BSN → CONSULTED, whenever the body is a successful answer
  (it has a `verblijfplaatsen` list), also when that list is empty: the lookup itself processed
  data of that BSN, so protocolling it is the safe side for inzage. A problem body yields nobody.
- Only values that look like a BSN (nine digits) are returned; duplicates are dropped, the first
  occurrence keeps its place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Any, Final

import msgspec

from app.brp.queries import (
    BewoningMetPeildatum,
    BewoningMetPeriode,
    Query,
    RaadpleegMetBurgerservicenummer,
    RaadpleegMetPeildatum,
    RaadpleegMetPeriode,
)

__all__ = ["PersonRef", "PersonRole", "extract_persons"]

_BSN: Final = re.compile(r"[0-9]{9}")


class PersonRole(StrEnum):
    """How a person appears in an answer: asked for by BSN, or delivered by a search."""

    CONSULTED = "consulted"
    FOUND = "found"


class PersonRef(msgspec.Struct, frozen=True):
    """One person an answer is about."""

    bsn: str
    role: PersonRole


def extract_persons(query: Query, response: Mapping[str, object]) -> list[PersonRef]:
    """The persons a successful answer to `query` is about, deduplicated, in answer order."""
    if isinstance(query, RaadpleegMetPeildatum | RaadpleegMetPeriode):
        found = _historie(query.burgerservicenummer, response)
    elif isinstance(query, BewoningMetPeildatum | BewoningMetPeriode):
        found = ((bsn, PersonRole.FOUND) for bsn in _bewoners(response))
    else:
        role = (
            PersonRole.CONSULTED if isinstance(query, RaadpleegMetBurgerservicenummer) else PersonRole.FOUND
        )
        found = ((bsn, role) for bsn in _bsns(_items(response.get("personen"))))
    return list(dict.fromkeys(PersonRef(bsn, role) for bsn, role in found))


def _historie(bsn: str, response: Mapping[str, object]) -> Iterator[tuple[str, PersonRole]]:
    if isinstance(response.get("verblijfplaatsen"), list):
        yield from ((b, PersonRole.CONSULTED) for b in _bsns([{"burgerservicenummer": bsn}]))


def _bewoners(response: Mapping[str, object]) -> Iterator[str]:
    for bewoning in _items(response.get("bewoningen")):
        yield from _bsns(_items(bewoning.get("bewoners")))
        yield from _bsns(_items(bewoning.get("mogelijkeBewoners")))


def _items(value: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, Mapping))


def _bsns(items: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    for item in items:
        bsn = item.get("burgerservicenummer")
        if isinstance(bsn, str) and _BSN.fullmatch(bsn):
            yield bsn
