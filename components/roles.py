"""Role assignments for managed identities: built-in roles by name, least privilege, deterministic names.

`grant()` is the one way the platform creates a role assignment. The assignment name is a UUID derived from
scope, principal and role, so re-running never duplicates an assignment and a moved scope gets a new one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

from components.context import PlatformComponent, PlatformContext

# Built-in role definition GUIDs (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BUILT_IN_ROLES: dict[str, str] = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
    "Azure Event Hubs Data Sender": "2b629674-e913-4c01-ae53-ef4638d8f975",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
}
_NAMESPACE = uuid.UUID("6f1b7c1e-3c1a-4f0e-9a43-6d2d3b1f0a11")  # fixed: changing it renames every assignment


def assignment_name(scope: str, principal_id: str, role_guid: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{principal_id}|{role_guid}"))


@dataclass(frozen=True)
class Grant:
    """`principal` (a managed identity) gets `role` on `scope`; `label` makes the logical name."""

    label: str
    principal_id: pulumi.Input[str]
    role: str
    scope: pulumi.Input[str]


def grant(
    name: str, subscription_id: pulumi.Input[str], item: Grant, opts: pulumi.ResourceOptions
) -> authorization.RoleAssignment:
    role_guid = BUILT_IN_ROLES[item.role]
    return authorization.RoleAssignment(
        f"{name}-{item.label}",
        role_assignment_name=pulumi.Output.all(item.scope, item.principal_id).apply(
            lambda v: assignment_name(v[0], v[1], role_guid)
        ),
        principal_id=item.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=pulumi.Output.from_input(subscription_id).apply(
            lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"
        ),
        scope=item.scope,
        description=f"{item.role} for {item.label} (managed by Pulumi)",
        opts=opts,
    )


class WorkloadAccess(PlatformComponent):
    """Data-plane roles of the workspace and training identities, least privilege, narrowest scope.

    Grants that gate a resource's creation (capture, IoT routing, endpoint image pulls) live in the
    component that needs them; these are only needed at run time.
    """

    TYPE = "mlops:security:WorkloadAccess"
    OUTPUTS = ()

    def __init__(self, name: str, ctx: PlatformContext, subscription_id: pulumi.Input[str], grants: list[Grant]):
        super().__init__(name, ctx)
        for item in grants:
            grant(name, subscription_id, item, self.child())
        self._register()
