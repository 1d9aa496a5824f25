"""Rules on inputs of any shape: a verdict or nothing, never an exception (which fails the engine's whole
Analyze/AnalyzeStack call, and with it a user's `pulumi preview`). The value readers first, then every
resource rule and every stack rule on random edits of the compliant fixtures, then the regression over gRPC.
"""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi_policy import PolicyResource, PolicyResourceOptions
from pulumi_policy.policy import PolicyCustomTimeouts
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

from mlops.analyzer import StackResource, resource_urn
from policies.rules import RESOURCE_RULES, STACK_RULES
from policies.rules import resource_types as t
from policies.rules.base import NOT_APPLICABLE, ResourceRule
from policies.rules.values import (
    MARKERS,
    UNKNOWN,
    WRONG_TYPE,
    as_bool,
    as_list,
    as_number,
    as_text,
    get,
    items,
    peek,
    same,
    shown,
)
from tests.policies.policy_fixtures import COMPLIANT, LOG_ID

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SENTINELS = [UNKNOWN_ARRAY_VALUE, UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
    st.sampled_from(["true", "False", "nan", "inf", "-1e400", "Deny", "Disabled", "TLS1_2", "", *SENTINELS]),
)  # fmt: skip
keys = st.sampled_from(["enabled", "logs", "properties", "sku", "name", "id", "traffic", "days", "actions", "a"]) | st.text(max_size=5)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3), max_leaves=10)
paths = st.lists(keys, min_size=1, max_size=4).map(".".join)


def proxied(value):
    """A value as a rule sees it in the pack: wrapped by pulumi-policy's unknown-checking proxy."""
    return unknown_checking_proxy({"v": value})["v"] if isinstance(value, (dict, list)) else value


@PROPERTY
@given(values, paths)
def test_value_readers_never_raise_but_for_unknowns(value, path):
    for candidate in (value, proxied(value)):
        try:
            read = get(candidate, path)
        except UnknownValueError:
            read = UNKNOWN
            assert peek(candidate, path) is UNKNOWN
        for convert in (as_bool, as_text, as_list):
            convert(read)
        number = as_number(read)
        assert number in MARKERS or (isinstance(number, (int, float)) and math.isfinite(number))
        try:
            listed = items(read)
        except UnknownValueError:
            listed = []
        assert isinstance(listed, list)
        assert isinstance(shown(read), str) and isinstance(same(read, "x"), bool)


@pytest.mark.parametrize(("text", "expected"), [("nan", WRONG_TYPE), ("inf", WRONG_TYPE), (math.nan, WRONG_TYPE), ("30", 30.0), (True, WRONG_TYPE)])
def test_a_number_that_is_not_finite_is_not_a_number(text, expected):
    """A retention of 'nan' days used to read as NaN, and `NaN < minimum` is false: the minimum passed."""
    assert as_number(text) is expected or as_number(text) == expected


def edit(data, props: dict) -> dict:
    """The compliant props with one to three values, anywhere in them, replaced by random ones or removed."""
    props = copy.deepcopy(props)
    for _ in range(data.draw(st.integers(1, 3))):
        node = props
        while True:
            if not isinstance(node, (dict, list)) or not node:
                break
            key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
            if data.draw(st.integers(0, 2)) == 0 and isinstance(node[key], (dict, list)) and node[key]:
                node = node[key]
                continue
            if isinstance(node, dict) and data.draw(st.booleans()):
                del node[key]
            else:
                node[key] = data.draw(values)
            break
    return props


RULE_TYPES = sorted({(rule.name, type_) for rule in RESOURCE_RULES for type_ in rule.types if type_ in COMPLIANT})


@PROPERTY
@given(st.sampled_from(RULE_TYPES), st.data())
def test_every_resource_rule_gives_a_verdict_on_any_shape(rule_and_type, data):
    name, type_ = rule_and_type
    [rule] = [r for r in RESOURCE_RULES if r.name == name]
    props = unknown_checking_proxy(edit(data, COMPLIANT[type_]))
    try:
        problems = rule.check(props, rule.settings({}))
    except UnknownValueError:
        return  # pulumi-policy reports the rule as not evaluated
    assert isinstance(problems, list) and all(isinstance(p, str) and p for p in problems)
    assert problems is not NOT_APPLICABLE or rule.conditional, f"{name} answers NOT_APPLICABLE but is not declared conditional"


