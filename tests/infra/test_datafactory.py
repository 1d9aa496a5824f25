"""The data layer under mocks: the factory per stack from config, its identity, roles, linked services, pipelines and
triggers, the managed network in private stacks, the write-once raw zone outside dev; bad source config -> exit 2."""

from __future__ import annotations

import pytest

from core.config import load_stack_config
from policies.rules import resource_types as t
from tests.infra.test_config import BASE, config_error

ADF = "azure-native:datafactory:"
ROLE = t.ROLE_ASSIGNMENT
WORM = t.BLOB_IMMUTABILITY_POLICY
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def factory(record):
    return record.one(ADF + "Factory")


@pytest.mark.parametrize(("environment", "access"), [("dev", "Enabled"), ("staging", "Disabled"), ("prod", "Disabled")])
def test_one_factory_per_stack_with_a_system_identity_and_public_access_per_environment(stacks, environment, access):
    adf = factory(stacks[environment])
    assert adf.inputs["identity"] == {"type": "SystemAssigned"}
    assert adf.inputs["publicNetworkAccess"] == access
    assert adf.inputs["factoryName"].startswith(f"adf-mlops-{ {'dev': 'dev', 'staging': 'stg', 'prod': 'prd'}[environment]}-weu-")


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_factory_writes_only_the_raw_container_and_reads_secrets_as_itself(stacks, environment):
    record = stacks[environment]
    principal = factory(record).outputs["identity"]["principalId"]
    mine = {(r.inputs["roleDefinitionId"].rsplit("/", 1)[-1], r.inputs["scope"]) for r in record.of_type(ROLE) if r.inputs["principalId"] == principal}
    raw = record.named("lake-raw").outputs["id"]
    assert raw.endswith("/blobServices/default/containers/raw")
    assert mine == {(BLOB_DATA_CONTRIBUTOR, raw), (SECRETS_USER, record.named("vault-kv").outputs["id"])}


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_linked_services_use_the_identity_and_key_vault_references_only(stacks, environment):
    record = stacks[environment]
    links = {r.inputs["linkedServiceName"]: r.inputs["properties"] for r in record.of_type(ADF + "LinkedService")}
    lake = links.pop("ls_lake")
    assert lake["type"] == "AzureBlobFS" and lake["url"] == record.named("lake-st").outputs["primaryEndpoints"]["dfs"]
    assert not {"accountKey", "sasUri", "sasToken", "servicePrincipalKey", "credential"} & set(lake)
    assert links.pop("ls_key_vault") == {"type": "AzureKeyVault", "baseUrl": record.named("vault-kv").outputs["properties"]["vaultUri"],
                                         "description": "Source credentials, read by the factory's identity"}  # fmt: skip
    sources = load_stack_config(environment).ingestion.batch
    assert set(links) == {f"ls_src_{s.name.replace('-', '_')}" for s in sources}
    for source in sources:
        link = links[f"ls_src_{source.name.replace('-', '_')}"]
        secret_key = "connectionString" if source.kind == "azureSql" else "password"
        assert link[secret_key] == {"type": "AzureKeyVaultSecret", "secretName": source.secret_name,
                                    "store": {"referenceName": "ls_key_vault", "type": "LinkedServiceReference"}}  # fmt: skip


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_each_source_gets_a_copy_pipeline_into_its_dated_raw_folder_and_a_schedule(stacks, environment):
    record = stacks[environment]
    sources = load_stack_config(environment).ingestion.batch
    assert sources, "every stack file configures at least one batch source"
    pipelines = {r.inputs["pipelineName"]: r.inputs for r in record.of_type(ADF + "Pipeline")}
    triggers = {r.inputs["triggerName"]: r.inputs["properties"] for r in record.of_type(ADF + "Trigger")}
    assert set(pipelines) == {f"pl_ingest_{s.name.replace('-', '_')}" for s in sources}
    for source in sources:
        key = source.name.replace("-", "_")
        [copy] = pipelines[f"pl_ingest_{key}"]["activities"]
        assert copy["type"] == "Copy"
        [sink] = copy["outputs"]
        folder = sink["parameters"]["folder"]["value"]
        assert folder.startswith(f"@concat('batch/{source.name}/', formatDateTime(pipeline().parameters.runDate, 'yyyy')")
        assert sink["parameters"]["file"]["value"].startswith("@concat(pipeline().RunId")  # a new file per run
        trigger = triggers[f"tr_ingest_{key}"]
        assert trigger["type"] == "ScheduleTrigger"
        assert trigger["recurrence"] == {"frequency": source.schedule.frequency, "interval": float(source.schedule.interval),
                                         "startTime": source.schedule.start_time, "timeZone": "UTC"}  # fmt: skip
        assert trigger["pipelines"][0]["parameters"] == {"runDate": "@trigger().scheduledTime"}


