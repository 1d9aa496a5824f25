"""The RetrainTrigger component under the project's mocks, in a public and a private stack: what Flex Consumption
accepts, identity-only storage, the roles it needs, no secret read at plan time, private paths when private."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.retrain_trigger import PromotionDispatch, RetrainTrigger, RetrainTriggerArgs
from components.roles import BUILT_IN_ROLES
from core.azure_facts import FLEX_ACCEPTED_SITE_CONFIG, facts
from core.naming import Naming
from mlops.records import Secret
from policies.rules import resource_types as t
from tests.component_harness import RG, SUBNETS, run_component

WORKSPACE_ID = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw-mlops-dev-weu"
WORKSPACE_STORAGE_ID = f"{RG}/providers/Microsoft.Storage/storageAccounts/stmlopsmlwdevweu"
INSIGHTS_ID = f"{RG}/providers/Microsoft.Insights/components/appi-mlops-dev-weu"
ALERTS_HUB_ID = f"{RG}/providers/Microsoft.EventHub/namespaces/evhns-mlops-dev-weu/eventhubs/alerts"
ROLE_NAMES = {guid: role for role, guid in BUILT_IN_ROLES.items()}


PROMOTION = PromotionDispatch(
    repository="example-org/mlops-platform", workflow="train.yml", ref="main", token="github_pat_x",
    token_secret_name="github-promotion-token", vault_name="kv-mlops-dev-weu",
    vault_uri="https://kv-mlops-dev-weu.vault.azure.net/",
)  # fmt: skip


def build(ctx, promotion: PromotionDispatch | None = None):
    return RetrainTrigger(
        "retrain", ctx,
        RetrainTriggerArgs(
            workspace_id=WORKSPACE_ID, workspace_name="mlw-mlops-dev-weu", workspace_storage_id=WORKSPACE_STORAGE_ID,
            eventhubs_namespace_fqdn="evhns-mlops-dev-weu.servicebus.windows.net", alerts_hub_name="alerts",
            alerts_hub_id=ALERTS_HUB_ID, alerts_consumer_group="retrain", application_insights_id=INSIGHTS_ID,
            application_insights_connection_string=pulumi.Output.secret("InstrumentationKey=k"),
            stack_outputs={"environment": "dev", "workspaceName": pulumi.Output.from_input("mlw-mlops-dev-weu")},
            training={"nEstimators": 200}, cooldown_minutes=360, retrain_rules=["alrt-drift"], maximum_instance_count=40, instance_memory_mb=2048,
            python_version="3.11", storage_sku="Standard_ZRS", promotion=promotion,
        ),
    )  # fmt: skip


@pytest.fixture(scope="module", params=[False, True], ids=["public", "private"])
def record(request):
    return run_component(build, private=request.param)


@pytest.fixture(scope="module")
def private():
    return run_component(build, private=True)


def test_flex_app_sends_only_what_flex_accepts(record):
    app = record.one(t.WEB_APP).inputs
    assert app["httpsOnly"] is True and app["identity"] == {"type": "SystemAssigned"}
    assert app["kind"] == "functionapp,linux"
    # Only inbound settings Flex accepts; none of ftpsState, linuxFxVersion or the SDK-injected netFrameworkVersion,
    # http20Enabled, localMySqlEnabled (the component passes a dict, not SiteConfigArgs).
    site = app["siteConfig"]
    assert set(site) <= set(FLEX_ACCEPTED_SITE_CONFIG)
    assert not set(site) & set(facts("flex_consumption")["rejectedSiteConfig"]["keys"])
    assert site["remoteDebuggingEnabled"] is False and "cors" not in site
    config = app["functionAppConfig"]
    assert config["deployment"]["storage"]["authentication"] == {"type": "SystemAssignedIdentity"}
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["scaleAndConcurrency"] == {"maximumInstanceCount": 40, "instanceMemoryMB": 2048}
    plan = record.one(t.APP_SERVICE_PLAN).inputs
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan["reserved"] is True
    for policy in (t.FTP_PUBLISHING, t.SCM_PUBLISHING):
        assert record.one(policy).inputs["allow"] is False


def test_no_secret_is_read_at_plan_time(record):
    """Listing host keys fails when the host cannot start and needs rights a Reader lacks (previews)."""
    assert "azure-native:web:listWebAppHostKeys" not in record.calls
    assert record.calls == []


def test_settings_are_identity_based_and_wait_for_the_host_roles(record):
    settings_resource = record.one(t.WEB_APP_SETTINGS)
    assert settings_resource.inputs["name"] == record.one(t.WEB_APP).outputs["name"]
    assert isinstance(settings_resource.inputs["properties"], Secret)  # holds the connection string
    values = settings_resource.inputs["properties"].value
    assert values["AzureWebJobsStorage__accountName"] == "stmlopsfndevweu" + Naming("mlops", "dev", "westeurope").unique_suffix
    assert values["AzureWebJobsStorage__credential"] == "managedidentity"
    assert "FUNCTIONS_WORKER_RUNTIME" not in values  # Flex rejects it: the runtime is in functionAppConfig
    assert not any(key == "AzureWebJobsStorage" or "AccountKey=" in str(value) for key, value in values.items())
    assert values["AlertsEventHub__fullyQualifiedNamespace"] == "evhns-mlops-dev-weu.servicebus.windows.net"
    assert (values["MLOPS_ALERTS_HUB"], values["MLOPS_ALERTS_CONSUMER_GROUP"]) == ("alerts", "retrain")
    assert values["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD"
    assert json.loads(values["MLOPS_STACK_OUTPUTS"]) == {"environment": "dev", "workspaceName": "mlw-mlops-dev-weu"}
    host_roles = {r.urn for r in record.of_type(t.ROLE_ASSIGNMENT) if r.name.startswith("retrain-host-")}
    assert len(host_roles) == 2 and host_roles <= set(settings_resource.dependencies)


def test_roles_are_what_the_function_uses(record):
    principal = record.outputs["principal_id"]
    storage_id = record.one(t.STORAGE_ACCOUNT).outputs["id"]
    roles = {
        (ROLE_NAMES[r.inputs["roleDefinitionId"].rsplit("/", 1)[1]], r.inputs["scope"])
        for r in record.of_type(t.ROLE_ASSIGNMENT)
        if r.inputs["principalId"] == principal
    }
    assert roles == {
        ("Storage Blob Data Owner", storage_id),  # Functions host storage (functions-reference)
        ("Storage Table Data Contributor", storage_id),  # host diagnostic events
        ("AzureML Data Scientist", WORKSPACE_ID),
        ("Storage Blob Data Contributor", WORKSPACE_STORAGE_ID),  # code snapshots of the submitted pipeline
        ("Azure Event Hubs Data Receiver", ALERTS_HUB_ID),
        ("Monitoring Metrics Publisher", INSIGHTS_ID),
    }


def test_without_promotion_there_is_no_token_and_no_dispatch_setting(record):
    assert record.of_type(t.KEY_VAULT_SECRET) == []
    values = record.one(t.WEB_APP_SETTINGS).inputs["properties"].value
    assert not [key for key in values if key.startswith("MLOPS_PROMOTION_")]


def test_promotion_writes_the_token_secret_that_only_the_function_reads():
    record = run_component(lambda ctx: build(ctx, PROMOTION), private=True)
    [secret] = record.of_type(t.KEY_VAULT_SECRET)
    assert (secret.inputs["vaultName"], secret.inputs["secretName"]) == ("kv-mlops-dev-weu", "github-promotion-token")
    assert isinstance(secret.inputs["properties"], Secret) and secret.inputs["properties"].value["value"] == "github_pat_x"
    values = record.one(t.WEB_APP_SETTINGS).inputs["properties"].value
    assert {key: value for key, value in values.items() if key.startswith("MLOPS_PROMOTION_")} == {
        "MLOPS_PROMOTION_REPOSITORY": "example-org/mlops-platform",
        "MLOPS_PROMOTION_WORKFLOW": "train.yml",
        "MLOPS_PROMOTION_REF": "main",
        "MLOPS_PROMOTION_TOKEN_URL": "https://kv-mlops-dev-weu.vault.azure.net/secrets/github-promotion-token",
    }
    assert "github_pat_x" not in json.dumps(values)  # the token is only in the vault, never an app setting
    [read] = [r for r in record.of_type(t.ROLE_ASSIGNMENT) if r.name == "retrain-read-promotion-token"]
    assert ROLE_NAMES[read.inputs["roleDefinitionId"].rsplit("/", 1)[1]] == "Key Vault Secrets User"
    assert read.inputs["scope"] == secret.outputs["id"] and read.inputs["principalId"] == record.outputs["principal_id"]


def test_public_stack_keeps_everything_public_without_vnet(request):
    record = run_component(build, private=False)
    app = record.one(t.WEB_APP).inputs
    assert app["publicNetworkAccess"] == "Enabled" and "virtualNetworkSubnetId" not in app
    # Public, but the app itself denies every request (no rule allows anything); only its deployment (SCM) site,
    # Entra ID only, takes the GitHub-hosted runners' code deploys.
    assert app["siteConfig"] == {"remoteDebuggingEnabled": False, "ipSecurityRestrictionsDefaultAction": "Deny",
                                 "scmIpSecurityRestrictionsUseMain": False, "scmIpSecurityRestrictionsDefaultAction": "Allow"}  # fmt: skip
    assert record.one(t.STORAGE_ACCOUNT).inputs["publicNetworkAccess"] == "Enabled"
    assert record.one(t.STORAGE_ACCOUNT).inputs["sku"] == {"name": "Standard_ZRS"}  # the stack's storage.sku
    assert record.of_type(t.PRIVATE_ENDPOINT) == []


def test_private_stack_integrates_with_the_vnet_and_closes_inbound(private):
    app = private.one(t.WEB_APP).inputs
    assert app["virtualNetworkSubnetId"] == SUBNETS["functions"]
    assert app["publicNetworkAccess"] == "Disabled"  # nothing calls it: alerts arrive through Event Hubs
    assert app["siteConfig"] == {"remoteDebuggingEnabled": False}  # no public inbound to restrict
    account = private.one(t.STORAGE_ACCOUNT).inputs
    assert account["publicNetworkAccess"] == "Disabled" and account["networkRuleSet"]["defaultAction"] == "Deny"
    endpoints = {
        (e.inputs["privateLinkServiceConnections"][0]["groupIds"][0], e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"])
        for e in private.of_type(t.PRIVATE_ENDPOINT)
    }
    storage_id = private.one(t.STORAGE_ACCOUNT).outputs["id"]
    app_id = private.one(t.WEB_APP).outputs["id"]
    assert endpoints == {("blob", storage_id), ("queue", storage_id), ("table", storage_id), ("sites", app_id)}
    for endpoint in private.of_type(t.PRIVATE_ENDPOINT):
        assert endpoint.inputs["subnet"] == {"id": SUBNETS["privateEndpoints"]}


def test_outputs_and_diagnostics(record):
    app = record.one(t.WEB_APP)
    assert record.outputs["resource_id"] == app.outputs["id"]
    assert record.outputs["package_container_id"].endswith("/containers/app-package")
    targets = {d.inputs["resourceUri"] for d in record.of_type(t.DIAGNOSTIC_SETTING)}
    account = record.one(t.STORAGE_ACCOUNT)
    assert targets == {app.outputs["id"], account.outputs["id"] + "/blobServices/default"}


def test_every_child_is_parented_and_tagged(record):
    [component] = record.of_type("mlops:monitoring:RetrainTrigger")
    for resource in record.resources:
        if resource is not component:
            assert resource.parent == component.urn, resource.name
    for type_ in (t.WEB_APP, t.APP_SERVICE_PLAN, t.STORAGE_ACCOUNT):
        assert record.one(type_).inputs["tags"]["managed-by"] == "pulumi"
