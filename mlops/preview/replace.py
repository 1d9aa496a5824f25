"""Replace or update, as the provider decides: one table, derived from the resources' ARM ids, read by the diff and
the data-loss guard.

A resource's ARM id is built from path parameters (`.../storageAccounts/{accountName}/blobServices/default/
containers/{containerName}`): changing any of them names another Azure resource, so the provider deletes the old
one and creates the new one. Those keys come from the ARM id templates the mock harness already has
(`mlops.mockrun.ARM_IDS`), so a new resource type gets them by having a template. On top of them come the
properties Azure accepts only at creation (documented create-only), and `location` for every resource.
"""

from __future__ import annotations

import string
from functools import cache

from mlops.mockrun import ARM_IDS

UNIVERSAL_CREATE_ONLY = ("location",)

# Properties Azure accepts only when the resource is created (beyond its ARM id's path parameters and location).
# Sources: the REST API references' "cannot be changed after creation" notes, per type.
CREATE_ONLY: dict[str, tuple[str, ...]] = {
    # HNS, NFS and infrastructure encryption: create-only (storage/common/infrastructure-encryption-enable)
    "azure-native:storage:StorageAccount": ("isHnsEnabled", "enableNfsV3", "kind", "encryption.requireInfrastructureEncryption"),
    "azure-native:containerregistry:Registry": ("zoneRedundancy",),  # zone redundancy only at creation
    "azure-native:machinelearningservices:Workspace": ("storageAccount", "keyVault", "applicationInsights", "hbiWorkspace", "kind"),
    "azure-native:machinelearningservices:Compute": (
        "properties.computeType",
        "properties.properties.vmSize",
        "properties.properties.vmPriority",
    ),
    "azure-native:machinelearningservices:OnlineEndpoint": ("kind",),
    "azure-native:machinelearningservices:OnlineDeployment": ("properties.instanceType", "properties.endpointComputeType"),
    "azure-native:machinelearningservices:EnvironmentVersion": ("properties",),  # a version is immutable
    "azure-native:eventhub:Namespace": ("zoneRedundant",),
    "azure-native:eventhub:EventHub": ("partitionCount",),  # Standard tier: partitions are fixed at creation
    "azure-native:iothub:IotHubResource": ("properties.minTlsVersion",),
    "azure-native:authorization:RoleAssignment": ("principalId", "roleDefinitionId", "principalType"),
    "azure-native:applicationinsights:Component": ("kind",),
    # A dynamic resource (endpoint traffic, follow-up settings) is re-created when it targets another resource.
    "pulumi-python:dynamic:Resource": ("resourceId", "kind"),
}

# What identifies a resource in Azure for types without an ARM id template (pairs a rename with its old self).
IDENTITY_KEYS: dict[str, tuple[str, ...]] = {"pulumi-python:dynamic:Resource": ("resourceId", "kind")}

# Types whose replacement or deletion loses data (the data-loss guard blocks them in protected stacks).
STATEFUL_TYPES = frozenset(
    {
        "azure-native:storage:StorageAccount",
        "azure-native:storage:BlobContainer",
        "azure-native:keyvault:Vault",
        "azure-native:containerregistry:Registry",
        "azure-native:machinelearningservices:Workspace",
        "azure-native:machinelearningservices:Registry",
        "azure-native:eventhub:Namespace",
        "azure-native:eventhub:EventHub",
        "azure-native:iothub:IotHubResource",
        "azure-native:deviceprovisioningservices:IotDpsResource",  # its enrollments and linked hubs
    }
)


@cache
def path_keys(type_: str) -> tuple[str, ...]:
    """The inputs that are path parameters of the type's ARM id, in template order (`sub` is the subscription)."""
    template = ARM_IDS.get(type_)
    if template is None:
        return ()
    fields = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return tuple(dict.fromkeys(name for name in fields if name != "sub"))


def identity_keys(type_: str) -> tuple[str, ...]:
    """The inputs whose values name the Azure resource: its ARM id's path parameters, or the table above."""
    return path_keys(type_) or IDENTITY_KEYS.get(type_, ())


def replace_keys(type_: str) -> tuple[str, ...]:
    """Every input whose change makes the provider replace a resource of this type."""
    return (*path_keys(type_), *UNIVERSAL_CREATE_ONLY, *CREATE_ONLY.get(type_, ()))


def forcing(type_: str, changed: list[str], replace_on_changes: tuple[str, ...] = ()) -> list[str]:
    """The changed dotted paths that force a new resource (a key, or anything under it; `*` is every key)."""
    if "*" in replace_on_changes:
        return list(changed)
    keys = (*replace_keys(type_), *replace_on_changes)
    return [path for path in changed if any(path == key or path.startswith(key + ".") for key in keys)]


def is_stateful(type_: str) -> bool:
    return type_ in STATEFUL_TYPES
