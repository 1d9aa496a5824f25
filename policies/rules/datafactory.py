"""Data Factory: a managed identity, no public access outside dev, credentials only as Key Vault references, copies
inside a managed virtual network where the stack is private; and the raw zone write-once outside dev."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from .base import (
    NOT_APPLICABLE,
    RELIABILITY,
    REQUIRED_SETTING,
    SECURITY,
    ResourceRule,
    Settings,
    StackRule,
    conditional,
    expect,
)
from .graph import references, text
from .references import References
from .resource_types import (
    ADF_INTEGRATION_RUNTIME,
    ADF_LINKED_SERVICE,
    BLOB_CONTAINER,
    BLOB_IMMUTABILITY_POLICY,
    DATA_FACTORY,
    STORAGE_ACCOUNT,
)
from .values import UNKNOWN, as_bool, as_number, get, peek, same, shown

FACTORY = (DATA_FACTORY,)
KEY_VAULT_SECRET = "AzureKeyVaultSecret"
# Linked-service properties that carry a credential (ADF's SecretBase: a SecureString or a Key Vault reference).
SECRET_KEYS = ("password", "accountKey", "sasToken", "servicePrincipalKey", "privateKeyContent", "passPhrase",
               "clientSecret", "connectionString", "sasUri", "encryptedCredential")  # fmt: skip
# Text that makes a connection string or URI a credential in itself.
SECRET_MARKERS = ("password=", "pwd=", "accountkey=", "sharedaccesskey=", "sig=")
IDENTITY_DOCS = "https://learn.microsoft.com/azure/data-factory/data-factory-service-identity"
PRIVATE_LINK_DOCS = "https://learn.microsoft.com/azure/data-factory/data-factory-private-link"
KEY_VAULT_DOCS = "https://learn.microsoft.com/azure/data-factory/store-credentials-in-key-vault"
MANAGED_NETWORK_DOCS = "https://learn.microsoft.com/azure/data-factory/managed-virtual-network-private-endpoint"
WORM_DOCS = "https://learn.microsoft.com/azure/storage/blobs/immutable-container-level-worm-policies"


datafactory_managed_identity = ResourceRule(
    name="datafactory-managed-identity",
    description="Data factories have a system-assigned managed identity, which their linked services authenticate as.",
    types=FACTORY,
    check=expect("identity.type", "SystemAssigned", "SystemAssigned,UserAssigned"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set identity={"type": "SystemAssigned"} on the factory and grant it data roles instead of keys',
    why="Without an identity every linked service needs a key, a SAS or a password: shared secrets that bypass Entra ID.",
    references=References(docs=IDENTITY_DOCS, note="PSRule for Azure has only Azure.DataFactory.Version for factories."),
)

datafactory_public_network = ResourceRule(
    name="datafactory-public-network-disabled",
    description="Data factories are reached through their private endpoint; public network access is off (advisory in dev).",
    types=FACTORY,
    check=expect("publicNetworkAccess", "Disabled", default="Enabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set public_network_access="Disabled" (stack config network.mode: private) and reach it by its dataFactory private endpoint',
    why="A factory open to public networks accepts connections from self-hosted runtimes and clients anywhere.",
    references=References(checkov="CKV_AZURE_104", docs=PRIVATE_LINK_DOCS),
)


def _inline_secrets(value: Any, path: str) -> Iterator[str]:
    """Paths under `value` where a credential is written out instead of referenced in Key Vault."""
    if isinstance(value, Mapping):
        if same(value.get("type"), "SecureString"):
            yield path
            return
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if key in SECRET_KEYS and isinstance(item, str) and (key not in ("connectionString", "sasUri")
                                                                  or any(m in item.lower().replace(" ", "") for m in SECRET_MARKERS)):  # fmt: skip
                yield inner
            elif key in SECRET_KEYS and isinstance(item, Mapping) and not same(item.get("type"), KEY_VAULT_SECRET):
                yield from _inline_secrets(item, inner) if same(item.get("type"), "SecureString") else [inner]
            else:
                yield from _inline_secrets(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _inline_secrets(item, f"{path}.{index}")


def _key_vault_references(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    found = sorted(set(_inline_secrets(get(props, "properties"), "properties")))
    return [f"{path} holds a secret inline; it must be an {KEY_VAULT_SECRET} reference" for path in found]


datafactory_key_vault_secrets = ResourceRule(
    name="datafactory-linked-service-key-vault-secrets",
    description="Linked services take credentials only as Key Vault secret references, never inline (SecureString or text).",
    types=(ADF_LINKED_SERVICE,),
    check=_key_vault_references,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation=f'store the credential in the stack\'s Key Vault and reference it: {{"type": "{KEY_VAULT_SECRET}", "store": '
    '<the Key Vault linked service>, "secretName": ...} (stack config ingestion.batch[].secretName)',
    why="An inline credential lives in the stack's state, the deployment history and the factory's JSON for anyone who can read them.",
    references=References(docs=KEY_VAULT_DOCS),
)


def _factory_of(resource: PolicyResource, factories: list[PolicyResource]) -> PolicyResource | None:
    name = text(resource.props, "factoryName")
    for factory in factories:
        if name in {text(factory.props, "factoryName"), text(factory.props, "name")} - {None} or factory in references(resource, "factoryName"):
            return factory
    return None


def _required(check):
    """A stack check that applies only where the environment's `required` setting is on."""

    @conditional
    def gated(resources: list[PolicyResource], settings: Settings) -> list[tuple[str, str]]:
        return list(check(resources)) if as_bool(settings["required"]) is True else NOT_APPLICABLE

    return gated


