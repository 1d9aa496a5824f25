"""Stack rules over AnalyzeStack: a small compliant stack passes; each weakening names the rule and resource."""

from __future__ import annotations

import dataclasses

import pytest
from pulumi.output import UNKNOWN

from mlops.analyzer import StackResource, resource_urn
from policies.rules import resource_types as t
from policies.rules.base import NOT_APPLICABLE
from tests.policies.policy_fixtures import ACTION_GROUP_ID, COMPLIANT, LOG_ID, RG, WORKSPACE_ID

ENDPOINT_ID = f"{WORKSPACE_ID}/onlineEndpoints/mloe-mlops-prd-weu-7f66"
VAULT_ID = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-mlops-prd-weu-7f66"


def res(type_: str, name: str, props: dict, protect: bool = False, dependencies: tuple[str, ...] = ()) -> StackResource:
    return StackResource(type_, name, resource_urn(type_, name), props, protect, "", dependencies)


def diag(name: str, uri: object, dependencies: tuple[str, ...] = ()) -> StackResource:
    props = {"resourceUri": uri, "workspaceId": LOG_ID, "logs": [{"categoryGroup": "allLogs", "enabled": True}]}
    return res(t.DIAGNOSTIC_SETTING, name, props, dependencies=dependencies)


def lock(name: str, scope: object, level: str = "CanNotDelete", dependencies: tuple[str, ...] = ()) -> StackResource:
    props = {"scope": scope, "level": level, "lockName": "mlops-cannot-delete"}
    return res(t.MANAGEMENT_LOCK, name, props, dependencies=dependencies)


def traffic(traffic_map: dict, deployments: list, mirror: dict | None = None) -> StackResource:
    props = {
        "kind": t.TRAFFIC_KIND,
        "endpointName": "mloe-mlops-prd-weu-7f66",
        "traffic": traffic_map,
        "mirrorTraffic": mirror or {},
        "deployments": deployments,
    }
    return res(t.DYNAMIC, "online-traffic", props)


def deployment(name: str) -> StackResource:
    return res(t.ONLINE_DEPLOYMENT, f"online-{name}", {**COMPLIANT[t.ONLINE_DEPLOYMENT], "deploymentName": name})


def compliant_stack() -> list[StackResource]:
    vault = res(t.KEY_VAULT, "vault-kv", {**COMPLIANT[t.KEY_VAULT], "id": VAULT_ID}, protect=True)
    endpoint = res(t.ONLINE_ENDPOINT, "online-endpoint", COMPLIANT[t.ONLINE_ENDPOINT])
    return [
        vault,
        diag("vault-diag", VAULT_ID),
        lock("vault-kv-lock", VAULT_ID, dependencies=(vault.urn,)),
        endpoint,
        diag("online-diag", ENDPOINT_ID),
        deployment("blue"),
        deployment("green"),
        traffic({"blue": 90.0, "green": 10.0}, ["blue", "green"], {"green": 20.0}),
        res(t.ACTION_GROUP, "alerts-ag", COMPLIANT[t.ACTION_GROUP]),
        res(t.METRIC_ALERT, "alerts-latency", COMPLIANT[t.METRIC_ALERT]),
        res(t.SCHEDULED_QUERY_RULE, "alerts-drift", COMPLIANT[t.SCHEDULED_QUERY_RULE]),
    ]


def replaced(stack: list[StackResource], name: str, **changes) -> list[StackResource]:
    return [dataclasses.replace(r, **changes) if r.name == name else r for r in stack]


def without(stack: list[StackResource], name: str) -> list[StackResource]:
    return [r for r in stack if r.name != name]


def verdicts(analyzer, stack) -> list[tuple[str, str, str]]:
    """(policy, resource name, problem) of each violation; the message also carries the remediation."""
    found = analyzer.analyze_stack(stack)
    assert all("Fix: " in v.message for v in found)
    return [(v.policy, v.urn.rsplit("::", 1)[-1], v.message.split("\n", 1)[1].split(". Fix: ")[0]) for v in found]


