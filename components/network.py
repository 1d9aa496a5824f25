"""The spoke network of a private stack: VNet, subnets with NSGs, NAT egress, private DNS, optional Bastion.

Subnets (config keys): `privateEndpoints` for every private endpoint; `functions`, delegated to
`Microsoft.App/environments`, for the Flex Consumption retrain function's VNet integration; `runners`, delegated
the same way, for the Container Apps environment of the self-hosted CI runners (Flex and Container Apps cannot
share a subnet); `bastion` (`AzureBastionSubnet`) for operators when `network.bastion` is on. Subnets are inline
in the VNet resource, so an update of the VNet never removes them.

New subnets have no default outbound internet access, so the subnets whose workloads call public Azure
endpoints (ARM, GitHub for the runners) egress through one NAT gateway. Private DNS zones are created here and
linked to the VNet, except the zones a hub provides (`network.hub.privateDnsZones`), which the spoke resolves
through the hub's DNS servers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from components.base import PlatformComponent
from components.context import PlatformContext
from components.private_link import PrivateNetwork
from core.azure_facts import FLEX_SUBNET_DELEGATION

SUBNET_NAMES = {
    "privateEndpoints": "snet-pe",
    "functions": "snet-func",
    "runners": "snet-runners",
    "bastion": "AzureBastionSubnet",  # the name Azure Bastion requires
}
DELEGATED = {"functions": FLEX_SUBNET_DELEGATION, "runners": "Microsoft.App/environments"}
NAT_EGRESS = ("functions", "runners")


def _rule(name: str, priority: int, direction: str, source: str, destination: str, ports: str | Sequence[str],
          protocol: str = "Tcp", access: str = "Allow") -> network.SecurityRuleArgs:
    port_args = {"destination_port_range": ports} if isinstance(ports, str) else {"destination_port_ranges": list(ports)}
    return network.SecurityRuleArgs(
        name=name, priority=priority, direction=direction, access=access, protocol=protocol,
        source_address_prefix=source, source_port_range="*", destination_address_prefix=destination, **port_args,
    )  # fmt: skip


# Azure Bastion's documented NSG rules (README, "Network"): without them the Bastion deployment is refused.
BASTION_RULES = (
    _rule("AllowHttpsInbound", 120, "Inbound", "Internet", "*", "443"),
    _rule("AllowGatewayManagerInbound", 130, "Inbound", "GatewayManager", "*", "443"),
    _rule("AllowAzureLoadBalancerInbound", 140, "Inbound", "AzureLoadBalancer", "*", "443"),
    _rule("AllowBastionHostCommunication", 150, "Inbound", "VirtualNetwork", "VirtualNetwork", ("8080", "5701"), "*"),
    _rule("AllowSshRdpOutbound", 100, "Outbound", "*", "VirtualNetwork", ("22", "3389"), "*"),
    _rule("AllowAzureCloudOutbound", 110, "Outbound", "*", "AzureCloud", "443"),
    _rule("AllowBastionCommunication", 120, "Outbound", "VirtualNetwork", "VirtualNetwork", ("8080", "5701"), "*"),
    _rule("AllowHttpOutbound", 130, "Outbound", "*", "Internet", "80"),
)
# Every other subnet: nothing from the internet (the platform's default rules already allow the VNet itself).
DENY_INTERNET = (_rule("DenyInternetInbound", 4000, "Inbound", "Internet", "*", "*", "*", "Deny"),)


@dataclass(frozen=True)
class NetworkArgs:
    """Required: the address space and the subnet plan (config key -> prefix, from the typed config). Optional: a
    hub to peer with, the hub's private DNS zones (zone name -> id) and the DNS servers that resolve them."""

    address_space: str
    """The spoke VNet's address space."""
    subnets: Mapping[str, str]
    """Subnet config key -> prefix."""
    zones: Sequence[str]
    """Every private DNS zone the platform's endpoints register in."""
    hub_vnet_id: str | None
    """A hub VNet to peer with, or None."""
    hub_zone_ids: Mapping[str, str]
    """Zones the hub provides: zone name -> id (not created here)."""
    dns_servers: Sequence[str]
    """DNS servers that resolve the hub's zones (empty: Azure DNS)."""


