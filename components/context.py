"""What every component shares: naming, tags, location, resource group, subscription, diagnostics target,
protection, locks and, in a private stack, the spoke network its private endpoints go into.

Components receive a context instead of reading config or module globals, so a component can be
instantiated twice (two stacks, two tests) without interference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import pulumi

from components.private_link import PrivateNetwork
from core.naming import Naming

MANAGED_BY = "pulumi"
E = TypeVar("E", bound=Enum)
REQUIRED_TAG_KEYS = ("environment", "workload", "owner", "cost-center", "managed-by")


def enabled(flag: bool, kind: type[E] | None = None) -> E | str:
    """Azure's 'Enabled'/'Disabled' spelling of a boolean; with `kind`, the SDK enum of that value (e.g.
    `containerregistry.PublicNetworkAccess`), which is sent as the same string."""
    value = "Enabled" if flag else "Disabled"
    return kind(value) if kind is not None else value


def standard_tags(naming: Naming, owner: str, cost_center: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tags every taggable resource carries; extra tags never override the required ones."""
    required = {
        "environment": naming.environment,
        "workload": naming.workload,
        "owner": owner,
        "cost-center": cost_center,
        "managed-by": MANAGED_BY,
    }
    return {**(extra or {}), **required}


@dataclass(frozen=True)
class PlatformContext:
    naming: Naming
    tags: Mapping[str, str]
    location: str
    resource_group_name: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    protect: bool
    # The identity running `pulumi up` (the workflow's federated service principal): what the stack's data-plane
    # resources (the IoT Edge deployments) call Azure as.
    deployer_id: pulumi.Input[str] | None = None
    locks: bool = False  # stateful children get a CanNotDelete lock (components/base.py)
    diagnostics_workspace_id: pulumi.Input[str] | None = None
    network: PrivateNetwork | None = None  # None: public mode, no private endpoints

    def with_diagnostics(self, workspace_id: pulumi.Input[str]) -> PlatformContext:
        return dataclasses.replace(self, diagnostics_workspace_id=workspace_id)

    def with_network(self, network: PrivateNetwork | None) -> PlatformContext:
        return dataclasses.replace(self, network=network)

    @property
    def private(self) -> bool:
        """Whether services close public access and are reached through private endpoints."""
        return self.network is not None

    def resource_id(self, provider_path: str) -> pulumi.Output[str]:
        """The ARM id of a resource of this stack's resource group, e.g. `Microsoft.Devices/IotHubs/<name>`: known
        before the resource exists, so two resources can name each other without a dependency cycle."""
        return pulumi.Output.concat(
            "/subscriptions/", self.subscription_id, "/resourceGroups/", self.resource_group_name, "/providers/", provider_path
        )
