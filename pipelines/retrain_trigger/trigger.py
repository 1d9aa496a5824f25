"""The retrain trigger's logic: a drift or performance alert (Azure Monitor common alert schema) submits the
training pipeline of this stack once per incident.

- Malformed payloads are answered 400 with the reason (413 above `MAX_ALERT_BYTES`; size and nesting depth are
  checked before parsing); resolved alerts 200 "ignored".
- Only the retraining rules retrain (`MLOPS_RETRAIN_RULES`: the stack's drift and quality log alerts); the
  action group also carries the operational alerts (latency, CPU, ...), which are answered 200 "ignored".
- Cool-down: an alert id is claimed once (a re-notification of the same incident never retrains again), and the
  stack is claimed for `cooldown` (a log alert that fires again within the window, or the quality alert firing
  beside the drift alert on the same degradation, does not retrain again). Claims live in a `ClaimStore`: blobs in the function's own storage in Azure (identity auth, atomic
  with conditional writes), a file or memory in tests. Claim keys are hashes of the full alert id and of the
  stack and rule, so two ids never share a claim.
- A claim is kept only when a submission succeeded: an alert ignored for the rule's cool-down, a failed
  submission (503, so the action group's retry can try again) or an invocation cancelled meanwhile releases
  what it claimed.

The deployed Function App package (`python -m pipelines.retrain_trigger.package`) is this folder's `function_app.py`,
`host.json` and `requirements.txt` at its root plus the project modules the function and the pipeline steps import
(none of `components/`, the CLI or pulumi): the job is `pipelines.aml.build_pipeline`, from the stack outputs and
training config that the component writes into the app settings.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pipelines.json_limits import JsonLimitError, loads_bounded

COMMON_ALERT_SCHEMA = "azureMonitorCommonAlertSchema"
CONDITIONS = ("Fired", "Resolved")
INCIDENT_MEMORY = timedelta(days=30)
DEFAULT_COOLDOWN_MINUTES = 360
MAX_ALERT_BYTES = 1024 * 1024  # a common-schema payload is a few KiB; log alerts with results stay well below
MAX_ALERT_DEPTH = 32  # alertContext nests about eight levels
RETRAIN_RULES_ENV = "MLOPS_RETRAIN_RULES"

log = logging.getLogger("mlops.retrain")


class AlertError(ValueError):
    """The payload is not a usable common-alert-schema alert: answered with `status` (400, or 413 too large)."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Alert:
    alert_id: str
    rule: str
    condition: str
    severity: str
    fired_at: str


def parse_alert(body: bytes) -> Alert:
    """The essentials of a common-alert-schema payload; AlertError naming what is wrong."""
    try:
        payload = loads_bounded(body, MAX_ALERT_BYTES, MAX_ALERT_DEPTH)
    except JsonLimitError as exc:
        raise AlertError(exc.reason, exc.status) from None
    if not isinstance(payload, dict) or payload.get("schemaId") != COMMON_ALERT_SCHEMA:
        raise AlertError(f"schemaId must be '{COMMON_ALERT_SCHEMA}' (enable the common alert schema on the action)")
    essentials = (payload.get("data") or {}).get("essentials") if isinstance(payload.get("data"), dict) else None
    if not isinstance(essentials, dict):
        raise AlertError("data.essentials is missing")
    for key in ("alertId", "alertRule", "monitorCondition"):
        if not isinstance(essentials.get(key), str) or not essentials[key].strip():
            raise AlertError(f"data.essentials.{key} is missing, blank or not a string")
    if essentials["monitorCondition"] not in CONDITIONS:
        raise AlertError(f"data.essentials.monitorCondition must be Fired or Resolved, got {essentials['monitorCondition']!r}")
    return Alert(
        alert_id=essentials["alertId"],
        rule=essentials["alertRule"],
        condition=essentials["monitorCondition"],
        severity=str(essentials.get("severity", "")),
        fired_at=str(essentials.get("firedDateTime", "")),
    )


# --- claims ----------------------------------------------------------------------------------------------------


