"""Replace or update, as the provider decides: one table, derived from the resources' ARM ids, read by the diff and
the data-loss guard.

A resource's ARM id is built from path parameters (`.../storageAccounts/{accountName}/blobServices/default/
containers/{containerName}`): changing any of them names another Azure resource, so the provider deletes the old
one and creates the new one. Those keys come from the ARM id templates the mock harness already has
(the one table of resource types, `policies/rules/resource_types.py`), so a new resource type gets them by having a
template there. On top of them come the
properties Azure accepts only at creation (documented create-only), and `location` for every resource.
"""

from __future__ import annotations

import string
from functools import cache

from policies.rules import resource_types as t
from policies.rules.resource_types import ARM_IDS

UNIVERSAL_CREATE_ONLY = ("location",)

# Properties Azure accepts only when the resource is created (beyond its ARM id's path parameters and location).
# Sources: the REST API references' "cannot be changed after creation" notes, per type.
CREATE_ONLY: dict[str, tuple[str, ...]] = {
    # HNS, NFS and infrastructure encryption: create-only (storage/common/infrastructure-encryption-enable)
    t.STORAGE_ACCOUNT: ("isHnsEnabled", "enableNfsV3", "kind", "encryption.requireInfrastructureEncryption"),
    t.REGISTRY: ("zoneRedundancy",),  # zone redundancy only at creation
    t.ML_WORKSPACE: ("storageAccount", "keyVault", "applicationInsights", "hbiWorkspace", "kind"),
    t.ML_COMPUTE: (
        "properties.computeType",
        "properties.properties.vmSize",
        "properties.properties.vmPriority",
    ),
    t.ONLINE_ENDPOINT: ("kind",),
    t.ONLINE_DEPLOYMENT: ("properties.instanceType", "properties.endpointComputeType"),
    t.ML_ENVIRONMENT_VERSION: ("properties",),  # a version is immutable
    t.EVENTHUB_NAMESPACE: ("zoneRedundant",),
    t.EVENTHUB: ("partitionCount",),  # Standard tier: partitions are fixed at creation
    t.IOT_HUB: ("properties.minTlsVersion",),
    t.ROLE_ASSIGNMENT: ("principalId", "roleDefinitionId", "principalType"),
    t.APP_INSIGHTS: ("kind",),
    # A dynamic resource (endpoint traffic, follow-up settings) is re-created when it targets another resource.
    t.DYNAMIC: ("resourceId", "kind"),
}

# What identifies a resource in Azure for types without an ARM id template (pairs a rename with its old self).
IDENTITY_KEYS: dict[str, tuple[str, ...]] = {t.DYNAMIC: ("resourceId", "kind")}


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

