"""Bad stack config: every kind fails with one line naming the stack file and the key, exit 2, no traceback."""

from __future__ import annotations

import pytest

from core.config import ConfigError, load_stack_config

BASE = """config:
  mlops-platform:location: westeurope
  mlops-platform:owner: team
  mlops-platform:costCenter: cc-1
  mlops-platform:network: {mode: private, addressSpace: 10.1.0.0/22}
  mlops-platform:runners: {githubOwner: example-org, repositories: [mlops-platform]}
  mlops-platform:iotHub: {deviceIpRanges: [203.0.113.0/24]}
  mlops-platform:alerts: {emailReceivers: [{name: team, address: team@example.com}]}
"""


def config_error(tmp_path, environment: str, extra: str, base: str = BASE) -> ConfigError:
    path = tmp_path / f"Pulumi.{environment}.yaml"
    path.write_text(base + extra)
    with pytest.raises(ConfigError) as info:
        load_stack_config(environment, path)
    return info.value


@pytest.mark.parametrize(
    ("extra", "key", "fragment"),
    [
        ("  mlops-platform:storag:\n    sku: Standard_LRS\n", "mlops-platform:storag", "did you mean 'storage'"),
        ("  mlops-platform:storage:\n    skuu: Standard_LRS\n", "mlops-platform:storage.skuu", "did you mean 'sku'"),
        ("  mlops-platform:compute:\n    maxNodes: lots\n", "mlops-platform:compute.maxNodes", "valid integer"),
        ("  mlops-platform:protect: maybe\n", "mlops-platform:protect", "valid boolean"),
        ("  mlops-platform:monitoring:\n    logRetentionDays: 5\n", "mlops-platform:monitoring.logRetentionDays", "greater than or equal to 30"),
        ("  mlops-platform:keyVault:\n    softDeleteRetentionDays: 120\n", "mlops-platform:keyVault.softDeleteRetentionDays", "less than or equal to 90"),
        ("  mlops-platform:compute:\n    minNodes: 5\n    maxNodes: 2\n", "mlops-platform:compute.minNodes", "above maxNodes"),
        ("  mlops-platform:storage:\n    sku: Premium_XYZ\n", "mlops-platform:storage.sku", "'Standard_LRS'"),
        ("  mlops-platform:retrainTrigger:\n    pythonVersion: '3.9'\n", "mlops-platform:retrainTrigger.pythonVersion", "'3.10', '3.11' or '3.12' (got '3.9')"),
        ("  mlops-platform:retrainTrigger:\n    pythonVersion: '3.13'\n", "mlops-platform:retrainTrigger.pythonVersion", "'3.10', '3.11' or '3.12' (got '3.13')"),
        # Unquoted, 3.10 is the number 3.1.
        ("  mlops-platform:retrainTrigger:\n    pythonVersion: 3.10\n", "mlops-platform:retrainTrigger.pythonVersion", "3.1 is a number (YAML reads 3.10 as 3.1); quote it"),
        ("  mlops-platform:workload: averyveryverylongworkloadname\n", "mlops-platform:workload", "shorten workload"),
        ("  mlops-platform:nameSuffix: Bad!\n", "mlops-platform:nameSuffix", "should match pattern"),
        ("  mlops-platform:registry:\n    sku: Standard\n", "mlops-platform:registry.sku", "has no private endpoint"),
        ("  mlops-platform:environment: prod\n", "mlops-platform:environment", "reserved"),
        ("  mlops-platfrom:protect: false\n", "mlops-platfrom:protect", "unknown namespace 'mlops-platfrom'; did you mean 'mlops-platform:protect'?"),
        ("  azure-nativ:location: westeurope\n", "azure-nativ:location", "did you mean 'azure-native:location'?"),
        ("  protect: false\n", "protect", "no namespace; project keys are written 'mlops-platform:protect'"),
        (
            "  mlops-platform:serving:\n    deployments:\n      - name: blue\n        modle: predictive-maintenance:1\n",
            "mlops-platform:serving.deployments.0.modle",
            "did you mean 'model'? allowed: name, model, instanceType, instanceCount,",
        ),
        (
            "  mlops-platform:eventHubs:\n    hubs:\n      telemetry: {partitons: 2}\n      predictions: {}\n",
            "mlops-platform:eventHubs.hubs.telemetry.partitons",
            "did you mean 'partitions'? allowed: partitions, retentionHours, consumerGroups",
        ),
    ],
)
def test_bad_value_names_file_and_key(tmp_path, extra, key, fragment):
    error = config_error(tmp_path, "staging", extra)
    assert error.key == key
    assert fragment in error.message
    assert str(error).startswith(f"{tmp_path / 'Pulumi.staging.yaml'}: {key}: ")


