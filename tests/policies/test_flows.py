"""The flow check: every platform flow is open on the real stacks, and removing any single piece a flow needs
(a private endpoint, a DNS link, a role, the system identity, a firewall exception) breaks exactly that flow,
reported as a mandatory violation through the Analyzer protocol with the missing piece and the fix."""

from __future__ import annotations

import copy
import json
from functools import cache

import pytest

from policies.rules.flows import FLOWS

FLOW = "platform-flows-open"
ALL_FLOWS = {flow.name for flow in FLOWS}
# Not configured in any stack file (it needs a GitHub token): applicable only in `_promoting`.
UNCONFIGURED = {"function-reads-promotion-token"}
DEV_NOT_APPLICABLE = {"callers-score", "operators-use-workspace", "operators-query-logs"} | {f for f in ALL_FLOWS if f.startswith("ci-")} | UNCONFIGURED


def broken(pack, record) -> dict[str, str]:
    """Flow name -> the message of its violation."""
    found = {}
    for violation in pack.check_stack(record):
        if violation.policy == FLOW:
            assert violation.enforcement == "mandatory"
            found[violation.message.split("\n", 1)[1].removeprefix("flow ").split(" ", 1)[0]] = violation.message
    return found


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_flow_is_open_on_the_real_stacks(pack, stacks, environment):
    assert broken(pack, stacks[environment]) == {}


def test_the_flow_table_covers_what_the_platform_needs():
    assert len(FLOWS) >= 23 and len(ALL_FLOWS) == len(FLOWS)
    for must in ("devices-to-iothub", "iothub-to-eventhubs", "iothub-to-lake", "capture-to-lake", "callers-score",
                 "ci-submits-jobs", "function-to-host-storage", "alerts-to-function", "monitor-to-app-insights",
                 "batch-to-queues-and-tables", "operators-query-logs"):  # fmt: skip
        assert must in ALL_FLOWS


def _without(record, *names):
    copied = copy.deepcopy(record)
    missing = set(names) - {r.name for r in copied.resources}
    assert not missing, missing
    copied.resources = [r for r in copied.resources if r.name not in names]
    return copied


def _edit(record, name, edit):
    copied = copy.deepcopy(record)
    [resource] = [r for r in copied.resources if r.name == name]
    for props in (resource.inputs, resource.outputs):
        edit(props)
    return copied


def _outbound_rule_removed(rule):
    return lambda record: _edit(record, "workspace-mlw", lambda p: p["managedNetwork"]["outboundRules"].pop(rule))


@cache
def _promoting():
    """staging with retrainTrigger.promotion and its token: the function reads the token from Key Vault."""
    from tests.conftest import run_with

    promotion = {"promotion": {"repository": "example-org/mlops-platform", "token": "github_pat_x"}}
    return run_with("staging", retrainTrigger=json.dumps(promotion))


def test_the_promotion_token_flow_is_open_once_configured(pack, stacks):
    from mlops.preview.flows import flow_results

    assert broken(pack, _promoting()) == {}
    statuses = {result.flow.name: result.status for result in flow_results(_promoting())}
    assert statuses["function-reads-promotion-token"] == "open"
    assert {result.flow.name: result.status for result in flow_results(stacks["staging"])}["function-reads-promotion-token"] == "not-applicable"


