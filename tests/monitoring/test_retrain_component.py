"""The RetrainTrigger component under Pulumi mocks (the project's PlatformMocks and Recorder): secure settings,
identity-based storage, the roles it needs, and the webhook URL as a secret."""

from __future__ import annotations

import json

import pulumi
import pytest
from pulumi.runtime import settings
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from components.context import PlatformContext, standard_tags
from components.naming import Naming
from components.retrain_trigger import RetrainTrigger, RetrainTriggerArgs
from mlops.mockrun import PlatformMocks, Recorder, Secret, StackRecord, _resolve
from stacks.config import PROJECT

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-mlops-dev-weu"
WORKSPACE_ID = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw-mlops-dev-weu"
INSIGHTS_ID = f"{RG}/providers/Microsoft.Insights/components/appi-mlops-dev-weu"
HOST_KEY = "host-default-key"


class KeyMocks(PlatformMocks):
    """PlatformMocks plus the host keys of a Function App (listWebAppHostKeys)."""

    def call(self, args):
        if args.token == "azure-native:web:listWebAppHostKeys":
            return {"masterKey": "master", "functionKeys": {"default": HOST_KEY}}
        return super().call(args)


@pytest.fixture(scope="module")
def record():
    mocks = KeyMocks()
    monitor = Recorder(mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=False, monitor=monitor)
    naming = Naming("mlops", "dev", "westeurope")
    ctx = PlatformContext(
        naming=naming, tags=standard_tags(naming, "ml-team", "cc-1"), location="westeurope",
        resource_group_name="rg-mlops-dev-weu", protect=False,
        diagnostics_workspace_id=f"{RG}/providers/Microsoft.OperationalInsights/workspaces/log-mlops-dev-weu",
    )  # fmt: skip
    component = RetrainTrigger(
        "retrain", ctx,
        RetrainTriggerArgs(
            workspace_id=WORKSPACE_ID, workspace_name="mlw-mlops-dev-weu", subscription_id=SUB,
            application_insights_id=INSIGHTS_ID, application_insights_connection_string=pulumi.Output.secret("InstrumentationKey=k"),
            stack_outputs={"environment": "dev", "workspaceName": pulumi.Output.from_input("mlw-mlops-dev-weu")},
            training={"nEstimators": 200},
        ),
    )  # fmt: skip
    try:
        _sync_await(wait_for_rpcs())
        outputs = {name: _resolve(getattr(component, name)) for name in RetrainTrigger.OUTPUTS}
    finally:
        settings.ROOT.set(None)
    return StackRecord("dev", monitor.recorded, outputs)


def test_function_app_is_hardened(record):
    app = record.one("azure-native:web:WebApp").inputs
    assert app["httpsOnly"] is True and app["identity"] == {"type": "SystemAssigned"}
    assert app["kind"] == "functionapp,linux"
    site = app["siteConfig"]
    assert (site["minTlsVersion"], site["scmMinTlsVersion"], site["ftpsState"]) == ("1.2", "1.2", "Disabled")
    assert app["functionAppConfig"]["deployment"]["storage"]["authentication"] == {"type": "SystemAssignedIdentity"}
    assert app["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    plan = record.one("azure-native:web:AppServicePlan").inputs
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan["reserved"] is True
    for policy in ("azure-native:web:WebAppFtpAllowed", "azure-native:web:WebAppScmAllowed"):
        assert record.one(policy).inputs["allow"] is False


def test_storage_and_insights_are_identity_based(record):
    settings_resource = record.one("azure-native:web:WebAppApplicationSettings")
    assert settings_resource.inputs["name"] == record.one("azure-native:web:WebApp").outputs["name"]
    assert isinstance(settings_resource.inputs["properties"], Secret)  # holds the connection string; siteConfig does not
    values = settings_resource.inputs["properties"].value
    assert values["AzureWebJobsStorage__accountName"] == "stmlopsfndevweu" + Naming("mlops", "dev", "westeurope").unique_suffix
    assert values["AzureWebJobsStorage__credential"] == "managedidentity"
    assert not any(key == "AzureWebJobsStorage" or "AccountKey=" in str(value) for key, value in values.items())
    assert values["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD"
    assert values["APPLICATIONINSIGHTS_CONNECTION_STRING"] == "InstrumentationKey=k"
    assert (values["MLOPS_STACK"], values["AZUREML_WORKSPACE_NAME"], values["MLOPS_RETRAIN_COOLDOWN_MINUTES"]) == ("dev", "mlw-mlops-dev-weu", "360")
    assert json.loads(values["MLOPS_STACK_OUTPUTS"]) == {"environment": "dev", "workspaceName": "mlw-mlops-dev-weu"}
    assert json.loads(values["MLOPS_TRAINING_CONFIG"]) == {"nEstimators": 200}
    account = record.one("azure-native:storage:StorageAccount").inputs
    assert account["allowSharedKeyAccess"] is False and account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False and account["enableHttpsTrafficOnly"] is True
    # private unless a stack relaxes it (dev, which has no VNet integration for the Flex plan)
    assert account["publicNetworkAccess"] == "Disabled" and account["networkRuleSet"]["defaultAction"] == "Deny"


def test_roles_are_scoped_to_what_the_function_uses(record):
    principal = record.outputs["principal_id"]
    roles = {
        (r.inputs["roleDefinitionId"].rsplit("/", 1)[1], r.inputs["scope"])
        for r in record.of_type("azure-native:authorization:RoleAssignment")
        if r.inputs["principalId"] == principal
    }
    storage_id = record.one("azure-native:storage:StorageAccount").outputs["id"]
    assert roles == {
        ("f6c7c914-8db3-469d-8ca1-694a8f32e121", WORKSPACE_ID),  # AzureML Data Scientist on the workspace
        ("ba92f5b4-2d11-453d-a403-e96b0029c9fe", storage_id),  # Storage Blob Data Contributor on its own storage
        ("3913510d-42f4-4e42-8a64-420c390055eb", INSIGHTS_ID),  # Monitoring Metrics Publisher on App Insights
    }


def test_outputs_webhook_url_as_secret_and_logs_to_log_analytics(record):
    app = record.one("azure-native:web:WebApp")
    url = record.outputs["webhook_url"]
    assert isinstance(url, Secret)
    assert url.value == f"https://{app.outputs['defaultHostName']}/api/retrain?code={HOST_KEY}"
    assert record.outputs["function_app_id"] == app.outputs["id"]
    targets = {d.inputs["resourceUri"] for d in record.of_type("azure-native:monitor:DiagnosticSetting")}
    account = record.one("azure-native:storage:StorageAccount")
    assert targets == {app.outputs["id"], account.outputs["id"] + "/blobServices/default"}


def test_every_child_is_parented_and_tagged(record):
    [component] = record.of_type("mlops:monitoring:RetrainTrigger")
    for resource in record.resources:
        if resource is not component:
            assert resource.parent == component.urn, resource.name
    for type_ in ("azure-native:web:WebApp", "azure-native:web:AppServicePlan", "azure-native:storage:StorageAccount"):
        assert record.one(type_).inputs["tags"]["managed-by"] == "pulumi"
