"""RvIG's own autorisatie, played by the sandbox (DOMAIN.md §7): the 403s a gateway must expect.

This module owns the decision per request, from the token (is it a gemeente?) and the afnemer's
allow-list in `sandbox.toml` (tabel 35 in RvIG's world):

- a token with `gemeenteCode` is authorised for every Personen and historie question, without any
  field or parameter check; for Bewoning only for adresseerbare objecten that are or were in its
  gemeente (the BAG identification starts with the gemeentecode, or a person's verblijfplaats
  there was registered in that gemeente), or in a former gemeente that merged into it (tabel 33);
- any other afnemer needs ad hoc rights (`unauthorized`), then each search parameter
  (`unauthorizedParameter`) and each requested field (`unauthorizedField`, a group path allows its
  sub-fields) in its allow-list; Verblijfplaatshistorie needs `verblijfplaatshistorie` (PXVP07),
  Bewoning needs `bewoning` (AXBW01).

Auto-delivered fields need no autorisatie (they cannot be requested). `inclusiefOverledenPersonen`
is no BRP element and so no parameter to authorise. This module only decides; it never logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from app.brp.problems import forbidden
from app.brp.queries import (
    BewoningMetPeildatum,
    BewoningMetPeriode,
    Query,
    RaadpleegMetPeildatum,
    RaadpleegMetPeriode,
    search_parameters,
)
from app.sandbox.config import AfnemerConfig
from app.sandbox.dataset import Dataset

__all__ = ["authorise", "field_allowed"]

_TITLE_API: Final = "U bent niet geautoriseerd voor het gebruik van deze API."
_TITLE_PARAMETER: Final = "U bent niet geautoriseerd voor de gebruikte parameter(s)."
_TITLE_FIELD: Final = "U bent niet geautoriseerd voor één of meerdere opgegeven field waarden."
_TITLE_BEWONING: Final = "U bent niet geautoriseerd voor deze vraag."
_UNCHECKED_PARAMETERS: Final = frozenset({"inclusiefOverledenPersonen"})


def authorise(afnemer: AfnemerConfig, gemeente_code: str | None, query: Query, dataset: Dataset) -> None:
    """Raise the 403 RvIG would answer for this query of this afnemer; return when authorised.

    `gemeente_code` is the token's `gemeenteCode` claim (RvIG looks at the token, not at a file).
    """
    if isinstance(query, BewoningMetPeildatum | BewoningMetPeriode):
        _authorise_bewoning(afnemer, gemeente_code, query.adresseerbaar_object_identificatie, dataset)
        return
    if gemeente_code is not None:
        return
    if not afnemer.ad_hoc:
        raise forbidden("unauthorized", _TITLE_API, "Niet geautoriseerd voor ad hoc bevragingen.")
    if isinstance(query, RaadpleegMetPeildatum | RaadpleegMetPeriode):
        if not afnemer.verblijfplaatshistorie:
            raise forbidden("unauthorized", _TITLE_API, "Niet geautoriseerd voor verblijfplaatshistorie.")
        return
    _authorise_parameters(afnemer, search_parameters(query))
    _authorise_fields(afnemer, query.fields)


def _authorise_bewoning(
    afnemer: AfnemerConfig, gemeente_code: str | None, aoi: str, dataset: Dataset
) -> None:
    if gemeente_code is None:
        if not afnemer.bewoning:
            raise forbidden("unauthorized", _TITLE_BEWONING, "Alleen gemeenten mogen bewoningen raadplegen.")
        return
    if not dataset.adresseerbaar_object_in_gemeente(aoi, gemeente_code):
        detail = "Je mag alleen bewoning van adresseerbare objecten binnen de eigen gemeente raadplegen."
        raise forbidden("unauthorized", _TITLE_BEWONING, detail)


def _authorise_parameters(afnemer: AfnemerConfig, parameters: Iterable[str]) -> None:
    allowed = set(afnemer.parameters) | _UNCHECKED_PARAMETERS
    refused = [name for name in parameters if name not in allowed]
    if refused:
        detail = f"U bent niet geautoriseerd voor het gebruik van parameter(s): {', '.join(refused)}."
        raise forbidden("unauthorizedParameter", _TITLE_PARAMETER, detail)


def _authorise_fields(afnemer: AfnemerConfig, fields: Iterable[str]) -> None:
    refused = [field for field in dict.fromkeys(fields) if not field_allowed(field, afnemer.fields)]
    if refused:
        detail = (
            f"U bent niet geautoriseerd om de volgende gegevens op te vragen met fields: {', '.join(refused)}"
        )
        raise forbidden("unauthorizedField", _TITLE_FIELD, detail)


def field_allowed(field: str, allowed: Iterable[str]) -> bool:
    """Whether a requested field path is in the allow-list (exactly, or below an allowed group)."""
    return any(field == path or field.startswith(path + ".") for path in allowed)
