"""The offline preview's diff: classification, replace reasons, the data-loss guard, base sources, formats."""

from __future__ import annotations

import copy
import json
import re

import pytest

from mlops.preview.diff import diff_states, state_from_export
from mlops.preview.engine import report_from_preview_json
from mlops.preview.state import from_recorded
from mlops.records import Secret
from policies.rules import resource_types as t


def changes_by_name(changes):
    return {c.name: c for c in changes}


@pytest.fixture(scope="module")
def prod_state(stacks):
    return from_recorded(stacks["prod"].resources)


def test_identical_states_are_all_same(prod_state):
    changes = diff_states(prod_state, prod_state, guard_data=True)
    assert {c.op for c in changes} == {"same"}


def test_rename_without_alias_is_a_replace(prod_state):
    """The same Azure resource (same ARM id) under a new logical name: Pulumi would create, then delete it."""
    base = copy.deepcopy(prod_state)
    old = next(r for r in base if r.name == "online-endpoint")
    old.urn, old.name = old.urn.replace("::online-endpoint", "::endpoint"), "endpoint"
    change = changes_by_name(diff_states(base, prod_state, guard_data=True))["online-endpoint"]
    assert change.op == "replace"
    assert "without an alias" in change.replace_reasons[0] and "::endpoint" in change.replace_reasons[0]


def test_location_change_replaces_naming_location(stacks, run_stack_with):
    moved = from_recorded(run_stack_with("dev", location="northeurope").resources)
    changes = diff_states(from_recorded(stacks["dev"].resources), moved, guard_data=False)
    group = next(c for c in changes if c.type == t.RESOURCE_GROUP)
    assert group.op == "replace"
    assert "'location' forces a new resource" in group.replace_reasons


def test_hierarchical_namespace_change_replaces_the_lake_and_is_blocked_in_prod(prod_state):
    base = copy.deepcopy(prod_state)
    next(r for r in base if r.name == "lake-st").inputs["isHnsEnabled"] = False
    change = changes_by_name(diff_states(base, prod_state, guard_data=True))["lake-st"]
    assert change.op == "replace"
    assert change.replace_reasons == ["'isHnsEnabled' forces a new resource"]
    assert change.old == {"isHnsEnabled": False} and change.new == {"isHnsEnabled": True}
    assert "would lose data" in change.blocked and "isHnsEnabled" in change.blocked


def test_removing_the_lake_in_prod_is_blocked_unless_acknowledged(prod_state):
    current = [r for r in prod_state if r.name != "lake-st"]
    change = changes_by_name(diff_states(prod_state, current, guard_data=True))["lake-st"]
    assert change.op == "delete"
    assert change.blocked.startswith("delete of stateful azure-native:storage:StorageAccount 'lake-st' would lose data")
    acknowledged = changes_by_name(diff_states(prod_state, current, guard_data=True, acknowledged={"lake-st"}))["lake-st"]
    assert acknowledged.op == "delete" and acknowledged.blocked is None
    unguarded = changes_by_name(diff_states(prod_state, current, guard_data=False))["lake-st"]
    assert unguarded.blocked is None


BLUE = {"name": "blue", "model": "predictive-maintenance:1"}
GREEN = {"name": "green", "model": "predictive-maintenance:2"}


def served(**serving):
    return json.dumps({"environment": "mlops-serving:1", **serving})


def test_adding_a_deployment_creates_it_and_updates_only_traffic(run_stack_with):
    base = from_recorded(run_stack_with("staging", serving=served(deployments=[BLUE], traffic={"blue": 100})).resources)
    current = from_recorded(run_stack_with("staging", serving=served(deployments=[BLUE, GREEN], traffic={"blue": 90, "green": 10})).resources)
    changes = [c for c in diff_states(base, current, guard_data=True) if c.op != "same"]
    ops = {(c.op, c.name) for c in changes}
    assert ("create", "online-green") in ops
    assert ("update", "online-traffic") in ops
    traffic = next(c for c in changes if c.name == "online-traffic")
    assert traffic.old["traffic.blue"] == 100 and traffic.new["traffic.green"] == 10
    assert {c.op for c in changes} <= {"create", "update"}
    assert not any(c.blocked for c in changes)


