"""After a retrain job is submitted: start `train.yml` in GitHub with that job, so its completion opens the promotion PR.

The function submits the training pipeline to Azure ML itself (training never waits for GitHub). When the stack
configures `retrainTrigger.promotion`, it then calls GitHub's "create a workflow dispatch event" for the workflow
(default `train.yml` on `main`) with the inputs `stack`, `job` and `alert_id`; `train.yml` adopts the job
(`python -m mlops pipeline run --adopt JOB`: waits for its end, checks it Completed and registered a model), shares
the model into the shared registry and opens the 10% canary PR on staging, as for any training it runs.

The GitHub token is a Key Vault secret of the stack (`MLOPS_PROMOTION_TOKEN_URL`), read at dispatch time as the
app's identity, which holds Key Vault Secrets User on that one secret. It needs only Actions write on this
repository (a fine-grained token or GitHub App: "Create a workflow dispatch event" requires the "Actions"
repository permission, write); unlike `repository_dispatch`, which needs Contents write, it cannot push code.

A dispatch that fails (GitHub down, a revoked token) never undoes or fails the submission: it is logged and counted
(`DISPATCH_FAILURES_METRIC`), and the job runs to its end; `train.yml` run by hand with the job name (in the log
line) opens the PR later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

GITHUB_API = "https://api.github.com"
GITHUB_API_VERSION = "2022-11-28"  # the REST API version header GitHub documents
ENV = {
    "repository": "MLOPS_PROMOTION_REPOSITORY",
    "workflow": "MLOPS_PROMOTION_WORKFLOW",
    "ref": "MLOPS_PROMOTION_REF",
    "token_url": "MLOPS_PROMOTION_TOKEN_URL",
}


class DispatchError(RuntimeError):
    """GitHub did not accept the workflow dispatch (or the token could not be read)."""


@dataclass(frozen=True)
class PromotionDispatch:
    repository: str  # owner/name
    workflow: str  # the workflow file name (train.yml) or id
    ref: str  # the branch the workflow runs from
    token_url: str  # https://<vault>.vault.azure.net/secrets/<name>

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PromotionDispatch | None:
        """The dispatch the app settings configure, or None when the stack sets no `retrainTrigger.promotion`."""
        values = {field: env.get(name, "") for field, name in ENV.items()}
        if not any(values.values()):
            return None
        missing = [ENV[field] for field, value in values.items() if not value]
        if missing:
            raise RuntimeError(f"app settings missing: {', '.join(missing)}")
        return cls(**values)

    @property
    def url(self) -> str:
        return f"{GITHUB_API}/repos/{self.repository}/actions/workflows/{self.workflow}/dispatches"

    def body(self, stack: str, job: str, alert_id: str) -> dict[str, Any]:
        """The dispatch request: the ref and train.yml's workflow_dispatch inputs (all strings)."""
        return {"ref": self.ref, "inputs": {"stack": stack, "job": job, "alert_id": alert_id}}


def read_token(token_url: str, credential: Any, transport: Any = None) -> str:
    """The GitHub token from its Key Vault secret URL (latest version), as `credential`."""
    from azure.keyvault.secrets import SecretClient

    parts = urlsplit(token_url)
    name = parts.path.strip("/").split("/")[1]
    client = SecretClient(f"{parts.scheme}://{parts.netloc}", credential, **({"transport": transport} if transport else {}))
    return client.get_secret(name).value or ""


def dispatch(settings: PromotionDispatch, stack: str, job: str, alert_id: str, credential: Any, transport: Any = None) -> None:
    """Start the workflow for the submitted job; DispatchError naming GitHub's answer unless it is a success (204 No
    Content, or 200 where the caller asked GitHub for the run's details)."""
    from azure.core import PipelineClient
    from azure.core.exceptions import AzureError
    from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy
    from azure.core.rest import HttpRequest

    try:
        token = read_token(settings.token_url, credential, transport)
    except AzureError as exc:
        raise DispatchError(f"cannot read the GitHub token {settings.token_url}: {type(exc).__name__}: {exc}") from None
    headers = HeadersPolicy({
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": GITHUB_API_VERSION,
    })  # fmt: skip
    # Retried on 408/429/5xx and connection errors (azure-core's defaults); 4xx answers are final.
    client = PipelineClient(GITHUB_API, policies=[headers, RetryPolicy(retry_total=3)], **({"transport": transport} if transport else {}))
    request = HttpRequest("POST", settings.url, content=json.dumps(settings.body(stack, job, alert_id)),
                          headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with client:
            response = client.send_request(request)
    except AzureError as exc:
        raise DispatchError(f"GitHub unreachable: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        message = response.text()[:300].replace("\n", " ")
        raise DispatchError(f"GitHub answered {response.status_code} to the dispatch of {settings.workflow}: {message}")
