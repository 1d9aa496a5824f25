"""The edge target: the Device Provisioning Service devices join through, and the IoT Edge deployments they run.

- **DPS** (`deviceprovisioningservices.IotDpsResource`): devices in the field provision over the internet, so its
  public access stays Enabled, filtered to the sites' ranges in a private stack (like the hub's device ingress), with
  a private endpoint (`iotDps`) for the service side. Linking it to the hub takes the hub's connection string (ARM's
  `iotHubs[].connectionString` is required in every API version), a secret the program never reads: the link and the
  X.509 enrollment group are bootstrap steps (README, "Edge deployments"), so the resource ignores
  `properties.iotHubs` and a later `up` keeps them.
- **Deployments** (components/edge_deployments.py): one base deployment (the IoT Edge runtime) on the
  environment's devices and one layered deployment per `edge.deployments` entry, from the manifests of
  components/edge_manifest.py: the model module (the version's image `mlops/edge-model/<name>:<version>` in the
  stack's registry, filling the shared models volume) and the scorer reading it, checked by the entry's
  `modelSha256`. Devices pull both from the stack's registry, which a private stack opens to the sites' ranges
  (components/registry.py). The deploying identity gets IoT Hub Data Contributor on the hub (the configurations
  data actions), before any deployment is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import deviceprovisioningservices as dps

from components.base import PlatformComponent
from components.context import PlatformContext
from components.edge_deployments import EdgeDeployment
from components.edge_manifest import (
    MODEL_MODULE,
    SCORING_MODULE,
    Registry,
    ScoringRelease,
    base_manifest,
    checked,
    configuration_id,
    layered_manifest,
)

DEPLOYER_ROLE = "IoT Hub Data Contributor"  # Microsoft.Devices/IotHubs/* data actions, configurations included
BASE_STAGE = "base"


@dataclass(frozen=True)
class EdgeEntry:
    """One layered deployment: its stage (fleet, canary), model `name:version`, target condition, priority."""

    stage: str
    """The layered deployment's stage (fleet, canary)."""
    model: str
    """The model, `name:version` in the shared Azure ML registry."""
    model_sha256: str
    """The SHA-256 of the version's ONNX file (stack file modelSha256): the scorer verifies it."""
    target_condition: str
    """Which devices get it (an IoT Hub twin query)."""
    priority: int
    """Its priority among the deployments a device matches."""
    verified_on_canary: str | None
    """fleet: the model its canary ran; None for the canary itself."""


@dataclass(frozen=True)
class EdgeArgs:
    iot_hub_id: pulumi.Input[str]
    """The IoT Hub's id: the scope of the deployer's role."""
    iot_hub_host_name: pulumi.Input[str]
    """The hub's host name, where the deployments are written."""
    registry_login_server: pulumi.Input[str]
    """The stack's container registry, where devices pull the module and model images."""
    deployer_principal_id: pulumi.Input[str]
    """The identity running `pulumi up`, which writes the deployments."""
    id_prefix: str
    """Configuration ids are <prefix>-<stage>-<content digest>."""
    target_condition: str | None
    """The base deployment's target; None: no edge deployments at all."""
    priority: int
    """The base deployment's priority."""
    registry_username: str
    """The user devices pull images as."""
    registry_password: pulumi.Input[str] | None
    """Its password (a secret), None until bootstrap sets one."""
    image_tag: str | None
    """The scoring module's image tag, None until an image is built."""
    deployments: Sequence[EdgeEntry]
    """The layered deployments."""
    device_ip_ranges: Sequence[str]
    """The sites allowed to provision (a private stack's IP filter)."""


