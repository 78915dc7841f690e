"""Leaving persons with `geheimhoudingPersoonsgegevens: true` out of an answer.

This module owns where such persons sit in each API's answer and what "left out" means there:
- Personen: the person is dropped from `personen` (as if not found);
- Bewoning: the person is dropped from `bewoners` and `mogelijkeBewoners` of every bewoning;
- Verblijfplaatshistorie: the answer is about one person, so it becomes `{"verblijfplaatsen": []}`.
RvIG delivers `geheimhoudingPersoonsgegevens` unasked whenever it applies (DOMAIN.md §3) and
`app.brp.filter_fields` keeps it, so nothing has to be requested for this to work. Persons related
to a person (partners, kinderen, ouders) carry no such flag of their own and are left alone.

Whether to leave them out is `app.policy.engine`'s decision. This module never changes the answer
it is given (it builds a new one when something is dropped) and never logs or keeps person data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from app.brp.queries import Api

__all__ = ["GEHEIMHOUDING_FIELD", "without_secret_persons"]

GEHEIMHOUDING_FIELD: Final = "geheimhoudingPersoonsgegevens"
_BEWONERS_LISTS: Final = ("bewoners", "mogelijkeBewoners")

Answer = Mapping[str, Any]


def without_secret_persons(api: Api, answer: Answer) -> Answer:
    """The answer of `api` without the persons marked secret (the same object if there are none)."""
    return _BY_API[api](answer)


def _is_secret(person: object) -> bool:
    return isinstance(person, Mapping) and person.get(GEHEIMHOUDING_FIELD) is True


def _drop_secret(items: object) -> object:
    if not isinstance(items, list) or not any(_is_secret(item) for item in items):
        return items
    return [item for item in items if not _is_secret(item)]


def _personen(answer: Answer) -> Answer:
    personen = answer.get("personen")
    kept = _drop_secret(personen)
    return answer if kept is personen else {**answer, "personen": kept}


def _bewoning(answer: Answer) -> Answer:
    bewoningen = answer.get("bewoningen")
    if not isinstance(bewoningen, list):
        return answer
    kept = [_bewoning_item(item) for item in bewoningen]
    if all(new is old for new, old in zip(kept, bewoningen, strict=True)):
        return answer
    return {**answer, "bewoningen": kept}


def _bewoning_item(item: object) -> object:
    if not isinstance(item, Mapping):
        return item
    changed = {name: _drop_secret(item.get(name)) for name in _BEWONERS_LISTS if name in item}
    if all(changed[name] is item.get(name) for name in changed):
        return item
    return {**item, **changed}


def _verblijfplaatshistorie(answer: Answer) -> Answer:
    return {"verblijfplaatsen": []} if _is_secret(answer) else answer


_BY_API: Final[Mapping[Api, Callable[[Answer], Answer]]] = MappingProxyType(
    {
        Api.PERSONEN: _personen,
        Api.BEWONING: _bewoning,
        Api.VERBLIJFPLAATSHISTORIE: _verblijfplaatshistorie,
    }
)
