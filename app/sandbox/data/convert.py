"""Convert RvIG's test set of persoonslijsten (LO GBA CSV) into BRP API v2 persons for the sandbox.

Owns: reading `testset-proefomgeving.csv`, grouping its rows into persoonslijsten and categorie
stapels, mapping every LO GBA categorie to the `Persoon` of the Personen API (v2.7) and to the
`Verblijfplaats` items of the Verblijfplaatshistorie API (v2.0), and writing `personen.json`
with a stable byte layout so users can edit it and diffs stay readable. The omschrijvingen come
from RvIG's landelijke tabellen (`tabellen.py`), the `inOnderzoek` flags from 83.10/83.20/83.30
(`in_onderzoek.py` for the Persoon, `historie_in_onderzoek.py` for the historie).

Never: computes what depends on the day of the query (`leeftijd`, `gezag`, expiry of a
verblijfstitel or of an uitsluiting kiesrecht) — the sandbox does that when it answers; invents
a code table entry it cannot vouch for (an unknown code is delivered as `{"code": ...}` only);
touches the network.

CSV layout (inferred from the data, see shared/brp/README.md): one row per occurrence, a
persoonslijst starts at a row with its id in column 1. Column `CC.H` of a row names the kind of
the *next* occurrence of categorie CC: `5x` (CC + 50) continues the same stapel with a historic
voorkomen, `CC` starts a new stapel (another kind, partner or nationaliteit).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from app.sandbox.data import PERSONEN_JSON, TESTSET_CSV
from app.sandbox.data.historie_in_onderzoek import met_historie_onderzoek
from app.sandbox.data.in_onderzoek import Bron, met_onderzoek
from app.sandbox.data.tabellen import LandelijkeTabellen, landelijke_tabellen

__all__ = [
    "BRON",
    "DESCRIPTION",
    "Persoonslijst",
    "add_arguments",
    "convert_testset",
    "historie_van",
    "main",
    "persoon_van",
    "read_testset",
    "render_json",
    "run",
]

Json = dict[str, Any]
Voorkomen = Mapping[str, str]
"""One occurrence of a categorie: element number `GG.EE` -> non-empty, stripped value."""
Stapel = list[Voorkomen]
"""The occurrences of one stapel: the actual one first, then the historic ones, newest first."""


BRON = (
    "RvIG testset persoonslijsten proefomgeving GBA-V (2022-05-02), EUPL-1.2, from "
    "BRP-API/Haal-Centraal-BRP-bevragen scripts/20220502_Testset_persoonslijsten_proefomgeving_GBA-V.csv "
    "@e995b9ea4aa5bb10b01f36501f486ce603cf3c0b; converted by app/sandbox/data/convert.py "
    "(see app/sandbox/data/ATTRIBUTION.md)"
)

# --- code tables -------------------------------------------------------------------------------
# The landelijke tabellen (32 nationaliteiten, 33 gemeenten, 34 landen, 37 reden nationaliteit,
# 38 adellijke titels, 56 verblijfstitels, 60 RNI-deelnemers, 61 gezagsverhoudingen) are RvIG's own
# CSV publications in this folder (`tabellen.py`, ATTRIBUTION.md). The small enumerations below are
# the texts RvIG's data service sends (BRP-API/personen-data-service `GbaMappingHelper.cs`, the same
# in RvIG's feature files and shared/brp/tabelwaarden.csv), verbatim: the "/" in the Naamgebruik
# texts breaks the spec's Waardetabel pattern, but RvIG sends it. A code no table knows is delivered
# without omschrijving, as RvIG's data service does, never with a guessed one.

GESLACHT = {"M": "man", "V": "vrouw", "O": "onbekend"}
NAAMGEBRUIK = {
    "E": "eigen geslachtsnaam",
    "N": "geslachtsnaam echtgenoot/geregistreerd partner na eigen geslachtsnaam",
    "P": "geslachtsnaam echtgenoot/geregistreerd partner",
    "V": "geslachtsnaam echtgenoot/geregistreerd partner voor eigen geslachtsnaam",
}
# W (wissen) has no text at RvIG: such a persoonslijst is never delivered.
REDEN_OPSCHORTING = {
    "O": "overlijden",
    "E": "emigratie",
    "M": "ministerieel besluit",
    "R": "pl is aangelegd in de rni",
    "F": "fout",
    ".": "onbekend",
}
SOORT_VERBINTENIS = {"H": "huwelijk", "P": "geregistreerd partnerschap", ".": "onbekend"}
FUNCTIE_ADRES = {"W": "woonadres", "B": "briefadres"}
AANDUIDING_BIJ_HUISNUMMER = {"to": "tegenover", "by": "bij"}
AANDUIDING_IN_ADRESREGEL = {"to": "t/o", "by": "bij"}  # NEN 5825, as RvIG writes adresregel1
EUROPEES_KIESRECHT = {"1": "persoon is uitgesloten", "2": "persoon ontvangt oproep"}
MAANDEN = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)


class Titel(NamedTuple):
    """The forms of an adellijke titel/predicaat per geslacht, for volledigeNaam (tabel 38 has
    the omschrijving and soort, which `tabellen.py` reads; these forms are the Dutch words)."""

    man: str
    vrouw: str


TITEL_VORMEN = {
    "B": Titel("baron", "barones"),
    "BS": Titel("baron", "barones"),
    "G": Titel("graaf", "gravin"),
    "GI": Titel("graaf", "gravin"),
    "H": Titel("hertog", "hertogin"),
    "HI": Titel("hertog", "hertogin"),
    "JH": Titel("jonkheer", "jonkvrouw"),
    "JV": Titel("jonkheer", "jonkvrouw"),
    "M": Titel("markies", "markiezin"),
    "MI": Titel("markies", "markiezin"),
    "P": Titel("prins", "prinses"),
    "PS": Titel("prins", "prinses"),
    "R": Titel("ridder", "ridder"),  # tabel 38 has no female form of ridder
}


def _tabellen() -> LandelijkeTabellen:
    return landelijke_tabellen()


# Categorie 07 (inschrijving) is left out on purpose: RvIG never delivers its RNI-deelnemer.
RNI_CATEGORIEEN = {"01": "Persoon", "04": "Nationaliteit", "06": "Overlijden", "08": "Verblijfplaats"}
BIJZONDER_NEDERLANDERSCHAP = {"B": "BehandeldAlsNederlander", "V": "VastgesteldNietNederlander"}
NATIONALITEIT_SOORT = {"0000": "NationaliteitOnbekend", "0499": "Staatloos"}
NAAMGEBRUIK_DELEN = {"E": ("eigen",), "P": ("partner",), "V": ("partner", "eigen"), "N": ("eigen", "partner")}
AANHEF = {"M": "Geachte heer", "V": "Geachte mevrouw"}
LOPENDE_TEKST = {"M": "de heer", "V": "mevrouw"}

# Categories that can hold several stapels; the others have one stapel with history.
MEERDERE_STAPELS = frozenset({"04", "05", "09", "12"})
ZONDER_HISTORIE = frozenset({"07", "12", "13"})
ONBEKEND_DATUM = "00000000"
ADRES_ELEMENTEN = ("11.10", "11.15", "11.20", "11.30", "11.40", "11.50", "11.60", "11.70", "11.80", "11.90")
# Standaardwaarden ("onbekend") that RvIG never delivers.
STANDAARDWAARDEN = {
    "02.40": ".",
    "11.10": ".",
    "11.20": "0",
    "11.70": ".",
    "11.80": "0000000000000000",
    "11.90": "0000000000000000",
}
_NAAM_TEKENS = re.compile(r"[^a-zA-Z0-9À-ž .\-']")
_VOORVOEGSEL_TEKENS = re.compile(r"[^a-zA-Z ']")
_OMSCHRIJVING_TEKENS = re.compile(r"[^a-zA-Z0-9À-ž .\-'(),]")
_VOORLETTER_TEKENS = re.compile(r"[^a-zA-Z0-9À-ž .]")
# The characters and lengths the API spec allows, per LO GBA element. The test set holds deliberately
# odd values ("Rente @ 100%", "a.b. KLM Antonie Fokker 7.0° NB") that RvIG would pass on unchanged but
# the spec's patterns forbid; the sandbox must answer what the spec promises, so they are trimmed.
SPEC_GRENZEN: dict[str, tuple[re.Pattern[str] | None, int]] = {
    "02.10": (_NAAM_TEKENS, 200),  # voornamen
    "02.30": (_VOORVOEGSEL_TEKENS, 10),  # voorvoegsel
    "02.40": (_NAAM_TEKENS, 200),  # geslachtsnaam
    "03.20": (_OMSCHRIJVING_TEKENS, 200),  # geboorteplaats
    "06.20": (_OMSCHRIJVING_TEKENS, 200),  # plaats huwelijk/partnerschap
    "08.20": (_OMSCHRIJVING_TEKENS, 200),  # plaats overlijden
    "11.10": (None, 24),  # straatnaam (korteStraatnaam)
    "11.15": (None, 80),  # naam openbare ruimte
    "11.70": (_OMSCHRIJVING_TEKENS, 80),  # woonplaats
    "12.10": (None, 35),  # locatiebeschrijving
    "13.30": (None, 40),  # regel 1 adres buitenland
    "13.40": (None, 50),  # regel 2 adres buitenland
    "13.50": (None, 35),  # regel 3 adres buitenland
    "71.20": (_NAAM_TEKENS, 50),  # omschrijving verificatie
    "88.20": (_NAAM_TEKENS, 50),  # omschrijving verdrag
}
_DATUM = re.compile(r"[0-9]{8}")
_BAG_ID = re.compile(r"(?!0{16})[0-9]{16}")
_CODE = re.compile(r"[0-9]{1,4}")


# --- reading the CSV -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Persoonslijst:
    """One persoonslijst of the test set, with the stapels of each categorie."""

    identificatie: str  # the id in column 1, e.g. "Lg01_716"
    categorieen: Mapping[str, list[Stapel]]

    def stapels(self, categorie: str) -> list[Stapel]:
        """The stapels of a categorie (`"08"`), in the order of the test set."""
        return self.categorieen.get(categorie, [])

    def actueel(self, categorie: str) -> Voorkomen:
        """The actual voorkomen of the first stapel of a categorie, empty when it has none."""
        stapels = self.stapels(categorie)
        return stapels[0][0] if stapels and stapels[0] else {}


@dataclass(frozen=True, slots=True)
class _Kolommen:
    elementen: Mapping[str, list[tuple[int, str]]]  # categorie -> [(kolom, "GG.EE")]
    markers: Mapping[str, int]  # categorie -> kolom of CC.H


def read_testset(csv_path: Path) -> list[Persoonslijst]:
    """Read the test set CSV into persoonslijsten (in file order)."""
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        # A few fields are CSV-quoted because they hold a ";" or '"' (`"Jim ;ook genaamd Kim"`).
        rows = list(csv.reader(handle, delimiter=";"))
    kolommen = _kolommen(rows[0])
    lijsten: list[tuple[str, list[list[str]]]] = []
    for row in rows[1:]:
        if row and row[0].strip():
            lijsten.append((row[0].strip(), []))
        if lijsten:
            lijsten[-1][1].append(row)
    return [_persoonslijst(identificatie, regels, kolommen) for identificatie, regels in lijsten]


def _kolommen(header: Sequence[str]) -> _Kolommen:
    elementen: dict[str, list[tuple[int, str]]] = {}
    markers: dict[str, int] = {}
    for index, kop in enumerate(header):
        delen = kop.strip().split(".")
        if len(delen) == 2 and delen[1] == "H":
            markers[delen[0]] = index
        elif len(delen) == 3:
            elementen.setdefault(delen[0], []).append((index, f"{delen[1]}.{delen[2]}"))
    return _Kolommen(elementen, markers)


def _persoonslijst(identificatie: str, regels: Sequence[Sequence[str]], kolommen: _Kolommen) -> Persoonslijst:
    categorieen: dict[str, list[Stapel]] = {}
    for categorie, elementen in kolommen.elementen.items():
        voorkomens: list[tuple[Voorkomen, str]] = []
        for regel in regels:
            voorkomen = _voorkomen(regel, elementen)
            if voorkomen:
                marker_kolom = kolommen.markers.get(categorie)
                marker = regel[marker_kolom].strip() if marker_kolom is not None else ""
                voorkomens.append((voorkomen, marker))
        if voorkomens:
            categorieen[categorie] = _stapels(categorie, voorkomens)
    return Persoonslijst(identificatie, categorieen)


def _voorkomen(regel: Sequence[str], elementen: Iterable[tuple[int, str]]) -> dict[str, str]:
    voorkomen: dict[str, str] = {}
    for index, element in elementen:
        waarde = _binnen_spec(element, regel[index]) if index < len(regel) else ""
        # 06.88.10 appears twice in the header; the first filled column wins.
        if waarde and element not in voorkomen:
            voorkomen[element] = waarde
    return voorkomen


def _binnen_spec(element: str, waarde: str) -> str:
    verboden, lengte = SPEC_GRENZEN.get(element, (None, 0))
    if verboden is not None:
        waarde = verboden.sub("", waarde)
    waarde = " ".join(waarde.split())
    return waarde[:lengte].rstrip() if lengte else waarde


def _stapels(categorie: str, voorkomens: Sequence[tuple[Voorkomen, str]]) -> list[Stapel]:
    stapels: list[Stapel] = []
    vorige_marker = ""
    for voorkomen, marker in voorkomens:
        if stapels and _is_historisch(categorie, vorige_marker, voorkomen, stapels[-1]):
            stapels[-1].append(voorkomen)
        else:
            stapels.append([voorkomen])
        vorige_marker = marker
    return [_zonder_onjuist(stapel) for stapel in stapels]


def _is_historisch(categorie: str, marker: str, voorkomen: Voorkomen, stapel: Stapel) -> bool:
    """Whether a voorkomen continues the current stapel, from the marker of the row before it."""
    if marker == f"{int(categorie) + 50}":
        return True
    if marker == categorie or categorie in ZONDER_HISTORIE:
        return False
    if categorie not in MEERDERE_STAPELS:
        return True
    # A few rows lack their marker; the same person (A-nummer, else name and birth date) decides.
    return _zelfde_persoon(voorkomen, stapel[0])


def _zelfde_persoon(een: Voorkomen, ander: Voorkomen) -> bool:
    if "01.10" in een and "01.10" in ander:
        return een["01.10"] == ander["01.10"]
    return (een.get("02.40"), een.get("03.10")) == (ander.get("02.40"), ander.get("03.10"))


def _zonder_onjuist(stapel: Stapel) -> Stapel:
    # RvIG ignores voorkomens marked onjuist (84.10 = O); a stapel whose actual voorkomen is onjuist
    # has no actual voorkomen left and is dropped by the callers (empty stapel).
    if stapel[0].get("84.10") == "O":
        return []
    return [stapel[0], *(v for v in stapel[1:] if v.get("84.10") != "O")]


# --- small value mappers -------------------------------------------------------------------------


def _obj(**velden: object) -> Json:
    """A JSON object without the fields that have no value (None, "" or {}); lists are kept."""
    return {naam: waarde for naam, waarde in velden.items() if waarde is not None and waarde not in ("", {})}


def _of_none(waarde: Json) -> Json | None:
    return waarde or None


def _waarde(code: str | None, tabel: Mapping[str, str]) -> Json | None:
    """A `Waardetabel`: code plus omschrijving when the table knows the code."""
    if not code:
        return None
    return _obj(code=code, omschrijving=tabel.get(code))


def _tekst(voorkomen: Voorkomen, element: str) -> str | None:
    waarde = voorkomen.get(element)
    if waarde is None or STANDAARDWAARDEN.get(element) == waarde:
        return None
    return waarde


def _datum(waarde: str | None) -> Json | None:
    """An LO GBA date (yyyymmdd, 00 for unknown parts) as a BRP API `AbstractDatum`."""
    if waarde is None or not _DATUM.fullmatch(waarde):
        return None
    jaar, maand, dag = int(waarde[:4]), int(waarde[4:6]), int(waarde[6:])
    if jaar == 0:
        return {"type": "DatumOnbekend", "onbekend": True, "langFormaat": "onbekend"}
    if maand == 0:
        return {"type": "JaarDatum", "jaar": jaar, "langFormaat": str(jaar)}
    if maand > 12:
        return None
    if dag == 0:
        return {
            "type": "JaarMaandDatum",
            "jaar": jaar,
            "maand": maand,
            "langFormaat": f"{MAANDEN[maand - 1]} {jaar}",
        }
    try:
        datum = dt.date(jaar, maand, dag)
    except ValueError:
        return None
    return {"type": "Datum", "datum": datum.isoformat(), "langFormaat": f"{dag} {MAANDEN[maand - 1]} {jaar}"}


def _is_volledige_datum(waarde: str | None) -> bool:
    return _datum(waarde) is not None and waarde is not None and "00" not in (waarde[4:6], waarde[6:])


def _gemeente(code: str | None) -> Json | None:
    if code is None or not _CODE.fullmatch(code):
        return None
    return _waarde(code.zfill(4), _tabellen().gemeenten)


def _land(code: str | None) -> Json | None:
    if code is None or code == "0000":
        return None
    return _waarde(code, _tabellen().landen)


def _plaats(waarde: str | None) -> Json | None:
    """A plaats (geboorte, overlijden, huwelijk): a gemeentecode in the Netherlands, else the foreign name."""
    if waarde is None:
        return None
    if _CODE.fullmatch(waarde):
        return None if int(waarde) == 0 else _gemeente(waarde)
    return {"omschrijving": waarde}


def _bag_id(waarde: str | None) -> str | None:
    return waarde if waarde is not None and _BAG_ID.fullmatch(waarde) else None


def _hoofdletter(tekst: str) -> str:
    return tekst[:1].upper() + tekst[1:]


def _spaties(tekst: str) -> str:
    """Collapse runs of spaces ("van  den" -> "van den"), as RvIG does in composed names."""
    return " ".join(tekst.split())


# --- categorie 01/02/03/05/09: naam en geboorte ---------------------------------------------------


def _voorletters(voornamen: str | None) -> str | None:
    """One letter per voornaam with a period, none after a one-letter voornaam (RvIG's rule)."""
    if not voornamen:
        return None
    voorletters = ""
    for voornaam in voornamen.split():
        if voorletters and not voorletters.endswith("."):
            voorletters += " "
        voorletters += voornaam[0] + ("." if len(voornaam) > 1 else "")
    # The spec caps voorletters at 40 characters; one test person has 30 voornamen.
    return _VOORLETTER_TEKENS.sub("", voorletters)[:40].strip() or None


def _titel(code: str | None) -> Json | None:
    """adellijkeTitelPredicaat: code, omschrijving and soort as in tabel 38."""
    titel = _tabellen().adellijke_titels.get(code or "")
    if code is None or titel is None:
        return _waarde(code, {})
    omschrijving, soort = titel
    return {"code": code, "omschrijving": omschrijving, "soort": soort}


def _titel_vorm(code: str | None, geslacht: str | None) -> str | None:
    """The title in the form of the person's geslacht, lower case (RvIG's volledigeNaam rule);
    without such a form (geslacht O, ridder for a woman) tabel 38's omschrijving."""
    titel = _tabellen().adellijke_titels.get(code or "")
    vormen = TITEL_VORMEN.get(code or "")
    if titel is None or vormen is None:
        return code.lower() if code else None
    return {"M": vormen.man, "V": vormen.vrouw}.get(geslacht or "", titel[0].lower())


def _naam(voorkomen: Voorkomen) -> Json:
    """NaamGerelateerde (partner, ouder, kind): the names as registered plus voorletters."""
    return _obj(
        voornamen=voorkomen.get("02.10"),
        adellijkeTitelPredicaat=_titel(voorkomen.get("02.20")),
        voorvoegsel=voorkomen.get("02.30"),
        geslachtsnaam=_tekst(voorkomen, "02.40"),
        voorletters=_voorletters(voorkomen.get("02.10")),
    )


def _volledige_naam(voorkomen: Voorkomen) -> str | None:
    titel_code = voorkomen.get("02.20")
    soort = (_tabellen().adellijke_titels.get(titel_code or "") or ("", ""))[1]
    vorm = _titel_vorm(titel_code, voorkomen.get("04.10"))
    predicaat = vorm if soort == "predicaat" else None
    adellijke_titel = vorm if soort != "predicaat" else None
    delen = (
        predicaat,
        voorkomen.get("02.10"),
        adellijke_titel,
        voorkomen.get("02.30"),
        _tekst(voorkomen, "02.40"),
    )
    return _spaties(" ".join(deel for deel in delen if deel)) or None


def _geboorte(voorkomen: Voorkomen) -> Json:
    return _obj(
        datum=_datum(voorkomen.get("03.10")),
        plaats=_plaats(voorkomen.get("03.20")),
        land=_land(voorkomen.get("03.30")),
    )


def _persoon_categorie(pl: Persoonslijst) -> Json:
    """Categorie 01: identificatienummers, naam, geboorte, geslacht."""
    persoon = pl.actueel("01")
    naam = _naam(persoon) | _obj(
        volledigeNaam=_volledige_naam(persoon),
        aanduidingNaamgebruik=_waarde(persoon.get("61.10"), NAAMGEBRUIK),
    )
    return _obj(
        aNummer=persoon.get("01.10"),
        burgerservicenummer=persoon.get("01.20"),
        naam=naam,
        geboorte=_geboorte(persoon),
        geslacht=_waarde(persoon.get("04.10"), GESLACHT),
    )


def _ouder(pl: Persoonslijst, categorie: str) -> Json | None:
    """Categorie 02 (ouder 1) and 03 (ouder 2)."""
    ouder = pl.actueel(categorie)
    gegevens = _obj(
        burgerservicenummer=ouder.get("01.20"),
        naam=_naam(ouder),
        geboorte=_geboorte(ouder),
        geslacht=_waarde(ouder.get("04.10"), GESLACHT),
        datumIngangFamilierechtelijkeBetrekking=_datum(ouder.get("62.10")),
    )
    # RvIG leaves out an ouder that has only akte and geldigheid data (groups 81-86).
    if not gegevens:
        return None
    return gegevens | {"ouderAanduiding": "1" if categorie == "02" else "2"}


def _kind(stapel: Stapel) -> Json | None:
    """Categorie 09: one kind per stapel, actual voorkomen only."""
    if not stapel:
        return None
    kind = stapel[0]
    return _of_none(_obj(burgerservicenummer=kind.get("01.20"), naam=_naam(kind), geboorte=_geboorte(kind)))


# --- categorie 04: nationaliteit -----------------------------------------------------------------


def _nationaliteit(stapel: Stapel) -> Json | None:
    """The current nationaliteit of a stapel; None when it ended (64.10) or never had one."""
    if not stapel or "64.10" in stapel[0]:
        return None
    actueel = stapel[0]
    bijzonder = actueel.get("65.10")
    code = None if bijzonder else next((v["05.10"] for v in stapel if "05.10" in v), None)
    if not bijzonder and not code:
        return None
    soort = BIJZONDER_NEDERLANDERSCHAP.get(bijzonder or "") or NATIONALITEIT_SOORT.get(code or "")
    reden = actueel.get("63.10")
    return _obj(
        type=soort or "Nationaliteit",
        nationaliteit=None if soort else _waarde(code, _tabellen().nationaliteiten),
        redenOpname=None if reden == "000" else _waarde(reden, _tabellen().redenen_nationaliteit),
        datumIngangGeldigheid=_datum(_ingang_nationaliteit(stapel, bijzonder is not None)),
    )


def _ingang_nationaliteit(stapel: Stapel, bijzonder: bool) -> str | None:
    # RvIG uses the earliest known ingangsdatum of the stapel, so a later correction of the
    # nationaliteit does not move the date the person got it.
    if bijzonder:
        return stapel[0].get("85.10")
    datums = [v["85.10"] for v in stapel if v.get("85.10", ONBEKEND_DATUM) != ONBEKEND_DATUM]
    return min(datums) if datums else stapel[0].get("85.10")


# --- categorie 05: huwelijk/geregistreerd partnerschap -------------------------------------------


@dataclass(frozen=True, slots=True)
class _Partner:
    gegevens: Json
    voorkomen: Voorkomen
    aangaan: str
    ontbinding: str | None


def _partner(stapel: Stapel) -> _Partner | None:
    if not stapel:
        return None
    actueel = stapel[0]
    # After ontbinding the actual voorkomen no longer holds the aangaan data; RvIG takes it from
    # the newest historic voorkomen that has it.
    aangaan_bron = next((v for v in stapel if {"06.10", "06.20", "06.30"} & v.keys()), actueel)
    gegevens = _obj(
        burgerservicenummer=actueel.get("01.20"),
        naam=_naam(actueel),
        geboorte=_geboorte(actueel),
        geslacht=_waarde(actueel.get("04.10"), GESLACHT),
        soortVerbintenis=_waarde(actueel.get("15.10"), SOORT_VERBINTENIS),
        aangaanHuwelijkPartnerschap=_obj(
            datum=_datum(aangaan_bron.get("06.10")),
            plaats=_plaats(aangaan_bron.get("06.20")),
            land=_land(aangaan_bron.get("06.30")),
        ),
        ontbindingHuwelijkPartnerschap=_obj(datum=_datum(actueel.get("07.10"))),
    )
    if not gegevens:
        return None
    return _Partner(gegevens, actueel, aangaan_bron.get("06.10", ONBEKEND_DATUM), actueel.get("07.10"))


def _partners(pl: Persoonslijst) -> list[_Partner]:
    """The partners RvIG delivers: all current ones, else only the most recently dissolved one."""
    alle = [partner for partner in map(_partner, pl.stapels("05")) if partner is not None]
    # Same order as RvIG: by aangaan (newest first), then dissolved ones by ontbinding, then voornamen.
    alle.sort(key=lambda p: p.aangaan, reverse=True)
    alle.sort(
        key=lambda p: (p.ontbinding is None, _omgekeerd(p.ontbinding or ""), p.voorkomen.get("02.10", ""))
    )
    actueel = [partner for partner in alle if partner.ontbinding is None]
    return actueel or alle[:1]


def _omgekeerd(datum: str) -> str:
    """A key that sorts yyyymmdd strings newest first inside an ascending sort."""
    return "".join(chr(ord("9") - ord(c) + ord("0")) if c.isdigit() else c for c in datum)


def _naamgebruik_partner(partners: Sequence[_Partner]) -> Voorkomen | None:
    """The partner whose name the adressering uses: the oldest current relation, else the one delivered."""
    if not partners:
        return None
    return min(partners, key=lambda p: p.aangaan).voorkomen


# --- categorie 06 and 07: overlijden en inschrijving ---------------------------------------------


def _overlijden(pl: Persoonslijst) -> Json:
    overlijden = pl.actueel("06")
    return _obj(
        datum=_datum(overlijden.get("08.10")),
        plaats=_plaats(overlijden.get("08.20")),
        land=_land(overlijden.get("08.30")),
    )


def _inschrijving(pl: Persoonslijst) -> Json:
    """Categorie 07: eerste inschrijving, opschorting, geheimhouding, verificatie."""
    inschrijving = pl.actueel("07")
    geheim = inschrijving.get("70.10", "0")
    return _obj(
        datumEersteInschrijvingGBA=_datum(inschrijving.get("68.10")),
        opschortingBijhouding=_obj(
            reden=_waarde(inschrijving.get("67.20"), REDEN_OPSCHORTING),
            datum=_datum(inschrijving.get("67.10")),
        ),
        geheimhoudingPersoonsgegevens=True if geheim.isdigit() and int(geheim) > 0 else None,
        verificatie=_obj(datum=_datum(inschrijving.get("71.10")), omschrijving=inschrijving.get("71.20")),
    )


# --- categorie 08: verblijfplaats ----------------------------------------------------------------


def _verblijfplaats_type(voorkomen: Voorkomen) -> str | None:
    land = voorkomen.get("13.10")
    if land:
        return "VerblijfplaatsOnbekend" if land == "0000" else "VerblijfplaatsBuitenland"
    if "12.10" in voorkomen:
        return "Locatie"
    if any(_tekst(voorkomen, element) for element in ADRES_ELEMENTEN):
        return "Adres"
    return None


def _verblijfadres_binnenland(voorkomen: Voorkomen) -> Json:
    huisnummer = _tekst(voorkomen, "11.20")
    return _obj(
        officieleStraatnaam=voorkomen.get("11.15"),
        korteStraatnaam=_tekst(voorkomen, "11.10"),
        huisnummer=int(huisnummer) if huisnummer and huisnummer.isdigit() else None,
        huisletter=voorkomen.get("11.30"),
        huisnummertoevoeging=voorkomen.get("11.40"),
        aanduidingBijHuisnummer=_waarde(voorkomen.get("11.50"), AANDUIDING_BIJ_HUISNUMMER),
        postcode=voorkomen.get("11.60"),
        woonplaats=_tekst(voorkomen, "11.70"),
    )


def _verblijfadres_buitenland(voorkomen: Voorkomen) -> Json:
    return _obj(
        regel1=voorkomen.get("13.30"),
        regel2=voorkomen.get("13.40"),
        regel3=voorkomen.get("13.50"),
        land=_land(voorkomen.get("13.10")),
    )


def _datum_van(voorkomen: Voorkomen, soort: str) -> str | None:
    """Datum aanvang adreshouding (10.30), or datum aanvang adres buitenland (13.20) abroad."""
    return voorkomen.get("13.20" if soort.startswith("Verblijfplaats") else "10.30")


def _verblijfplaats_velden(voorkomen: Voorkomen, soort: str) -> Json:
    """The fields that a Persoon.verblijfplaats and a historie item share, per type."""
    velden = _obj(type=soort, datumVan=_datum(_datum_van(voorkomen, soort)))
    if soort == "Adres":
        velden |= _obj(
            verblijfadres=_verblijfadres_binnenland(voorkomen),
            functieAdres=_waarde(voorkomen.get("10.10"), FUNCTIE_ADRES),
            adresseerbaarObjectIdentificatie=_bag_id(voorkomen.get("11.80")),
            nummeraanduidingIdentificatie=_bag_id(voorkomen.get("11.90")),
        )
    elif soort == "Locatie":
        velden |= _obj(
            verblijfadres={"locatiebeschrijving": voorkomen["12.10"]},
            functieAdres=_waarde(voorkomen.get("10.10"), FUNCTIE_ADRES),
        )
    elif soort == "VerblijfplaatsBuitenland":
        velden |= _obj(verblijfadres=_verblijfadres_buitenland(voorkomen))
    return velden


def _verblijfplaats(pl: Persoonslijst) -> Json:
    """Categorie 08 for the Persoon: verblijfplaats, gemeente van inschrijving, immigratie."""
    voorkomen = pl.actueel("08")
    soort = _verblijfplaats_type(voorkomen)
    verblijfplaats = None
    if soort is not None:
        verblijfplaats = _verblijfplaats_velden(voorkomen, soort) | _obj(
            datumIngangGeldigheid=_datum(voorkomen.get("85.10"))
        )
    return _obj(
        verblijfplaats=verblijfplaats,
        gemeenteVanInschrijving=_gemeente(voorkomen.get("09.10")),
        datumInschrijvingInGemeente=_datum(voorkomen.get("09.20")),
        immigratie=_immigratie(voorkomen),
    )


def _immigratie(voorkomen: Voorkomen) -> Json:
    land = voorkomen.get("14.10")
    vestiging = _datum(voorkomen.get("14.20"))
    return _obj(
        landVanwaarIngeschreven=_land(land),
        datumVestigingInNederland=vestiging,
        vanuitVerblijfplaatsOnbekend=True if land == "0000" else None,
        indicatieVestigingVanuitBuitenland=True if vestiging else None,
    )


def historie_van(pl: Persoonslijst) -> list[Json]:
    """Verblijfplaatshistorie (categorie 08 + 58), most recent first, as RvIG's historie API.

    A voorkomen is left out when the next (newer) delivered one started on the same day or
    earlier, both dates fully known: it was then a correction or a technical change, not a stay.
    Each item carries the inOnderzoek RvIG's historie API delivers (`historie_in_onderzoek.py`),
    from its own 83.10 and from that of the voorkomen just newer than it in the stapel (RvIG's
    "volgende verblijfplaats").
    """
    items: list[Json] = []
    volgende: str | None = None
    stapel = (pl.stapels("08") or [[]])[0]
    for index, voorkomen in enumerate(stapel):
        soort = _verblijfplaats_type(voorkomen)
        if soort is None:
            continue
        van = _datum_van(voorkomen, soort)
        if _is_volledige_datum(van) and _is_volledige_datum(volgende) and (volgende or "") <= (van or ""):
            continue
        gemeente = _gemeente(voorkomen.get("09.10"))
        item = _verblijfplaats_velden(voorkomen, soort) | _obj(
            datumTot=_datum(volgende),
            gemeenteVanInschrijving=gemeente,
            adressering=_adresregels(voorkomen, soort, gemeente),
            rni=_rni_deelnemer(voorkomen, None) if soort.startswith("Verblijfplaats") else None,
        )
        nieuwer = stapel[index - 1] if index else None
        items.append(met_historie_onderzoek(item, soort, voorkomen, nieuwer, _datum))
        volgende = van
    return items


# --- adressering (informatieproduct) --------------------------------------------------------------


def _adresregels(voorkomen: Voorkomen, soort: str | None, gemeente: Json | None) -> Json:
    """adresregel1-3 and land, as RvIG composes them (NEN 5825) from the verblijfplaats."""
    if soort == "Adres":
        regel1 = _adresregel1(voorkomen)
        return _obj(adresregel1=regel1, adresregel2=_adresregel2(voorkomen, gemeente)) if regel1 else {}
    if soort == "Locatie":
        return _obj(adresregel1=voorkomen["12.10"], adresregel2=_adresregel2(voorkomen, gemeente))
    if soort == "VerblijfplaatsBuitenland":
        regels = _obj(adresregel1=voorkomen.get("13.30"), adresregel2=voorkomen.get("13.40"))
        regels |= _obj(adresregel3=voorkomen.get("13.50"))
        # Without any regel RvIG gives no land either: there is nothing to address.
        return regels | _obj(land=_land(voorkomen.get("13.10"))) if regels else {}
    return {}


def _adresregel1(voorkomen: Voorkomen) -> str | None:
    straat, huisnummer = _tekst(voorkomen, "11.10"), _tekst(voorkomen, "11.20")
    if not straat or not huisnummer:
        return None
    aanduiding = AANDUIDING_IN_ADRESREGEL.get(voorkomen.get("11.50", ""))
    regel = " ".join(deel for deel in (straat, aanduiding, huisnummer) if deel)
    toevoeging = voorkomen.get("11.30", "") + voorkomen.get("11.40", "")
    if toevoeging:
        regel += ("-" if toevoeging[0].isdigit() else " ") + toevoeging
    return regel


def _adresregel2(voorkomen: Voorkomen, gemeente: Json | None) -> str | None:
    postcode = voorkomen.get("11.60", "").replace(" ", "").upper()
    woonplaats = _tekst(voorkomen, "11.70") or (gemeente or {}).get("omschrijving")
    delen = [
        f"{postcode[:4]} {postcode[4:]}" if postcode else None,
        woonplaats.upper() if woonplaats else None,
    ]
    return "  ".join(deel for deel in delen if deel)[:50] or None


def _adressering(pl: Persoonslijst, partners: Sequence[_Partner], verblijf: Json) -> Json:
    soort = (verblijf.get("verblijfplaats") or {}).get("type")
    regels = _adresregels(pl.actueel("08"), soort, verblijf.get("gemeenteVanInschrijving"))
    return regels | _aanschrijving(pl.actueel("01"), _naamgebruik_partner(partners))


def _aanschrijving(persoon: Voorkomen, partner: Voorkomen | None) -> Json:
    """aanhef, aanschrijfwijze.naam and gebruikInLopendeTekst for persons without nobility.

    RvIG's rules for adellijke titels, predicaten and hoffelijkheidstitels are not implemented:
    for those persons the three fields are left out rather than composed wrongly.
    """
    naamgebruik = persoon.get("61.10", "E")
    gebruikt_partner = partner is not None and naamgebruik != "E"
    if (
        "02.20" in persoon
        or (gebruikt_partner and partner is not None and "02.20" in partner)
        or not _tekst(persoon, "02.40")
        or naamgebruik not in NAAMGEBRUIK_DELEN
    ):
        return {}
    namen = {"eigen": _geslachtsnaam(persoon), "partner": _geslachtsnaam(partner) if partner else ""}
    if not namen["partner"]:
        naamgebruik = "E"  # without (a name of) a partner only the own name can be used
    # RvIG drops the spaces around every hyphen in these names, also inside a geslachtsnaam.
    naam = re.sub(r" ?- ?", "-", _spaties("-".join(namen[deel] for deel in NAAMGEBRUIK_DELEN[naamgebruik])))
    voorletters = _voorletters(persoon.get("02.10"))
    geslacht = persoon.get("04.10", "O")
    aanhef = AANHEF.get(geslacht)
    lopend = LOPENDE_TEKST.get(geslacht)
    return {
        "aanhef": f"{aanhef} {_hoofdletter(naam)}"
        if aanhef
        else f"Geachte {_met_voorletters(voorletters, naam)}",
        "aanschrijfwijze": {"naam": _met_voorletters(voorletters, naam)},
        "gebruikInLopendeTekst": f"{lopend} {_hoofdletter(naam)}"
        if lopend
        else _met_voorletters(voorletters, naam),
    }


def _geslachtsnaam(voorkomen: Voorkomen) -> str:
    return " ".join(deel for deel in (voorkomen.get("02.30"), _tekst(voorkomen, "02.40")) if deel)


def _met_voorletters(voorletters: str | None, naam: str) -> str:
    # The first name component starts with a capital, unless the voorletters come first.
    return f"{voorletters} {naam}" if voorletters else _hoofdletter(naam)


# --- categorie 10, 11, 13 and RNI ----------------------------------------------------------------


def _verblijfstitel(pl: Persoonslijst) -> Json | None:
    """Categorie 10. Aanduiding 98 means 'geen verblijfstitel (meer)' and is never delivered.

    Whether datumEinde has passed depends on the day of the query: the sandbox decides that.
    """
    titel = pl.actueel("10")
    if titel.get("39.10") in (None, "98"):
        return None
    return _obj(
        aanduiding=_waarde(titel.get("39.10"), _tabellen().verblijfstitels),
        datumEinde=_datum(titel.get("39.20")),
        datumIngang=_datum(titel.get("39.30")),
    )


def _gezagsverhouding(pl: Persoonslijst) -> Json:
    gezag = pl.actueel("11")
    return _obj(
        indicatieCurateleRegister=True if gezag.get("33.10") == "1" else None,
        indicatieGezagMinderjarige=_waarde(gezag.get("32.10"), _tabellen().gezagsverhoudingen),
    )


def _kiesrecht(pl: Persoonslijst) -> Json:
    """Categorie 13. Einddatums in the past make RvIG drop these; the sandbox checks that per query."""
    kiesrecht = pl.actueel("13")
    europees = kiesrecht.get("31.10")
    uitgesloten = kiesrecht.get("38.10") == "A"
    return _obj(
        europeesKiesrecht=_obj(
            aanduiding=_waarde(europees, EUROPEES_KIESRECHT) if europees in EUROPEES_KIESRECHT else None,
            einddatumUitsluiting=_datum(kiesrecht.get("31.30")) if europees == "1" else None,
        ),
        uitsluitingKiesrecht=_obj(
            uitgeslotenVanKiesrecht=True if uitgesloten else None,
            einddatum=_datum(kiesrecht.get("38.20")) if uitgesloten else None,
        ),
    )


def _rni_deelnemer(voorkomen: Voorkomen, categorie: str | None) -> Json | None:
    deelnemer = voorkomen.get("88.10")
    # A few rows hold a date in 88.10 (shifted columns); only a 4-digit code is a deelnemer.
    if deelnemer is None or not re.fullmatch(r"[0-9]{4}", deelnemer):
        return None
    return _obj(
        deelnemer=_waarde(deelnemer, _tabellen().rni_deelnemers),
        omschrijvingVerdrag=voorkomen.get("88.20"),
        categorie=RNI_CATEGORIEEN.get(categorie or ""),
    )


def _rni(pl: Persoonslijst) -> list[Json] | None:
    deelnemers = [_rni_deelnemer(pl.actueel(categorie), categorie) for categorie in ("01", "06", "08")]
    deelnemers += [
        _rni_deelnemer(stapel[0], "04") for stapel in pl.stapels("04") if _nationaliteit(stapel) is not None
    ]
    gevonden = [deelnemer for deelnemer in deelnemers if deelnemer]
    return gevonden or None


# --- gezagsgegevens: what the sandbox's gezag derivation reads besides the Persoon ----------------


def _aktenummers(stapel: Stapel) -> list[str] | None:
    """The aktenummers (81.20) of a stapel, actual and historic: their 3rd letter (tabel 39) tells
    adoptie (Q), erkenning (B, C, J, V), ontkenning (E) or geboorte (A)."""
    return [voorkomen["81.20"] for voorkomen in stapel if voorkomen.get("81.20")] or None


def _gezagsouder(pl: Persoonslijst, categorie: str) -> Json | None:
    stapels = pl.stapels(categorie)
    if not stapels or not stapels[0]:
        return None
    ouder = stapels[0][0]
    return _obj(
        ouderAanduiding="1" if categorie == "02" else "2",
        # A "puntouder" (geslachtsnaam ".") is a parent whose data are unknown; the Persoon drops the ".".
        puntouder=True if ouder.get("02.40") == STANDAARDWAARDEN["02.40"] else None,
        aktenummers=_aktenummers(stapels[0]),
        volledigeNaam=_volledige_naam(ouder),
    )


def _relatie(voorkomen: Voorkomen) -> Json:
    """One voorkomen (actual or historic) of a huwelijk/partnerschap, raw LO GBA dates (yyyymmdd)."""
    return _obj(
        burgerservicenummer=voorkomen.get("01.20"),
        geslachtsnaam=voorkomen.get("02.40"),
        geboortedatum=voorkomen.get("03.10"),
        volledigeNaam=_volledige_naam(voorkomen),
        datumAangaan=voorkomen.get("06.10"),
        datumOntbinding=voorkomen.get("07.10"),
        redenOntbinding=voorkomen.get("07.40"),
        ingangsdatumGeldigheid=voorkomen.get("85.10"),
    )


def _gezagsgegevens(pl: Persoonslijst) -> Json:
    """The raw facts RvIG's gezag rules read that the `Persoon` does not carry (app/sandbox/gezag.py).

    Gezag itself depends on the day of the query and is derived by the sandbox when it answers.
    """
    relaties = [
        _relatie(voorkomen)
        for stapel in pl.stapels("05")
        for voorkomen in stapel
        if _gezagsrelatie(voorkomen)
    ]
    ouders = [ouder for ouder in (_gezagsouder(pl, "02"), _gezagsouder(pl, "03")) if ouder]
    return _obj(
        aktenummers=_aktenummers((pl.stapels("01") or [[]])[0]),
        ouders=ouders or None,
        ingangsdatumGezagsverhouding=pl.actueel("11").get("85.10"),
        relaties=relaties or None,
        onderzoeken=_gezagsonderzoeken(pl) or None,
    )


def _gezagsonderzoeken(pl: Persoonslijst) -> list[Json]:
    """The aanduidingen in onderzoek (83.10, with 83.30) RvIG's gezag module can match to a fact.

    As its domain objects hold them (BRP-API/brp-api-gezag `JooqPersoonslijstFinder.java`): on the
    actual voorkomen of categorie 01/02/03/11 one of that categorie, on a historic voorkomen of
    01/02/03 one of 51/52/53, on any kept voorkomen of a huwelijk/partnerschap one of 05. Whether
    an onderzoek with a datum einde is over depends on the day of the query: the sandbox decides.
    """
    bronnen: list[tuple[Voorkomen, str]] = [(pl.actueel("11"), "11")]
    for categorie in ("01", "02", "03"):
        stapel = (pl.stapels(categorie) or [[]])[0]
        bronnen += [(v, categorie if i == 0 else str(int(categorie) + 50)) for i, v in enumerate(stapel)]
    bronnen += [(v, "05") for stapel in pl.stapels("05") for v in stapel if _gezagsrelatie(v)]
    gevonden: list[Json] = []
    for voorkomen, categorie in bronnen:
        aanduiding = voorkomen.get("83.10", "")
        if aanduiding.isdigit() and len(aanduiding) <= 6 and aanduiding.zfill(6)[:2] == categorie:
            gevonden.append(_obj(aanduiding=aanduiding.zfill(6), datumEinde=voorkomen.get("83.30")))
    return gevonden


def _gezagsrelatie(voorkomen: Voorkomen) -> bool:
    # RvIG's gezag module skips voorkomens left empty by a correction (no 06.10, 07.10 or 85.10).
    return bool({"06.10", "07.10", "85.10"} & voorkomen.keys())


# --- assembling ----------------------------------------------------------------------------------


def persoon_van(pl: Persoonslijst) -> Json:
    """The full `Persoon` of a persoonslijst, as RvIG returns it when every field is requested.

    Not included: `leeftijd` and `gezag` (derived on the day of the query). Every group an active
    onderzoek touches carries all its `inOnderzoek` flags (`in_onderzoek.py`); which of them an
    answer shows depends on the fields asked (`app.sandbox.onderzoek`).
    """
    partners = _partners(pl)
    verblijf = _verblijfplaats(pl)
    ouders = [ouder for ouder in (_ouder(pl, "02"), _ouder(pl, "03")) if ouder]
    persoon = (
        _persoon_categorie(pl)
        | {
            "ouders": ouders,
            "nationaliteiten": [n for n in map(_nationaliteit, pl.stapels("04")) if n],
            "partners": [partner.gegevens for partner in partners],
            "kinderen": [kind for kind in map(_kind, pl.stapels("09")) if kind],
        }
        | _obj(overlijden=_overlijden(pl))
        | _inschrijving(pl)
        | verblijf
        | _obj(
            verblijfstitel=_verblijfstitel(pl),
            rni=_rni(pl),
            adressering=_adressering(pl, partners, verblijf),
        )
        | _gezagsverhouding(pl)
        | _kiesrecht(pl)
    )
    return met_onderzoek(persoon, _onderzoek_bronnen(pl, partners), _datum)


def _onderzoek_bronnen(pl: Persoonslijst, partners: Sequence[_Partner]) -> list[Bron]:
    """The actual voorkomens whose 83.10 may put fields in onderzoek, each with its place in the
    Persoon (list items in the order the Persoon delivers them)."""
    bronnen = [Bron("persoon", "01", pl.actueel("01"))]
    ouders = [categorie for categorie in ("02", "03") if _ouder(pl, categorie)]
    bronnen += [Bron("ouder", c, pl.actueel(c), ("ouders", i)) for i, c in enumerate(ouders)]
    nationaliteiten = [stapel[0] for stapel in pl.stapels("04") if _nationaliteit(stapel) is not None]
    bronnen += [Bron("nationaliteit", "04", v, ("nationaliteiten", i)) for i, v in enumerate(nationaliteiten)]
    bronnen += [Bron("partner", "05", p.voorkomen, ("partners", i)) for i, p in enumerate(partners)]
    naamgebruik_partner = _naamgebruik_partner(partners)
    if naamgebruik_partner is not None:
        bronnen.append(Bron("naamgebruikpartner", "05", naamgebruik_partner))
    kinderen = [stapel[0] for stapel in pl.stapels("09") if _kind(stapel) is not None]
    bronnen += [Bron("kind", "09", v, ("kinderen", i)) for i, v in enumerate(kinderen)]
    bronnen += [
        Bron(soort, categorie, pl.actueel(categorie))
        for soort, categorie in (
            ("overlijden", "06"),
            ("verblijfplaats", "08"),
            ("verblijfstitel", "10"),
            ("gezagsverhouding", "11"),
        )
    ]
    return bronnen


def convert_testset(csv_path: Path) -> dict[str, Any]:
    """Convert the test set CSV into the `personen.json` document of the sandbox.

    Persoonslijsten without burgerservicenummer are skipped. A BSN that occurs on more than one
    persoonslijst keeps every one of them (the sandbox filters opgeschorte F/W lists and returns
    what RvIG would); entries are sorted by BSN, then persoonslijst.
    """
    personen: list[Json] = [
        {
            "persoonslijst": pl.identificatie,
            "persoon": persoon_van(pl),
            "verblijfplaatshistorie": historie_van(pl),
            "gezagsgegevens": _gezagsgegevens(pl),
        }
        for pl in read_testset(csv_path)
        if pl.actueel("01").get("01.20")
    ]
    personen.sort(key=lambda p: (p["persoon"]["burgerservicenummer"], p["persoonslijst"]))
    return {"bron": BRON, "personen": personen}


def render_json(document: Mapping[str, Any]) -> str:
    """The exact text of `personen.json`: sorted keys, indent 1, UTF-8 characters, final newline."""
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


DESCRIPTION = "Convert RvIG's test set CSV into the sandbox's personen.json."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The converter's options, on its own parser or on `brp-broker sandbox convert`'s."""
    parser.add_argument("--csv", type=Path, default=TESTSET_CSV, help="test set CSV (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=PERSONEN_JSON, help="output JSON (default: %(default)s)")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m app.sandbox.data.convert`: write personen.json from the test set CSV."""
    parser = argparse.ArgumentParser(prog="brp-broker sandbox convert", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """`brp-broker sandbox convert`: write personen.json (`args.out`) from the CSV (`args.csv`)."""
    document = convert_testset(args.csv)
    args.out.write_text(render_json(document), encoding="utf-8", newline="\n")
    print(f"{len(document['personen'])} personen geschreven naar {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