def test_changing_the_split_updates_the_traffic_resource_only(run_stack_with):
    before = from_recorded(run_stack_with("staging", serving=served(deployments=[BLUE, GREEN], traffic={"blue": 90, "green": 10})).resources)
    after = from_recorded(run_stack_with("staging", serving=served(deployments=[BLUE, GREEN], traffic={"blue": 60, "green": 40})).resources)
    changed = [(c.op, c.name, c.changed) for c in diff_states(before, after, guard_data=True) if c.op != "same"]
    assert changed == [("update", "online-traffic", ["traffic.blue", "traffic.green"])]
    # green taking the most traffic makes it the live model: the retrain function's settings (liveModel) follow
    moved = from_recorded(run_stack_with("staging", serving=served(deployments=[BLUE, GREEN], traffic={"blue": 0, "green": 100})).resources)
    changed = [(c.op, c.name, c.changed) for c in diff_states(before, moved, guard_data=True) if c.op != "same"]
    assert changed == [("update", "retrain-settings", ["properties"]), ("update", "online-traffic", ["traffic.blue", "traffic.green"])]


def exported(value, show_secrets=True):
    """A value as `pulumi stack export [--show-secrets]` writes it: secrets wrapped, plaintext JSON-encoded."""
    if isinstance(value, Secret):
        wrapper = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
        if show_secrets:
            return wrapper | {"plaintext": json.dumps(value.value, default=lambda v: v.value)}
        return wrapper | {"ciphertext": "v1:abcdef"}
    if isinstance(value, dict):
        return {k: exported(v, show_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [exported(v, show_secrets) for v in value]
    return value


def test_state_export_fixture(tmp_path, stacks):
    record = stacks["prod"]
    resources = [{"urn": "urn:pulumi:prod::mlops-platform::pulumi:pulumi:Stack::mlops-platform-prod", "type": "pulumi:pulumi:Stack", "custom": False}]
    resources += [{"urn": "urn:pulumi:prod::mlops-platform::pulumi:providers:azure-native::default", "type": "pulumi:providers:azure-native", "custom": True}]
    for r in record.resources:
        inputs = copy.deepcopy(r.inputs)
        if r.type == t.REGISTRY:
            inputs["adminUserEnabled"] = True  # what is deployed differs from the program
        resources.append({"urn": r.urn, "type": r.type, "custom": r.custom, "inputs": exported(inputs), "protect": r.protect})
    export = tmp_path / "prod.json"
    export.write_text(json.dumps({"version": 3, "deployment": {"manifest": {}, "resources": resources}}))
    base = state_from_export(export)["prod"]
    changes = [c for c in diff_states(base, from_recorded(record.resources), guard_data=True) if c.op != "same"]
    assert [(c.op, c.name, c.changed) for c in changes] == [("update", "registry-cr", ["adminUserEnabled"])]


def test_preview_json_of_the_real_engine_renders_the_same_report():
    document = {
        "steps": [
            {"op": "same", "urn": "urn:pulumi:prod::mlops-platform::azure-native:resources:ResourceGroup::platform-rg",
             "newState": {"type": t.RESOURCE_GROUP, "inputs": {"location": "westeurope"}, "protect": True}},
            {"op": "replace", "urn": "urn:pulumi:prod::mlops-platform::mlops:data:DataLake$azure-native:storage:StorageAccount::lake-st",
             "oldState": {"type": t.STORAGE_ACCOUNT, "inputs": {"isHnsEnabled": False}},
             "newState": {"type": t.STORAGE_ACCOUNT, "inputs": {"isHnsEnabled": True}},
             "replaceReasons": ["isHnsEnabled"], "detailedDiff": {"isHnsEnabled": {"kind": "update-replace", "inputDiff": True}}},
        ],
        "diagnostics": [
            {"urn": "urn:pulumi:prod::mlops-platform::mlops:data:DataLake$azure-native:storage:StorageAccount::lake-st",
             "message": "shared key access must be off", "severity": "error", "policyName": "storage-shared-key-disabled",
             "enforcementLevel": "mandatory"},
            {"message": "a plain engine diagnostic", "severity": "info"},
        ],
        "changeSummary": {"same": 1, "replace": 1},
    }
    report = report_from_preview_json("prod", document)
    assert [(c.op, c.name) for c in report.changes] == [("same", "platform-rg"), ("replace", "lake-st")]
    assert report.changes[1].replace_reasons == ["'isHnsEnabled' forces a new resource"]
    assert [(v.policy, v.enforcement) for v in report.violations] == [("storage-shared-key-disabled", "mandatory")]
    assert report.failed




def test_base_ref_in_a_temporary_repository(project_repo, cli):
    stack_file = project_repo / "stacks" / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace("sku: Standard_ZRS", "sku: Standard_GZRS"))
    result = cli(["preview", "--stack", "prod", "--base", "HEAD", "--format", "json"], cwd=project_repo, MLOPS_SKIP_POLICIES="1")
    assert result.returncode == 0, result.stderr
    [stack] = json.loads(result.stdout)["stacks"]
    changed = [(c["op"], c["name"], c["changed"]) for c in stack["changes"] if c["op"] != "same"]
    # The lake, the workspace's own storage and the function's host storage all follow storage.sku.
    assert sorted(changed) == [("update", "lake-st", ["sku.name"]), ("update", "retrain-st", ["sku.name"]),
                               ("update", "workspace-st", ["sku.name"])]  # fmt: skip


def test_base_ref_renaming_the_lake_in_prod_is_blocked_with_exit_1(project_repo, cli):
    platform = project_repo / "stacks" / "platform.py"
    source = platform.read_text()
    platform.write_text(source.replace("    lake = DataLake(", "    lake = DataLake(\n        'lake-renamed',", 1).replace("        \"lake\",\n", "", 1))
    result = cli(["preview", "--stack", "prod", "--base", "HEAD", "--format", "text"], cwd=project_repo, MLOPS_SKIP_POLICIES="1")
    assert result.returncode == 1, result.stderr
    assert "would lose data" in result.stdout
    assert re.search(r"^\s+prod\s+BLOCKED\s.*blocked by replace of lake-renamed-st", result.stdout, re.M)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "qa"], "no stack 'qa'"),
        (["--stack", "dev", "--base", "no-such-ref"], "'no-such-ref' is not a commit"),
        (["--stack", "dev", "--state", "/nonexistent/export.json"], "cannot read /nonexistent/export.json"),
        (["--stack", "dev", "--base", "HEAD", "--state", "x.json"], "alternatives"),
    ],
)
def test_bad_usage_exits_2_with_one_line(cli, args, message):
    result = cli(["preview", *args], MLOPS_SKIP_POLICIES="1")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_corrupt_state_file_exits_2(cli, tmp_path):
    bad = tmp_path / "export.json"
    bad.write_text("{not json")
    result = cli(["preview", "--stack", "dev", "--state", str(bad)], MLOPS_SKIP_POLICIES="1")
    assert result.returncode == 2 and "is not a `pulumi stack export` file" in result.stderr


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_secrets_never_appear(cli, fmt, stacks):
    secret = stacks["dev"].outputs["applicationInsightsConnectionString"].value
    result = cli(["preview", "--stack", "dev", "--format", fmt], MLOPS_SKIP_POLICIES="1")
    assert result.returncode == 0
    assert "InstrumentationKey=" not in result.stdout and secret not in result.stdout
    if fmt == "json":
        assert json.loads(result.stdout)["stacks"][0]["outputs"]["applicationInsightsConnectionString"] == "[secret]"


