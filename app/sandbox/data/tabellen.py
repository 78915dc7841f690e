"""RvIG's landelijke tabellen: the omschrijving of every code the sandbox's answers carry.

Owns reading the tables in this folder (RvIG's own CSV publications, see ATTRIBUTION.md) into
code → omschrijving lookups, and the herindelingen of tabel 33 (92.12 "Nieuwe code"): which
gemeenten a former gemeente merged into. `tabel-aanvullingen.csv` adds the few codes RvIG's test
set uses that no public copy of the tables holds but RvIG's own mock data describes.

Never: invents an omschrijving (a code missing from every table stays code-only, as RvIG's own
data service delivers it then), changes a text (RvIG's texts are kept verbatim, also where they
break the spec's Waardetabel pattern: RvIG sends them so), or touches the network.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from app.sandbox.data import DATA_DIR

__all__ = ["AANVULLINGEN_CSV", "TABELLEN", "LandelijkeTabellen", "landelijke_tabellen"]

# table → (file in this folder, column of the code, column of the omschrijving)
TABELLEN: Final[Mapping[str, tuple[str, str, str]]] = MappingProxyType(
    {
        "nationaliteiten": ("tabel32-nationaliteiten.csv", "05.11 Nationaliteitscode", "05.12 Omschrijving"),
        "gemeenten": ("tabel33-gemeenten.csv", "92.10 Gemeentecode", "92.11 Omschrijving"),
        "landen": ("tabel34-landen.csv", "94.10 Landcode", "94.11 Omschrijving"),
        "redenen_nationaliteit": (
            "tabel37-reden-nationaliteit.csv",
            "96.10 Reden opnemen/beëindigen nationaliteit",
            "96.20 Omschrijving",
        ),
        "adellijke_titels": (
            "tabel38-adellijke-titels.csv",
            "02.21 Adellijke titel/predicaat",
            "02.02 Omschrijving",
        ),
        "verblijfstitels": ("tabel56-verblijfstitels.csv", "39.11 Verblijfstitel", "39.12 Omschrijving"),
        "rni_deelnemers": ("tabel60-rni-deelnemers.csv", "88.11 Code RNI-deelnemer", "88.12 Omschrijving"),
        "gezagsverhoudingen": (
            "tabel61-gezagsverhoudingen.csv",
            "32.11 Gezagsverhouding",
            "32.12 Omschrijving",
        ),
    }
)
AANVULLINGEN_CSV: Final = "tabel-aanvullingen.csv"
_NIEUWE_CODE: Final = "92.12 Nieuwe code"
_SOORT_TITEL: Final = "02.23 Soort"
# tabel-aanvullingen.csv names its tables by number.
_TABEL_NUMMERS: Final = {
    "32": "nationaliteiten",
    "33": "gemeenten",
    "34": "landen",
    "37": "redenen_nationaliteit",
    "56": "verblijfstitels",
    "60": "rni_deelnemers",
    "61": "gezagsverhoudingen",
}


@dataclass(frozen=True, slots=True)
class LandelijkeTabellen:
    """The code → omschrijving lookups of RvIG's tables, plus the gemeente herindelingen."""

    nationaliteiten: Mapping[str, str]
    gemeenten: Mapping[str, str]
    landen: Mapping[str, str]
    redenen_nationaliteit: Mapping[str, str]
    adellijke_titels: Mapping[str, tuple[str, str]]  # code → (omschrijving, soort)
    verblijfstitels: Mapping[str, str]
    rni_deelnemers: Mapping[str, str]
    gezagsverhoudingen: Mapping[str, str]
    nieuwe_gemeentecodes: Mapping[str, str]  # former gemeente → the gemeente it merged into

    def opvolgers(self, gemeentecode: str) -> tuple[str, ...]:
        """The gemeenten a gemeente merged into, in order (92.12 followed until it ends)."""
        found: list[str] = []
        code = self.nieuwe_gemeentecodes.get(gemeentecode)
        while code is not None and code not in found and code != gemeentecode:
            found.append(code)
            code = self.nieuwe_gemeentecodes.get(code)
        return tuple(found)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            {key.strip(): (value or "").strip() for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]


def _lookup(rows: list[dict[str, str]], code: str, omschrijving: str) -> dict[str, str]:
    return {row[code]: row[omschrijving] for row in rows if row.get(code) and row.get(omschrijving)}


@functools.cache
def landelijke_tabellen(directory: Path = DATA_DIR) -> LandelijkeTabellen:
    """Read the tables (once per folder); codes of `tabel-aanvullingen.csv` never override RvIG's."""
    tabellen: dict[str, dict[str, str]] = {}
    rijen: dict[str, list[dict[str, str]]] = {}
    for naam, (bestand, code, omschrijving) in TABELLEN.items():
        rijen[naam] = _rows(directory / bestand)
        tabellen[naam] = _lookup(rijen[naam], code, omschrijving)
    for row in _rows(directory / AANVULLINGEN_CSV):
        tabel = tabellen[_TABEL_NUMMERS[row["tabel"]]]
        tabel.setdefault(row["code"], row["omschrijving"])
    _, titel_code, titel_omschrijving = TABELLEN["adellijke_titels"]
    titels = {
        row[titel_code]: (row[titel_omschrijving], row[_SOORT_TITEL]) for row in rijen["adellijke_titels"]
    }
    _, gemeente_code, _ = TABELLEN["gemeenten"]
    nieuwe = {row[gemeente_code]: row[_NIEUWE_CODE] for row in rijen["gemeenten"] if row.get(_NIEUWE_CODE)}
    return LandelijkeTabellen(
        nationaliteiten=MappingProxyType(tabellen["nationaliteiten"]),
        gemeenten=MappingProxyType(tabellen["gemeenten"]),
        landen=MappingProxyType(tabellen["landen"]),
        redenen_nationaliteit=MappingProxyType(tabellen["redenen_nationaliteit"]),
        adellijke_titels=MappingProxyType(titels),
        verblijfstitels=MappingProxyType(tabellen["verblijfstitels"]),
        rni_deelnemers=MappingProxyType(tabellen["rni_deelnemers"]),
        gezagsverhoudingen=MappingProxyType(tabellen["gezagsverhoudingen"]),
        nieuwe_gemeentecodes=MappingProxyType(nieuwe),
    )
