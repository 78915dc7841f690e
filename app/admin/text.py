"""Text PostgreSQL cannot hold: U+0000 (NUL) is refused with a 400 before it reaches a query.

Anywhere a client's text would end up in a statement — a body's strings and keys, a path
parameter, a query parameter — a NUL would make PostgreSQL refuse the statement (SQLSTATE 22021),
which is the client's fault and must read as such, never as a 500.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from litestar import Request

from app.brp.problems import InvalidParam, ProblemError, bad_request

__all__ = ["refuse_nul", "refuse_nul_in_address"]

_NUL = "\x00"
_REASON = "Het teken U+0000 is niet toegestaan."


def refuse_nul(document: Any) -> None:
    """400 naming the first place (`rules.who[0]`-like path) where text holds U+0000.

    PostgreSQL cannot store that character in text; refused here, before any write or query.
    """
    for path in _nul_paths(document, ""):
        raise _nul_problem(path or "body")


def _nul_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if _NUL in value:
            yield path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if _NUL in str(key):
                yield child
            yield from _nul_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{path}[{index}]")


def _nul_problem(name: str) -> ProblemError:
    return bad_request([InvalidParam(code="invalid", name=name.replace(_NUL, ""), reason=_REASON)])


def refuse_nul_in_address(request: Request[Any, Any, Any]) -> None:
    """Litestar `before_request` hook: 400 for a NUL in the path or a query parameter."""
    if _NUL in request.url.path:
        raise _nul_problem("path")
    for name, value in request.query_params.multi_items():
        if _NUL in name or _NUL in value:
            raise _nul_problem(name or "query")
