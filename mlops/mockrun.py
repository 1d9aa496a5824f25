"""Run the Pulumi program offline under mocks and record the desired state of each stack.

`Recorder` is the monitor: it records every RegisterResource (URN, type, name, parent, inputs, protect,
dependencies, aliases). `PlatformMocks` plays the provider: it returns the outputs Azure would compute and
the program reads (ids, names, endpoints, identities), so no input built from them is silently dropped.
Several stacks run one after another in one process; each run gets a fresh monitor and root stack.
"""

from __future__ import annotations

import json
import runpy
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from core.config import PROJECT, SHARED_STACK, read_stack_values, stack_file
from core.paths import ROOT_DIR
from mlops.records import RecordedResource, Secret, StackRecord
from policies.rules import resource_types as t
from policies.rules.resource_types import ARM_IDS  # ARM id templates per type; {sub} and {name} are filled in

PROGRAM = ROOT_DIR / "__main__.py"
STACK_REFERENCE = "pulumi:pulumi:StackReference"

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "11111111-1111-1111-1111-111111111111"
CLIENT_OBJECT_ID = "22222222-2222-2222-2222-222222222222"
_SECRET_SIG = rpc._special_sig_key


def _unwrap(value: Any) -> Any:
    """Turn the engine's secret wrappers into Secret, recursively."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == rpc._special_secret_sig:
            return Secret(_unwrap(value.get("value")))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class PlatformMocks(pulumi_mocks.Mocks):
    """Answers the engine's provider calls with what Azure would compute. `stack_outputs` answers
    StackReferences (stack name -> its exported outputs), as the engine reads another stack's state."""

    def __init__(self, stack_outputs: dict[str, dict[str, Any]] | None = None):
        self.stack_outputs = stack_outputs or {}
        self.calls: list[str] = []  # every invoke the program made, by token (plan-time reads are visible)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == STACK_REFERENCE:
            stack = str(args.inputs.get("name", args.name))
            if stack not in self.stack_outputs:
                raise ValueError(f"StackReference {stack!r}: no outputs of that stack in this run")
            return stack, {"name": stack, "outputs": self.stack_outputs[stack], "secretOutputNames": []}
        inputs = _plain(args.inputs)
        azure_name = _azure_name(args.typ, args.name, inputs)
        resource_id = _arm_id(args.typ, azure_name, inputs)
        outputs: dict[str, Any] = {**args.inputs, "name": azure_name, "id": resource_id}
        identity = inputs.get("identity")
        if isinstance(identity, dict):
            outputs["identity"] = _identity_outputs(identity, resource_id)
        outputs.update(_computed_outputs(args.typ, azure_name, inputs, resource_id))
        return resource_id, outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:
        self.calls.append(args.token)
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": CLIENT_OBJECT_ID,
                "objectId": CLIENT_OBJECT_ID,
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }
        return {}


def _identity_outputs(identity: dict, resource_id: str) -> dict:
    """Azure answers a list of user-assigned identity ids with a map id -> {principalId, clientId}."""
    outputs = dict(identity)
    if "SystemAssigned" in str(identity.get("type", "")):
        outputs.update(principalId=_uuid("principal", resource_id), tenantId=TENANT_ID)
    assigned = identity.get("userAssignedIdentities")
    if isinstance(assigned, list):
        outputs["userAssignedIdentities"] = {
            uid: {"principalId": _uuid("principal", uid), "clientId": _uuid("client", uid)} for uid in assigned
        }
    return outputs


def _plain(value: Any) -> Any:
    unwrapped = _unwrap(value)
    return json.loads(json.dumps(unwrapped, default=lambda v: v.value if isinstance(v, Secret) else str(v)))


# Name arguments that are not the last segment of the ARM id template.
_OWN_NAME_KEY = {
    t.BLOB_SERVICE: "blobServicesName",
    t.STORAGE_MANAGEMENT_POLICY: "managementPolicyName",
}


def _azure_name(type_: str, logical_name: str, inputs: dict) -> str:
    """The Azure name the provider would report: the resource's own name argument, else the logical name."""
    key = _OWN_NAME_KEY.get(type_) or _ARM_LAST_KEY.get(type_) or "name"
    value = inputs.get(key)
    return str(value) if isinstance(value, str) and value else logical_name


def _last_placeholder(template: str) -> str | None:
    tail = template.rsplit("/", 1)[-1]
    return tail[1:-1] if tail.startswith("{") and tail.endswith("}") else None


_ARM_LAST_KEY = {type_: _last_placeholder(template) for type_, template in ARM_IDS.items()}