def test_compliant_stack_passes(analyzer):
    assert analyzer.analyze_stack(compliant_stack()) == []


CASES = [
    (
        lambda s: replaced(s, "vault-kv", protect=False),
        [("stateful-resources-protected", "vault-kv", "Vault 'vault-kv' is not protected")],
    ),
    (
        lambda s: without(s, "online-diag"),
        [("diagnostics-to-log-analytics", "online-endpoint", "OnlineEndpoint 'online-endpoint' has no diagnostic setting sending its logs to Log Analytics")],
    ),
    (
        lambda s: replaced(s, "vault-diag", props={**s[1].props, "workspaceId": f"{RG}/providers/Microsoft.Storage/storageAccounts/st"}),
        [("diagnostics-to-log-analytics", "vault-kv", "Vault 'vault-kv' has no diagnostic setting sending its logs to Log Analytics")],
    ),
    (
        lambda s: replaced(s, "vault-diag", props={**s[1].props, "logs": [{"categoryGroup": "allLogs", "enabled": False}]}),
        [("diagnostics-to-log-analytics", "vault-kv", "Vault 'vault-kv' has no diagnostic setting sending its logs to Log Analytics")],
    ),
    (
        lambda s: replaced(s, "online-traffic", props=traffic({"blue": 90.0, "green": 20.0}, ["blue", "green"]).props),
        [("endpoint-traffic-valid", "online-traffic", "endpoint traffic 'online-traffic': traffic sums to 110, not 100")],
    ),
    (
        lambda s: replaced(s, "online-traffic", props=traffic({"blue": 50.0, "red": 50.0}, ["blue", "green"]).props),
        [("endpoint-traffic-valid", "online-traffic", "endpoint traffic 'online-traffic': traffic names deployment 'red', which does not exist")],
    ),
    (
        lambda s: without(s, "online-green"),
        [("endpoint-traffic-valid", "online-traffic", "endpoint traffic 'online-traffic': traffic names deployment 'green', which does not exist"),
         ("endpoint-traffic-valid", "online-traffic", "endpoint traffic 'online-traffic': mirrorTraffic names deployment 'green', which does not exist")],
    ),
    (
        lambda s: replaced(s, "online-traffic", props=traffic({"blue": 100.0}, ["blue", "green"], {"green": 60.0}).props),
        [("endpoint-traffic-valid", "online-traffic", "endpoint traffic 'online-traffic': mirrorTraffic sends 60% to 'green'; at most 50% may be mirrored")],
    ),
    (
        lambda s: replaced(s, "online-traffic", props=traffic({}, []).props),
        [],
    ),
    (
        lambda s: without(s, "alerts-ag"),
        [("alerts-target-existing-action-group", "alerts-latency", f"MetricAlert 'alerts-latency' targets {ACTION_GROUP_ID.lower()}, which is not an action group of this stack"),
         ("alerts-target-existing-action-group", "alerts-drift", f"ScheduledQueryRule 'alerts-drift' targets {ACTION_GROUP_ID.lower()}, which is not an action group of this stack")],
    ),
]


@pytest.mark.parametrize(("weaken", "expected"), CASES)
def test_weakened_stack_fails_the_stack_rule(analyzer, weaken, expected):
    assert verdicts(analyzer, weaken(compliant_stack())) == expected


NAMESPACE = {**COMPLIANT[t.EVENTHUB_NAMESPACE], "publicNetworkAccess": "Enabled"}
CLOSED = {"namespaceName": NAMESPACE["namespaceName"], "defaultAction": "Deny", "trustedServiceAccessEnabled": True,
          "ipRules": [], "virtualNetworkRules": []}  # fmt: skip
