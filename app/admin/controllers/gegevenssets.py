"""Gegevenssets: what one purpose may see, checked against RvIG's fields catalogue (as in a tenant
file). The tenant admin's own."""

from __future__ import annotations

from app.admin.auth import tenant_admin_of_path
from app.admin.schemas import GegevenssetBody
from app.admin.sections import Operation, Section, section_controller
from app.policy import Gegevensset

__all__ = ["GegevenssetsController"]

GegevenssetsController = section_controller(
    Section(
        name="gegevenssets",
        singular="gegevensset",
        model=Gegevensset,
        body=GegevenssetBody,
        guard=tenant_admin_of_path,
        list_=Operation("The tenant's gegevenssets", "Every gegevensset, by name."),
        get=Operation("A gegevensset", "One gegevensset."),
        put=Operation(
            "Add or change a gegevensset",
            "Add or change the gegevensset `name` (fields and parameters checked against RvIG's).",
        ),
        delete=Operation("Remove a gegevensset", "Remove the gegevensset (no rule may still name it)."),
    )
)
