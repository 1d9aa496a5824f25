"""Run-time data-plane roles that no single component owns: who uses what, least privilege, narrowest scope.

Grants that gate a resource's creation (Capture, IoT routing, the endpoint's image pulls) live in the component
that needs them; the platform's flows (compute, CI runners, the retrain function, operators and callers) are
granted here, each a `Grant` from the stack's composition.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.base import PlatformComponent
from components.context import PlatformContext
from components.roles import Grant


class WorkloadAccess(PlatformComponent):
    TYPE = "mlops:security:WorkloadAccess"
    OUTPUTS = ()
    AGGREGATE = True  # role assignments only: no main resource

    def __init__(self, name: str, ctx: PlatformContext, grants: Sequence[Grant], opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        for item in grants:
            self.grant(item.label, item.principal_id, item.role, item.scope, principal_type=item.principal_type)
        self._register()