OPEN_NAMESPACE = ("eventhub-public-network-restricted", "events-evhns",
                  "Namespace 'events-evhns' is open to public networks: publicNetworkAccess is 'Enabled' and no network rule set denies by default")
EVENTHUB_CASES = [
    ([res(t.EVENTHUB_NAMESPACE, "events-evhns", COMPLIANT[t.EVENTHUB_NAMESPACE])], []),  # Disabled: not applicable
    ([res(t.EVENTHUB_NAMESPACE, "events-evhns", NAMESPACE), res(t.EVENTHUB_RULE_SET, "events-firewall", CLOSED)], []),
    ([res(t.EVENTHUB_NAMESPACE, "events-evhns", NAMESPACE)], [OPEN_NAMESPACE]),
    ([res(t.EVENTHUB_NAMESPACE, "events-evhns", NAMESPACE), res(t.EVENTHUB_RULE_SET, "events-firewall", {**CLOSED, "ipRules": [{"ipMask": "1.2.3.4"}]})],
     [OPEN_NAMESPACE]),
    ([res(t.EVENTHUB_NAMESPACE, "events-evhns", NAMESPACE), res(t.EVENTHUB_RULE_SET, "events-firewall", {**CLOSED, "trustedServiceAccessEnabled": False})],
     [OPEN_NAMESPACE]),
]


@pytest.mark.parametrize(("stack", "expected"), EVENTHUB_CASES)
def test_event_hubs_open_only_to_trusted_services(analyzer, stack, expected):
    assert [(p, r, m) for p, r, m in verdicts(analyzer, stack) if p == "eventhub-public-network-restricted"] == expected


def test_every_stack_rule_has_a_failing_case(analyzer):
    """Here, in test_deploy_rules (deploy-*) and test_flows (platform-flows-open)."""
    from policies.rules import STACK_RULES
    from tests.policies.test_deploy_rules import STACK_CASES

    covered = {policy for _, expected in CASES + EVENTHUB_CASES + LOCK_CASES + FUNCTION_AUTH_CASES + EDGE_CASES + REGISTRY_CASES
               for policy, _, _ in expected}  # fmt: skip
    covered |= {case[0] for case in STACK_CASES} | {"platform-flows-open"} | {case[0] for case in DATA_STACK_CASES}
    assert covered == {rule.name for rule in STACK_RULES}


# stateful-resources-locked: compliant, noncompliant and not applicable (the compliant stack's vault has its lock).
UNLOCKED_VAULT = ("stateful-resources-locked", "vault-kv", "Vault 'vault-kv' has no CanNotDelete lock scoped to it")
LAKE_ID = f"{RG}/providers/Microsoft.Storage/storageAccounts/stmlopsprdweu7f66"
LOCK_CASES = [
    (lambda s: s, []),
    (lambda s: without(s, "vault-kv-lock"), [UNLOCKED_VAULT]),
    (lambda s: replaced(s, "vault-kv-lock", props=lock("vault-kv-lock", VAULT_ID, level="ReadOnly").props), [UNLOCKED_VAULT]),
    (lambda s: replaced(s, "vault-kv-lock", props=lock("vault-kv-lock", LAKE_ID).props), [UNLOCKED_VAULT]),  # another scope
    (lambda s: replaced(s, "vault-kv-lock", props=lock("vault-kv-lock", VAULT_ID.upper() + "/").props), []),  # ARM ids: any case
    # A preview of a new stack: neither the vault's id nor the lock's scope is known; the lock's dependency decides.
    (lambda s: replaced(replaced(s, "vault-kv", props=COMPLIANT[t.KEY_VAULT]), "vault-kv-lock", props=lock("l", UNKNOWN).props), []),
    (lambda s: replaced(replaced(s, "vault-kv", props=COMPLIANT[t.KEY_VAULT]), "vault-kv-lock", props=lock("l", UNKNOWN).props,
                        dependencies=()), [UNLOCKED_VAULT]),
    # Not applicable: the workspace is exempt (a lock would block deleting its online deployments in every rollout).
    (lambda s: [*s, res(t.ML_WORKSPACE, "workspace-mlw", {**COMPLIANT[t.ML_WORKSPACE], "id": WORKSPACE_ID}, protect=True)], []),
]


