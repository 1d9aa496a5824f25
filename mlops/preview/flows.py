"""The flow table of a recorded stack, for the preview: the pack's own flow check (policies/rules/flows.py) run
on the mock harness's record, so `preview` can show every flow's status, not only the broken ones the policy
reports. The records are wrapped in the shape pulumi-policy hands stack rules (type, props, dependencies)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.records import RecordedResource, StackRecord
from policies.rules.flows import FlowResult, evaluate


@dataclass(eq=False)
class _Resource:
    """A recorded resource as a PolicyResource: outputs where the harness has them, else inputs."""

    record: RecordedResource
    index: dict[str, _Resource] = field(repr=False)

    @property
    def resource_type(self) -> str:
        return self.record.type

    @property
    def props(self) -> dict[str, Any]:
        return self.record.outputs or self.record.inputs

    @property
    def urn(self) -> str:
        return self.record.urn

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def dependencies(self) -> list[_Resource]:
        return [self.index[urn] for urn in self.record.dependencies if urn in self.index]

    @property
    def property_dependencies(self) -> dict[str, list[_Resource]]:
        return {key: [self.index[u] for u in urns if u in self.index] for key, urns in self.record.property_dependencies.items()}


def flow_results(record: StackRecord) -> list[FlowResult]:
    """Every platform flow's status on one recorded stack (none for a stack without a workspace)."""
    index: dict[str, _Resource] = {}
    for resource in record.resources:
        index[resource.urn] = _Resource(resource, index)
    return evaluate(list(index.values()))
