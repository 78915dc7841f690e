"""Access rules: who acts for which AfnemerID(s) under which gegevensset(s). The tenant admin's own.

The employee ↔ member-organisation mapping of a samenwerkingsverband met gezamenlijk personeel is
expressed by rules too (`who = ["employee:E2001"]`, `afnemers = ["000301"]`): one model for every
mapping, validated and audited alike.
"""

from __future__ import annotations

from app.admin.auth import tenant_admin_of_path
from app.admin.schemas import RuleBody
from app.admin.sections import Operation, Section, section_controller
from app.tenancy import RuleSpec

__all__ = ["RulesController"]

RulesController = section_controller(
    Section(
        name="rules",
        singular="rule",
        model=RuleSpec,
        body=RuleBody,
        guard=tenant_admin_of_path,
        list_=Operation("The tenant's access rules", "Every access rule, by name."),
        get=Operation("An access rule", "One access rule."),
        put=Operation(
            "Add or change an access rule",
            "Add or change the rule `name` (validated as the tenant file's `[rules.<name>]`).",
        ),
        delete=Operation(
            "Remove an access rule",
            "Remove the rule: whom it mapped loses what it granted with the next request.",
        ),
    )
)
