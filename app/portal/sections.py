"""The pages of a tenant's named objects (`[rules.<name>]`, `[gegevenssets.<name>]`): one flow for
the list, the form, saving, the preview and removing, so Toegang and Gegevenssets behave alike.

Every write is the admin API's own (`PUT`/`DELETE .../{section}/{name}`): `put_section_object` or
`remove_section_object` through `TenancyService.change`, with the ETag the page was rendered with
as `If-Match`. So the tenant file's validator decides, and every change is audited; this module
never judges an object itself. The preview ("Voorbeeld") is the same change as a dry run:
validated, written, rolled back. What the service refuses comes back as a page:

- 400: the form (or list) again, the validator's problems in Dutch next to the fields;
- 409: a tenant managed by its file: the service's words, nothing changed;
- 412 (or 428 for an existing object): changed meanwhile: the current state and `CHANGED_MEANWHILE`;
  428 for a new object: its name is taken;
- anything else: the router's error page.

A page module subclasses `SectionPages` with its names, texts and what only it shows, and its
handlers call `list_page`, `new_page`, `object_page`, `save` and `remove`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar, cast
from urllib.parse import quote

import msgspec
from litestar import Request
from litestar.response import Redirect, Template

from app.admin.writes import change_request, found, put_section_object, remove_section_object, service_of
from app.brp.problems import ProblemError
from app.portal.forms import CHANGED_MEANWHILE, add_message, dutch_reason, field_errors, first, summary
from app.portal.sessions import PortalSession
from app.portal.web import PORTAL_PATH, checked_form, page, redirect, tenant_admin_session
from app.tenancy import Change, TenantSpec
from app.tenancy.service import Edit, TenantState, etag_of

__all__ = ["NAME_LIMIT", "SectionForm", "SectionPages", "planned"]

NAME_LIMIT: Final = 63
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_PREVIEW: Final = "preview"
_ACTIONS: Final = {"add": "toevoegen", "change": "wijzigen", "remove": "verwijderen"}
_RESERVED_NAME: Final = "Deze naam gebruikt het portaal zelf. Kies een andere naam."


class Named(Protocol):
    """A stored object of a section: it has a name."""

    @property
    def name(self) -> str:
        """The object's key in its section."""
        ...


class SectionForm(Protocol):
    """An object's fields as its form shows and sends them."""

    @property
    def name(self) -> str:
        """The object's key in its section."""
        ...

    def body(self) -> dict[str, Any]:
        """The object as the tenant file's table (the admin API's request body)."""
        ...


Stored = TypeVar("Stored", bound=Named)
Form = TypeVar("Form", bound=SectionForm)


def planned(noun: str, name: str, changes: Sequence[Change]) -> tuple[str, ...]:
    """What saving would do to the object `name`, in words ("de regel wijzigen")."""
    said = tuple(f"de {noun} {_ACTIONS.get(c.action, c.action)}" for c in changes if c.key == name)
    return said or ("niets veranderen",)


