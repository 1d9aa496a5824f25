"""Recorded answers of a stack's Azure ML workspace (ARM control plane, discovery, run history, blob storage) and of
the shared Azure ML registry (registry discovery, its assets).

Shapes follow the Azure ML REST API as azure-ai-ml 1.x calls it: resources are `{"id", "name", "type",
"properties"}`; versioned assets live under `.../<kind>/<name>/versions/<version>`; a job's status is
`properties.status`; a model version's tags are `properties.tags`. Blob storage keeps what is uploaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.outputs import StackOutputs
from tests.azure.wire import AzureWire, Call

ML = "Microsoft.MachineLearningServices/workspaces"


def _name(call: Call) -> str:
    return call.path.rstrip("/").split("/")[-1]


def _resource(call: Call, kind: str, properties: dict) -> dict:
    """A PUT body echoed back as ARM does, with id, name and type."""
    return {"id": call.path, "name": _name(call), "type": f"{ML}/{kind}", "properties": properties}


@dataclass
class RecordedWorkspace:
    """The workspace of a stack's outputs that a `--submit` or a `--registry workspace` talks to.

    `final_status` is what the job reports once it ran; `models` are the registered versions of one model as
    (version, tags). `jobs` and `blobs` keep what the client created.
    """

    outputs: StackOutputs
    final_status: str = "Completed"
    models: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    jobs: dict[str, dict] = field(default_factory=dict)
    blobs: dict[str, dict[str, str]] = field(default_factory=dict)
    data: dict[str, dict] = field(default_factory=dict)  # data asset versions by "name:version", as PUT

    @property
    def path(self) -> str:
        return self.outputs.workspace_id

    @property
    def storage_id(self) -> str:
        group = self.path.split("/providers/")[0]
        return f"{group}/providers/Microsoft.Storage/storageAccounts/{self.outputs.storage_account_name}"

    @property
    def api(self) -> str:
        return f"https://{self.outputs.location}.api.azureml.ms"

    @property
    def container(self) -> str:
        return f"https://{self.outputs.storage_account_name}.blob.core.windows.net/azureml-blobstore-4a1f0c1e"

    def install(self, wire: AzureWire) -> RecordedWorkspace:
        ws = re.escape("management.azure.com" + self.path)
        api_host = re.escape(self.api.removeprefix("https://"))
        wire.route("GET", ws, self._workspace())
        wire.route("GET", ws + "/computes/[^/]+", lambda c: (200, _resource(c, "computes", {
            "computeType": "AmlCompute", "provisioningState": "Succeeded", "properties": {"vmSize": "Standard_DS2_v2"},
        })))
        for kind in ("environments", "codes", "components"):
            wire.route("PUT", ws + f"/{kind}/[^/]+/versions/[^/]+", lambda c, k=kind: (201, _resource(
                c, f"{k}/versions", (c.json() or {}).get("properties", {})
            )))
        wire.route("GET", ws + "/codes/[^/]+/versions", {"value": []})  # no snapshot with this content yet
        wire.route("POST", ws + "/codes/[^/]+/versions/[^/]+/startPendingUpload", {
            "pendingUploadId": "upload-1",
            "pendingUploadType": "TemporaryBlobReference",
            "blobReferenceForConsumption": {
                "blobUri": f"{self.container}/LocalUpload/upload-1",
                "storageAccountArmId": self.storage_id,
                "credential": {"credentialType": "SAS", "sasUri": f"{self.container}?sv=2021-08-06&sig=offline"},
            },
        })
        wire.route("GET", ws + "/datastores/workspaceblobstore", lambda c: (200, _resource(c, "datastores", {
            "datastoreType": "AzureBlob", "accountName": self.outputs.storage_account_name, "containerName": self.container.rsplit("/", 1)[-1],
            "endpoint": "core.windows.net", "protocol": "https", "isDefault": True,
            "credentials": {"credentialsType": "None"},  # identity-based: uploads use the caller's token
        })))
        wire.route("PUT", ws + "/jobs/[^/]+", self._put_job)
        wire.route("GET", ws + "/jobs/[^/]+", self._get_job)
        wire.route("GET", ws + "/models/[^/]+/versions", lambda c: (200, {"value": [self._model(c, v) for v, _ in self.models]}))
        wire.route("GET", ws + "/models/[^/]+/versions/[^/]+", self._get_model)
        wire.route("PUT", ws + "/data/[^/]+/versions/[^/]+", self._put_data)
        wire.route("GET", ws + "/data/[^/]+/versions/[^/]+", self._get_data)
        wire.route("GET", api_host + "/discovery", dict.fromkeys(("api", "catalog", "experimentation", "history", "modelmanagement", "pipelines"), self.api))
        wire.route("GET", api_host + re.escape(f"/history/v1.0{self.path}") + "/runs/[^/]+/details", self._run_details)
        blob = re.escape(f"{self.outputs.storage_account_name}.blob.core.windows.net") + "/.+"
        wire.route("HEAD", blob, self._head_blob)
        wire.route("PUT", blob, self._put_blob)
        return self

    def _workspace(self) -> dict:
        return {
            "id": self.path,
            "name": self.outputs.workspace_name,
            "type": ML,
            "location": self.outputs.location,
            "kind": "Default",
            "properties": {
                "discoveryUrl": f"{self.api}/discovery",
                "mlFlowTrackingUri": self.outputs.mlflow_tracking_uri,
                "storageAccount": self.storage_id,
                "workspaceId": "4a1f0c1e-0000-4000-8000-000000000001",
                "systemDatastoresAuthMode": "Identity",
            },
        }

    def _put_job(self, call: Call):
        job = _resource(call, "jobs", (call.json() or {}).get("properties", {}))
        studio = f"https://ml.azure.com/runs/{job['name']}?wsid={self.path}"
        job["properties"].update(status="NotStarted", services={"Studio": {"endpoint": studio}})
        self.jobs[job["name"]] = job
        return 201, job

    def _get_job(self, call: Call):
        job = self.jobs.get(_name(call))
        if job is None:
            return 404, {"error": {"code": "UserError", "message": f"job {_name(call)} not found"}}
        job["properties"]["status"] = self.final_status
        return 200, job

    def _run_details(self, call: Call):
        failed = self.final_status != "Completed"
        return 200, {
            "runId": call.path.split("/")[-2],
            "status": self.final_status,
            "startTimeUtc": "2025-12-01T10:00:00Z",
            "endTimeUtc": "2025-12-01T10:20:00Z",
            "logFiles": {},
            "warnings": [],
            "error": {"error": {"code": "UserError", "message": "step gate failed"}} if failed else None,
        }

    def _model(self, call: Call, version: str) -> dict:
        name = call.path.split("/models/")[1].split("/")[0]
        tags = dict(self.models)[version]
        path = f"{self.path}/models/{name}/versions/{version}"
        return {"id": path, "name": version, "type": f"{ML}/models/versions", "properties": {
            "tags": tags, "modelType": "mlflow_model", "flavors": {"python_function": {"data": {"loader_module": "mlflow.sklearn"}}},
        }}

    def _get_model(self, call: Call):
        version = _name(call)
        if version not in dict(self.models):
            name = call.path.split("/models/")[1].split("/")[0]
            return 404, {"error": {"code": "UserError", "message": f"model {name}:{version} not found"}}
        return 200, self._model(call, version)

    def _data_key(self, call: Call) -> str:
        name, _versions, version = call.path.split("/data/")[1].split("/")
        return f"{name}:{version}"

    def _put_data(self, call: Call):
        asset = _resource(call, "data/versions", (call.json() or {}).get("properties", {}))
        self.data[self._data_key(call)] = asset
        return 201, asset

    def _get_data(self, call: Call):
        asset = self.data.get(self._data_key(call))
        if asset is None:
            return 404, {"error": {"code": "UserError", "message": f"data {self._data_key(call)} not found"}}
        return 200, asset

    def _head_blob(self, call: Call):
        if call.path not in self.blobs:
            return 404, None, {"x-ms-error-code": "BlobNotFound"}
        return 200, None, {f"x-ms-meta-{k}": v for k, v in self.blobs[call.path].items()} | {"Content-Length": "1"}

    def _put_blob(self, call: Call):
        metadata = {k[len("x-ms-meta-"):]: v for k, v in call.headers.items() if k.lower().startswith("x-ms-meta-")}
        self.blobs.setdefault(call.path, {}).update(metadata)
        status = 200 if call.query.get("comp") == "metadata" else 201
        return status, None, {"ETag": '"0x1"', "Last-Modified": "Mon, 01 Dec 2025 00:00:00 GMT"}


DISCOVERY_HOST = "eastus.api.azureml.ms"  # azure-ai-ml's default host for Azure ML's registry discovery


@dataclass
class RecordedRegistry:
    """The shared Azure ML registry as azure-ai-ml reaches it: Azure ML's registry discovery says where the
    registry lives, then its region's management front end answers for its assets. `models` and `environments`
    are the versions it holds, as "name:version"."""

    name: str
    models: set[str] = field(default_factory=set)
    environments: set[str] = field(default_factory=set)
    region: str = "westeurope"
    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str = "rg-mlops-shared-weu"

    @property
    def host(self) -> str:
        return f"{self.region}.api.azureml.ms"

    @property
    def path(self) -> str:
        return (f"/mferp/managementfrontend/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/registries/{self.name}")  # fmt: skip

    def install(self, wire: AzureWire) -> RecordedRegistry:
        wire.route("GET", re.escape(f"{DISCOVERY_HOST}/registrymanagement/v1.0/registries/{self.name}/discovery"), {
            "registryName": self.name, "tenantId": "11111111-1111-1111-1111-111111111111",
            "primaryRegion": self.region, "regions": [self.region], "subscriptionId": self.subscription_id,
            "resourceGroup": self.resource_group, "primaryRegionResourceProviderUri": f"https://{self.host}/",
        })  # fmt: skip
        wire.route("GET", re.escape(self.host + self.path) + "/(models|environments)/[^/]+/versions/[^/]+", self._get)
        return self

    def _get(self, call: Call):
        kind, name, _versions, version = call.path.removeprefix(self.path + "/").split("/")
        if f"{name}:{version}" not in (self.models if kind == "models" else self.environments):
            return 404, {"error": {"code": "UserError", "message": f"{kind[:-1]} {name}:{version} not found"}}
        properties = (
            {"modelType": "mlflow_model", "modelUri": f"https://{self.name}.blob.core.windows.net/models/{name}/{version}",
             "flavors": {"python_function": {"data": {"loader_module": "mlflow.sklearn"}}}}
            if kind == "models"
            else {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", "osType": "Linux"}
        )
        asset_id = f"azureml://registries/{self.name}/{kind}/{name}/versions/{version}"  # a registry asset's id
        return 200, {"id": asset_id, "name": version, "type": f"Microsoft.MachineLearningServices/registries/{kind}/versions",
                     "properties": properties}  # fmt: skip