@pytest.mark.parametrize(("change", "expected"), LOCK_CASES)
def test_stateful_resources_are_locked(analyzer, change, expected):
    assert [v for v in verdicts(analyzer, change(compliant_stack())) if v[0] == "stateful-resources-locked"] == expected


@pytest.mark.parametrize(("environment", "expected"), [("dev", []), ("staging", [UNLOCKED_VAULT]), ("prod", [UNLOCKED_VAULT])])
def test_dev_opts_out_of_locks(pack, environment, expected):
    pack.configure(environment)
    found = verdicts(pack, without(compliant_stack(), "vault-kv-lock"))
    assert [v for v in found if v[0] == "stateful-resources-locked"] == expected


# Entra ID sign-in on any public HTTP path. The retrain function has none (Event Hubs-triggered, its app denies all
# public traffic): not applicable to it; a webhook receiver open to the ActionGroup service tag would need it.
APP = COMPLIANT[t.WEB_APP]
WEBHOOK_APP = {**APP, "siteConfig": {**APP["siteConfig"], "ipSecurityRestrictions": [
    {"name": "action-group", "ipAddress": "ActionGroup", "tag": "ServiceTag", "action": "Allow", "priority": 100.0}]}}  # fmt: skip
ENTRA = {"name": APP["name"], "resourceGroupName": "rg-mlops-prd-weu", "platform": {"enabled": True},
         "globalValidation": {"requireAuthentication": True, "unauthenticatedClientAction": "Return401"},
         "identityProviders": {"azureActiveDirectory": {"enabled": True, "registration": {"clientId": "c"}}}}  # fmt: skip
UNAUTHENTICATED = ("function-entra-auth", "retrain-func",
                   "WebApp 'retrain-func' takes HTTP requests from public networks and no WebAppAuthSettingsV2 makes Entra ID "
                   "sign-in required for them (requireAuthentication with Return401 or Return403)")  # fmt: skip
FUNCTION_AUTH_CASES = [
    ([res(t.WEB_APP, "retrain-func", WEBHOOK_APP), res(t.AUTH_SETTINGS_V2, "retrain-auth", ENTRA)], []),
    ([res(t.WEB_APP, "retrain-func", WEBHOOK_APP)], [UNAUTHENTICATED]),
    ([res(t.WEB_APP, "retrain-func", WEBHOOK_APP),
      res(t.AUTH_SETTINGS_V2, "retrain-auth", {**ENTRA, "globalValidation": {"requireAuthentication": False, "unauthenticatedClientAction": "AllowAnonymous"}})],
     [UNAUTHENTICATED]),
    ([res(t.WEB_APP, "retrain-func", {**APP, "siteConfig": {**APP["siteConfig"], "ipSecurityRestrictionsDefaultAction": "Allow"}})], [UNAUTHENTICATED]),
]
# Not applicable: the app takes no public HTTP (private endpoints only; or public access on, but everything denied).
FUNCTION_AUTH_NOT_APPLICABLE = [
    [res(t.WEB_APP, "retrain-func", {**WEBHOOK_APP, "publicNetworkAccess": "Disabled"})],
    [res(t.WEB_APP, "retrain-func", APP)],
]


@pytest.mark.parametrize(("stack", "expected"), FUNCTION_AUTH_CASES)
def test_public_http_requires_entra_id(analyzer, stack, expected):
    assert [(p, r, m) for p, r, m in verdicts(analyzer, stack) if p == "function-entra-auth"] == expected


