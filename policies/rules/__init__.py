"""Every rule of the pack, collected from the service modules in catalogue order, and the pack builder.

Import as `rules` from inside policies/ (the engine) or as `policies.rules` from the repository root (tests,
catalogue): the package uses relative imports only.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, PolicyPack

from . import (
    datafactory,
    deploy,
    edge,
    eventhub,
    flows,
    governance,
    identity,
    iothub,
    keyvault,
    ml,
    monitoring,
    registry,
    stack,
    storage,
    web,
)
from .base import ResourceRule, Rule, StackRule

PACK_NAME = "mlops-platform-guardrails"
MODULES = (deploy, storage, keyvault, registry, ml, eventhub, iothub, edge, datafactory, monitoring, web, identity, governance, stack, flows)


def _rules_of(module) -> list[Rule]:
    return [value for value in vars(module).values() if isinstance(value, Rule)]


RULES: list[Rule] = [rule for module in MODULES for rule in _rules_of(module)]
RESOURCE_RULES = [rule for rule in RULES if isinstance(rule, ResourceRule)]
STACK_RULES = [rule for rule in RULES if isinstance(rule, StackRule)]


def build_pack() -> PolicyPack:
    """Serve the pack (blocks forever). Every rule defaults to mandatory: the strict level, which
    per-environment policy config (policies/config/<env>.json) relaxes where an environment intends to."""
    return PolicyPack(
        name=PACK_NAME,
        policies=[rule.policy() for rule in RULES],
        enforcement_level=EnforcementLevel.MANDATORY,
        description="Guard rails of the mlops-platform: security, data safety and operations on Azure.",
    )