class ClaimStore(Protocol):
    def claim(self, key: str, until: datetime, now: datetime) -> bool:
        """Atomically record `key` until `until` unless an unexpired claim exists; True when this call got it."""

    def release(self, key: str) -> None:
        """Forget a claim (after a failed submission)."""


class MemoryStore:
    def __init__(self) -> None:
        self.claims: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, until: datetime, now: datetime) -> bool:
        with self._lock:
            if key in self.claims and self.claims[key] > now:
                return False
            self.claims[key] = until
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self.claims.pop(key, None)


class FileStore:
    """Claims in one JSON file, serialised across processes with an exclusive file lock."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(exist_ok=True)

    def _update(self, change: Callable[[dict[str, str]], bool]) -> bool:
        with self.path.open("r+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            claims = json.loads(handle.read() or "{}")
            changed = change(claims)
            if changed:
                handle.seek(0), handle.truncate(), handle.write(json.dumps(claims, indent=1))
            return changed

    def claim(self, key: str, until: datetime, now: datetime) -> bool:
        def take(claims: dict[str, str]) -> bool:
            if key in claims and datetime.fromisoformat(claims[key]) > now:
                return False
            claims[key] = until.isoformat()
            return True

        return self._update(take)

    def release(self, key: str) -> None:
        self._update(lambda claims: claims.pop(key, None) is not None)


class BlobStore:
    """Claims as blobs (one per key, holding the expiry) in a container, with the function's managed identity.
    Creation uses if-none-match and takeover of an expired claim uses if-match, so two instances never both win."""

    def __init__(self, container_url: str):
        from azure.identity import DefaultAzureCredential
        from azure.storage.blob import ContainerClient

        self.container = ContainerClient.from_container_url(container_url, credential=DefaultAzureCredential())

    def claim(self, key: str, until: datetime, now: datetime) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        blob = self.container.get_blob_client(key)
        try:
            blob.upload_blob(until.isoformat(), overwrite=False)
            return True
        except ResourceExistsError:
            pass
        current = blob.download_blob()
        if datetime.fromisoformat(current.readall().decode()) > now:
            return False
        try:
            blob.upload_blob(
                until.isoformat(), overwrite=True, etag=current.properties.etag, match_condition=MatchConditions.IfNotModified
            )
            return True
        except ResourceModifiedError:
            return False

    def release(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self.container.delete_blob(key)


# --- settings and submission -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggerSettings:
    """App settings the component sets on the Function App."""

    stack: str
    subscription_id: str
    resource_group: str
    workspace_name: str
    cooldown: timedelta
    state_container_url: str = ""  # blob container for claims; empty: MLOPS_STATE_FILE or memory
    retrain_rules: frozenset[str] = frozenset()  # the alert rules that retrain; empty: every rule

    ENV: ClassVar[dict[str, str]] = {
        "stack": "MLOPS_STACK",
        "subscription_id": "AZURE_SUBSCRIPTION_ID",
        "resource_group": "AZURE_RESOURCE_GROUP",
        "workspace_name": "AZUREML_WORKSPACE_NAME",
    }

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ = os.environ) -> TriggerSettings:
        missing = [name for name in cls.ENV.values() if not env.get(name)]
        if missing:
            raise RuntimeError(f"app settings missing: {', '.join(missing)}")
        return cls(
            **{field: env[name] for field, name in cls.ENV.items()},
            cooldown=timedelta(minutes=int(env.get("MLOPS_RETRAIN_COOLDOWN_MINUTES", DEFAULT_COOLDOWN_MINUTES))),
            state_container_url=env.get("MLOPS_STATE_CONTAINER_URL", ""),
            retrain_rules=frozenset(filter(None, env.get(RETRAIN_RULES_ENV, "").split(","))),
        )

    def store(self) -> ClaimStore:
        if self.state_container_url:
            return BlobStore(self.state_container_url)
        state_file = os.environ.get("MLOPS_STATE_FILE")
        return FileStore(Path(state_file)) if state_file else MemoryStore()


def training_job(stack: str, env: Mapping[str, str] = os.environ, code: Path | None = None) -> Any:
    """The pipelines package's training pipeline for this stack (`pipelines.aml.build_pipeline`), from the stack
    outputs and training config the component writes into the app settings (the function cannot read the stack);
    `code` is the job's code snapshot (default: the project root the function runs from)."""
    from core.outputs import StackOutputs
    from core.paths import ROOT_DIR
    from core.sections import TrainingConfig
    from pipelines.aml import build_pipeline
    from pipelines.steps import pipeline_parameters

    secret = {"applicationInsightsConnectionString": env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "")}
    outputs = StackOutputs.model_validate({**json.loads(env["MLOPS_STACK_OUTPUTS"]), **secret})
    training = TrainingConfig.model_validate_json(env.get("MLOPS_TRAINING_CONFIG") or "{}")
    parameters = pipeline_parameters(stack, training, env.get("MLOPS_SOURCE_COMMIT", "unknown"), outputs.live_model)
    return build_pipeline(outputs, parameters, code=code or ROOT_DIR)


