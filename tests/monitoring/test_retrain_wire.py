"""The retrain function at the HTTP wire: its claims in the blob container the component configures
(`MLOPS_STATE_CONTAINER_URL`, conditional requests) and the training pipeline it submits with azure-ai-ml, both as
the app's identity, answered by recorded Entra ID, ARM, Azure ML and Blob Storage responses (tests/azure/)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.utils import formatdate

import pytest
from azure.core.pipeline.transport import RequestsTransport

from mlops.outputs import load_outputs
from pipelines.aml import experiment_name
from pipelines.retrain_trigger import function_app
from pipelines.retrain_trigger.trigger import claim_keys, parse_alert
from tests.azure.wire import TENANT_ID, AzureWire, Call, token_for
from tests.azure.workspace import RecordedWorkspace
from tests.monitoring.test_retrain_trigger import alert

STATE_HOST = "stmlopsfndevweu.blob.core.windows.net"
STATE_CONTAINER = f"https://{STATE_HOST}/retrain-state"


@dataclass
class ClaimContainer:
    """A blob container as Blob Storage answers conditional uploads: `If-None-Match: *` fails with 409 on an
    existing blob, `If-Match` with 412 on a changed one."""

    blobs: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path -> (content, etag)
    versions: int = 0

    def install(self, wire: AzureWire) -> ClaimContainer:
        blob = re.escape(STATE_HOST) + "/retrain-state/.+"
        wire.route("PUT", blob, self._put)
        wire.route("GET", blob, self._get)
        wire.route("DELETE", blob, self._delete)
        return self

    def _headers(self, etag: str) -> dict[str, str]:
        return {"ETag": etag, "Last-Modified": formatdate(usegmt=True), "x-ms-blob-type": "BlockBlob"}

    def _put(self, call: Call):
        current = self.blobs.get(call.path)
        if call.headers.get("If-None-Match") == "*" and current:
            return 409, {"error": "BlobAlreadyExists"}, {"x-ms-error-code": "BlobAlreadyExists"}
        if "If-Match" in call.headers and (not current or current[1] != call.headers["If-Match"]):
            return 412, {"error": "ConditionNotMet"}, {"x-ms-error-code": "ConditionNotMet"}
        self.versions += 1
        etag = f'"0x{self.versions}"'
        self.blobs[call.path] = (call.body if isinstance(call.body, bytes) else str(call.body).encode(), etag)
        return 201, None, self._headers(etag)

    def _get(self, call: Call):
        if call.path not in self.blobs:
            return 404, None, {"x-ms-error-code": "BlobNotFound"}
        content, etag = self.blobs[call.path]
        return 206, content, self._headers(etag) | {
            "Content-Type": "application/octet-stream", "Content-Range": f"bytes 0-{len(content) - 1}/{len(content)}"
        }

    def _delete(self, call: Call):
        if self.blobs.pop(call.path, None) is None:
            return 404, None, {"x-ms-error-code": "BlobNotFound"}
        return 202, None


@pytest.fixture
def app(azure, monkeypatch):
    """dev's Function App settings as the component writes them, with claims in the state container."""
    outputs = load_outputs("dev")
    subscription, group = re.match(r"/subscriptions/([^/]+)/resourceGroups/([^/]+)/", outputs.workspace_id).groups()
    settings = {
        "MLOPS_STACK": "dev",
        "AZURE_SUBSCRIPTION_ID": subscription,
        "AZURE_RESOURCE_GROUP": group,
        "AZUREML_WORKSPACE_NAME": outputs.workspace_name,
        "MLOPS_RETRAIN_COOLDOWN_MINUTES": "60",
        "MLOPS_STATE_CONTAINER_URL": STATE_CONTAINER,
        "MLOPS_STACK_OUTPUTS": outputs.model_dump_json(by_alias=True, exclude={"application_insights_connection_string"}),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    for name in ("MLOPS_STATE_FILE", "APPLICATIONINSIGHTS_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    function_app._runtime.cache_clear()
    yield outputs, RecordedWorkspace(outputs).install(azure), ClaimContainer().install(azure)
    function_app._runtime.cache_clear()


def fired() -> bytes:
    return json.dumps(alert()).encode()


def claim_paths(body: bytes) -> set[str]:
    return {f"/retrain-state/{key}" for key in claim_keys(parse_alert(body), "dev")}


def test_a_fired_alert_claims_its_blobs_and_submits_the_pipeline_as_the_apps_identity(app, azure):
    outputs, workspace, claims = app
    outcome = function_app.process(fired())
    assert (outcome.status, outcome.body["action"]) == (202, "submitted") and azure.unrouted == []
    [job] = workspace.jobs
    assert outcome.body["job"] == job

    [put] = [c for c in azure.requests_to("management.azure.com") if c.method == "PUT" and "/jobs/" in c.path]
    assert put.path == f"{outputs.workspace_id}/jobs/{job}" and put.api_version
    assert put.bearer == token_for("https://management.azure.com")
    properties = put.json()["properties"]
    assert (properties["jobType"], properties["experimentName"]) == ("Pipeline", experiment_name("dev"))
    assert properties["computeId"].endswith(f"/computes/{outputs.compute_name}")
    assert list(properties["jobs"]) == ["gather", "validate", "prep", "train", "evaluate", "gate", "register"]
    uploaded = {path.split("/", 3)[-1] for path in workspace.blobs}  # /<container>/<snapshot folder>/<file>
    assert "pipelines/steps/train.py" in uploaded and not any(".venv/" in p for p in uploaded)

    uploads = [c for c in azure.requests_to(STATE_HOST) if c.method == "PUT"]
    assert {c.path for c in uploads} == set(claims.blobs) == claim_paths(fired())
    assert all(c.headers["If-None-Match"] == "*" for c in uploads)  # created only if no one holds the claim
    assert {c.bearer for c in uploads} == {token_for("https://storage.azure.com")}  # identity, no key or SAS


def test_the_same_incident_again_reads_the_held_claim_and_submits_nothing(app, azure):
    _outputs, workspace, _claims = app
    assert function_app.process(fired()).status == 202
    before = len(azure.calls)
    outcome = function_app.process(fired())
    assert (outcome.status, outcome.body["reason"]) == (200, "this incident already triggered a retrain")
    again = [(c.method, c.path) for c in azure.calls[before:] if c.host == STATE_HOST]
    [incident] = sorted(claim_paths(fired()))[:1]  # alert/<sha256>
    assert again == [("PUT", incident), ("GET", incident)]  # 409, then the claim's expiry is read: still held
    assert len(workspace.jobs) == 1 and not [c for c in azure.calls[before:] if c.host == "management.azure.com"]


def test_a_refused_submission_deletes_both_claims_so_the_retry_can_submit(app, azure):
    _outputs, workspace, claims = app
    refused = {"error": {"code": "UserError", "message": "compute cluster cpu-cluster is being deleted"}}
    azure.route("PUT", re.escape("management.azure.com" + workspace.path) + "/jobs/[^/]+", refused, status=400)
    outcome = function_app.process(fired())
    assert outcome.status == 503 and "compute cluster cpu-cluster is being deleted" in outcome.body["error"]
    deleted = {c.path for c in azure.requests_to(STATE_HOST) if c.method == "DELETE"}
    assert deleted == claim_paths(fired()) and claims.blobs == {}


def test_an_expired_claim_is_taken_over_only_if_nobody_changed_it_first(app, azure):
    _outputs, workspace, claims = app
    incident = sorted(claim_paths(fired()))[0]  # alert/<sha256>
    claims.blobs[incident] = (b"2020-01-01T00:00:00+00:00", '"0xold"')  # a claim that expired long ago
    assert function_app.process(fired()).status == 202 and len(workspace.jobs) == 1
    takeover = [c for c in azure.requests_to(STATE_HOST) if c.path == incident and c.method == "PUT"]
    assert [c.headers.get("If-None-Match") for c in takeover] == ["*", None]
    assert takeover[1].headers["If-Match"] == '"0xold"'  # overwritten only while it still is the expired claim

    claims.blobs[incident] = (b"2020-01-01T00:00:00+00:00", '"0xold"')

    def read_then_lose_the_race(call: Call):
        answer = claims._get(call)  # we read the expired claim...
        claims.blobs[incident] = (b"2099-01-01T00:00:00+00:00", '"0xtheirs"')  # ...and another instance takes it over
        return answer

    azure.route("GET", re.escape(STATE_HOST) + "/retrain-state/alert/.+", read_then_lose_the_race)
    before = len(azure.calls)
    outcome = function_app.process(fired())
    [*_, lost] = [c for c in azure.calls[before:] if c.path == incident and c.method == "PUT"]
    assert lost.headers["If-Match"] == '"0xold"' and claims.blobs[incident][1] == '"0xtheirs"'  # theirs stands
    assert (outcome.status, outcome.body["reason"]) == (200, "this incident already triggered a retrain")
    assert len(workspace.jobs) == 1  # our If-Match write failed (412): nothing is submitted twice


# --- the promotion workflow, dispatched after a submission ---------------------------------------------------------

VAULT = "https://kv-mlops-dev-weu.vault.azure.net"
TOKEN_URL = f"{VAULT}/secrets/github-promotion-token"
GITHUB_TOKEN = "github_pat_offline"  # what the stack wrote into the secret
DISPATCHES = "/repos/example-org/mlops-platform/actions/workflows/train.yml/dispatches"


def vault_secret(call: Call):
    """Key Vault as azure-keyvault-secrets meets it: an unauthenticated first request gets the challenge naming the
    tenant and resource; the retry with a vault token gets the secret's latest version."""
    if call.bearer is None:
        challenge = f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", resource="https://vault.azure.net"'
        return 401, {"error": {"code": "Unauthorized"}}, {"WWW-Authenticate": challenge}
    return 200, {"value": GITHUB_TOKEN, "id": f"{TOKEN_URL}/0123456789abcdef", "attributes": {"enabled": True}}


@pytest.fixture
def promoting(app, azure, monkeypatch):
    """dev's app settings with `retrainTrigger.promotion` configured, as the component writes them."""
    for name, value in {
        "MLOPS_PROMOTION_REPOSITORY": "example-org/mlops-platform",
        "MLOPS_PROMOTION_WORKFLOW": "train.yml",
        "MLOPS_PROMOTION_REF": "main",
        "MLOPS_PROMOTION_TOKEN_URL": TOKEN_URL,
    }.items():
        monkeypatch.setenv(name, value)
    function_app._runtime.cache_clear()
    azure.route("GET", re.escape("kv-mlops-dev-weu.vault.azure.net/secrets/github-promotion-token") + "/?", vault_secret)
    return app


def test_a_submitted_job_dispatches_train_yml_with_the_job_using_the_token_from_key_vault(promoting, azure):
    _outputs, workspace, _claims = promoting
    azure.route("POST", re.escape("api.github.com" + DISPATCHES), lambda call: (204, None))
    outcome = function_app.process(fired())
    [job] = workspace.jobs
    assert outcome.status == 202 and outcome.body["promotion"] == "dispatched train.yml in example-org/mlops-platform"
    reads = azure.requests_to("kv-mlops-dev-weu.vault.azure.net")
    assert [c.bearer for c in reads] == [None, token_for("https://vault.azure.net")]  # challenge, then the app's identity
    [post] = azure.requests_to("api.github.com")
    assert post.path == DISPATCHES and post.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert post.headers["X-GitHub-Api-Version"] == "2022-11-28" and post.headers["Accept"] == "application/vnd.github+json"
    assert post.json() == {"ref": "main", "inputs": {"stack": "dev", "job": job, "alert_id": alert()["data"]["essentials"]["alertId"]}}
    assert azure.unrouted == []


@pytest.mark.parametrize(
    ("status", "why"), [(401, "GitHub answered 401"), (422, "GitHub answered 422"), (503, "GitHub answered 503")]
)
def test_a_failed_dispatch_keeps_the_submission_and_says_why(promoting, azure, caplog, monkeypatch, status, why):
    _outputs, workspace, claims = promoting
    slept: list[float] = []
    monkeypatch.setattr(RequestsTransport, "sleep", lambda _self, seconds: slept.append(seconds))  # back-off, not slept
    azure.route("POST", re.escape("api.github.com" + DISPATCHES), lambda call: (status, {"message": "Bad credentials"}))
    outcome = function_app.process(fired())
    assert outcome.status == 202 and outcome.body["action"] == "submitted" and len(workspace.jobs) == 1
    assert outcome.body["promotion"].startswith(f"not dispatched: {why}")
    assert set(claims.blobs) == claim_paths(fired())  # the claims stand: the same alert never submits twice
    posts = azure.requests_to("api.github.com")
    assert len(posts) == (4 if status == 503 else 1)  # 5xx is retried 3 times, 4xx is final
    assert bool(slept) == (status == 503) and slept == sorted(slept)  # with growing back-off (azure-core's retry)
    [warning] = [json.loads(r.message) for r in caplog.records if "retrain_promotion_not_dispatched" in r.message]
    assert warning["job"] == outcome.body["job"] and why in warning["error"]


def test_without_promotion_settings_nothing_is_dispatched(app, azure):
    outcome = function_app.process(fired())
    assert outcome.status == 202 and "promotion" not in outcome.body
    assert azure.requests_to("api.github.com") == [] and azure.requests_to("kv-mlops-dev-weu.vault.azure.net") == []