@pytest.mark.parametrize("stack", FUNCTION_AUTH_NOT_APPLICABLE)
def test_entra_id_rule_does_not_apply_without_public_http(analyzer, stack):
    assert [p for p, _, _ in verdicts(analyzer, stack) if p == "function-entra-auth"] == []


FACTORY = "adf-mlops-prd-weu-7f66"
LAKE_ACCOUNT = "stmlopsprdweu7f66"


def factory_stack(runtime: bool = True, via: str | None = "ir_managed_vnet") -> list[StackResource]:
    link = {**COMPLIANT[t.ADF_LINKED_SERVICE], "factoryName": FACTORY}
    if via is None:
        link["properties"] = {k: v for k, v in link["properties"].items() if k != "connectVia"}
    else:
        link["properties"] = {**link["properties"], "connectVia": {"referenceName": via, "type": "IntegrationRuntimeReference"}}
    vault = {"factoryName": FACTORY, "linkedServiceName": "ls_key_vault", "properties": {"type": "AzureKeyVault", "baseUrl": "https://kv.vault.azure.net/"}}
    ir = {"factoryName": FACTORY, "integrationRuntimeName": "ir_managed_vnet",
          "properties": {"type": "Managed", "managedVirtualNetwork": {"referenceName": "default", "type": "ManagedVirtualNetworkReference"}}}
    return [res(t.DATA_FACTORY, "factory-adf", COMPLIANT[t.DATA_FACTORY]), res(t.ADF_LINKED_SERVICE, "factory-orders-link", link),
            res(t.ADF_LINKED_SERVICE, "factory-vault", vault), *([res(t.ADF_INTEGRATION_RUNTIME, "factory-ir", ir)] if runtime else [])]  # fmt: skip


def lake_stack(days: float | None = 90.0) -> list[StackResource]:
    account = {**COMPLIANT[t.STORAGE_ACCOUNT], "accountName": LAKE_ACCOUNT, "isHnsEnabled": True}
    container = {**COMPLIANT[t.BLOB_CONTAINER], "accountName": LAKE_ACCOUNT, "containerName": "raw"}
    policy = {"accountName": LAKE_ACCOUNT, "containerName": "raw", "immutabilityPolicyName": "default",
              "immutabilityPeriodSinceCreationInDays": days, "allowProtectedAppendWrites": False}
    return [res(t.STORAGE_ACCOUNT, "lake-st", account), res(t.BLOB_CONTAINER, "lake-raw", container),
            *([res(t.BLOB_IMMUTABILITY_POLICY, "lake-raw-worm", policy)] if days is not None else [])]  # fmt: skip


# (rule, compliant stack, noncompliant stack, the violation it names (resource, problem), environment it does not apply to)
DATA_STACK_CASES = [
    ("datafactory-managed-network", factory_stack(), factory_stack(runtime=False),
     [("factory-adf", "Factory 'factory-adf' has no integration runtime in a managed virtual network")], "dev"),
    ("datafactory-managed-network", factory_stack(), factory_stack(via=None),
     [("factory-orders-link", "LinkedService 'factory-orders-link' connects via the default public runtime, not the factory's managed-network runtime")], "dev"),
    ("storage-raw-immutable", lake_stack(), lake_stack(days=None),
     [("lake-raw", "BlobContainer 'lake-raw' (the lake's raw zone) has no immutability (WORM) policy")], "dev"),
    ("storage-raw-immutable", lake_stack(), lake_stack(days=0.0),
     [("lake-raw-worm", "the raw zone's immutability policy keeps blobs 0 days; it must keep them at least 1")], "dev"),
]