def test_dev_copies_on_the_public_azure_runtime(stacks):
    record = stacks["dev"]
    assert not record.of_type(ADF + "IntegrationRuntime") and not record.of_type(ADF + "ManagedPrivateEndpoint")
    assert all("connectVia" not in r.inputs["properties"] for r in record.of_type(ADF + "LinkedService"))


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_private_stacks_copy_inside_a_managed_network_with_managed_private_endpoints(stacks, environment):
    record = stacks[environment]
    runtime = record.one(ADF + "IntegrationRuntime").inputs["properties"]
    assert runtime["managedVirtualNetwork"] == {"referenceName": "default", "type": "ManagedVirtualNetworkReference"}
    [vnet] = [r for r in record.of_type(t.DYNAMIC) if r.inputs.get("kind") == "mlops:datafactory-managed-vnet"]
    assert vnet.inputs["resourceId"] == factory(record).outputs["id"] + "/managedVirtualNetworks/default"
    endpoints = {(r.inputs["properties"]["privateLinkResourceId"], r.inputs["properties"]["groupId"]) for r in record.of_type(ADF + "ManagedPrivateEndpoint")}
    assert endpoints == {(record.named("lake-st").outputs["id"], "dfs"), (record.named("vault-kv").outputs["id"], "vault")}
    for link in record.of_type(ADF + "LinkedService"):
        if link.inputs["linkedServiceName"] != "ls_key_vault":
            assert link.inputs["properties"]["connectVia"]["referenceName"] == "ir_managed_vnet", link.name


def test_a_failed_run_alerts_the_action_group(stacks):
    record = stacks["prod"]
    alert = record.named("alerts-ingestion-failed-runs").inputs
    assert alert["scopes"] == [factory(record).outputs["id"]]
    [criterion] = alert["criteria"]["allOf"]
    assert (criterion["metricNamespace"], criterion["metricName"], criterion["timeAggregation"]) == (
        "Microsoft.DataFactory/factories", "PipelineFailedRuns", "Total")
    assert alert["actions"] == [{"actionGroupId": record.named("alerts-ag").outputs["id"]}]
    assert record.named("factory-diag").inputs["resourceUri"] == factory(record).outputs["id"]


@pytest.mark.parametrize(("environment", "days"), [("staging", 90.0), ("prod", 90.0)])
def test_the_raw_zone_is_write_once_outside_dev(stacks, environment, days):
    record = stacks[environment]
    policy = record.one(WORM)
    assert policy.inputs["containerName"] == "raw" and policy.inputs["immutabilityPolicyName"] == "default"
    assert policy.inputs["immutabilityPeriodSinceCreationInDays"] == days
    assert policy.inputs["allowProtectedAppendWrites"] is False
    assert policy.protect  # removing it takes an explicit unprotect


def test_dev_keeps_the_raw_zone_mutable(stacks):
    assert stacks["dev"].of_type(WORM) == []


SOURCE = """  mlops-platform:ingestion:
    batch:
      - name: orders
        kind: {kind}
        table: dbo.orders
        secretName: orders-sql
{extra}"""
SCHEDULE = "        schedule: {frequency: Day, startTime: '2026-01-01T02:00:00Z'}\n"


@pytest.mark.parametrize(
    ("kind", "extra", "key", "fragment"),
    [
        ("oracle", SCHEDULE, "mlops-platform:ingestion.batch.0.kind", "'azureSql', 'http' or 'sftp' (got 'oracle')"),
        ("azureSql", SCHEDULE + "        password: hunter2\n", "mlops-platform:ingestion.batch.0.password",
         "an inline secret is not allowed in a stack file; store it in the stack's Key Vault and name the secret in secretName"),
        ("azureSql", SCHEDULE + "        connectionString: Server=x;Password=y\n", "mlops-platform:ingestion.batch.0.connectionString",
         "an inline secret is not allowed"),
        ("azureSql", "", "mlops-platform:ingestion.batch.0.schedule", "required, and not set"),
        ("azureSql", SCHEDULE + "        path: batch/orders/latest/\n", "mlops-platform:ingestion.batch.0.path",
         "lacks {yyyy}, {MM}, {dd}: every run writes a new dated folder"),
        ("azureSql", SCHEDULE + "        path: telemetry/{yyyy}/{MM}/{dd}/\n", "mlops-platform:ingestion.batch.0.path", "must start with 'batch/'"),
        ("azureSql", SCHEDULE + "        path: batch/{yyyy}/{MM}/{dd}/{minute}/\n", "mlops-platform:ingestion.batch.0.path", "unknown token"),
        ("http", SCHEDULE, "mlops-platform:ingestion.batch.0.url", "required for kind http"),
    ],
)
def test_bad_source_config_names_the_file_and_key(tmp_path, kind, extra, key, fragment):
    error = config_error(tmp_path, "staging", SOURCE.format(kind=kind, extra=extra))
    assert error.source.endswith("Pulumi.staging.yaml") and error.key == key, str(error)
    assert fragment in error.message and "\n" not in str(error)


def test_a_good_source_parses(tmp_path):
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(BASE + SOURCE.format(kind="azureSql", extra=SCHEDULE))
    [source] = load_stack_config("staging", path).ingestion.batch
    assert source.raw_folder() == "batch/orders/{yyyy}/{MM}/{dd}/" and source.schedule.interval == 1


@pytest.mark.parametrize("days", ["-1", "146001"])
def test_raw_immutability_days_has_azure_s_bounds(tmp_path, days):
    error = config_error(tmp_path, "staging", f"  mlops-platform:storage:\n    rawImmutabilityDays: {days}\n")
    assert error.key == "mlops-platform:storage.rawImmutabilityDays"


def test_bad_source_config_is_exit_2_on_the_command_line(project_copy, cli):
    stack = project_copy / "stacks" / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("userName: mlops-dev", "userName: mlops-dev\n        password: hunter2"))
    done = cli(["preview", "--stack", "dev"], cwd=project_copy)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: stacks/Pulumi.dev.yaml: mlops-platform:ingestion.batch.0.password: an inline secret is not allowed in a stack "
        "file; store it in the stack's Key Vault and name the secret in secretName"
    ]
    assert "hunter2" not in done.stderr