class SectionPages(ABC, Generic[Stored, Form]):
    """The list and form pages of one section; a subclass names it and adds what only it shows."""

    section: ClassVar[str]  # the tenant file's table ("rules")
    path: ClassVar[str]  # the page's address below the tenant, and its navigation key ("toegang")
    title: ClassVar[str]  # the list page's title
    noun: ClassVar[str]  # one object in words ("regel"): the form's title, the preview
    list_template: ClassVar[str]
    form_template: ClassVar[str]
    reserved: ClassVar[frozenset[str]]  # paths of the page itself, never an object's name
    taken: ClassVar[str]  # the message when a new object's name is taken
    fields: ClassVar[Mapping[str, tuple[str, str]]]  # form field → (element id, label in the summary)

    # -- what a subclass says ------------------------------------------------------------------------

    @abstractmethod
    def objects(self, spec: TenantSpec) -> Sequence[Stored]:
        """The section's objects."""

    @abstractmethod
    def form_of(self, stored: Stored) -> Form:
        """The form of a stored object."""

    @abstractmethod
    def sent(self, form: Mapping[str, list[str]], name: str | None) -> Form:
        """The form as sent (`name`: the object's, from the path, when it is not new)."""

    @abstractmethod
    def list_context(
        self, request: Request[Any, Any, Any], state: TenantState, *, status: int
    ) -> dict[str, Any]:
        """What only this list page shows (`status`: of the answer; confirmations only with 200)."""

    @abstractmethod
    def form_context(self, state: TenantState, form: Form) -> dict[str, Any]:
        """What only this form page shows (its choices)."""

    @abstractmethod
    def dry_run_preview(self, spec: TenantSpec, name: str, changes: Sequence[Change]) -> Any:
        """The preview of a dry run that left `spec` (with the object as sent)."""

    def stored_preview(self, state: TenantState, stored: Stored) -> Any:
        """The preview shown with a stored object's form (none unless a subclass says)."""
        return None

    def placed(self, key: str, reason: str, name: str, fields: Mapping[str, str]) -> tuple[str, str]:
        """The form field of a validator problem (its key path without the index) and its message."""
        if key in (f"{self.section}.{name}", f"{self.section}."):  # about the name itself
            return fields.get("name", "form"), dutch_reason(reason)
        return fields.get(key, "form"), dutch_reason(reason)

    # -- reading -------------------------------------------------------------------------------------

    def find(self, spec: TenantSpec, name: str) -> Stored | None:
        """The object `name`, if there is one."""
        return next((stored for stored in self.objects(spec) if stored.name == name), None)

    def view(self, name: str) -> Callable[[TenantState], Stored | None]:
        """The resource a write is about (its ETag is compared with `If-Match`)."""
        return lambda state: self.find(state.spec, name)

    def base(self, slug: str) -> str:
        """The list page's address."""
        return f"{PORTAL_PATH}/t/{slug}/{self.path}"

    def messages(self, error: ProblemError, name: str, fields: Mapping[str, str]) -> dict[str, str]:
        """A 400 of the service as Dutch messages by form field (`fields`: validator key → form
        field; any other key: the form as a whole)."""
        messages: dict[str, str] = {}
        for key, reason in field_errors(error, prefix=f"{self.section}.{name}.").items():
            add_message(messages, *self.placed(key.partition("[")[0], reason, name, fields))
        return messages

    # -- pages ---------------------------------------------------------------------------------------

    async def list_page(self, request: Request[Any, Any, Any], slug: str) -> Template:
        """The list of the section's objects."""
        session = await tenant_admin_session(request, slug)
        return self.render_list(request, session, await service_of(request).read(slug))

    async def new_page(self, request: Request[Any, Any, Any], slug: str, empty: Form) -> Template:
        """The form for a new object, `empty` as it starts."""
        session = await tenant_admin_session(request, slug)
        state = await service_of(request).read(slug)
        return self.render_form(session, state, empty, new=True, etag="")

    async def object_page(self, request: Request[Any, Any, Any], slug: str, name: str) -> Template:
        """The form of a stored object (read-only for a file-managed tenant); 404 when there is none."""
        session = await tenant_admin_session(request, slug)
        state = await service_of(request).read(slug)
        stored: Stored = found(self.find(state.spec, name))
        preview = self.stored_preview(state, stored)
        form = self.form_of(stored)
        return self.render_form(session, state, form, new=False, etag=_etag(stored), preview=preview)

    def render_list(
        self,
        request: Request[Any, Any, Any],
        session: PortalSession,
        state: TenantState,
        *,
        status: int = 200,
        notice: str | None = None,
        errors: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Template:
        """The list page; `extra` overrides what `list_context` gives (a refused form of the list)."""
        names = {stored.name for stored in self.objects(state.spec)}
        confirm = status == 200  # a redirect's confirmation, not on a page about a refusal
        context = {
            "file_managed": state.managed_by == "file",
            "saved": _named(request, "opgeslagen", names, present=True) if confirm else None,
            "removed": _named(request, "verwijderd", names, present=False) if confirm else None,
            "notice": notice,
            "errors": summary(dict(errors or {}), {}),
            **self.list_context(request, state, status=status),
            **(extra or {}),
        }
        return page(
            self.list_template,
            session,
            title=self.title,
            slug=state.spec.slug,
            current=self.path,
            status_code=status,
            context=context,
        )

    def render_form(
        self,
        session: PortalSession,
        state: TenantState,
        form: Form,
        *,
        new: bool,
        etag: str,
        status: int = 200,
        errors: Mapping[str, str] | None = None,
        notice: str | None = None,
        preview: Any = None,
    ) -> Template:
        """The form page of a new (`new`) or stored object, with `errors` next to its fields."""
        errors = dict(errors or {})
        context = {
            "form": form,
            "new": new,
            "etag": etag,
            "file_managed": state.managed_by == "file",
            "field_errors": errors,
            "errors": summary(errors, self.fields),
            "notice": notice,
            "preview": preview,
            **self.form_context(state, form),
        }
        title = f"Nieuwe {self.noun}" if new else f"{self.noun.capitalize()} {form.name}"
        return page(
            self.form_template,
            session,
            title=title,
            slug=state.spec.slug,
            current=self.path,
            status_code=status,
            context=context,
        )

    # -- writing -------------------------------------------------------------------------------------

    async def save(self, request: Request[Any, Any, Any], slug: str, name: str | None) -> Template | Redirect:
        """Save the form of a new (`name` None) or stored object, or with `action=preview` show the
        dry run's preview; the list with a confirmation after saving."""
        session = await tenant_admin_session(request, slug)
        form = await checked_form(request, session)
        sent = self.sent(form, name)
        new = name is None
        etag = first(form, "etag")
        if new and sent.name in self.reserved:
            state = await service_of(request).read(slug)
            errors = {"name": _RESERVED_NAME}
            return self.render_form(session, state, sent, new=True, etag="", status=400, errors=errors)
        dry_run = first(form, "action") == _PREVIEW
        if_match = None if new else etag or None
        change = change_request(
            request, session.actor, slug, self.view(sent.name), if_match=if_match, dry_run=dry_run
        )
        edit = put_section_object(self.section, sent.name, sent.body())
        try:
            after, changes = await service_of(request).change(change, edit)
        except ProblemError as error:
            return await self._refused_form(request, session, slug, error, sent, new=new, etag=etag)
        if dry_run:
            preview = self.dry_run_preview(after.spec, sent.name, changes)
            return self.render_form(session, after, sent, new=new, etag=etag, preview=preview)
        return redirect(f"{self.base(slug)}?opgeslagen={quote(sent.name)}")

    async def _refused_form(
        self,
        request: Request[Any, Any, Any],
        session: PortalSession,
        slug: str,
        error: ProblemError,
        sent: Form,
        *,
        new: bool,
        etag: str,
    ) -> Template:
        """The form again after the service refused it (see the module's docstring)."""
        status = error.problem.status
        state = await service_of(request).read(slug)
        if status == 400:
            errors = self.messages(error, sent.name, {field: field for field in self.fields})
            return self.render_form(session, state, sent, new=new, etag=etag, status=400, errors=errors)
        if status == 428 and new:
            taken = {"name": self.taken}
            return self.render_form(session, state, sent, new=True, etag="", status=409, errors=taken)
        if status in (412, 428):
            return self._current_form(request, session, state, sent.name)
        if status == 409:
            notice = error.problem.title
            return self.render_form(session, state, sent, new=new, etag=etag, status=409, notice=notice)
        raise error

    def _current_form(
        self, request: Request[Any, Any, Any], session: PortalSession, state: TenantState, name: str
    ) -> Template:
        """After a change meanwhile: the object as it is now (the list, when it is gone)."""
        current = self.find(state.spec, name)
        if current is None:
            return self.render_list(request, session, state, status=412, notice=CHANGED_MEANWHILE)
        form = self.form_of(current)
        return self.render_form(
            session, state, form, new=False, etag=_etag(current), status=412, notice=CHANGED_MEANWHILE
        )

    async def remove(self, request: Request[Any, Any, Any], slug: str, name: str) -> Template | Redirect:
        """Remove the object `name` (with the ETag it was listed with)."""
        session = await tenant_admin_session(request, slug)
        form = await checked_form(request, session)
        edit = remove_section_object(self.section, name)
        done = f"{self.base(slug)}?verwijderd={quote(name)}"
        return await self.write_from_list(
            request, session, slug, name, edit, etag=first(form, "etag"), done=done
        )

    async def write_from_list(
        self,
        request: Request[Any, Any, Any],
        session: PortalSession,
        slug: str,
        name: str,
        edit: Edit,
        *,
        etag: str,
        done: str,
    ) -> Template | Redirect:
        """A write made from the list (a removal) to the object `name`: a redirect to `done`, or the
        list again with the reason when it is refused."""
        service = service_of(request)
        change = change_request(
            request, session.actor, slug, self.view(name), if_match=etag or None, dry_run=False
        )
        try:
            await service.change(change, edit)
        except ProblemError as error:
            status = error.problem.status
            if status not in (400, 409, 412, 428):
                raise
            state = await service.read(slug)
            if status == 400:
                return self.render_list(
                    request, session, state, status=400, errors=self.messages(error, name, {})
                )
            notice = CHANGED_MEANWHILE if status in (412, 428) else error.problem.title
            return self.render_list(
                request, session, state, status=412 if status == 428 else status, notice=notice
            )
        return redirect(done)


def _etag(stored: Named) -> str:
    """The ETag the admin API gives the object (a section's objects are msgspec structs)."""
    return etag_of(cast("msgspec.Struct", stored)) or ""


def _named(request: Request[Any, Any, Any], key: str, names: set[str], *, present: bool) -> str | None:
    """The object a redirect names (`?opgeslagen=`), if it is (or for a removal: is no longer) there,
    so a crafted link cannot make the page say something else."""
    name: str | None = request.query_params.get(key)
    if not name or not _NAME.fullmatch(name) or (name in names) != present:
        return None
    return name
