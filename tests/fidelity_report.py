"""Fidelity report: how much of RvIG's test set the sandbox's answers carry, per Personen field.

Run it from the repository root:

    .venv/bin/python -m tests.fidelity_report            # every persoonslijst, markdown on stdout
    .venv/bin/python -m tests.fidelity_report --limit 20  # the first 20 only (quick look)
    .venv/bin/python -m tests.fidelity_report --thin      # only the fields the sandbox is thin on

For every field path RvIG offers for `RaadpleegMetBurgerservicenummer` (its
`fields-filtered-Persoon.csv`, aliases folded into their field, plus the auto-delivered fields)
the table shows how many test persons carry the field in the sandbox's answer (asked with every
field, on today's date) next to how many persoonslijsten of RvIG's test set CSV hold a LO GBA
element the field is converted from (`app/sandbox/data/convert.py`; "–" for informatieproducten
and other derived fields). A sandbox count below the CSV count marks the field as thin. It also
reports the share of Waardetabel pairs (code + omschrijving) that lack their omschrijving.

It reads the packaged data (or `--data-dir`; no network, no sandbox server) and is not a pytest
module; the cheap check that it runs is tests/unit/sandbox/test_fidelity_report.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import msgspec

from app.brp.fields import ResponseType, fields_catalogue
from app.brp.problems import ProblemError
from app.brp.queries import Api, PersonenQuery
from app.brp.validation import parse_query
from app.sandbox.data import DATA_DIR, TESTSET_CSV
from app.sandbox.data.convert import Persoonslijst, read_testset
from app.sandbox.dataset import Dataset, PersonRecord
from app.sandbox.search import answer_personen

__all__ = ["FieldCount", "Report", "build_report", "main", "render", "waardetabellen"]

Json = dict[str, Any]

# Field path → the LO GBA elements (categorie.groep.element) convert.py fills it from. Categories
# 04, 05 and 09 (and the ouders 02/03) count when any stapel's actual voorkomen holds the element.
RUBRIEKEN: Final[Mapping[str, tuple[str, ...]]] = {
    "aNummer": ("01.01.10",),
    "burgerservicenummer": ("01.01.20",),
    "naam": ("01.02.10", "01.02.20", "01.02.30", "01.02.40", "01.61.10"),
    "naam.voornamen": ("01.02.10",),
    "naam.adellijkeTitelPredicaat": ("01.02.20",),
    "naam.voorvoegsel": ("01.02.30",),
    "naam.geslachtsnaam": ("01.02.40",),
    "naam.aanduidingNaamgebruik": ("01.61.10",),
    "geboorte": ("01.03.10", "01.03.20", "01.03.30"),
    "geboorte.datum": ("01.03.10",),
    "geboorte.plaats": ("01.03.20",),
    "geboorte.land": ("01.03.30",),
    "geslacht": ("01.04.10",),
    "ouders": ("02.01.20", "02.02.40", "03.01.20", "03.02.40"),
    "ouders.burgerservicenummer": ("02.01.20", "03.01.20"),
    "ouders.naam": ("02.02.10", "02.02.40", "03.02.10", "03.02.40"),
    "ouders.naam.voornamen": ("02.02.10", "03.02.10"),
    "ouders.naam.adellijkeTitelPredicaat": ("02.02.20", "03.02.20"),
    "ouders.naam.voorvoegsel": ("02.02.30", "03.02.30"),
    "ouders.naam.geslachtsnaam": ("02.02.40", "03.02.40"),
    "ouders.geboorte": ("02.03.10", "03.03.10"),
    "ouders.geboorte.datum": ("02.03.10", "03.03.10"),
    "ouders.geboorte.plaats": ("02.03.20", "03.03.20"),
    "ouders.geboorte.land": ("02.03.30", "03.03.30"),
    "ouders.geslacht": ("02.04.10", "03.04.10"),
    "ouders.datumIngangFamilierechtelijkeBetrekking": ("02.62.10", "03.62.10"),
    "nationaliteiten": ("04.05.10", "04.65.10"),
    "nationaliteiten.nationaliteit": ("04.05.10",),
    "nationaliteiten.redenOpname": ("04.63.10",),
    "nationaliteiten.datumIngangGeldigheid": ("04.85.10",),
    "partners": ("05.01.20", "05.02.40", "05.06.10"),
    "partners.burgerservicenummer": ("05.01.20",),
    "partners.naam": ("05.02.10", "05.02.40"),
    "partners.naam.voornamen": ("05.02.10",),
    "partners.naam.adellijkeTitelPredicaat": ("05.02.20",),
    "partners.naam.voorvoegsel": ("05.02.30",),
    "partners.naam.geslachtsnaam": ("05.02.40",),
    "partners.geboorte": ("05.03.10",),
    "partners.geboorte.datum": ("05.03.10",),
    "partners.geboorte.plaats": ("05.03.20",),
    "partners.geboorte.land": ("05.03.30",),
    "partners.geslacht": ("05.04.10",),
    "partners.soortVerbintenis": ("05.15.10",),
    "partners.aangaanHuwelijkPartnerschap": ("05.06.10", "05.06.20", "05.06.30"),
    "partners.aangaanHuwelijkPartnerschap.datum": ("05.06.10",),
    "partners.aangaanHuwelijkPartnerschap.plaats": ("05.06.20",),
    "partners.aangaanHuwelijkPartnerschap.land": ("05.06.30",),
    "partners.ontbindingHuwelijkPartnerschap": ("05.07.10",),
    "partners.ontbindingHuwelijkPartnerschap.datum": ("05.07.10",),
    "overlijden": ("06.08.10",),
    "overlijden.datum": ("06.08.10",),
    "overlijden.plaats": ("06.08.20",),
    "overlijden.land": ("06.08.30",),
    "datumEersteInschrijvingGBA": ("07.68.10",),
    "opschortingBijhouding": ("07.67.20",),
    "verificatie": ("07.71.10",),
    "gemeenteVanInschrijving": ("08.09.10",),
    "datumInschrijvingInGemeente": ("08.09.20",),
    "verblijfplaats": ("08.11.10", "08.11.80", "08.12.10", "08.13.10"),
    "verblijfplaats.datumVan": ("08.10.30", "08.13.20"),
    "verblijfplaats.datumIngangGeldigheid": ("08.85.10",),
    "verblijfplaats.functieAdres": ("08.10.10",),
    "verblijfplaats.adresseerbaarObjectIdentificatie": ("08.11.80",),
    "verblijfplaats.nummeraanduidingIdentificatie": ("08.11.90",),
    "verblijfplaats.verblijfadres": ("08.11.10", "08.12.10", "08.13.30"),
    "verblijfplaats.verblijfadres.korteStraatnaam": ("08.11.10",),
    "verblijfplaats.verblijfadres.officieleStraatnaam": ("08.11.15",),
    "verblijfplaats.verblijfadres.huisnummer": ("08.11.20",),
    "verblijfplaats.verblijfadres.huisletter": ("08.11.30",),
    "verblijfplaats.verblijfadres.huisnummertoevoeging": ("08.11.40",),
    "verblijfplaats.verblijfadres.aanduidingBijHuisnummer": ("08.11.50",),
    "verblijfplaats.verblijfadres.postcode": ("08.11.60",),
    "verblijfplaats.verblijfadres.woonplaats": ("08.11.70",),
    "verblijfplaats.verblijfadres.locatiebeschrijving": ("08.12.10",),
    "verblijfplaats.verblijfadres.land": ("08.13.10",),
    "verblijfplaats.verblijfadres.regel1": ("08.13.30",),
    "verblijfplaats.verblijfadres.regel2": ("08.13.40",),
    "verblijfplaats.verblijfadres.regel3": ("08.13.50",),
    "immigratie": ("08.14.10", "08.14.20"),
    "immigratie.landVanwaarIngeschreven": ("08.14.10",),
    "immigratie.datumVestigingInNederland": ("08.14.20",),
    "immigratie.indicatieVestigingVanuitBuitenland": ("08.14.20",),
    "kinderen": ("09.01.20", "09.02.40"),
    "kinderen.burgerservicenummer": ("09.01.20",),
    "kinderen.naam": ("09.02.10", "09.02.40"),
    "kinderen.naam.voornamen": ("09.02.10",),
    "kinderen.naam.adellijkeTitelPredicaat": ("09.02.20",),
    "kinderen.naam.voorvoegsel": ("09.02.30",),
    "kinderen.naam.geslachtsnaam": ("09.02.40",),
    "kinderen.geboorte": ("09.03.10",),
    "kinderen.geboorte.datum": ("09.03.10",),
    "kinderen.geboorte.plaats": ("09.03.20",),
    "kinderen.geboorte.land": ("09.03.30",),
    "verblijfstitel": ("10.39.10",),
    "verblijfstitel.aanduiding": ("10.39.10",),
    "verblijfstitel.datumEinde": ("10.39.20",),
    "verblijfstitel.datumIngang": ("10.39.30",),
    "indicatieGezagMinderjarige": ("11.32.10",),
    "indicatieCurateleRegister": ("11.33.10",),
    "europeesKiesrecht": ("13.31.10",),
    "europeesKiesrecht.aanduiding": ("13.31.10",),
    "europeesKiesrecht.einddatumUitsluiting": ("13.31.30",),
    "uitsluitingKiesrecht": ("13.38.10",),
    "uitsluitingKiesrecht.uitgeslotenVanKiesrecht": ("13.38.10",),
    "uitsluitingKiesrecht.einddatum": ("13.38.20",),
    "rni": ("01.88.10", "04.88.10", "06.88.10", "08.88.10"),
}
_MULTI_STAPEL: Final = frozenset({"02", "03", "04", "05", "09"})
# Standaardwaarden ("onbekend") and values RvIG never delivers as such: not counted in the CSV.
_ONBEKEND: Final = frozenset({"0000", "000", "."})
_NIET_GELEVERD: Final = frozenset(
    {
        ("10.39.10", "98"),  # "geen verblijfstitel (meer)"
        ("04.05.10", "0499"),  # staatloos: type Staatloos, no nationaliteit field
    }
)
_ALIASES: Final = {"verblijfplaatsBinnenland": "verblijfplaats", "adresseringBinnenland": "adressering"}
# Counted beside RvIG's pickable list: auto-delivered fields, and fields that list leaves out.
_EXTRA_PATHS: Final = (
    "geheimhoudingPersoonsgegevens",
    "opschortingBijhouding",
    "verificatie",
    "rni",
    "indicatieGezagMinderjarige",
    "verblijfplaats.datumIngangGeldigheid",
    "verblijfplaats.indicatieVastgesteldVerblijftNietOpAdres",
)
_IN_ONDERZOEK: Final = "inOnderzoek (any group)"
_AANDUIDING_ONDERZOEK: Final = "83.10"
_EINDE_ONDERZOEK: Final = "83.30"
# Which table a Waardetabel's codes come from, by the property that holds it.
_SOORTEN: Final[Mapping[str, str]] = {
    "plaats": "gemeente",
    "gemeenteVanInschrijving": "gemeente",
    "land": "land",
    "landVanwaarIngeschreven": "land",
    "nationaliteit": "nationaliteit",
    "redenOpname": "redenNationaliteit",
    "deelnemer": "rniDeelnemer",
    "indicatieGezagMinderjarige": "gezagsverhouding",
    "adellijkeTitelPredicaat": "adellijkeTitel",
    "reden": "redenOpschorting",
}


@dataclass(frozen=True, slots=True)
class FieldCount:
    """One row: a field path, the test persons carrying it in the sandbox and in the CSV."""

    path: str
    sandbox: int
    testset: int | None  # None: derived, no LO GBA element of its own

    @property
    def thin(self) -> bool:
        """Whether the sandbox delivers the field for fewer persons than the test set holds it."""
        return self.testset is not None and self.sandbox < self.testset


@dataclass(frozen=True, slots=True)
class Report:
    """The whole report: persons counted, rows, and the Waardetabel omschrijving statistics."""

    persons: int
    rows: tuple[FieldCount, ...]
    waardetabellen: int
    zonder_omschrijving: Counter[tuple[str, str]]


def waardetabellen(obj: object, soort: str = "") -> Iterator[tuple[str, str, str | None]]:
    """Every Waardetabel in a (part of an) answer: (soort, code, omschrijving or None)."""
    if isinstance(obj, list):
        for item in obj:
            yield from waardetabellen(item, soort)
    elif isinstance(obj, dict):
        if "code" in obj and isinstance(obj["code"], str):
            yield soort, obj["code"], obj.get("omschrijving")
            return
        for key, value in obj.items():
            if key == "aanduiding" and isinstance(value, dict) and soort == "verblijfstitel":
                yield from waardetabellen(value, "verblijfstitel")
            else:
                yield from waardetabellen(value, _SOORTEN.get(key, key))


# --- the sandbox side ----------------------------------------------------------------------------


def _all_fields() -> list[str]:
    catalogue = fields_catalogue()
    return sorted(
        path
        for path in catalogue.paths(ResponseType.PERSOON)
        if "." not in path and catalogue.is_valid_path(path, ResponseType.PERSOON) and path not in _ALIASES
    )


def _answer(record: PersonRecord, fields: list[str], today: dt.date) -> Json | None:
    # One persoonslijst at a time: a BSN RvIG's test set has on two lists is answered per list.
    bsn = record.persoon.get("burgerservicenummer")
    if not bsn:
        return None
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn], "fields": fields}
    query = cast(PersonenQuery, parse_query(Api.PERSONEN, msgspec.json.encode(body)))
    try:
        personen = answer_personen(Dataset([record], []), query, today)["personen"]
    except ProblemError:
        return None
    return personen[0] if personen else None


class _Personen(msgspec.Struct):
    personen: list[PersonRecord]


def _records(data_dir: Path | None) -> list[PersonRecord]:
    # Read directly (not `load_dataset`, which logs): stdout is the markdown.
    path = (data_dir or DATA_DIR) / "personen.json"
    return msgspec.json.decode(path.read_bytes(), type=_Personen).personen


def _carries(obj: object, parts: Sequence[str]) -> bool:
    if not parts:
        return obj not in (None, [], {})
    if isinstance(obj, list):
        return any(_carries(item, parts) for item in obj)
    if isinstance(obj, dict):
        return _carries(obj.get(parts[0]), parts[1:])
    return False


def _has_in_onderzoek(obj: object) -> bool:
    if isinstance(obj, list):
        return any(_has_in_onderzoek(item) for item in obj)
    if isinstance(obj, dict):
        return "inOnderzoek" in obj or any(_has_in_onderzoek(value) for value in obj.values())
    return False


# --- the CSV side --------------------------------------------------------------------------------


def _gevuld(element: str, waarde: str | None) -> bool:
    """Whether a CSV value is one RvIG delivers: not empty, not a standaardwaarde ("onbekend")."""
    return bool(waarde) and waarde not in _ONBEKEND and (element, waarde) not in _NIET_GELEVERD


def _in_csv(pl: Persoonslijst, elementen: Sequence[str]) -> bool:
    for element in elementen:
        categorie, _, rubriek = element.partition(".")
        stapels = pl.stapels(categorie)
        if categorie not in _MULTI_STAPEL:
            stapels = stapels[:1]
        if any(stapel and _gevuld(element, stapel[0].get(rubriek)) for stapel in stapels):
            return True
    return False


def _onderzoek_in_csv(pl: Persoonslijst) -> bool:
    # A six-digit aanduiding, onderzoek not ended ("PK" in two rows of the CSV is no aanduiding).
    return any(
        stapel
        and len(stapel[0].get(_AANDUIDING_ONDERZOEK, "")) == 6
        and stapel[0][_AANDUIDING_ONDERZOEK].isdigit()
        and not stapel[0].get(_EINDE_ONDERZOEK)
        for stapels in pl.categorieen.values()
        for stapel in stapels
    )


def _folded(path: str) -> str:
    """The field an alias path answers under (`verblijfplaatsBinnenland.x` → `verblijfplaats.x`)."""
    head, dot, rest = path.partition(".")
    return _ALIASES.get(head, head) + dot + rest


def _paths() -> list[str]:
    pickable = fields_catalogue().pickable_paths(ResponseType.PERSOON)
    return sorted({_folded(path) for path in pickable} | set(_EXTRA_PATHS))


def build_report(
    limit: int | None = None, today: dt.date | None = None, data_dir: Path | None = None
) -> Report:
    """Count, per field, the sandbox's answers and RvIG's CSV (the first `limit` lists only).

    `data_dir` is a folder with another `personen.json` (and `bewoning.json`), as `sandbox.toml`'s.
    """
    day = today or dt.date.today()
    records = _records(data_dir)
    lijsten = {pl.identificatie: pl for pl in read_testset(TESTSET_CSV)}
    if limit is not None:
        records = records[:limit]
    fields = _all_fields()
    answers = [(record, _answer(record, fields, day)) for record in records]
    paths = _paths()
    rows: list[FieldCount] = []
    for path in paths:
        parts = path.split(".")
        sandbox = sum(1 for _, answer in answers if answer is not None and _carries(answer, parts))
        elementen = RUBRIEKEN.get(path)
        testset = (
            None
            if elementen is None
            else sum(1 for record, _ in answers if _in_csv(lijsten[record.persoonslijst], elementen))
        )
        rows.append(FieldCount(path, sandbox, testset))
    rows.append(
        FieldCount(
            _IN_ONDERZOEK,
            sum(1 for _, answer in answers if answer is not None and _has_in_onderzoek(answer)),
            sum(1 for record, _ in answers if _onderzoek_in_csv(lijsten[record.persoonslijst])),
        )
    )
    pairs = [triple for _, answer in answers if answer is not None for triple in waardetabellen(answer)]
    missing = Counter((soort, code) for soort, code, omschrijving in pairs if omschrijving is None)
    return Report(
        persons=len(answers), rows=tuple(rows), waardetabellen=len(pairs), zonder_omschrijving=missing
    )


def render(report: Report, *, only_thin: bool = False) -> str:
    """The report as markdown: a summary line, the omschrijving gaps and the table."""
    missing = sum(report.zonder_omschrijving.values())
    share = 100 * missing / report.waardetabellen if report.waardetabellen else 0.0
    lines = [
        f"Test persons (persoonslijsten of RvIG's test set): {report.persons}",
        "",
        f"Waardetabel pairs without omschrijving: {missing} of {report.waardetabellen} ({share:.1f} %)",
    ]
    for (soort, code), count in sorted(report.zonder_omschrijving.items()):
        lines.append(f"- {soort} {code}: {count}")
    lines += ["", "| field | sandbox | test set CSV | |", "|---|---:|---:|---|"]
    for row in report.rows:
        if only_thin and not row.thin:
            continue
        testset = "–" if row.testset is None else str(row.testset)
        lines.append(f"| `{row.path}` | {row.sandbox} | {testset} | {'thin' if row.thin else ''} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tests.fidelity_report`: print the report as markdown."""
    parser = argparse.ArgumentParser(prog="python -m tests.fidelity_report", description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="only the first N persoonslijsten")
    parser.add_argument("--thin", action="store_true", help="only the rows where the sandbox is thinner")
    parser.add_argument("--data-dir", type=Path, default=None, help="a folder with another personen.json")
    args = parser.parse_args(argv)
    report = build_report(limit=args.limit, data_dir=args.data_dir)
    print(render(report, only_thin=args.thin), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