# flow -> (what is removed, the fragment of the violation message)
REMOVALS = {
    "devices-to-iothub": (lambda r: _edit(r, "iot-iot", lambda p: p["properties"].update(publicNetworkAccess="Disabled")),
                          "IotHubResource 'iot-iot' admits no public traffic"),
    "edge-devices-pull-images": (lambda r: _edit(r, "registry-cr", lambda p: p["networkRuleSet"].update(ipRules=[])),
                                 "Registry 'registry-cr' has no IP rule for the site range(s) 198.51.100.0/24"),
    "iothub-to-eventhubs": (lambda r: _edit(r, "iot-iot", lambda p: p.update(identity={"type": "UserAssigned"})),
                            "IotHubResource 'iot-iot' has no system-assigned identity, which trusted-service access requires"),
    "iothub-to-lake": (lambda r: _edit(r, "lake-st", lambda p: p["networkRuleSet"].update(resourceAccessRules=[], bypass="None")),
                       "StorageAccount 'lake-st' has no resource-instance rule for iot-iot and no AzureServices bypass"),
    "capture-to-lake": (lambda r: _without(r, "events-capture-to-raw"), "grants Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"),
    "compute-reads-raw": (_outbound_rule_removed("lake-dfs"), "managed network has no private-endpoint outbound rule to stmlops"),
    "compute-writes-features": (lambda r: _without(r, "access-compute-write-features"), "no role at features grants"),
    "compute-to-workspace-storage": (lambda r: _without(r, "access-compute-workspace-blobs"), "grants Microsoft.Storage"),
    "compute-to-key-vault": (lambda r: _without(r, "access-compute-secrets"), "grants Microsoft.KeyVault/vaults/secrets/getSecret/action"),
    "compute-pulls-images": (lambda r: _without(r, "access-compute-pull-images"), "grants Microsoft.ContainerRegistry/registries/pull/read"),
    "compute-reads-models": (lambda r: _without(r, "access-compute-read-registry"), "grants Microsoft.MachineLearningServices/registries/assets/read"),
    "batch-to-queues-and-tables": (_outbound_rule_removed("storage-table"), "(table)"),
    "monitor-writes-predictions": (lambda r: _without(r, "access-compute-write-predictions"), "no role at predictions grants"),
    "monitor-reads-labels": (lambda r: _without(r, "access-compute-read-labels"), "no role at labels grants"),
    "monitor-writes-reports": (lambda r: _without(r, "access-compute-write-monitoring"), "no role at monitoring grants"),
    "monitor-to-app-insights": (_outbound_rule_removed("monitor"), "(azuremonitor)"),
    "deployment-pulls-images": (lambda r: _without(r, "online-pull-images"), "grants Microsoft.ContainerRegistry/registries/pull/read"),
    "deployment-reads-models": (_outbound_rule_removed("registry"), "(amlregistry)"),
    "deployment-sends-predictions": (lambda r: _without(r, "online-send-predictions"), "no role at predictions grants"),
    "callers-score": (lambda r: _without(r, "network-link-api-azureml-ms"), "private DNS zone privatelink.api.azureml.ms is not linked to the VNet"),
    "ci-submits-jobs": (lambda r: _without(r, "access-ci-workspace"), "grants Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action"),
    "ci-uploads-code": (lambda r: _without(r, "workspace-st-pep-blob", "workspace-st-pep-blob-dns"), "no private endpoint (blob) to stmlops"),
    "ci-registers-assets": (lambda r: _without(r, "ml-registry-mlr-pep-amlregistry", "ml-registry-mlr-pep-amlregistry-dns"), "no private endpoint (amlregistry)"),
    "ci-pulls-runner-image": (lambda r: _without(r, "runners-pull-runner-image"), "grants Microsoft.ContainerRegistry/registries/pull/read"),
    "ci-reads-runner-token": (lambda r: _without(r, "runners-read-runner-token"), "grants Microsoft.KeyVault/vaults/secrets/getSecret/action"),
    "ci-deploys-function": (lambda r: _without(r, "retrain-func-pep-sites", "retrain-func-pep-sites-dns"), "no private endpoint (sites)"),
    "function-to-host-storage": (lambda r: _without(r, "retrain-st-pep-queue-dns"), "registers no DNS record in privatelink.queue.core.windows.net"),
    "function-submits-training": (lambda r: _without(r, "retrain-workspace"), "experiments/runs/submit/action"),
    "function-uploads-code": (lambda r: _without(r, "retrain-code-snapshots"), "grants Microsoft.Storage"),
    "function-reads-alerts": (lambda r: _without(r, "events-pep-namespace", "events-pep-namespace-dns"), "no private endpoint (namespace)"),
    "function-to-app-insights": (lambda r: _without(r, "monitoring-ampls-appi"), "is not in the Azure Monitor private link scope"),
    "function-reads-promotion-token": (lambda _r: _without(_promoting(), "retrain-read-promotion-token"),
                                       "grants Microsoft.KeyVault/vaults/secrets/getSecret/action"),
    "alerts-to-function": (lambda r: _edit(r, "events-firewall", lambda p: p.update(trustedServiceAccessEnabled=False)),
                           "network rule set does not let trusted services bypass it"),
    "operators-use-workspace": (lambda r: _without(r, "access-operator-0-workspace"), "experiments/runs/read"),
    "operators-query-logs": (lambda r: _without(r, "access-operator-0-logs"), "analytics/query/action"),
    "factory-writes-raw": (lambda r: _without(r, "factory-mpe-lake-dfs"),
                           "Factory 'factory-adf''s managed network has no managed private endpoint to stmlops"),
    "factory-reads-keyvault": (lambda r: _without(r, "factory-read-secrets"), "vaults/secrets/getSecret/action"),
}