@pytest.mark.parametrize(("rule", "good", "bad", "expected", "environment"), DATA_STACK_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(DATA_STACK_CASES)])  # fmt: skip
def test_data_layer_stack_rules(pack, rule, good, bad, expected, environment):
    from mlops.analyzer import load_policy_config
    from policies.rules import STACK_RULES

    found = lambda stack: [(urn.rsplit("::", 1)[-1], m.split("\n", 1)[1].split(". Fix: ")[0])  # noqa: E731
                           for urn, m in ((v.urn, v.message) for v in pack.analyze_stack(stack) if v.policy == rule)]  # fmt: skip
    pack.configure(None)
    assert found(good) == []
    assert found(bad) == expected
    pack.configure(environment)  # dev: raw stays mutable, the factory public
    assert found(bad) == []
    [definition] = [r for r in STACK_RULES if r.name == rule]
    entry = load_policy_config(environment)[rule]
    assert definition.check([], definition.settings({k: v for k, v in entry.items() if k != "enforcementLevel"})) is NOT_APPLICABLE


def test_every_conditional_stack_rule_has_a_not_applicable_case():
    """Stack rules declare `conditional` when they pass over resources of their types because of those resources'
    own properties; each needs a stack it does not apply to: here (EVENTHUB_CASES' first, a closed namespace;
    FUNCTION_AUTH_NOT_APPLICABLE), in test_deploy_rules.STACK_CASES, and the flows dev does not have (test_flows)."""
    from policies.rules import STACK_RULES
    from tests.policies.test_deploy_rules import STACK_CASES

    assert EVENTHUB_CASES[0][1] == [] and FUNCTION_AUTH_NOT_APPLICABLE
    assert REGISTRY_NOT_APPLICABLE
    covered = {"eventhub-public-network-restricted", "function-entra-auth", "platform-flows-open", CANARY_RULE, REGISTRY_RULE}
    covered |= {case[0] for case in STACK_CASES}
    covered |= {case[0] for case in DATA_STACK_CASES}
    assert covered == {rule.name for rule in STACK_RULES if rule.conditional}


# edge-canary-narrower: the canary is the fleet's condition AND more, at a higher priority; not applicable without
# a canary (or without a fleet: the first model's canary ring is checked against the base by the config model).
def edge(stage: str, condition: str, priority: float, name: str | None = None) -> StackResource:
    from tests.policies.policy_fixtures import LAYERED, edge_deployment

    return res(t.DYNAMIC, name or f"edge-{stage}", edge_deployment(stage, LAYERED, condition, priority, model="predictive-maintenance:3"))


FLEET_EDGE = edge("fleet", "tags.environment='prod'", 10.0)
CANARY_RULE = "edge-canary-narrower"
EDGE_CASES = [
    ([FLEET_EDGE, edge("canary", "tags.environment='prod' AND tags.ring='canary'", 20.0)], []),
    ([FLEET_EDGE, edge("canary", "tags.ring = 'canary'  and  tags.environment='prod'", 20.0)], []),  # order, case, spaces
    ([FLEET_EDGE, edge("canary", "tags.environment='prod'", 20.0)],
     [(CANARY_RULE, "edge-canary", "the canary's target condition \"tags.environment='prod'\" is not the fleet's \"tags.environment='prod'\" AND-ed with more clauses")]),
    ([FLEET_EDGE, edge("canary", "tags.environment='staging' AND tags.ring='canary'", 20.0)],
     [(CANARY_RULE, "edge-canary", "the canary's target condition \"tags.environment='staging' AND tags.ring='canary'\" is not the fleet's \"tags.environment='prod'\" AND-ed with more clauses")]),
    ([FLEET_EDGE, edge("canary", "tags.environment='prod' AND tags.ring='canary'", 5.0)],
     [(CANARY_RULE, "edge-canary", "the canary's priority 5.0 is not above the fleet's 10.0")]),
]
EDGE_NOT_APPLICABLE = [FLEET_EDGE]


@pytest.mark.parametrize(("stack", "expected"), EDGE_CASES)
def test_edge_canary_is_a_strict_part_of_the_fleet(analyzer, stack, expected):
    assert [v for v in verdicts(analyzer, stack) if v[0] == CANARY_RULE] == expected