def test_encrypted_secrets_in_an_export_compare_as_unchanged_and_plaintext_ones_by_value(tmp_path, stacks):
    record = stacks["dev"]
    for show_secrets, expected in ((False, []), (True, [])):
        items = [{"urn": r.urn, "type": r.type, "custom": r.custom, "inputs": exported(r.inputs, show_secrets)} for r in record.resources]
        export = tmp_path / "dev.json"
        export.write_text(json.dumps({"version": 3, "deployment": {"resources": items}}))
        changes = [c.name for c in diff_states(state_from_export(export)["dev"], from_recorded(record.resources), False) if c.op != "same"]
        assert changes == expected
    # a changed secret shows as changed, without its value
    settings = next(r for r in record.resources if r.name == "retrain-settings")
    changed = copy.deepcopy(settings.inputs)
    changed["properties"] = Secret({"X": "other"})
    items = [{"urn": r.urn, "type": r.type, "custom": r.custom, "inputs": exported(changed if r is settings else r.inputs)} for r in record.resources]
    export.write_text(json.dumps({"version": 3, "deployment": {"resources": items}}))
    [change] = [c for c in diff_states(state_from_export(export)["dev"], from_recorded(record.resources), False) if c.op != "same"]
    assert change.name == "retrain-settings" and change.old == {"properties": "[secret]"} and change.new == {"properties": "[secret]"}


