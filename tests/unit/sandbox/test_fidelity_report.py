"""The fidelity report (tests/fidelity_report.py) runs and counts, on a few persons only."""

from __future__ import annotations

import pytest

from tests.fidelity_report import build_report, main, render


def test_report_counts_sandbox_answers_and_the_csv() -> None:
    report = build_report(limit=8)
    assert report.persons == 8
    rows = {row.path: row for row in report.rows}
    assert rows["burgerservicenummer"].sandbox == 8
    assert rows["burgerservicenummer"].testset == 8
    assert rows["leeftijd"].testset is None  # derived: no LO GBA element of its own
    assert rows["naam.volledigeNaam"].sandbox > 0
    assert report.waardetabellen > 0
    assert sum(report.zonder_omschrijving.values()) < report.waardetabellen


def test_markdown_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "| field | sandbox | test set CSV | |" in out
    assert "| `geboorte.land` |" in out
    assert "Waardetabel pairs without omschrijving:" in out


def test_thin_rows_only() -> None:
    text = render(build_report(limit=3), only_thin=True)
    table = [line for line in text.splitlines() if line.startswith("| `")]
    assert all(line.endswith("| thin |") for line in table)