def test_invalid_region_suggests_a_close_one(tmp_path):
    error = config_error(tmp_path, "dev", "", base=BASE.replace("westeurope", "westeurop"))
    assert error.key == "mlops-platform:location"
    assert "did you mean 'westeurope'" in error.message


@pytest.mark.parametrize("missing", ["owner", "costCenter", "location"])
def test_missing_required_value(tmp_path, missing):
    base = "\n".join(line for line in BASE.splitlines() if f":{missing}:" not in line) + "\n"
    error = config_error(tmp_path, "dev", "", base=base)
    assert error.key == f"mlops-platform:{missing}"
    assert error.message == "required, and not set"


def test_name_too_long_through_suffix(tmp_path):
    error = config_error(tmp_path, "staging", "  mlops-platform:workload: mlopsplatfo\n  mlops-platform:nameSuffix: abcdef\n")
    assert error.key == "mlops-platform:nameSuffix"
    assert "characters; allowed" in error.message


def test_not_yaml_and_not_a_map(tmp_path):
    error = config_error(tmp_path, "dev", "  mlops-platform:storage:\n    sku: [unclosed\n  mlops-platform:protect: false\n")
    line = len(BASE.splitlines()) + 3  # the key after the unclosed flow sequence
    assert error.message == f"not valid YAML at line {line}, column 25: while parsing a flow sequence, expected ',' or ']', but got ':'"
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("- just a list\n")
    with pytest.raises(ConfigError, match="must be a map"):
        load_stack_config("dev", path)


def test_other_namespaces_are_left_to_their_providers(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(BASE + "  azure-native:location: westeurope\n")
    assert load_stack_config("dev", path).location == "westeurope"


def test_defaults_are_secure_and_stack_files_only_write_differences():
    staging = load_stack_config("staging")
    assert staging.network.public_network_access is False
    assert staging.protect is True
    assert staging.registry.sku == "Premium"
    assert staging.workspace.isolation_mode == "AllowOnlyApprovedOutbound"
    dev = load_stack_config("dev")
    assert dev.network.public_network_access is True and dev.protect is False


@pytest.mark.parametrize(
    ("stack_file_edit", "key"),
    [
        ("  mlops-platform:compute:\n    maxNodes: -1\n", "mlops-platform:compute.maxNodes"),
        ("  mlops-platform:storag: {}\n", "mlops-platform:storag"),
    ],
)
def test_cli_exits_2_with_one_line(project_copy, cli, stack_file_edit, key):
    stack_file = project_copy / "stacks" / "Pulumi.staging.yaml"
    stack_file.write_text(stack_file.read_text() + stack_file_edit)
    result = cli(["preview", "--stack", "staging"], cwd=project_copy)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: stacks/Pulumi.staging.yaml: {key}: ")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["pipeline", "run"],
        ["pipeline", "show"],
        ["promote", "--complete"],
        ["serve"],
        ["drift", "-r", "reference.parquet", "-c", "current.parquet"],
        ["preview"],
    ],
)
def test_every_command_says_no_such_stack_the_same_way(command, capsys):
    from mlops.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--stack", "stagin"])
    expected = "error: --stack: no stack 'stagin' (no stacks/Pulumi.stagin.yaml); did you mean 'staging'? available: dev, staging, prod, shared"
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == expected + (" or all" if command == ["preview"] else "")


def test_cli_unknown_stack_exits_2(cli):
    result = cli(["preview", "--stack", "qa"])
    assert result.returncode == 2
    assert "no stack 'qa'" in result.stderr


BLUE = '{name: blue, model: "predictive-maintenance:1"}'


