"""Role assignments: least privilege for workload identities, at the narrowest scope."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity

from .base import SECURITY, ResourceRule, expect
from .references import References
from .resource_types import ROLE_ASSIGNMENT
from .values import as_text, get

# Built-in roles that can change resources or grant access: never for a workload identity.
PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
}


def _privileged_role(props: Mapping[str, Any], _settings: Any) -> list[str]:
    role = as_text(get(props, "roleDefinitionId"))
    if not isinstance(role, str):
        return []
    name = PRIVILEGED_ROLES.get(role.rstrip("/").rsplit("/", 1)[-1].lower())
    return [f"the assignment grants {name} ({role})"] if name else []


def _narrow_scope(props: Mapping[str, Any], _settings: Any) -> list[str]:
    scope = as_text(get(props, "scope"))
    if not isinstance(scope, str) or "/resourcegroups/" in scope.lower():
        return []
    return [f"the assignment is scoped to {scope!r}, above any resource group"]


role_no_privileged = ResourceRule(
    name="role-no-privileged-roles",
    description="Workload identities never get Owner, Contributor, User Access Administrator or RBAC Administrator.",
    types=(ROLE_ASSIGNMENT,),
    check=_privileged_role,
    severity=Severity.CRITICAL,
    pillar=SECURITY,
    remediation="grant the narrow data-plane role the workload needs (e.g. Storage Blob Data Reader, AcrPull)",
    why="Owner, Contributor and User Access Administrator give far more than any platform identity needs.",
    references=References(docs="https://learn.microsoft.com/azure/role-based-access-control/best-practices"),
)

role_principal_type = ResourceRule(
    name="role-principal-type-not-user",
    description="Role assignments name their principal type, and it is not a user: people get access through groups.",
    types=(ROLE_ASSIGNMENT,),
    check=expect("principalType", "ServicePrincipal", "Group", "ForeignGroup", "Device"),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation='set principal_type="ServicePrincipal" for managed identities (or "Group" for people)',
    why="Roles for people belong to groups, so access follows membership and leaves with it.",
    references=References(docs="https://learn.microsoft.com/azure/role-based-access-control/best-practices"),
)

role_narrow_scope = ResourceRule(
    name="role-scope-resource-group-or-below",
    description="Role assignments are scoped to a resource group or a single resource, never wider.",
    types=(ROLE_ASSIGNMENT,),
    check=_narrow_scope,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="scope the assignment to the resource the identity uses (its id)",
    why="A subscription-wide role reaches every resource group, not only the platform's.",
    references=References(
        docs=(
            "https://learn.microsoft.com/azure/role-based-access-control/scope-overview",
            "https://learn.microsoft.com/azure/role-based-access-control/best-practices",
        ),
    ),
)
