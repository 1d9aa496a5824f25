"""The one component shape: `X(name, ctx, XArgs, opts)` with a type token, children parented to it, typed outputs,
and the same helpers everywhere for protection, locks, private endpoints, role assignments and diagnostics.

Every component exposes `resource_id` and `resource_name` of its main resource (and `principal_id` where that
resource has an identity), registered from its OUTPUTS list, so stacks wire components alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pulumi
from pulumi_azure_native import authorization, managedidentity, monitor, storage

from components.context import PlatformContext
from components.diagnostics import BLOB_METRICS, blob_service_id, send_diagnostics
from components.private_link import private_endpoint
from components.roles import Grant, grant

# The management lock every stateful child gets where the stack locks (stack config `locks`, default true; dev false).
# `protect` stops Pulumi from deleting a resource; a CanNotDelete lock stops everyone else (portal, CLI, another
# pipeline, a resource-group delete), and is inherited by the resource's children and extension resources.
# Sources: learn.microsoft.com/azure/azure-resource-manager/management/lock-resources (levels, inheritance, who may
# create locks: Microsoft.Authorization/locks/* - Owner, User Access Administrator, or a custom role); pulumi-azure-
# native 3.x `authorization.ManagementLockByScope` (azure-native:authorization:ManagementLockByScope: scope, level,
# lock_name, notes); Azure Verified Modules' `lock` interface ({kind: CanNotDelete | ReadOnly | None, name}).
LOCK_NAME = "mlops-cannot-delete"
LOCK_LEVEL = "CanNotDelete"
LOCK_NOTES = "Managed by Pulumi (stack config locks). To delete the resource, lift the lock first: README, Locks."


class PlatformComponent(pulumi.ComponentResource):
    """Base of every component: type token `mlops:<area>:<Name>`, children parented to it, typed outputs.

    Subclasses set TYPE and OUTPUTS (the attribute names they expose) and call `_register()` at the end
    of __init__, so the registered outputs and the attributes come from one list.
    """

    TYPE: ClassVar[str]
    OUTPUTS: ClassVar[tuple[str, ...]]
    # A component that only groups children of one kind for other resources (role assignments, endpoints to another
    # stack's services) has no main resource, so no resource_id / resource_name.
    AGGREGATE: ClassVar[bool] = False

    def __init__(self, name: str, ctx: PlatformContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        self.ctx = ctx
        self._name = name
        self._to_lock: list[pulumi.CustomResource] = []

    def child(self, *, stateful: bool = False, lock: bool = True, **options) -> pulumi.ResourceOptions:
        """Options for a child resource. Stateful ones are protected and retained where the stack says so, and locked
        against deletion where the stack locks (`lock=False` for a resource whose children the platform deletes)."""
        if stateful:
            options.setdefault("protect", self.ctx.protect)
            options.setdefault("retain_on_delete", self.ctx.protect)
            if lock and self.ctx.locks:
                options["transformations"] = [*(options.get("transformations") or []), self._lock_later]
        return pulumi.ResourceOptions(parent=self, **options)

    def _lock_later(self, args: pulumi.ResourceTransformationArgs) -> None:
        """Note the stateful resource being constructed (its own children inherit the transformation: skip them);
        `_register` locks it once it exists. Changes nothing in the resource."""
        if args.opts.parent is self:
            self._to_lock.append(args.resource)

    def lock(self, resource: pulumi.CustomResource) -> authorization.ManagementLockByScope:
        """A CanNotDelete management lock scoped to one resource (created after it, deleted before it)."""
        return authorization.ManagementLockByScope(
            f"{resource.pulumi_resource_name}-lock",
            lock_name=LOCK_NAME,
            level=LOCK_LEVEL,
            scope=resource.id,
            notes=LOCK_NOTES,
            opts=self.child(),
        )

    def private_endpoints(
        self, target_id: pulumi.Input[str], groups: Sequence[str], label: str = ""
    ) -> list[pulumi.Resource]:
        """In a private stack, one private endpoint (with DNS) per sub-resource of the target; none in a public one.
        `label` tells apart two services of one component (the function's storage and its site)."""
        if self.ctx.network is None:
            return []
        service = [self._name, label] if label else [self._name]
        return [
            private_endpoint(
                "-".join([*service, "pep", group]),
                endpoint_name=self.ctx.naming.name("pep", *service, group),
                resource_group_name=self.ctx.resource_group_name,
                location=self.ctx.location,
                tags=self.ctx.tags,
                private_network=self.ctx.network,
                target_id=target_id,
                group=group,
                opts=self.child(),
            )
            for group in groups
        ]

    def user_assigned_identity(self, label: str) -> managedidentity.UserAssignedIdentity:
        """An identity that exists (and can be granted roles) before the resource that will use it."""
        return managedidentity.UserAssignedIdentity(
            f"{self._name}-id",
            resource_name_=self.ctx.naming.name("id", label),
            resource_group_name=self.ctx.resource_group_name,
            location=self.ctx.location,
            tags=self.ctx.tags,
            opts=self.child(),
        )

    def grant(self, label: str, principal_id: pulumi.Input[str], role: str, scope: pulumi.Input[str], *,
              principal_type: str = "ServicePrincipal", **options) -> authorization.RoleAssignment:
        """`role` on `scope` for `principal_id` (see roles.py: deterministic assignment names)."""
        item = Grant(label, principal_id, role, scope, principal_type)
        return grant(self._name, self.ctx, item, self.child(**options))

    def diagnostics(self, resource_uri: pulumi.Input[str], label: str = "", *,
                    depends_on: Sequence[pulumi.Resource] | None = None, **settings) -> monitor.DiagnosticSetting:
        """All logs and metrics of one of this component's resources to the stack's Log Analytics workspace
        (`settings`: the categories, see diagnostics.py; `depends_on`: what must exist before the setting)."""
        name = "-".join(filter(None, (self._name, label)))
        return send_diagnostics(name, self.ctx, resource_uri, self.child(depends_on=depends_on), **settings)

    def blob_diagnostics(self, account: storage.StorageAccount, label: str = "", *,
                         depends_on: Sequence[pulumi.Resource] | None = None) -> monitor.DiagnosticSetting:
        """A storage account's blob service logs and transaction metrics (the account itself emits no logs)."""
        return self.diagnostics(blob_service_id(account), label, depends_on=depends_on, metric_categories=BLOB_METRICS)

    def _register(self) -> None:
        if not self.AGGREGATE and not {"resource_id", "resource_name"} <= set(self.OUTPUTS):
            raise TypeError(f"{type(self).__name__}: a component exposes resource_id and resource_name (OUTPUTS)")
        for resource in self._to_lock:
            self.lock(resource)
        self.register_outputs({name: getattr(self, name) for name in self.OUTPUTS})