@pytest.mark.parametrize(
    ("environment", "extra", "key", "fragment"),
    [
        ("staging", f"  mlops-platform:serving: {{deployments: [{BLUE}], traffic: {{blue: 90}}}}\n", "mlops-platform:serving.traffic", "sums to 90; it must sum to 100"),
        ("staging", f"  mlops-platform:serving: {{deployments: [{BLUE}], traffic: {{}}}}\n", "mlops-platform:serving.traffic", "sums to 0; it must sum to 100"),
        ("staging", "  mlops-platform:serving: {deployments: [], traffic: {blue: 100}}\n", "mlops-platform:serving.traffic", "undeclared deployments blue"),
        ("staging", f"  mlops-platform:serving: {{deployments: [{BLUE}], traffic: {{blue: 50, green: 50}}}}\n", "mlops-platform:serving.traffic", "undeclared deployments green"),
        ("staging", f"  mlops-platform:serving: {{deployments: [{BLUE}, {BLUE}], traffic: {{blue: 100}}}}\n", "mlops-platform:serving.deployments", "duplicate deployment names: blue"),
        ("staging", "  mlops-platform:serving: {deployments: [{name: blue, model: 'm:1', instanceCount: 0}], traffic: {blue: 100}}\n", "mlops-platform:serving.deployments.0.instanceCount", "greater than or equal to 1"),
        ("prod", "  mlops-platform:serving: {environment: 'e:1', deployments: [{name: blue, model: 'm:1', instanceCount: 1}], traffic: {blue: 100}}\n", "mlops-platform:serving.deployments.0.instanceCount", "prod needs at least 2 instances"),
        ("staging", f"  mlops-platform:serving: {{deployments: [{BLUE}], traffic: {{blue: 100}}}}\n", "mlops-platform:serving.environment", "required once deployments are declared"),
        ("staging", "  mlops-platform:serving: {deployments: [{name: blue, model: classifier}], traffic: {blue: 100}}\n", "mlops-platform:serving.deployments.0.model", "should match pattern"),
        ("staging", "  mlops-platform:serving: {deployments: [{name: blue, model: 'm:1', instanceType: DS3}], traffic: {blue: 100}}\n", "mlops-platform:serving.deployments.0.instanceType", "should match pattern"),
        ("staging", f"  mlops-platform:serving: {{deployments: [{BLUE}], traffic: {{blue: 100}}, mirrorTraffic: {{blue: 60}}}}\n", "mlops-platform:serving.mirrorTraffic.blue", "less than or equal to 50"),
        ("staging", "  mlops-platform:eventHubs: {hubs: {telemetry: {partitions: 64}, predictions: {}}}\n", "mlops-platform:eventHubs.hubs.telemetry.partitions", "less than or equal to 32"),
        ("staging", "  mlops-platform:eventHubs: {hubs: {telemetry: {}}}\n", "mlops-platform:eventHubs.hubs", "must include predictions"),
        ("staging", "  mlops-platform:eventHubs: {sku: Basic}\n", "mlops-platform:eventHubs.sku", "Basic cannot capture"),
        ("staging", "  mlops-platform:eventHubs: {sku: Basic, capture: {enabled: false}, hubs: {telemetry: {}, predictions: {}}}\n", "mlops-platform:eventHubs.sku", "Basic has no private endpoints"),
        ("staging", "  mlops-platform:eventHubs: {hubs: {telemetry: {}, predictions: {}, alerts: {}}}\n", "mlops-platform:eventHubs.hubs.alerts", "reserved"),
        ("staging", "  mlops-platform:batch: {model: 'predictive-maintenance:1'}\n", "mlops-platform:batch.model", "set workspace.packageMirrorFqdns"),
        # prod's storage keeps copies in several zones (the lake, the workspace's and the function's storage).
        ("prod", "  mlops-platform:storage: {sku: Standard_LRS}\n", "mlops-platform:storage.sku", "'Standard_LRS' keeps every copy in one zone; prod needs Standard_ZRS, Standard_GZRS, Standard_RAGZRS"),
        ("prod", "", "mlops-platform:storage.sku", "'Standard_LRS' keeps every copy in one zone"),  # the default: LRS
        ("prod", "  mlops-platform:storage: {sku: Standard_GRS}\n", "mlops-platform:storage.sku", "'Standard_GRS' keeps every copy in one zone"),
    ],
)
def test_bad_serving_and_ingestion_values(tmp_path, environment, extra, key, fragment):
    error = config_error(tmp_path, environment, extra)
    assert (error.key, fragment in error.message) == (key, True), error


