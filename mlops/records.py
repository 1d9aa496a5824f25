"""What an offline run records, as plain data: the resources of a stack, its exports, and secret values.

Its own module, below the mock run (mlops/mockrun.py), the preview (mlops/preview/) and the analyzer, so that
they share these types without importing each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class Secret:
    """A secret input value: shown as [secret] everywhere; the value is kept for policies only."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return "[secret]"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(json.dumps(self.value, sort_keys=True, default=str))


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # A component's registered outputs (`register_outputs`: its resource_id, resource_name, ...); custom resources: {}.
    registered_outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackRecord:
    """The desired state of one stack: every registered resource, in registration order, and the exports."""

    environment: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    calls: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> RecordedResource:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}: {[r.name for r in found]}")
        return found[0]

    def named(self, name: str) -> RecordedResource:
        """The resource with this logical name (unique within a stack's components)."""
        [found] = [r for r in self.resources if r.name == name]
        return found

    def by_urn(self) -> dict[str, RecordedResource]:
        return {r.urn: r for r in self.resources}
