"""What every component shares: naming, tags, location, resource group, diagnostics target, protection.

Components receive a context instead of reading config or module globals, so a component can be
instantiated twice (two stacks, two tests) without interference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Mapping

import pulumi

from components.naming import Naming

MANAGED_BY = "pulumi"
REQUIRED_TAG_KEYS = ("environment", "workload", "owner", "cost-center", "managed-by")


def enabled(flag: bool) -> str:
    """Azure's 'Enabled'/'Disabled' spelling of a boolean."""
    return "Enabled" if flag else "Disabled"


def standard_tags(naming: Naming, owner: str, cost_center: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tags every taggable resource carries; extra tags never override the required ones."""
    required = {
        "environment": naming.environment,
        "workload": naming.workload,
        "owner": owner,
        "cost-center": cost_center,
        "managed-by": MANAGED_BY,
    }
    return {**(extra or {}), **required}


@dataclass(frozen=True)
class PlatformContext:
    naming: Naming
    tags: Mapping[str, str]
    location: str
    resource_group_name: pulumi.Input[str]
    protect: bool
    diagnostics_workspace_id: pulumi.Input[str] | None = None

    def with_diagnostics(self, workspace_id: pulumi.Input[str]) -> PlatformContext:
        return dataclasses.replace(self, diagnostics_workspace_id=workspace_id)


class PlatformComponent(pulumi.ComponentResource):
    """Base of every component: type token `mlops:<area>:<Name>`, children parented to it, typed outputs.

    Subclasses set TYPE and OUTPUTS (the attribute names they expose) and call `_register()` at the end
    of __init__, so the registered outputs and the attributes come from one list.
    """

    TYPE: ClassVar[str]
    OUTPUTS: ClassVar[tuple[str, ...]]

    def __init__(self, name: str, ctx: PlatformContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        self.ctx = ctx

    def child(self, *, stateful: bool = False, **options) -> pulumi.ResourceOptions:
        """Options for a child resource; stateful ones are protected and retained where the stack says so."""
        if stateful:
            options.setdefault("protect", self.ctx.protect)
            options.setdefault("retain_on_delete", self.ctx.protect)
        return pulumi.ResourceOptions(parent=self, **options)

    def _register(self) -> None:
        self.register_outputs({name: getattr(self, name) for name in self.OUTPUTS})
