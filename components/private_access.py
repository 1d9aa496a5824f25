"""Private endpoints in this stack's network to services another stack owns (the shared Azure ML registry).

A private DNS zone linked to the VNet answers for every name under it, so once `privatelink.api.azureml.ms`
is linked a registry without a record in it no longer resolves from the VNet: each private environment gives
the shared registry, its storage and its container registry endpoints of its own
(how-to-registry-network-isolation: "create private endpoint for each registry and associated storage and ACRs").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.base import PlatformComponent
from components.context import PlatformContext


@dataclass(frozen=True)
class RemoteService:
    label: str
    """Tells the service's endpoints apart (mlr, st, cr)."""
    resource_id: pulumi.Input[str]
    """The other stack's resource the endpoints reach."""
    groups: Sequence[str]
    """Its private-link groups: one endpoint each."""


class RemotePrivateEndpoints(PlatformComponent):
    TYPE = "mlops:network:RemotePrivateEndpoints"
    OUTPUTS = ()
    AGGREGATE = True  # private endpoints to another stack's services only: no main resource

    def __init__(self, name: str, ctx: PlatformContext, services: Sequence[RemoteService], opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        for service in services:
            self.private_endpoints(service.resource_id, service.groups, label=service.label)
        self._register()