def submit_training(client: Any, stack: str) -> str:
    """Submit the stack's training pipeline through `client.jobs.create_or_update`; returns the job name. The code
    snapshot is `pipelines.aml.code_snapshot()`, as for `pipeline run --submit`: the app's wwwroot as it is (its
    `.amlignore` keeps the installed packages out), or in a checkout the files git would commit."""
    from pipelines.aml import code_snapshot

    with code_snapshot() as code:
        job = training_job(stack, code=code)
        return client.jobs.create_or_update(job, experiment_name=job.experiment_name).name


def workspace_client(settings: TriggerSettings) -> Any:
    """MLClient on the stack's workspace, as the Function App's managed identity (AzureML Data Scientist)."""
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    return MLClient(DefaultAzureCredential(), settings.subscription_id, settings.resource_group, settings.workspace_name)


# --- the handler -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]


def handle_alert(
    body: bytes,
    settings: TriggerSettings,
    store: ClaimStore,
    submit: Callable[[str], str],
    now: datetime | None = None,
) -> Outcome:
    """Validate, deduplicate and submit; every answer says what happened and why."""
    now = now or datetime.now(UTC)
    try:
        alert = parse_alert(body)
    except AlertError as exc:
        return _outcome(exc.status, {"error": str(exc)})
    about = {"alert_id": alert.alert_id, "rule": alert.rule, "stack": settings.stack}
    if alert.condition == "Resolved":
        return _outcome(200, {"action": "ignored", "reason": "the alert is resolved", **about})
    if settings.retrain_rules and alert.rule not in settings.retrain_rules:
        return _outcome(200, {"action": "ignored", "reason": f"not a retraining rule ({RETRAIN_RULES_ENV})", **about})
    incident, window = claim_keys(alert, settings.stack)
    if not store.claim(incident, now + INCIDENT_MEMORY, now):
        return _outcome(200, {"action": "ignored", "reason": "this incident already triggered a retrain", **about})
    claimed = [incident]
    try:  # whatever happens before a job is submitted (cool-down, failure, cancellation) frees what was claimed
        if not store.claim(window, now + settings.cooldown, now):
            minutes = int(settings.cooldown.total_seconds() // 60)
            reason = f"cool-down: this stack retrained less than {minutes} minutes ago"
            return _outcome(200, {"action": "ignored", "reason": reason, **about})
        claimed.append(window)
        try:
            job = submit(settings.stack)
        except Exception as exc:
            log.exception("retrain submission failed")
            return _outcome(503, {"error": f"submission failed: {type(exc).__name__}: {exc}", **about})
        claimed.clear()  # submitted: the claims stand
        return _outcome(202, {"action": "submitted", "job": job, **about})
    finally:
        for key in claimed:
            store.release(key)


def claim_keys(alert: Alert, stack: str) -> tuple[str, str]:
    """The incident's and the stack's claim keys: sha256 of the full alert id, and of the stack (no two ids share a
    key, whatever their length or characters; hex is a valid blob name)."""
    return f"alert/{_digest(alert.alert_id)}", f"stack/{_digest(stack)}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _outcome(status: int, body: dict[str, Any]) -> Outcome:
    log.info(json.dumps({"event": "retrain_trigger", "status": status, **body}))
    return Outcome(status, body)
