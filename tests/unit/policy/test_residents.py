"""The facts the own-residents rule rests on, held against the query structs."""

from __future__ import annotations

import msgspec
import pytest

from app.brp import QUERY_TYPES, Api, Query

GEMEENTE = "gemeente_van_inschrijving"


def _has_gemeente(cls: type[Query]) -> bool:
    return any(field.name == GEMEENTE for field in msgspec.structs.fields(cls))


@pytest.mark.parametrize("name", list(QUERY_TYPES[Api.PERSONEN]))
def test_every_personen_type_can_be_confined_by_gemeente(name: str) -> None:
    assert _has_gemeente(QUERY_TYPES[Api.PERSONEN][name])


@pytest.mark.parametrize("api", [Api.BEWONING, Api.VERBLIJFPLAATSHISTORIE])
def test_bewoning_and_historie_have_no_gemeente_parameter(api: Api) -> None:
    assert not any(_has_gemeente(cls) for cls in QUERY_TYPES[api].values())
