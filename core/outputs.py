"""The stack-outputs contracts: every output name in one place, typed (environment stacks and the shared stack).

The program exports exactly these keys; pipelines, the CLI and workflows read them through
`StackOutputs` (from `pulumi stack output --json --show-secrets` or from the offline mock run), so no
other code repeats a resource name.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel


class ContainerUrls(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    raw: str
    curated: str
    features: str
    predictions: str
    labels: str
    monitoring: str


class _Contract(BaseModel):
    """Field names are the Python names; aliases (camelCase) are the exported output keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    @classmethod
    def output_keys(cls) -> list[str]:
        return [field.alias for field in cls.model_fields.values()]

    @classmethod
    def secret_keys(cls) -> set[str]:
        return {
            field.alias
            for field in cls.model_fields.values()
            if (field.json_schema_extra or {}).get("secret")  # type: ignore[union-attr]
        }

    @classmethod
    def secret_fields(cls) -> set[str]:
        return {name for name, field in cls.model_fields.items() if field.alias in cls.secret_keys()}

    @classmethod
    def from_stack_output_json(cls, text: str):
        """Parse `pulumi stack output --json --show-secrets`."""
        return cls.model_validate(json.loads(text))


class SharedOutputs(_Contract):
    """The `shared` stack's outputs: the Azure ML registry and the ids its private endpoints need."""

    resource_group_name: str
    location: str
    registry_name: str
    registry_id: str
    registry_storage_account_id: str  # system-created, in the registry's managed resource group
    registry_container_registry_id: str

    @classmethod
    def reference(cls, reference: Any) -> _Outputs:
        """The outputs of a `pulumi.StackReference` to the shared stack, as attributes (Outputs) by field name."""
        return _Outputs({name: reference.require_output(field.alias) for name, field in cls.model_fields.items()})


class _Outputs:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)


class StackOutputs(_Contract):
    """An environment stack's outputs, read by pipelines and workflows."""

    environment: str
    resource_group_name: str
    location: str
    workspace_id: str
    workspace_name: str
    workspace_storage_account_name: str
    compute_name: str
    storage_account_name: str
    container_urls: ContainerUrls
    key_vault_uri: str
    registry_login_server: str
    ml_registry_name: str
    log_analytics_workspace_id: str
    application_insights_connection_string: SecretStr = Field(json_schema_extra={"secret": True})
    mlflow_tracking_uri: str
    online_endpoint_name: str
    scoring_uri: str
    batch_endpoint_name: str
    eventhubs_namespace_fqdn: str
    event_hub_names: list[str]
    iot_hub_hostname: str
    runner_label: str | None  # the label of the environment's self-hosted runners; None: GitHub-hosted (public)
    action_group_id: str
    retrain_function_name: str  # the Function App function.yml deploys the retrain code to
    live_model: str | None  # NAME:VERSION serving the most traffic (serving config), the gate's baseline; None: none yet


def contract_keys(values: dict[str, Any]) -> dict[str, Any]:
    """Python field names -> the exported (camelCase) output keys of the environment contract."""
    return {StackOutputs.model_fields[name].alias: value for name, value in values.items()}


def training_data_asset(model: str) -> str:
    """The Azure ML data asset (and MLflow dataset) name under which a model's training data is versioned."""
    return f"{model}-training-data"
