"""Doelbinding: what a caller may ask, decided from declarative gegevenssets before any upstream call.

Authorisation as data: a `Gegevensset` lists what one purpose allows; `DoelbindingPolicy` compiles
the sets that apply to a caller and judges each query (deny by default, RvIG's 403 codes), injects
gemeenteVanInschrijving for "own residents only", and leaves secret persons out of answers where
required. `check_gegevensset` reports what a tenant file got wrong. Nothing here does I/O, reads
configuration or knows HTTP; tenancy builds the policies, the gateway calls them.
"""

from __future__ import annotations

from app.policy.checks import check_gegevensset
from app.policy.engine import DoelbindingPolicy, authorise, withhold_secret_persons
from app.policy.gegevensset import Gegevensset
from app.policy.grants import FieldIndex

__all__ = [
    "DoelbindingPolicy",
    "FieldIndex",
    "Gegevensset",
    "authorise",
    "check_gegevensset",
    "withhold_secret_persons",
]
