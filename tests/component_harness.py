"""One component under the project's mocks (PlatformMocks + Recorder), outside any stack program: its recorded
children and resolved outputs. Contexts for a public and a private stack, as `stacks/platform.py` builds them."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
from pulumi.runtime import settings
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from components.context import PlatformContext, standard_tags
from components.private_link import PrivateNetwork
from core.azure_facts import PRIVATE_DNS_ZONES
from core.config import PROJECT
from core.naming import Naming
from mlops.mockrun import SUBSCRIPTION_ID, TENANT_ID, PlatformMocks, Recorder, StackRecord, _resolve

RG = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-mlops-dev-weu"
VNET_ID = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-mlops-dev-weu"
SUBNETS = {key: f"{VNET_ID}/subnets/{name}" for key, name in
           (("privateEndpoints", "snet-pe"), ("functions", "snet-func"), ("runners", "snet-runners"))}  # fmt: skip
ZONES = {zone: f"{RG}/providers/Microsoft.Network/privateDnsZones/{zone}" for zone in PRIVATE_DNS_ZONES}


def context(private: bool) -> PlatformContext:
    naming = Naming("mlops", "dev", "westeurope")
    return PlatformContext(
        naming=naming, tags=standard_tags(naming, "ml-team", "cc-1"), location="westeurope",
        resource_group_name="rg-mlops-dev-weu", subscription_id=SUBSCRIPTION_ID, tenant_id=TENANT_ID, protect=False,
        diagnostics_workspace_id=f"{RG}/providers/Microsoft.OperationalInsights/workspaces/log-mlops-dev-weu",
        network=PrivateNetwork(vnet_id=VNET_ID, subnet_ids=SUBNETS, zone_ids=ZONES) if private else None,
    )  # fmt: skip


def run_component(build: Callable[[PlatformContext], pulumi.ComponentResource], private: bool = False) -> StackRecord:
    """Build one component in a fresh mock run; outputs are the component's registered OUTPUTS, resolved."""
    mocks = PlatformMocks()
    monitor = Recorder(mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=False, monitor=monitor)
    try:
        component = build(context(private))
        _sync_await(wait_for_rpcs())
        outputs = {name: _resolve(getattr(component, name)) for name in type(component).OUTPUTS}
    finally:
        settings.ROOT.set(None)
    return StackRecord("dev", monitor.recorded, outputs, mocks.calls)