def _unmanaged(resources: list[PolicyResource]) -> Iterator[tuple[str, str]]:
    factories = [r for r in resources if r.resource_type == DATA_FACTORY]
    managed: dict[str, set[str]] = {}
    for runtime in (r for r in resources if r.resource_type == ADF_INTEGRATION_RUNTIME):
        network = peek(runtime.props, "properties.managedVirtualNetwork.referenceName")
        factory = _factory_of(runtime, factories)
        if factory is not None and isinstance(network, str) and same(peek(runtime.props, "properties.type"), "Managed"):
            managed.setdefault(factory.urn, set()).add(str(peek(runtime.props, "integrationRuntimeName")).lower())
    for factory in factories:
        if factory.urn not in managed:
            yield factory.urn, f"Factory '{factory.name}' has no integration runtime in a managed virtual network"
    for link in (r for r in resources if r.resource_type == ADF_LINKED_SERVICE):
        factory = _factory_of(link, factories)
        if factory is None or factory.urn not in managed or same(peek(link.props, "properties.type"), "AzureKeyVault"):
            continue  # the factory service itself reads Key Vault
        via = peek(link.props, "properties.connectVia.referenceName")
        if via is UNKNOWN:
            continue
        if not isinstance(via, str) or via.lower() not in managed[factory.urn]:
            yield link.urn, (f"LinkedService '{link.name}' connects via {shown(via) if isinstance(via, str) else 'the default public runtime'}, "
                             "not the factory's managed-network runtime")  # fmt: skip


datafactory_managed_network = StackRule(
    name="datafactory-managed-network",
    description="Where the stack is private, a factory copies on an integration runtime in its managed virtual network.",
    check=_required(_unmanaged),  # off in environments without private networking (dev)
    config=REQUIRED_SETTING,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="give the factory a managed virtual network, a Managed integration runtime referencing it and managed "
    "private endpoints to its stores, and set connectVia on every linked service (stack config network.mode: private)",
    why="On the public Azure runtime copies leave the private network and the lake must admit public traffic to receive them.",
    references=References(docs=MANAGED_NETWORK_DOCS),
)


def _lake_accounts(resources: list[PolicyResource]) -> dict[str, PolicyResource]:
    return {n: r for r in resources if r.resource_type == STORAGE_ACCOUNT and as_bool(get(r.props, "isHnsEnabled")) is True
            and (n := text(r.props, "accountName") or text(r.props, "name"))}  # fmt: skip


def _mutable_raw(resources: list[PolicyResource]) -> Iterator[tuple[str, str]]:
    lakes = _lake_accounts(resources)
    policies = [r for r in resources if r.resource_type == BLOB_IMMUTABILITY_POLICY]
    for container in (r for r in resources if r.resource_type == BLOB_CONTAINER):
        account = text(container.props, "accountName")
        if text(container.props, "containerName") != "raw" or not (account in lakes or any(a in references(container, "accountName") for a in lakes.values())):
            continue
        own = [p for p in policies if text(p.props, "containerName") == "raw" and (text(p.props, "accountName") == account
               or container in references(p, "containerName"))]  # fmt: skip
        if not own:
            yield container.urn, f"BlobContainer '{container.name}' (the lake's raw zone) has no immutability (WORM) policy"
            continue
        days = as_number(get(own[0].props, "immutabilityPeriodSinceCreationInDays"))
        if not isinstance(days, (int, float)) or days < 1:
            yield own[0].urn, f"the raw zone's immutability policy keeps blobs {shown(days)} days; it must keep them at least 1"


storage_raw_immutable = StackRule(
    name="storage-raw-immutable",
    description="Outside dev the lake's raw zone is write-once: a time-based immutability (WORM) policy on its container.",
    check=_required(_mutable_raw),  # off in dev: raw stays mutable so the stack can be destroyed
    config=REQUIRED_SETTING,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="declare a BlobContainerImmutabilityPolicy on `raw` (stack config storage.rawImmutabilityDays above 0)",
    why="Registered training data points at files in raw; if they can be overwritten or deleted, no model's data can be reproduced.",
    references=References(docs=WORM_DOCS, note="PSRule's Azure.Storage rules and Checkov's ARM checks have no container immutability check."),
)


# learn.microsoft.com/azure/data-factory/naming-rules; the REST spec's factoryName: minLength 3, maxLength 63,
# pattern ^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$. Unique across Azure, which no offline check can know.
FACTORY_NAME = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
NAMING_DOCS = "https://learn.microsoft.com/azure/data-factory/naming-rules"


def _factory_name(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    name = get(props, "factoryName")
    if not isinstance(name, str):
        return []  # the provider names it (auto-naming adds a random suffix)
    if not 3 <= len(name) <= 63:
        return [f"factoryName '{name}' is {len(name)} characters; Azure accepts 3-63"]
    if not FACTORY_NAME.fullmatch(name):
        return [f"factoryName '{name}' has characters Azure refuses: letters, digits and single hyphens between them only"]
    return []


deploy_datafactory_name = ResourceRule(
    name="deploy-datafactory-name",
    description="A data factory's name is one Azure accepts: 3-63 letters, digits and single inner hyphens.",
    types=FACTORY,
    check=_factory_name,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="derive the name from core/naming.py (abbreviation adf) and shorten workload or nameSuffix",
    why="ARM validates the factory name at creation; the mocks accept any string. The name must also be unique across Azure.",
    references=References(docs=NAMING_DOCS),
)