def test_base_state_is_cached_per_commit(project_repo, cli):
    args = ["preview", "--stack", "dev", "--base", "HEAD", "--format", "json"]
    first = cli(args, cwd=project_repo, MLOPS_SKIP_POLICIES="1")
    assert first.returncode == 0, first.stderr
    [cached] = (project_repo / ".mlops" / "cache" / "base").glob("*.json")
    document = json.loads(cached.read_text())
    next(r for r in document["dev"] if r["name"] == "registry-cr")["inputs"]["sku"]["name"] = "Standard"
    cached.write_text(json.dumps(document))
    second = cli(args, cwd=project_repo, MLOPS_SKIP_POLICIES="1")
    [stack] = json.loads(second.stdout)["stacks"]
    assert [(c["name"], c["old"], c["new"]) for c in stack["changes"] if c["op"] != "same"] == [
        ("registry-cr", {"sku.name": "Standard"}, {"sku.name": "Basic"})
    ]


def test_a_violation_blocks_prod_and_is_advisory_in_dev(project_copy, cli):
    """Opening the Key Vault to every network is dev's deliberate relaxation, and blocks prod."""
    prod_file = project_copy / "stacks" / "Pulumi.prod.yaml"
    vault = project_copy / "components" / "keyvault.py"
    vault.write_text(vault.read_text().replace('public_network_access=enabled(not ctx.private)', 'public_network_access="Enabled"'))
    prod = cli(["preview", "--stack", "prod", "--format", "json"], cwd=project_copy)
    assert prod.returncode == 1, prod.stderr
    [stack] = json.loads(prod.stdout)["stacks"]
    blocking = {(v["policy"], v["urn"].rsplit("::", 1)[-1]) for v in stack["violations"] if v["enforcement"] == "mandatory"}
    assert blocking == {("keyvault-public-network-disabled", "vault-kv")}
    dev_file = project_copy / "stacks" / "Pulumi.dev.yaml"
    assert "mode: public" in dev_file.read_text() and prod_file.exists()
    dev = cli(["preview", "--stack", "dev", "--format", "json"], cwd=project_copy)  # dev is public on purpose
    assert dev.returncode == 0, dev.stderr
    [stack] = json.loads(dev.stdout)["stacks"]
    levels = {v["enforcement"] for v in stack["violations"] if v["urn"].endswith("::vault-kv")}
    assert levels == {"advisory"}
