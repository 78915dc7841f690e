"""Protocollering: the legal register of every request (Wet BRP art. 3.11)."""

from __future__ import annotations

from app.protocol.record import ProtocolRecord

__all__ = ["ProtocolRecord"]