class EdgeRollout(PlatformComponent):
    TYPE = "mlops:edge:EdgeRollout"
    OUTPUTS = ("resource_id", "resource_name", "configuration_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        service = self._provisioning_service(name, ctx, args)
        self.private_endpoints(service.id, ["iotDps"])
        self.diagnostics(service.id)
        ids: dict[str, pulumi.Output[str]] = {}
        if args.target_condition is not None:
            access = self.grant("deployer-configurations", args.deployer_principal_id, DEPLOYER_ROLE, args.iot_hub_id)
            base = self._base(name, args, access)
            ids[BASE_STAGE] = base.configuration_id
            for entry in args.deployments:
                ids[entry.stage] = self._layered(name, args, entry, [access, base]).configuration_id
        self.resource_id: pulumi.Output[str] = service.id
        """The Device Provisioning Service's id."""
        self.resource_name: pulumi.Output[str] = service.name
        """The Device Provisioning Service's name."""
        self.configuration_ids: pulumi.Output[dict[str, str]] = pulumi.Output.all(**ids) if ids else pulumi.Output.from_input({})
        """Stage -> its IoT Edge deployment's configuration id."""
        self._register()

    def _provisioning_service(self, name: str, ctx: PlatformContext, args: EdgeArgs) -> dps.IotDpsResource:
        # In a private stack only the sites may provision (first matching rule wins; the last rejects the rest).
        filters = (
            [dps.IpFilterRuleArgs(filter_name=f"site-{i}", action="Accept", ip_mask=mask, target="all") for i, mask in enumerate(args.device_ip_ranges)]
            + [dps.IpFilterRuleArgs(filter_name="reject-others", action="Reject", ip_mask="0.0.0.0/0", target="all")]
            if ctx.private and args.device_ip_ranges
            else None
        )
        return dps.IotDpsResource(
            f"{name}-dps",
            provisioning_service_name=ctx.naming.name("provs"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=dps.IotDpsSkuInfoArgs(name="S1", capacity=1),
            properties=dps.IotDpsPropertiesDescriptionArgs(
                allocation_policy="Hashed",
                public_network_access="Enabled",  # device provisioning: devices cannot use a private endpoint
                ip_filter_rules=filters,
            ),
            tags=ctx.tags,
            # The hub link is a bootstrap step (it needs the hub's connection string): a later up keeps it.
            opts=self.child(stateful=True, ignore_changes=["properties.iotHubs"]),
        )

    def _deployment(self, name: str, args: EdgeArgs, stage: str, content: pulumi.Output[dict], target_condition: str,
                    priority: int, described: dict, depends_on: list[pulumi.Resource]) -> EdgeDeployment:  # fmt: skip
        return EdgeDeployment(
            f"{name}-{stage}",
            hub_host_name=args.iot_hub_host_name,
            configuration_id=content.apply(lambda c: configuration_id(args.id_prefix, stage, c)),
            content=content,
            target_condition=target_condition,
            priority=priority,
            labels={"mlops-stage": stage},
            described={"stage": stage, "registryLoginServer": args.registry_login_server, **described},
            opts=self.child(depends_on=depends_on),
        )

    def _base(self, name: str, args: EdgeArgs, access: pulumi.Resource) -> EdgeDeployment:
        content = pulumi.Output.all(args.registry_login_server, args.registry_password).apply(
            lambda v: {"modulesContent": checked(base_manifest(Registry(v[0], args.registry_username, v[1])))}
        )
        return self._deployment(name, args, BASE_STAGE, content, args.target_condition or "", args.priority, {}, [access])

    def _layered(self, name: str, args: EdgeArgs, entry: EdgeEntry, depends_on: list[pulumi.Resource]) -> EdgeDeployment:
        model_name, model_version = entry.model.split(":")

        def manifest(login_server: str) -> dict:
            release = ScoringRelease(login_server, args.image_tag or "", model_name, model_version, entry.model_sha256)
            return {"modulesContent": checked(layered_manifest(release))}

        content = pulumi.Output.from_input(args.registry_login_server).apply(manifest)
        agent = content.apply(lambda c: c["modulesContent"]["$edgeAgent"])
        image = agent.apply(lambda a: a[f"properties.desired.modules.{SCORING_MODULE}"]["settings"]["image"])
        model_image = agent.apply(lambda a: a[f"properties.desired.modules.{MODEL_MODULE}"]["settings"]["image"])
        described = {"model": entry.model, "modelSha256": entry.model_sha256, "image": image, "modelImage": model_image}
        if entry.verified_on_canary:
            described["verifiedOnCanary"] = entry.verified_on_canary
        return self._deployment(name, args, entry.stage, content, entry.target_condition, entry.priority, described, depends_on)
