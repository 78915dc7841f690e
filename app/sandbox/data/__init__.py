"""The sandbox's data files: RvIG's test set and what the sandbox answers from it.

Owns the locations of `testset-proefomgeving.csv` (RvIG's source), `personen.json` (its conversion
by `convert.py`, editable by users) and `bewoning.json` (RvIG's Bewoning mock data, verbatim);
RvIG's landelijke tabellen (`tabel*.csv`) are read by `tabellen.py`.
Importing this package reads nothing; the converter lives in `app.sandbox.data.convert`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BEWONING_JSON", "DATA_DIR", "PERSONEN_JSON", "TESTSET_CSV"]

DATA_DIR = Path(__file__).resolve().parent
TESTSET_CSV = DATA_DIR / "testset-proefomgeving.csv"
PERSONEN_JSON = DATA_DIR / "personen.json"
BEWONING_JSON = DATA_DIR / "bewoning.json"
