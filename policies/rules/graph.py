"""Reading a stack's resource graph in stack rules: known values, references, and resources by Azure id.

AnalyzeStack hands stack rules every resource with its outputs where the engine has them (ids, computed
names) and its inputs otherwise; during a preview some values are unknown. These helpers never raise on an
unknown: `text` gives None, and a reference falls back to the dependency graph (`references`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource

from .values import peek


def kind(resource: PolicyResource) -> str:
    """The type's last segment, as messages name resources (StorageAccount 'lake-st')."""
    return resource.resource_type.rsplit(":", 1)[-1]


def text(props: Mapping[str, Any], path: str) -> str | None:
    """A known, non-empty string at `path`, lower-cased (ARM ids and names compare case-insensitively)."""
    value = peek(props, path)
    return value.lower() if isinstance(value, str) and value else None


def references(resource: PolicyResource, prop: str) -> list[PolicyResource]:
    """The resources a property was computed from: its property dependencies, else all dependencies."""
    return list(resource.property_dependencies.get(prop) or resource.dependencies)