@pytest.mark.parametrize(
    ("alerts", "key", "fragment"),
    [
        ("{emailReceivers: [{name: a, address: a@example.com}], latencyMs: -5}", "mlops-platform:alerts.latencyMs", "greater than 0"),
        ("{emailReceivers: [{name: a, address: a@example.com}], cpuPercent: high}", "mlops-platform:alerts.cpuPercent", "valid number"),
        ("{emailReceivers: []}", "mlops-platform:alerts.emailReceivers", "at least one receiver"),
        ("{emailReceivers: [{name: a, address: not-an-email}]}", "mlops-platform:alerts.emailReceivers.0.address", "should match pattern"),
    ],
)
def test_bad_alert_values(tmp_path, alerts, key, fragment):
    base = BASE.replace("  mlops-platform:alerts: {emailReceivers: [{name: team, address: team@example.com}]}\n", "")
    error = config_error(tmp_path, "staging", f"  mlops-platform:alerts: {alerts}\n", base=base)
    assert (error.key, fragment in error.message) == (key, True), error


def test_secure_values_are_placeholders_offline(tmp_path):
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(BASE.replace("{emailReceivers: [{name: team, address: team@example.com}]}", "{webhookUrl: {secure: v1:abc}}"))
    assert load_stack_config("staging", path).alerts.webhook_url == "[secret]"


NET = "  mlops-platform:network: {mode: private, addressSpace: 10.1.0.0/22, %s}\n"
ZONE_ID = "/subscriptions/s1/resourceGroups/hub/providers/Microsoft.Network/privateDnsZones/"


@pytest.mark.parametrize(
    ("network", "key", "fragment"),
    [
        (NET % "subnets: {privateEndpoints: 10.1.0.0/24, functions: 10.1.0.0/26, runners: 10.1.1.0/27}",
         "mlops-platform:network.subnets.functions", "overlaps subnets.privateEndpoints (10.1.0.0/24)"),
        (NET % "subnets: {privateEndpoints: 10.1.0.0/24, functions: 10.1.1.0/26, runners: 10.9.0.0/27}",
         "mlops-platform:network.subnets.runners", "10.9.0.0/27 is outside addressSpace 10.1.0.0/22"),
        (NET % "subnets: {privateEndpoints: 10.1.0.0/24, functions: 10.1.1.0/28, runners: 10.1.1.32/27}",
         "mlops-platform:network.subnets.functions", "too small; it needs at least a /27"),
        (NET % "subnets: {privateEndpoints: 10.1.0.0/24, functions: 10.1.1.0/26}",
         "mlops-platform:network.subnets.runners", "required, and not set"),
        ("  mlops-platform:network: {mode: private, addressSpace: 10.1.0.0/26}\n",
         "mlops-platform:network.addressSpace", "has no room for a /24 privateEndpoints subnet"),
        ("  mlops-platform:network: {mode: private}\n", "mlops-platform:network.addressSpace", "required with mode: private"),
        ("  mlops-platform:network: {mode: public, addressSpace: 10.1.0.0/22}\n", "mlops-platform:network.addressSpace", "applies only with mode: private"),
        ("  mlops-platform:network: {mode: privat}\n", "mlops-platform:network.mode", "'public' or 'private'"),
        ("  mlops-platform:network: {mode: private, addressSpace: 10.1.0.1/22}\n", "mlops-platform:network.addressSpace", "valid IPv4 network"),
        (NET % f"hub: {{privateDnsZones: {{privatelink.vaultcore.azure.net: {ZONE_ID}privatelink.blob.core.windows.net}}, dnsServers: [10.0.0.4]}}",
         "mlops-platform:network.hub.privateDnsZones.privatelink.vaultcore.azure.net", "is not the id of the private DNS zone privatelink.vaultcore.azure.net"),
        (NET % f"hub: {{privateDnsZones: {{privatelink.vaultcore.azure.com: {ZONE_ID}privatelink.vaultcore.azure.com}}, dnsServers: [10.0.0.4]}}",
         "mlops-platform:network.hub.privateDnsZones.privatelink.vaultcore.azure.com", "did you mean 'privatelink.vaultcore.azure.net'"),
        (NET % f"hub: {{privateDnsZones: {{privatelink.vaultcore.azure.net: {ZONE_ID}privatelink.vaultcore.azure.net}}}}",
         "mlops-platform:network.hub.dnsServers", "the hub's DNS servers"),
    ],
)
def test_bad_network_plans_name_the_key(tmp_path, network, key, fragment):
    base = BASE.replace("  mlops-platform:network: {mode: private, addressSpace: 10.1.0.0/22}\n", "")
    error = config_error(tmp_path, "staging", network, base=base)
    assert (error.key, fragment in error.message) == (key, True), error


