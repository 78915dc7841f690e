"""Write a JSON-like value as a TOML inline value (for tenant files built by tests)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["inline"]


def inline(value: Any) -> str:
    """`value` (dicts, lists, strings, numbers, booleans) as one line of TOML."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    return json.dumps(value)
