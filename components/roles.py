"""Role assignments for managed identities: built-in roles by name, least privilege, deterministic names.

`grant()` is the one way the platform creates a role assignment. The assignment name is a UUID derived from
scope, principal and role, so re-running never duplicates an assignment and a moved scope gets a new one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

from components.context import PlatformContext
from core.azure_facts import facts

# Built-in role definition GUIDs by role name: the policy pack's `roles.json`, which also lists what each grants.
BUILT_IN_ROLES: dict[str, str] = {name: role["id"] for name, role in facts("roles")["roles"].items()}
_NAMESPACE = uuid.UUID("6f1b7c1e-3c1a-4f0e-9a43-6d2d3b1f0a11")  # fixed: changing it renames every assignment


def assignment_name(scope: str, principal_id: str, role_guid: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{principal_id}|{role_guid}"))


@dataclass(frozen=True)
class Grant:
    """`principal` (a managed identity, or an Entra group) gets `role` on `scope`; `label` makes the logical name."""

    label: str
    """Makes the assignment's logical name (<component>-<label>)."""
    principal_id: pulumi.Input[str]
    """Who gets the role: a managed identity or an Entra principal."""
    role: str
    """A built-in role by name (roles.json)."""
    scope: pulumi.Input[str]
    """The id of what the role applies to (the narrowest that works)."""
    principal_type: str = "ServicePrincipal"
    """ServicePrincipal (managed identities) or Group; not configuration: the caller knows the kind."""


def role_definition_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", BUILT_IN_ROLES[role]
    )


def grant(name: str, ctx: PlatformContext, item: Grant, opts: pulumi.ResourceOptions) -> authorization.RoleAssignment:
    role_guid = BUILT_IN_ROLES[item.role]
    return authorization.RoleAssignment(
        f"{name}-{item.label}",
        role_assignment_name=pulumi.Output.all(item.scope, item.principal_id).apply(
            lambda v: assignment_name(v[0], v[1], role_guid)
        ),
        principal_id=item.principal_id,
        principal_type=item.principal_type,
        role_definition_id=role_definition_id(ctx.subscription_id, item.role),
        scope=item.scope,
        description=f"{item.role} for {item.label} (managed by Pulumi)",
        opts=opts,
    )