@pytest.mark.parametrize(
    ("edit", "key", "fragment"),
    [
        ("  mlops-platform:runners: {repositories: [mlops-platform]}\n", "mlops-platform:runners.githubOwner", "required with network.mode: private"),
        ("  mlops-platform:iotHub: {sku: S1}\n", "mlops-platform:iotHub.deviceIpRanges", "devices cannot use a private endpoint"),
        ("  mlops-platform:retrainTrigger: {maximumInstances: 10}\n", "mlops-platform:retrainTrigger.maximumInstances", "greater than or equal to 40"),
        ("  mlops-platform:retrainTrigger: {maximumInstances: 1001}\n", "mlops-platform:retrainTrigger.maximumInstances", "less than or equal to 1000"),
        ("  mlops-platform:retrainTrigger: {instanceMemoryMb: 1024}\n", "mlops-platform:retrainTrigger.instanceMemoryMb", "512, 2048 or 4096"),
        ("  mlops-platform:retrainTrigger: {promotion: {workflow: train.yml}}\n", "mlops-platform:retrainTrigger.promotion.repository", "required"),
        ("  mlops-platform:retrainTrigger: {promotion: {repository: mlops-platform}}\n", "mlops-platform:retrainTrigger.promotion.repository", "should match pattern"),
        ("  mlops-platform:retrainTrigger: {promotion: {repository: o/r, workflow: train.sh}}\n", "mlops-platform:retrainTrigger.promotion.workflow", "should match pattern"),
        ("  mlops-platform:retrainTrigger: {promotion: {repository: o/r, tokn: x}}\n", "mlops-platform:retrainTrigger.promotion.tokn", "unknown key"),
        ("  mlops-platform:registry: {sku: Basic}\n", "mlops-platform:registry.sku", "has no private endpoint"),
        ("  mlops-platform:workspace: {isolationMode: Disabled}\n  mlops-platform:compute: {nodePublicIp: true}\n", "mlops-platform:workspace.isolationMode", "a private stack needs a managed network"),
        ("  mlops-platform:access: {operators: [{objectId: not-a-guid}]}\n", "mlops-platform:access.operators.0.objectId", "should match pattern"),
        ("  mlops-platform:access: {operators: [{objectId: 5f0c1a2e-0000-4000-8000-000000000a01, type: User}]}\n", "mlops-platform:access.operators.0.type", "'Group' or 'ServicePrincipal'"),
    ],
)
def test_bad_private_stack_values(tmp_path, edit, key, fragment):
    base = BASE
    for section in ("runners", "iotHub"):
        if f"mlops-platform:{section}:" in edit:
            base = "\n".join(line for line in base.splitlines() if f"mlops-platform:{section}:" not in line) + "\n"
    error = config_error(tmp_path, "staging", edit, base=base)
    assert (error.key, fragment in error.message) == (key, True), error


def test_subnets_are_carved_from_the_address_space():
    staging = load_stack_config("staging").network
    assert {k: str(v) for k, v in staging.subnet_plan.items()} == {
        "privateEndpoints": "10.20.0.0/24", "functions": "10.20.1.0/26", "runners": "10.20.1.64/27",
    }  # fmt: skip
    assert load_stack_config("dev").network.subnet_plan == {}