def _arm_id(type_: str, azure_name: str, inputs: dict) -> str:
    template = ARM_IDS.get(type_)
    if template is None:
        return f"/subscriptions/{SUBSCRIPTION_ID}/providers/mock/{type_.replace(':', '/')}/{azure_name}"
    values: dict[str, str] = defaultdict(lambda: azure_name)
    values.update({k: str(v) for k, v in inputs.items() if isinstance(v, (str, int, float))})
    values["sub"] = SUBSCRIPTION_ID
    last = _ARM_LAST_KEY.get(type_)
    if last:
        values[last] = azure_name
    return template.format_map(values)


def _uuid(kind: str, seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}:{seed}"))


def _computed_outputs(type_: str, name: str, inputs: dict, resource_id: str) -> dict[str, Any]:
    """Outputs the provider computes that the program reads (beyond name, id and identity)."""
    location = inputs.get("location", "westeurope")
    if type_ == t.APP_INSIGHTS:
        key = _uuid("ikey", resource_id)
        return {
            "instrumentationKey": key,
            "connectionString": f"InstrumentationKey={key};IngestionEndpoint=https://{location}.in.applicationinsights.azure.com/",
        }
    if type_ == t.LOG_ANALYTICS:
        return {"customerId": _uuid("customer", resource_id)}
    if type_ == t.STORAGE_ACCOUNT:
        return {
            "primaryEndpoints": {
                service: f"https://{name}.{service}.core.windows.net/" for service in ("blob", "dfs", "queue", "table", "file", "web")
            }
        }
    if type_ == t.KEY_VAULT:
        return {"properties": {**inputs.get("properties", {}), "vaultUri": f"https://{name}.vault.azure.net/"}}
    if type_ == t.REGISTRY:
        return {"loginServer": f"{name.lower()}.azurecr.io"}
    if type_ == t.ML_WORKSPACE:
        return {
            "mlFlowTrackingUri": f"azureml://{location}.api.azureml.ms/mlflow/v1.0{resource_id}",
            "workspaceId": _uuid("workspace", resource_id),
        }
    if type_ == t.ONLINE_ENDPOINT:
        return {
            "properties": {
                **inputs.get("properties", {}),
                "scoringUri": f"https://{name}.{location}.inference.ml.azure.com/score",
                "swaggerUri": f"https://{name}.{location}.inference.ml.azure.com/swagger.json",
            }
        }
    if type_ == t.BATCH_ENDPOINT:
        return {"properties": {**inputs.get("properties", {}), "scoringUri": f"https://{name}.{location}.inference.ml.azure.com/jobs"}}
    if type_ == t.EVENTHUB_NAMESPACE:
        return {"serviceBusEndpoint": f"https://{name}.servicebus.windows.net:443/"}
    if type_ == t.IOT_HUB:
        return {"properties": {**inputs.get("properties", {}), "hostName": f"{name}.azure-devices.net"}}
    if type_ == t.USER_IDENTITY:
        return {"principalId": _uuid("principal", resource_id), "clientId": _uuid("client", resource_id), "tenantId": TENANT_ID}
    if type_ == t.WEB_APP:
        return {"defaultHostName": f"{name}.azurewebsites.net"}
    if type_ == t.ML_REGISTRY:
        managed = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/azureml-rg-{name}_{_uuid('mrg', resource_id)}/providers"
        suffix = _uuid("registry", resource_id).replace("-", "")[:10]
        regions = inputs.get("regionDetails") or [{}]
        return {
            "discoveryUrl": f"https://{location}.api.azureml.ms/registrymanagement/v1.0/registries/{name}/discovery",
            "regionDetails": [
                {
                    **region,
                    "acrDetails": [{"systemCreatedAcrAccount": {**((region.get("acrDetails") or [{}])[0].get("systemCreatedAcrAccount") or {}),
                        "armResourceId": {"resourceId": f"{managed}/Microsoft.ContainerRegistry/registries/{suffix}"}}}],
                    "storageAccountDetails": [{"systemCreatedStorageAccount": {**((region.get("storageAccountDetails") or [{}])[0].get("systemCreatedStorageAccount") or {}),
                        "armResourceId": {"resourceId": f"{managed}/Microsoft.Storage/storageAccounts/{suffix}"}}}],
                }
                for region in regions
            ],
        }  # fmt: skip
    if type_ == t.CONTAINER_APPS_ENVIRONMENT:
        return {"defaultDomain": f"{name}.{location}.azurecontainerapps.io", "staticIp": "10.0.0.4"}
    return {}


