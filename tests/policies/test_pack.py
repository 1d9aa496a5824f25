"""The pack as the engine sees it (GetAnalyzerInfo), its per-environment config files, and the catalogue."""

from __future__ import annotations

import json
import re

import pytest
from pulumi.runtime.proto import analyzer_pb2 as proto

from mlops.analyzer import CONFIG_DIR, ROOT_DIR, PolicyConfigError, resolve_policy_config
from policies import catalogue
from policies.rules import PACK_NAME, RESOURCE_RULES, RULES, STACK_RULES

DEV_ADVISORY = {
    "datafactory-public-network-disabled",
    "storage-network-default-deny",
    "storage-public-network-restricted",
    "keyvault-network-default-deny",
    "keyvault-public-network-disabled",
    "registry-public-network-disabled",
    "registry-premium-sku",
    "ml-workspace-public-network-disabled",
    "ml-workspace-managed-network",
    "ml-compute-no-public-ip",
    "ml-endpoint-public-network-disabled",
    "function-scm-inbound-restricted",  # dev deploys its function code from GitHub-hosted runners
    "eventhub-public-network-restricted",
    "iothub-device-ingress-restricted",
    "stateful-resources-protected",
}
# Advice in every environment: infrastructure encryption is chosen only when an account is created (on an existing
# one it replaces the account), the export policy would stop imports from the registry, supported runtimes change
# over time, and a zone-redundant Flex plan keeps (and bills) two always-ready instances.
ADVISORY_EVERYWHERE = {
    "storage-infrastructure-encryption",
    "registry-export-disabled",
    "function-python-runtime-supported",
    "function-flex-zone-redundant",
}


# Advice before prod: dev and staging may roll a model straight onto their edge fleet; prod needs the canary stage.
ADVISORY_BEFORE_PROD = {"edge-fleet-model-canaried"}


def test_info_lists_every_rule_as_mandatory_with_its_metadata(pack):
    info = pack.info()
    assert info.name == PACK_NAME and info.supportsConfig
    assert [p.name for p in info.policies] == [rule.name for rule in RULES]
    assert len(RESOURCE_RULES) >= 40 and len(STACK_RULES) >= 13
    for policy, rule in zip(info.policies, RULES):
        assert policy.enforcementLevel == proto.MANDATORY
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name)
        assert (policy.description, policy.remediation_steps) == (rule.description, rule.remediation)
        assert f"pillar:{rule.pillar}" in policy.tags
        expected_type = proto.POLICY_TYPE_RESOURCE if rule.kind == "resource" else proto.POLICY_TYPE_STACK
        assert policy.policy_type == expected_type
        assert set(policy.configSchema.properties.keys()) == set(rule.config)


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_config_file_resolves_to_an_explicit_level_for_every_policy(pack, environment):
    document = json.loads((CONFIG_DIR / f"{environment}.json").read_text())
    resolved = resolve_policy_config(document, pack.info())
    assert resolved.keys() == {rule.name for rule in RULES}
    advisory = {name for name, config in resolved.items() if config.enforcementLevel == proto.ADVISORY}
    expected = {"dev": DEV_ADVISORY | ADVISORY_BEFORE_PROD, "staging": ADVISORY_BEFORE_PROD}.get(environment, set())
    assert advisory == expected | ADVISORY_EVERYWHERE
    assert {config.enforcementLevel for config in resolved.values()} <= {proto.ADVISORY, proto.MANDATORY}


def test_deploy_rules_are_mandatory_in_every_environment_and_cite_their_source(pack):
    """What Azure rejects fails a dev deploy as surely as a prod one: no environment relaxes a deploy-* rule."""
    deploy = [rule for rule in RULES if rule.deploy_check]
    assert len(deploy) >= 12
    for environment in ("dev", "staging", "prod"):
        resolved = resolve_policy_config(json.loads((CONFIG_DIR / f"{environment}.json").read_text()), pack.info())
        assert {resolved[rule.name].enforcementLevel for rule in deploy} == {proto.MANDATORY}, environment
    urls = {policy.name: policy.url for policy in pack.info().policies}
    for rule in deploy:
        assert rule.references.docs[0].startswith("https://") and urls[rule.name] == rule.references.docs[0], rule.name


def test_missing_config_file_means_pack_defaults(pack, tmp_path):
    from mlops.analyzer import load_policy_config

    assert load_policy_config("perf", tmp_path) == {}
    assert {c.enforcementLevel for c in resolve_policy_config({}, pack.info()).values()} == {proto.MANDATORY}


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"no-such-rule": "advisory"}, "config: no-such-rule: no such policy in the pack"),
        ({"all": "strict"}, "config: all: 'strict' is not one of advisory, mandatory, remediate, disabled"),
        ({"allowed-locations": {"regions": []}}, "config: allowed-locations.regions: unknown property; allowed: ['allowedLocations']"),
    ],
)
def test_bad_config_is_named(pack, document, error):
    with pytest.raises(PolicyConfigError) as raised:
        resolve_policy_config(document, pack.info())
    assert str(raised.value) == error


@pytest.mark.parametrize("markers", list(catalogue.BLOCKS), ids=["rules", "flows"])
def test_readme_catalogue_and_flow_table_are_current(markers):
    text = (ROOT_DIR / "README.md").read_text()
    assert catalogue.current_block(text, markers) == catalogue.block(markers), "run: python -m policies.catalogue --write README.md"


def test_catalogue_writer_replaces_only_the_blocks(tmp_path):
    from policies.rules.flows import FLOWS

    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n\nbefore\n{catalogue.START}\nold\n{catalogue.END}\nmiddle\n{catalogue.FLOW_START}\nold\n{catalogue.FLOW_END}\nafter\n")
    assert catalogue.main(["--write", str(readme)]) == 0
    flows = catalogue.block((catalogue.FLOW_START, catalogue.FLOW_END))
    assert readme.read_text() == f"# t\n\nbefore\n{catalogue.block()}\nmiddle\n{flows}\nafter\n"
    assert catalogue.table().count("\n| [`") == len(RULES)
    assert {path.name for path in (tmp_path / "policies" / "docs").glob("*.md")} == {f"{rule.name}.md" for rule in RULES}
    assert catalogue.flow_table().count("\n| `") == len(FLOWS)


def test_every_remediation_names_a_real_stack_config_key():
    """'stack config network.mode' in a fix must be a key the config model reads (a renamed key left a stale hint)."""
    from core.config import PlatformConfig, _allowed_keys

    named = {(rule.name, key) for rule in RULES for key in re.findall(r"stack config ([A-Za-z][A-Za-z.]*[A-Za-z])", rule.remediation)}
    assert named
    unknown = []
    for rule, key in named:
        *parents, last = key.split(".")
        if last not in _allowed_keys(parents, PlatformConfig):
            unknown.append((rule, key))
    assert unknown == []