def test_edge_canary_rule_does_not_apply_without_a_canary(analyzer):
    assert [v for v in verdicts(analyzer, EDGE_NOT_APPLICABLE) if v[0] == CANARY_RULE] == []


# registry-public-network-disabled: Disabled passes (not applicable: nothing public to judge); public access only from
# the sites' ranges (networkRuleSet Deny + one IP rule per IoT Hub site range) and only where IoT Edge devices pull.
REGISTRY_RULE = "registry-public-network-disabled"
SITE = "198.51.100.0/24"


def registry(public: str | None, ranges: list[str] | None = None) -> StackResource:
    props = {**COMPLIANT[t.REGISTRY]}
    props.pop("publicNetworkAccess")
    if public is not None:
        props["publicNetworkAccess"] = public
    if ranges is not None:
        props["networkRuleSet"] = {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "iPAddressOrRange": r} for r in ranges]}
    return res(t.REGISTRY, "registry-cr", props)


def hub_sites(*ranges: str) -> StackResource:
    props = {**COMPLIANT[t.IOT_HUB], "properties": {**COMPLIANT[t.IOT_HUB]["properties"], "publicNetworkAccess": "Enabled",
             "networkRuleSets": {"defaultAction": "Deny", "ipRules": [{"filterName": f"site-{i}", "action": "Allow", "ipMask": r}
                                                                     for i, r in enumerate(ranges)]}}}  # fmt: skip
    return res(t.IOT_HUB, "iot-iot", props)


EDGE_FLEET = edge("fleet", "tags.environment='prod'", 10.0)
REGISTRY_CASES = [
    ([registry("Enabled", [SITE]), hub_sites(SITE), EDGE_FLEET], []),  # the sites' path for edge devices
    ([registry("Enabled", [SITE]), hub_sites(SITE, "203.0.113.0/24"), EDGE_FLEET], []),  # a subset of the sites
    ([registry("Enabled")], [(REGISTRY_RULE, "registry-cr", "publicNetworkAccess is 'Enabled' with no network rule denying by default; it must be 'Disabled'")]),
    ([registry(None), EDGE_FLEET], [(REGISTRY_RULE, "registry-cr", "publicNetworkAccess is not set, so Azure uses 'Enabled' with no network rule denying by default; it must be 'Disabled'")]),
    ([registry("Enabled", []), hub_sites(SITE), EDGE_FLEET],  # Deny with no rule at all: still Enabled, for nobody
     [(REGISTRY_RULE, "registry-cr", "publicNetworkAccess is 'Enabled' with no network rule denying by default; it must be 'Disabled'")]),
    ([registry("Enabled", [SITE]), hub_sites(SITE)],
     [(REGISTRY_RULE, "registry-cr", f"publicNetworkAccess is 'Enabled' for {SITE}, but no IoT Edge deployment in this stack pulls from the registry; it must be 'Disabled'")]),
    ([registry("Enabled", [SITE, "0.0.0.0/0"]), hub_sites(SITE), EDGE_FLEET],
     [(REGISTRY_RULE, "registry-cr", "the registry admits 0.0.0.0/0, which the IoT Hub's IP filter does not list as a site (iotHub.deviceIpRanges)")]),
]
REGISTRY_NOT_APPLICABLE = [[registry("Disabled")], [registry("Disabled", [SITE]), EDGE_FLEET]]  # Disabled overrides every rule


@pytest.mark.parametrize(("stack", "expected"), REGISTRY_CASES)
def test_the_registry_is_public_only_to_the_edge_sites(analyzer, stack, expected):
    assert [v for v in verdicts(analyzer, stack) if v[0] == REGISTRY_RULE] == expected


@pytest.mark.parametrize("stack", REGISTRY_NOT_APPLICABLE)
def test_a_closed_registry_is_not_judged_for_its_site_rules(analyzer, stack):
    assert [v for v in verdicts(analyzer, stack) if v[0] == REGISTRY_RULE] == []