class Recorder(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps the full registration request of every resource, and each component's outputs."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine makes them: children of the root stack carry no parent type."""
        if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources.get(response.urn)
        self.recorded.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                inputs=_recorded_inputs(request) if request.custom else {},
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                dependencies=list(request.dependencies),
                property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
                aliases=[a.urn for a in request.aliases if a.urn] + list(request.aliasURNs),
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=list(request.ignoreChanges),
                replace_on_changes=list(request.replaceOnChanges),
                outputs=_unwrap(registration.state) if registration else {},
            )
        )
        return response

    def RegisterResourceOutputs(self, request):
        """A component's outputs, as the engine keeps them in the state: kept with its record."""
        for resource in reversed(self.recorded):
            if resource.urn == request.urn:
                resource.registered_outputs = _unwrap(rpc.deserialize_properties(request.outputs))
                break
        return super().RegisterResourceOutputs(request)


def _recorded_inputs(request) -> dict[str, Any]:
    """The inputs as sent; a dynamic resource's pickled provider is replaced by its module-level class path."""
    inputs = _unwrap(rpc.deserialize_properties(request.object))
    if "__provider" in inputs:
        inputs["__provider"] = "<pickled dynamic provider>"
    return inputs


def run_stack(
    environment: str,
    config: dict[str, str] | None = None,
    secret_keys: set[str] | None = None,
    program: Path = PROGRAM,
    references: dict[str, dict[str, Any]] | None = None,
) -> StackRecord:
    """Run the program for one stack under mocks; raises ConfigError for bad config.

    `references` answers the stack's StackReferences (stack name -> outputs); by default the shared stack is run
    first from its own file, as an environment's `pulumi up` reads the deployed shared stack.
    """
    if config is None:
        config, secret_keys = read_stack_values(environment)
    if references is None:
        references = {} if environment == SHARED_STACK else {SHARED_STACK: shared_outputs(program)}
    mocks = PlatformMocks(references)
    monitor = Recorder(mocks)
    _no_eager_alias_urns()
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=environment, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), sorted(secret_keys or ()))
    try:
        runpy.run_path(str(program), run_name="__main__")
        _sync_await(wait_for_rpcs())
        root = settings.get_root_resource()
        exported = dict(getattr(root, "outputs", {}) or {})
        outputs = {key: _resolve(value) for key, value in exported.items()}
    except BaseException:
        _discard_pending()
        raise
    finally:
        settings.ROOT.set(None)
    return StackRecord(environment=environment, resources=monitor.recorded, outputs=outputs, calls=mocks.calls)


def _no_eager_alias_urns() -> None:
    """Skip the SDK's eager alias URNs, which nothing reads here.

    `Resource.__init__` turns every alias into an `Output[str]` URN (`resource._aliases`), and azure-native gives each
    resource about 20 version aliases: some 3,500 URN outputs per private stack, half of a stack's run. That list is
    read only by `all_aliases`, which the SDK calls only for an engine without alias specs
    (pulumi/runtime/resource.py `prepare_aliases`); the mock monitor supports them (RESOURCE_MONITOR_FEATURE_ALIAS_SPECS),
    so the aliases still reach the monitor as specs, as with the real engine. The patch holds for the process: one
    that runs stacks under mocks.
    """
    import pulumi.resource as resource_module

    resource_module.collapse_alias_to_urn = _unused_alias_urn


def _unused_alias_urn(alias: Any, name: str, type_: str, parent: Any) -> None:
    return None


def _discard_pending() -> None:
    """A failed run leaves its resources' tasks on the event loop; the next run in this process would await them
    and fail with this run's error. Cancel them."""
    import asyncio

    from pulumi.runtime.sync_await import _ensure_event_loop

    loop = _ensure_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending and not loop.is_running():
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    settings.SETTINGS.outputs.clear()


def shared_outputs(program: Path = PROGRAM) -> dict[str, Any]:
    """The shared stack's outputs under mocks, as a StackReference returns them (secrets unwrapped)."""
    record = run_stack(SHARED_STACK, program=program, references={})
    return {key: value.value if isinstance(value, Secret) else value for key, value in record.outputs.items()}


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = _sync_await(output.future())
    is_secret = _sync_await(output.is_secret())
    return Secret(resolved) if is_secret else resolved


def main(stacks: list[str]) -> None:
    """`python -m mlops.mockrun STACK...`: the recorded desired state as JSON (the `--base` evaluation)."""
    import sys
    from dataclasses import asdict

    from core.config import ConfigError
    from mlops.preview.state import from_recorded

    document = {}
    for environment in stacks:
        if not stack_file(environment).exists():
            document[environment] = []  # the stack is new since this ref
            continue
        try:
            document[environment] = [asdict(r) for r in from_recorded(run_stack(environment).resources)]
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
    json.dump(document, sys.stdout)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