def policy_resource(type_: str, name: str, props: dict, protect: bool) -> PolicyResource:
    options = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    return PolicyResource(type_, unknown_checking_proxy(props), resource_urn(type_, name), name, options, None, None, [], {})


# What the stack rules read: log sources, their diagnostic settings, the traffic resource and its deployments,
# action groups and alerts, and stateful resources' protection.
STACK_SHAPES = {
    **{type_: COMPLIANT[type_] for type_ in (t.KEY_VAULT, t.STORAGE_ACCOUNT, t.ONLINE_ENDPOINT, t.ONLINE_DEPLOYMENT, t.ACTION_GROUP, t.METRIC_ALERT, t.SCHEDULED_QUERY_RULE)},
    t.DIAGNOSTIC_SETTING: {"resourceUri": "/subscriptions/0/x/providers/Microsoft.KeyVault/vaults/kv", "workspaceId": LOG_ID, "logs": [{"categoryGroup": "allLogs", "enabled": True}]},
    t.WEB_APP: COMPLIANT[t.WEB_APP],
    t.AUTH_SETTINGS_V2: {"name": COMPLIANT[t.WEB_APP]["name"], "platform": {"enabled": True},
                         "globalValidation": {"requireAuthentication": True, "unauthenticatedClientAction": "Return401"},
                         "identityProviders": {"azureActiveDirectory": {"enabled": True}}},
    t.DYNAMIC: {"kind": t.TRAFFIC_KIND, "endpointName": "e", "traffic": {"blue": 90.0, "green": 10.0}, "mirrorTraffic": {"green": 20.0}, "deployments": ["blue", "green"]},
}
STACK_TYPES = sorted(STACK_SHAPES)


@settings(PROPERTY, max_examples=400)
@given(st.lists(st.tuples(st.sampled_from(STACK_TYPES), st.booleans()), min_size=1, max_size=8), st.data())
def test_every_stack_rule_gives_a_verdict_on_any_stack(members, data):
    resources = [policy_resource(type_, f"r{i}", edit(data, STACK_SHAPES[type_]), protect) for i, (type_, protect) in enumerate(members)]
    for rule in STACK_RULES:
        try:
            found = list(rule.check(resources, rule.settings({})))
        except UnknownValueError:
            continue
        assert all(isinstance(urn, str) and isinstance(problem, str) for urn, problem in found)


def test_a_diagnostic_setting_whose_logs_is_a_number_fails_nothing_over_grpc(analyzer):
    """Regression: `logs: 5` raised TypeError inside AnalyzeStack, failing the whole stack's analysis."""
    vault = COMPLIANT[t.KEY_VAULT]
    vault_id = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/" + vault["vaultName"]
    setting = {"resourceUri": vault_id, "workspaceId": LOG_ID, "logs": 5}
    resources = [
        StackResource(t.KEY_VAULT, "kv", resource_urn(t.KEY_VAULT, "kv"), {**vault, "id": vault_id}, True, "", ()),
        StackResource(t.DIAGNOSTIC_SETTING, "kv-diag", resource_urn(t.DIAGNOSTIC_SETTING, "kv-diag"), setting, False, "", ()),
        StackResource(t.MANAGEMENT_LOCK, "kv-lock", resource_urn(t.MANAGEMENT_LOCK, "kv-lock"),
                      {"scope": vault_id, "level": "CanNotDelete"}, False, "", ()),
    ]
    violations = analyzer.analyze_stack(resources)
    assert [(v.policy, v.urn) for v in violations] == [("diagnostics-to-log-analytics", resource_urn(t.KEY_VAULT, "kv"))]


def test_a_check_that_raises_is_a_clear_violation_not_a_failed_call():
    """The last line of defence in base.py: the rule fails closed with a message, the call does not fail."""
    rule = ResourceRule(
        name="example-rule", description="d", severity="high", pillar="Security", remediation="fix it",
        types=("example:Type",), check=lambda props, settings: [props["missing"]],
    )  # fmt: skip
    reported = []

    class Args:
        resource_type, props = "example:Type", {}

        @staticmethod
        def get_config():
            return {}

    rule.validate(Args, lambda message, urn: reported.append((message, urn)))
    assert reported == [
        ("the rule could not read these inputs (KeyError: 'missing'); they do not have the shape Azure expects. Fix: fix it", None)
    ]