class Network(PlatformComponent):
    TYPE = "mlops:network:Network"
    OUTPUTS = ("resource_id", "resource_name", "subnet_ids", "zone_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        place = {"resource_group_name": ctx.resource_group_name, "location": ctx.location, "tags": ctx.tags}
        nat_ip = self._public_ip("nat")
        nat = network.NatGateway(
            f"{name}-nat",
            nat_gateway_name=ctx.naming.name("ng"),
            sku=network.NatGatewaySkuArgs(name="Standard"),
            public_ip_addresses=[network.SubResourceArgs(id=nat_ip.id)],
            **place,
            opts=self.child(),
        )
        groups = {
            key: network.NetworkSecurityGroup(
                f"{name}-nsg-{key}",
                network_security_group_name=ctx.naming.name("nsg", SUBNET_NAMES[key].removeprefix("snet-").lower()),
                security_rules=list(BASTION_RULES if key == "bastion" else DENY_INTERNET),
                **place,
                opts=self.child(),
            )
            for key in args.subnets
        }
        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=ctx.naming.name("vnet"),
            address_space=network.AddressSpaceArgs(address_prefixes=[args.address_space]),
            dhcp_options=network.DhcpOptionsArgs(dns_servers=list(args.dns_servers)) if args.dns_servers else None,
            subnets=[
                network.SubnetArgs(
                    name=SUBNET_NAMES[key],
                    address_prefix=prefix,
                    network_security_group=network.NetworkSecurityGroupArgs(id=groups[key].id),
                    delegations=[network.DelegationArgs(name=DELEGATED[key], service_name=DELEGATED[key])]
                    if key in DELEGATED
                    else None,
                    nat_gateway=network.SubResourceArgs(id=nat.id) if key in NAT_EGRESS else None,
                    # NSGs and route tables apply to the private endpoints in this subnet too.
                    private_endpoint_network_policies="Enabled" if key == "privateEndpoints" else None,
                    default_outbound_access=False,
                )
                for key, prefix in args.subnets.items()
            ],
            **place,
            opts=self.child(),
        )
        subnet_ids = {key: vnet.id.apply(lambda vid, n=SUBNET_NAMES[key]: f"{vid}/subnets/{n}") for key in args.subnets}
        if args.hub_vnet_id:
            network.VirtualNetworkPeering(
                f"{name}-to-hub",
                virtual_network_peering_name="to-hub",
                virtual_network_name=vnet.name,
                resource_group_name=ctx.resource_group_name,
                remote_virtual_network=network.SubResourceArgs(id=args.hub_vnet_id),
                allow_virtual_network_access=True,
                allow_forwarded_traffic=True,
                use_remote_gateways=False,
                opts=self.child(),
            )
        zone_ids: dict[str, pulumi.Input[str]] = {}
        for zone in args.zones:
            if zone in args.hub_zone_ids:
                zone_ids[zone] = args.hub_zone_ids[zone]
                continue
            label = zone.removeprefix("privatelink.").replace(".", "-")
            private_zone = privatedns.PrivateZone(
                f"{name}-zone-{label}",
                private_zone_name=zone,
                resource_group_name=ctx.resource_group_name,
                location="global",
                tags=ctx.tags,
                opts=self.child(),
            )
            privatedns.VirtualNetworkLink(
                f"{name}-link-{label}",
                virtual_network_link_name=vnet.name,
                private_zone_name=private_zone.name,
                resource_group_name=ctx.resource_group_name,
                location="global",
                registration_enabled=False,
                virtual_network=privatedns.SubResourceArgs(id=vnet.id),
                tags=ctx.tags,
                opts=self.child(),
            )
            zone_ids[zone] = private_zone.id
        if "bastion" in args.subnets:
            bastion_ip = self._public_ip("bastion")
            network.BastionHost(
                f"{name}-bastion",
                bastion_host_name=ctx.naming.name("bas"),
                sku=network.SkuArgs(name="Basic"),
                ip_configurations=[
                    network.BastionHostIPConfigurationArgs(
                        name="default",
                        subnet=network.SubResourceArgs(id=subnet_ids["bastion"]),
                        public_ip_address=network.SubResourceArgs(id=bastion_ip.id),
                    )
                ],
                **place,
                opts=self.child(),
            )
        self.resource_id: pulumi.Output[str] = vnet.id
        """The VNet's id."""
        self.resource_name: pulumi.Output[str] = vnet.name
        """The VNet's name."""
        self.subnet_ids: dict[str, pulumi.Output[str]] = subnet_ids
        """Subnet config key -> its id."""
        self.zone_ids: dict[str, pulumi.Input[str]] = zone_ids
        """Private DNS zone name -> its id (created here or the hub's)."""
        self.private_network = PrivateNetwork(vnet_id=vnet.id, subnet_ids=subnet_ids, zone_ids=zone_ids)
        self._register()

    def _public_ip(self, label: str) -> network.PublicIPAddress:
        """A static Standard public IP (NAT gateway, Bastion)."""
        return network.PublicIPAddress(
            f"{self._name}-{label}-pip",
            public_ip_address_name=self.ctx.naming.name("pip", label),
            sku=network.PublicIPAddressSkuArgs(name="Standard"),
            public_ip_allocation_method="Static",
            resource_group_name=self.ctx.resource_group_name,
            location=self.ctx.location,
            tags=self.ctx.tags,
            opts=self.child(),
        )
