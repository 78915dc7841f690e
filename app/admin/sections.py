"""The controller of a named section of the tenant file (`[rules.<name>]`, `[gegevenssets.<name>]`).

Such a section is a table of objects by name: the admin API lists them, reads, puts and removes one,
each write validated as the tenant file's own and answered as `app.admin.writes` answers every
write. `section_controller` builds that controller from what differs: the section, its model, the
documented request body, the guard and the words of the documentation.

No `from __future__ import annotations` here: Litestar reads the handlers' annotations to decode
requests and to document the responses, and those name the section's model, which only the
factory knows – so the annotations must be objects, not strings resolved in this module.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.types import Guard

from app.admin.auth import ACTOR_DEPENDENCY, AdminActor
from app.admin.body import RawBody
from app.admin.schemas import ChangePlan, plan
from app.admin.writes import (
    DryRun,
    IfMatch,
    change_request,
    found,
    put_section_object,
    remove_section_object,
    service_of,
    with_etag,
    written,
)
from app.tenancy.service import TenantState

__all__ = ["Operation", "Section", "section_controller"]


@dataclass(frozen=True, slots=True)
class Operation:
    """The words of one operation: its OpenAPI summary and its handler's docstring."""

    summary: str
    doc: str


@dataclass(frozen=True, slots=True)
class Section:
    """A named section of the tenant file, as the admin API serves it at `.../{slug}/<name>/{name}`."""

    name: str  # the section (`rules`), also the `TenantSpec` field and the path segment
    singular: str  # one object (`rule`): names the handlers, so the OpenAPI operation ids
    model: type[Any]  # what the API answers (an object has a `name`)
    body: type[Any]  # the request body the OpenAPI document shows
    guard: Guard
    list_: Operation
    get: Operation
    put: Operation
    delete: Operation


def _view(section: str, name: str) -> Callable[[TenantState], Any]:
    return lambda state: next((item for item in getattr(state.spec, section) if item.name == name), None)


def _handler(fn: Callable[..., Any], name: str, operation: Operation, returns: Any) -> Callable[..., Any]:
    """`fn` as the named handler with its docstring, returning `returns` (which Litestar documents)."""
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = operation.doc
    fn.__annotations__["return"] = returns
    return fn


def _of(generic: Any, argument: Any) -> Any:
    """`generic[argument]` for an argument only known when the app starts (no static type)."""
    return generic[argument]


def section_controller(section: Section) -> type[Controller]:
    """The controller of `/admin/v1/tenants/{slug}/<section>`: list, get, put and delete by name."""
    section_name = section.name

    async def list_objects(
        self: Controller,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
    ) -> Any:
        return with_etag(list(getattr((await service_of(request).read(slug)).spec, section_name)))

    async def get_object(
        self: Controller,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
    ) -> Any:
        return with_etag(found(_view(section_name, name)(await service_of(request).read(slug))))

    async def put_object(
        self: Controller,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
        data: JSONBody[Any],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Any:
        view = _view(section_name, name)
        state, changes = await service_of(request).change(
            change_request(request, actor, slug, view, if_match=if_match, dry_run=dry_run),
            put_section_object(section_name, name, data),
        )
        return written(view(state), changes, dry_run=dry_run)

    async def delete_object(
        self: Controller,
        *,
        request: Request[Any, Any, Any],
        actor: NamedDependency[AdminActor],
        slug: FromPath[str],
        name: FromPath[str],
        if_match: IfMatch = None,
        dry_run: DryRun = False,
    ) -> Any:
        _, changes = await service_of(request).change(
            change_request(
                request, actor, slug, _view(section_name, name), if_match=if_match, dry_run=dry_run
            ),
            remove_section_object(section_name, name),
        )
        return plan(changes, dry_run=dry_run)

    model, singular = section.model, section.singular
    handlers = {
        f"list_{section_name}": get("/", summary=section.list_.summary)(
            _handler(list_objects, f"list_{section_name}", section.list_, _of(Response, _of(list, model)))
        ),
        f"get_{singular}": get("/{name:str}", summary=section.get.summary)(
            _handler(get_object, f"get_{singular}", section.get, _of(Response, model))
        ),
        f"put_{singular}": put(
            "/{name:str}", dto=_of(RawBody, section.body), return_dto=None, summary=section.put.summary
        )(_handler(put_object, f"put_{singular}", section.put, _of(Response, model | ChangePlan))),
        f"delete_{singular}": delete("/{name:str}", status_code=200, summary=section.delete.summary)(
            _handler(delete_object, f"delete_{singular}", section.delete, ChangePlan)
        ),
    }
    attributes = {
        "__doc__": f"`/admin/v1/tenants/{{slug}}/{section_name}`.",
        "path": f"/tenants/{{slug:str}}/{section_name}",
        "tags": (section_name,),
        "dependencies": ACTOR_DEPENDENCY,
        "guards": (section.guard,),
        **handlers,
    }
    return type(f"{section_name.title()}Controller", (Controller,), attributes)