def test_the_factory_writes_raw_only_with_its_role_on_the_raw_container(pack, stacks):
    found = broken(pack, _without(stacks["staging"], "factory-write-raw"))
    assert set(found) == {"factory-writes-raw"} and "no role at raw grants" in found["factory-writes-raw"]


def test_every_flow_has_a_removal_case():
    assert set(REMOVALS) == ALL_FLOWS


@pytest.mark.parametrize("flow", sorted(REMOVALS))
def test_removing_one_piece_breaks_that_flow(pack, stacks, flow):
    remove, fragment = REMOVALS[flow]
    found = broken(pack, remove(stacks["staging"]))
    assert flow in found, found
    assert fragment in found[flow]
    assert "; fix: " in found[flow]


def test_flows_shared_by_a_piece_break_together(pack, stacks):
    """The workspace's private endpoint is how CI, the function, callers and operators reach the workspace."""
    found = broken(pack, _without(stacks["staging"], "workspace-pep-amlworkspace", "workspace-pep-amlworkspace-dns"))
    assert set(found) == {"callers-score", "ci-submits-jobs", "function-submits-training", "operators-use-workspace"}


def test_dev_is_public_and_its_people_and_ci_flows_do_not_apply(stacks):
    from mlops.preview.flows import flow_results

    statuses = {result.flow.name: result.status for result in flow_results(stacks["dev"])}
    assert {name for name, status in statuses.items() if status == "not-applicable"} == DEV_NOT_APPLICABLE
    assert {name for name, status in statuses.items() if status == "open"} == ALL_FLOWS - DEV_NOT_APPLICABLE


def test_edge_devices_reach_the_registry_only_from_the_sites_and_only_with_edge_devices(pack, stacks):
    from mlops.preview.flows import flow_results
    from tests.conftest import run_with

    status = lambda record: {r.flow.name: r for r in flow_results(record)}["edge-devices-pull-images"]  # noqa: E731
    assert status(stacks["staging"]).status == status(stacks["prod"]).status == status(stacks["dev"]).status == "open"
    closed = _edit(stacks["staging"], "registry-cr", lambda p: p.update(publicNetworkAccess="Disabled"))
    assert "has public access Disabled and devices in the field have no private path" in broken(pack, closed)["edge-devices-pull-images"]
    # A private stack without edge devices keeps its registry closed, and the flow does not apply.
    without_edge = run_with("staging", edge=json.dumps({"deployments": []}))
    assert status(without_edge).status == "not-applicable"
    assert "edge-devices-pull-images" not in broken(pack, without_edge)
