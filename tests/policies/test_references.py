"""Every rule's references are real: PSRule names, Checkov ARM check ids and documents from lists taken from named
sources (tests/policies/data/, each file says where and at which version), and the pack serves them to the engine."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from pulumi_policy import Severity

from policies.rules import RULES
from policies.rules import resource_types as t
from policies.rules.base import ResourceRule, Rule
from policies.rules.references import References, psrule_url
from policies.rules.resource_types import ARM_IDS

DATA = Path(__file__).resolve().parent / "data"


def _rows(name: str) -> list[str]:
    return [line for line in (DATA / name).read_text().splitlines() if line and not line.startswith("#")]


PSRULE = set(_rows("psrule_rules.txt"))
CHECKOV_ARM = {row.split("\t")[0]: set(filter(None, row.split("\t")[1].split(","))) for row in _rows("checkov_arm_checks.tsv")}
DOCUMENTS = {row.split(" ")[0] for row in _rows("documents.txt")}


def arm_type(token: str) -> str | None:
    """The ARM type of an azure-native type token, from the mock harness's id template
    (`.../providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/default` -> `Microsoft.Storage/
    storageAccounts/blobServices`)."""
    template = ARM_IDS.get(token)
    if template is None or "/providers/" not in template:
        return None
    namespace, *rest = template.rsplit("/providers/", 1)[1].split("/")
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    types = [segment for index, segment in enumerate(rest) if index % 2 == 0 and segment.strip("{}") not in fields]
    return "/".join([namespace, *types])


def problems(rule: Rule) -> list[str]:
    """What is wrong with a rule's metadata and references; [] when every id and document is a listed one."""
    refs = rule.references
    found = [] if rule.why else ["no `why`"]
    found += [] if refs.docs else ["no document (references.docs)"]
    found += [f"PSRule {name} is not in data/psrule_rules.txt" for name in refs.psrule if name not in PSRULE]
    found += [f"{id_} is not a Checkov ARM check (data/checkov_arm_checks.tsv)" for id_ in refs.checkov if id_ not in CHECKOV_ARM]
    found += [f"{url} is not in data/documents.txt" for url in (*refs.docs, *refs.evidence) if url.split("#")[0] not in DOCUMENTS]
    if isinstance(rule, ResourceRule):
        types = {arm_type(token) for token in rule.types} - {None}
        for id_ in (i for i in refs.checkov if i in CHECKOV_ARM):
            if types and not types & CHECKOV_ARM[id_]:
                found.append(f"{id_} checks {', '.join(sorted(CHECKOV_ARM[id_]))}, not {', '.join(sorted(types))}")
    return found


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_every_reference_is_a_listed_one(rule):
    assert problems(rule) == []


def _rule(references: References, why: str = "x") -> ResourceRule:
    return ResourceRule(name="t", description="d", severity=Severity.LOW, pillar="Security", remediation="r", why=why,
                        references=references, types=(t.STORAGE_ACCOUNT,), check=lambda p, s: [])


@pytest.mark.parametrize(
    ("references", "problem"),
    [
        (References(checkov="CKV_AZURE_190", docs="https://learn.microsoft.com/azure/storage/common/storage-network-security"),
         "CKV_AZURE_190 is not a Checkov ARM check (data/checkov_arm_checks.tsv)"),  # Terraform only
        (References(checkov="CKV_AZURE_110", docs="https://learn.microsoft.com/azure/storage/common/storage-network-security"),
         "CKV_AZURE_110 checks Microsoft.KeyVault/vaults, not Microsoft.Storage/storageAccounts"),
        (References(psrule="Azure.Storage.NoSuchRule", docs="https://learn.microsoft.com/azure/storage/common/storage-network-security"),
         "PSRule Azure.Storage.NoSuchRule is not in data/psrule_rules.txt"),
        (References(docs="https://learn.microsoft.com/azure/storage/unchecked"), "https://learn.microsoft.com/azure/storage/unchecked is not in data/documents.txt"),
        (References(psrule="Azure.Storage.MinTLS"), "no document (references.docs)"),
    ],
)
def test_an_unlisted_or_misplaced_reference_is_reported(references, problem):
    assert problems(_rule(references)) == [problem]


def test_arm_types_come_from_the_id_templates():
    assert arm_type(t.STORAGE_ACCOUNT) == "Microsoft.Storage/storageAccounts"
    assert arm_type(t.BLOB_CONTAINER) == "Microsoft.Storage/storageAccounts/blobServices/containers"
    assert arm_type(t.WEB_APP) == "Microsoft.Web/sites"


def test_the_pack_serves_references_as_framework_tags_and_url(pack):
    """GetAnalyzerInfo carries what the engine shows: one compliance framework (PSRule for Azure where the rule has a
    PSRule name, else Checkov), a tag per id, and the document it enforces as the policy's URL."""
    policies = {policy.name: policy for policy in pack.info().policies}
    for rule in RULES:
        policy, refs = policies[rule.name], rule.references
        assert policy.url == refs.docs[0], rule.name
        assert {f"psrule:{n}" for n in refs.psrule} | {f"checkov:{i}" for i in refs.checkov} <= set(policy.tags), rule.name
        if refs.psrule:
            framework = (policy.framework.name, policy.framework.reference, policy.framework.specification)
            assert framework == ("PSRule for Azure", refs.psrule[0], psrule_url(refs.psrule[0])), rule.name
        elif refs.checkov:
            assert (policy.framework.name, policy.framework.reference) == ("Checkov (ARM)", refs.checkov[0]), rule.name
        else:
            assert not policy.HasField("framework"), rule.name
    assert policies["storage-https-only"].framework.reference == "Azure.Storage.SecureTransfer"
