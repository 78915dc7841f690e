"""Validating sandbox answers against RvIG's official OpenAPI documents with a JSON Schema validator.

The specs use `discriminator` for every polymorphic object (dates, verblijfplaatsen, the response
per query type), which JSON Schema itself ignores; the validator here follows a discriminator's
`mapping` so a `Datum` is checked as a `VolledigeDatum`, an `Adres` as an `AdresVoorkomen`, and so
on. `format` (dates) is asserted too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.sandbox.data.convert import NAAMGEBRUIK, REDEN_OPSCHORTING
from app.sandbox.data.tabellen import landelijke_tabellen

__all__ = ["SPEC_FILES", "is_rvig_deviation", "rvig_omschrijvingen", "schema_errors"]

_REPO_SPECS = Path(__file__).resolve().parents[3] / "app" / "brp" / "specs"
_SHARED_SPECS = Path("/work/shared/brp")
SPEC_FILES = {
    "personen": "personen-openapi.yaml",
    "bewoning": "bewoning-openapi.yaml",
    "verblijfplaatshistorie": "verblijfplaatshistorie-openapi.yaml",
}


def _spec_path(name: str) -> Path:
    shipped = _REPO_SPECS / name
    return shipped if shipped.is_file() else _SHARED_SPECS / name


@functools.cache
def _registry() -> Registry[Any]:
    registry: Registry[Any] = Registry()
    for api, name in SPEC_FILES.items():
        document = yaml.safe_load(_spec_path(name).read_text(encoding="utf-8"))
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        registry = registry.with_resource(f"urn:brp:{api}", resource)
    return registry


def _discriminator(
    validator: Any, discriminator: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    name = discriminator["propertyName"]
    mapping: dict[str, str] = discriminator.get("mapping", {})
    value = instance.get(name)
    if value not in mapping:
        yield ValidationError(f"{name}={value!r} is not one of {sorted(mapping)}")
        return
    target = mapping[value]
    # The mapped schema extends the one holding this discriminator (allOf): do not loop.
    active: set[tuple[int, str]] = _ACTIVE
    key = (id(instance), target)
    if key in active:
        return
    active.add(key)
    try:
        yield from validator.descend(instance, {"$ref": target})
    finally:
        active.discard(key)


_ACTIVE: set[tuple[int, str]] = set()
_Validator = validators.extend(Draft202012Validator, {"discriminator": _discriminator})


@functools.cache
def rvig_omschrijvingen() -> frozenset[str]:
    """Every omschrijving RvIG's own tables and data service send (app/sandbox/data/tabellen.py,
    convert.py's enumerations): RvIG sends these verbatim, also where they break the spec."""
    tabellen = landelijke_tabellen()
    texts: set[str] = set()
    for table in (
        tabellen.gemeenten,
        tabellen.landen,
        tabellen.nationaliteiten,
        tabellen.redenen_nationaliteit,
        tabellen.verblijfstitels,
        tabellen.rni_deelnemers,
        tabellen.gezagsverhoudingen,
        NAAMGEBRUIK,
        REDEN_OPSCHORTING,
    ):
        texts |= set(table.values())
    return frozenset(texts)


def is_rvig_deviation(error: ValidationError) -> bool:
    """A Waardetabel omschrijving of RvIG's own that the spec's pattern forbids ("/", "+", "&").

    RvIG's feature files expect these texts in its answers (e.g. "geslachtsnaam
    echtgenoot/geregistreerd partner voor eigen geslachtsnaam"), so the sandbox sends them too.
    """
    path = list(error.absolute_path)
    return (
        error.validator == "pattern"
        and bool(path)
        and path[-1] == "omschrijving"
        and error.instance in rvig_omschrijvingen()
    )


def schema_errors(api: str, component: str, instance: Any) -> list[str]:
    """Every way `instance` breaks `#/components/schemas/<component>` of the API's spec, except
    RvIG's own omschrijvingen that its spec's pattern forbids (`is_rvig_deviation`)."""
    schema = {"$ref": f"urn:brp:{api}#/components/schemas/{component}"}
    validator = _Validator(schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
        if not is_rvig_deviation(e)
    ]
