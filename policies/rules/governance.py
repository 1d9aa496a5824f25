"""Governance: required tags and allowed locations on every tracked resource, both set per environment."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity

from .base import COST, SECURITY, ResourceRule, Settings
from .references import References
from .resource_types import TRACKED
from .values import MISSING, as_text, get, items

GLOBAL_LOCATIONS = ("global",)  # action groups and alert rules live in "global"


def _missing_tags(props: Mapping[str, Any], settings: Settings) -> list[str]:
    tags = get(props, "tags")
    if tags is MISSING:
        tags = {}
    if not isinstance(tags, Mapping):
        return []
    required = [key for key in items(settings["requiredTags"]) if isinstance(key, str)]
    missing = [key for key in required if not isinstance(tags.get(key), str) or not tags.get(key)]
    return [f"required tags missing or empty: {', '.join(missing)}"] if missing else []


def _location(props: Mapping[str, Any], settings: Settings) -> list[str]:
    location = as_text(get(props, "location"))
    if not isinstance(location, str):
        return []  # absent: the resource takes its resource group's location, which this rule checks
    allowed = [value for value in items(settings["allowedLocations"]) if isinstance(value, str)]
    normal = location.replace(" ", "").lower()
    if normal in GLOBAL_LOCATIONS or normal in (a.lower() for a in allowed):
        return []
    return [f"location {location!r} is not one of {', '.join(allowed)}"]


required_tags = ResourceRule(
    name="required-tags",
    description="Tracked resources carry the organisation's required tags (ownership and cost).",
    types=TRACKED,
    check=_missing_tags,
    config={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["environment", "workload", "owner", "cost-center", "managed-by"],
            "description": "Tag keys every tracked resource must have, with a non-empty value.",
        }
    },
    severity=Severity.LOW,
    pillar=COST,
    remediation="pass the context's tags (components.context.standard_tags) to the resource",
    why="Untagged resources have no owner or cost center to route costs and incidents to.",
    references=References(
        psrule="Azure.Resource.RequiredTags",
        docs="https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources",
    ),
)

allowed_locations = ResourceRule(
    name="allowed-locations",
    description="Resources are deployed only to the organisation's allowed regions.",
    types=TRACKED,
    check=_location,
    config={
        "allowedLocations": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["westeurope", "northeurope"],
            "description": "Azure regions resources may be deployed to ('global' is always allowed).",
        }
    },
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set stack config location to an allowed region, or extend allowedLocations in policies/config",
    why="Where a resource lives decides where its data is stored and processed.",
    references=References(
        psrule="Azure.Resource.AllowedRegions",
        docs="https://learn.microsoft.com/azure/governance/policy/samples/built-in-policies",
    ),
)
