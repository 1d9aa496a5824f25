"""Azure's own facts the platform builds with, read from the policy pack's data files (one table each).

The policy pack checks resources against the same tables (`policies/rules/azure/*.json`, each entry with
its Microsoft source), so what the components build and what the `deploy-*` rules accept cannot drift apart.
Data only: no Pulumi here, so the typed config can validate against it too.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FACTS_DIR = Path(__file__).resolve().parent.parent / "policies" / "rules" / "azure"


@cache
def facts(name: str) -> dict[str, Any]:
    """One data file of the pack, e.g. `facts("private_link")`."""
    return json.loads((FACTS_DIR / f"{name}.json").read_text())


def private_dns_zones(group: str) -> tuple[str, ...]:
    """The private DNS zones a private endpoint of this group id registers in."""
    return tuple(facts("private_link")["groups"][group]["zones"])


PRIVATE_LINK_GROUPS: tuple[str, ...] = tuple(facts("private_link")["groups"])
PRIVATE_DNS_ZONES: tuple[str, ...] = tuple(
    sorted({zone for group in PRIVATE_LINK_GROUPS for zone in private_dns_zones(group)})
)

_FLEX = facts("flex_consumption")
FLEX_MAXIMUM_INSTANCES: tuple[int, int] = (_FLEX["maximumInstanceCount"]["min"], _FLEX["maximumInstanceCount"]["max"])
FLEX_INSTANCE_MEMORY_MB: tuple[int, ...] = tuple(_FLEX["instanceMemoryMB"])
FLEX_SUBNET_DELEGATION: str = _FLEX["subnetDelegation"]
FLEX_PYTHON_VERSIONS: tuple[str, ...] = tuple(_FLEX["runtimes"]["python"])
FLEX_ACCEPTED_SITE_CONFIG: tuple[str, ...] = tuple(_FLEX["acceptedSiteConfig"]["keys"])
ZONE_REDUNDANT_STORAGE_SKUS: tuple[str, ...] = tuple(facts("storage")["redundancy"]["zoneRedundantSkus"])


def metric(namespace: str, name: str) -> dict[str, list[str]]:
    """A platform metric's supported aggregations and dimensions; KeyError for a metric Azure does not have."""
    return facts("metrics")["namespaces"][namespace]["metrics"][name]
