"""Private endpoints: the one way a service of the platform is reached from the spoke network.

Every component that creates a service with public access off calls `PlatformComponent.private_endpoints`
(context.py), which lands here: one endpoint per sub-resource (group id) in the private-endpoint subnet, with a
DNS zone group registering its records in the zones Azure documents for that group (the zone table is the
policy pack's `private_link.json`, so the flow check and the components agree). Names follow the reference
modules: `pep-<workload>-<service>-<group>-<env>-<region>`, its NIC `<endpoint>-nic`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network

from core.azure_facts import private_dns_zones


@dataclass(frozen=True)
class PrivateNetwork:
    """What components need of the spoke: the endpoint subnet and the id of every private DNS zone by name."""

    vnet_id: pulumi.Input[str]
    subnet_ids: Mapping[str, pulumi.Input[str]]  # subnet config key (privateEndpoints, functions, runners) -> id
    zone_ids: Mapping[str, pulumi.Input[str]]

    @property
    def endpoint_subnet_id(self) -> pulumi.Input[str]:
        return self.subnet_ids["privateEndpoints"]


def private_endpoint(
    resource_name: str,
    *,
    endpoint_name: str,
    resource_group_name: pulumi.Input[str],
    location: str,
    tags: Mapping[str, str],
    private_network: PrivateNetwork,
    target_id: pulumi.Input[str],
    group: str,
    opts: pulumi.ResourceOptions,
) -> network.PrivateEndpoint:
    """One private endpoint to `target_id`'s sub-resource `group`, with its DNS zone group."""
    endpoint = network.PrivateEndpoint(
        resource_name,
        private_endpoint_name=endpoint_name,
        custom_network_interface_name=f"{endpoint_name}-nic",
        resource_group_name=resource_group_name,
        location=location,
        # A plain reference: SubnetArgs would inject its defaults (privateEndpointNetworkPolicies: Disabled, ...).
        subnet={"id": private_network.endpoint_subnet_id},
        private_link_service_connections=[
            network.PrivateLinkServiceConnectionArgs(name=endpoint_name, private_link_service_id=target_id, group_ids=[group])
        ],
        tags=tags,
        opts=opts,
    )
    network.PrivateDnsZoneGroup(
        f"{resource_name}-dns",
        private_dns_zone_group_name="default",
        private_endpoint_name=endpoint.name,
        resource_group_name=resource_group_name,
        private_dns_zone_configs=[
            network.PrivateDnsZoneConfigArgs(name=zone.replace(".", "-"), private_dns_zone_id=private_network.zone_ids[zone])
            for zone in private_dns_zones(group)
        ],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[endpoint])),
    )
    return endpoint
