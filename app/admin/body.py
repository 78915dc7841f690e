"""`RawBody`: request bodies handed to the tenant-file validator as they came, documented by a model.

The admin API validates every change with the tenant-file validator (`app.tenancy.files`), so the
same input gets the same problem in a file and in the API. Letting Litestar decode a body into a
model first would answer type errors and unknown keys in other words, before that validator ever
sees them. So `RawBody[Model]` decodes only the JSON (a body that is not JSON is the usual 400)
and passes the plain data on, while the OpenAPI document still shows `Model` as the request schema.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from litestar.dto import AbstractDTO, DTOFieldDefinition
from litestar.dto._backend import DTOBackend
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from app.admin.text import refuse_nul
from app.brp import decode_json

__all__ = ["RawBody"]

T = TypeVar("T")


class RawBody(AbstractDTO[T]):
    """The request body as plain JSON data; `RawBody[Model]` documents it as `Model`."""

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Generator[DTOFieldDefinition, None, None]:
        """No fields: the body is not converted."""
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        """No nesting: the body is not converted."""
        return False

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: type[DTOBackend] | None = None
    ) -> None:
        """Nothing to prepare per handler."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Reference | Schema:
        """The documented model's schema."""
        schema: Reference | Schema = schema_creator.for_field_definition(
            FieldDefinition.from_annotation(cls.model_type)
        )
        return schema

    def decode_bytes(self, value: bytes) -> Any:
        """The body's JSON as plain data (400 when it is not JSON, or holds a NUL character)."""
        document = decode_json(value)
        refuse_nul(document)
        return document

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        """Already plain data."""
        return value
