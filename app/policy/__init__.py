"""Doelbinding: what a caller may ask, decided from declarative gegevenssets before any upstream call."""

from __future__ import annotations

from app.policy.gegevensset import Gegevensset

__all__ = ["Gegevensset"]
