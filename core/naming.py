"""Resource names: CAF abbreviations + workload + environment + region, checked against each service's rules.

Every Azure name in the platform comes from here, so a rule change (length, charset, suffix) is made once.
Names that must be globally unique (storage, Key Vault, registry, Event Hubs, IoT Hub, endpoints) get a short
suffix derived deterministically from workload, environment, region and the optional `nameSuffix` config key:
the same stack always gets the same names, and changing `nameSuffix` gives a dev stack fresh names after a
destroy (Key Vault keeps a purge-protected name for its retention period).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Azure region -> short code used in names (CAF-style). Only listed regions are accepted by the config.
REGION_CODES: dict[str, str] = {
    "australiaeast": "aue",
    "brazilsouth": "brs",
    "canadacentral": "cac",
    "centralindia": "inc",
    "centralus": "cus",
    "eastasia": "ea",
    "eastus": "eus",
    "eastus2": "eus2",
    "francecentral": "frc",
    "germanywestcentral": "gwc",
    "japaneast": "jpe",
    "koreacentral": "krc",
    "northcentralus": "ncus",
    "northeurope": "neu",
    "norwayeast": "noe",
    "southcentralus": "scus",
    "southeastasia": "sea",
    "swedencentral": "sdc",
    "switzerlandnorth": "szn",
    "uksouth": "uks",
    "westeurope": "weu",
    "westus2": "wus2",
    "westus3": "wus3",
}

# Well-known environments get the short codes CAF uses; any other stack name is used as it is.
ENVIRONMENT_CODES: dict[str, str] = {"dev": "dev", "staging": "stg", "prod": "prd"}


@dataclass(frozen=True)
class NameRule:
    """One service's naming rule, as documented by Azure."""

    service: str
    abbreviation: str
    min_length: int
    max_length: int
    pattern: str
    compact: bool  # no separators allowed (storage, registry)
    global_unique: bool
    scoped: bool = False  # unique inside a parent only: workload and region are left out to fit the length

    def check(self, name: str) -> str | None:
        """Return why `name` breaks the rule, or None when it complies."""
        if not self.min_length <= len(name) <= self.max_length:
            return (
                f"{self.service} name '{name}' is {len(name)} characters; "
                f"allowed {self.min_length}-{self.max_length}"
            )
        if not re.fullmatch(self.pattern, name):
            return f"{self.service} name '{name}' does not match {self.pattern}"
        return None


_DASHED = r"[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]"

RULES: dict[str, NameRule] = {
    rule.abbreviation: rule
    for rule in (
        NameRule("resource group", "rg", 1, 90, r"[a-zA-Z0-9._()-]*[a-zA-Z0-9_()-]", False, False),
        NameRule("Log Analytics workspace", "log", 4, 63, _DASHED, False, False),
        NameRule("Application Insights", "appi", 1, 260, _DASHED, False, False),
        NameRule("storage account", "st", 3, 24, r"[a-z0-9]+", True, True),
        NameRule("Key Vault", "kv", 3, 24, r"[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]", False, True),
        NameRule("container registry", "cr", 5, 50, r"[a-zA-Z0-9]+", True, True),
        # Global in effect: a deleted workspace keeps its name for 14 days (soft delete), so dev needs a suffix.
        NameRule("Azure ML workspace", "mlw", 3, 33, _DASHED, False, True),
        NameRule("Azure ML registry", "mlr", 3, 33, r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}", False, True),
        NameRule("Azure ML compute cluster", "mlc", 2, 16, _DASHED, False, False, scoped=True),
        NameRule("Event Hubs namespace", "evhns", 6, 50, _DASHED, False, True),
        NameRule("IoT Hub", "iot", 3, 50, _DASHED, False, True),
        NameRule("Device Provisioning Service", "provs", 3, 64, _DASHED, False, True),
        NameRule("managed identity", "id", 3, 128, _DASHED, False, False),
        NameRule("online endpoint", "mloe", 3, 32, _DASHED, False, True),
        NameRule("batch endpoint", "mlbe", 3, 32, _DASHED, False, True),
        # The pattern Azure ML's REST specs give its workspace child resources: ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$
        NameRule("Azure ML schedule", "sch", 1, 255, r"[a-zA-Z0-9][a-zA-Z0-9_-]*", False, False),
        # learn.microsoft.com/azure/data-factory/naming-rules: unique across Azure, 3-63 characters, letters, digits and
        # hyphens, starting and ending with a letter or digit, no consecutive hyphens (the REST spec's factoryName).
        NameRule("data factory", "adf", 3, 63, r"[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*", False, True),
        NameRule("action group", "ag", 1, 260, _DASHED, False, False),
        NameRule("alert rule", "alrt", 1, 260, _DASHED, False, False),
        NameRule("Function App", "func", 2, 60, _DASHED, False, True),
        NameRule("virtual network", "vnet", 2, 64, _DASHED, False, False),
        NameRule("network security group", "nsg", 1, 80, _DASHED, False, False),
        NameRule("private endpoint", "pep", 2, 64, _DASHED, False, False),
        NameRule("Azure Monitor private link scope", "ampls", 1, 255, _DASHED, False, False),
        NameRule("Bastion host", "bas", 1, 80, _DASHED, False, False),
        NameRule("public IP address", "pip", 1, 80, _DASHED, False, False),
        NameRule("NAT gateway", "ng", 1, 80, _DASHED, False, False),
        NameRule("Container Apps environment", "cae", 2, 32, r"[a-z][a-z0-9-]*[a-z0-9]", False, False),
        NameRule("Container Apps job", "caj", 2, 32, r"[a-z][a-z0-9-]*[a-z0-9]", False, False),
    )
}


class NameRuleError(ValueError):
    """A name derived from config breaks a service rule."""


@dataclass(frozen=True)
class Naming:
    """Derives every resource name of one stack."""

    workload: str
    environment: str
    location: str
    name_suffix: str = ""

    @property
    def environment_code(self) -> str:
        return ENVIRONMENT_CODES.get(self.environment, self.environment)

    @property
    def region_code(self) -> str:
        return REGION_CODES[self.location]

    @property
    def unique_suffix(self) -> str:
        """Four hex characters, stable for a stack, changed by `nameSuffix`."""
        seed = "|".join((self.workload, self.environment, self.location, self.name_suffix))
        return hashlib.sha256(seed.encode()).hexdigest()[:4]

    def name(self, abbreviation: str, *qualifiers: str) -> str:
        """The name for a resource of the service with this abbreviation (a key of RULES)."""
        rule = RULES[abbreviation]
        if rule.scoped:
            parts = [rule.abbreviation, *qualifiers, self.environment_code]
        else:
            parts = [rule.abbreviation, self.workload, *qualifiers, self.environment_code, self.region_code]
        if rule.global_unique:
            parts.append(self.unique_suffix)
        name = ("" if rule.compact else "-").join(parts)
        if rule.compact:
            name = name.lower()
        problem = rule.check(name)
        if problem:
            raise NameRuleError(problem)
        return name

    def check_all(self) -> None:
        """Raise NameRuleError for the first service whose name cannot satisfy its rule."""
        for abbreviation in RULES:
            self.name(abbreviation)
