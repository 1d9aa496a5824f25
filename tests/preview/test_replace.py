"""Replace vs update as the provider decides: every ARM id path parameter and create-only property replaces; the
data-loss guard reads the same table; resource options are changes; acknowledgements must match something."""

from __future__ import annotations

import copy

import pytest

from core.errors import BadInput
from mlops.preview.diff import diff_states
from mlops.preview.replace import CREATE_ONLY, path_keys
from mlops.preview.state import StateResource, from_recorded
from policies.rules import resource_types as t
from policies.rules.resource_types import ARM_IDS


def state(type_: str, **inputs) -> StateResource:
    return StateResource(f"urn:pulumi:prod::mlops-platform::{type_}::r", type_, "r", True, inputs)


def one_change(before: StateResource, after: StateResource, guard_data: bool = False):
    [change] = diff_states([before], [after], guard_data=guard_data)
    return change


PATH_PARAMETERS = [(type_, key) for type_ in sorted(ARM_IDS) for key in path_keys(type_)]


@pytest.mark.parametrize(("type_", "key"), PATH_PARAMETERS, ids=[f"{type_.split(':')[-1]}.{k}" for type_, k in PATH_PARAMETERS])
def test_a_path_parameter_of_the_arm_id_replaces(type_, key):
    inputs = {k: f"{k}-1" for k in path_keys(type_)} | {"tags": {"owner": "a"}}
    before, after = state(type_, **inputs), state(type_, **(inputs | {key: f"{key}-2"}))
    change = one_change(before, after)
    assert (change.op, change.replace_reasons) == ("replace", [f"'{key}' forces a new resource"])
    assert change.blocked is None  # not guarded here
    retagged = one_change(before, state(type_, **(inputs | {"tags": {"owner": "b"}})))
    assert (retagged.op, retagged.changed) == ("update", ["tags.owner"])


@pytest.mark.parametrize(
    ("type_", "keys"),
    [
        (t.EVENTHUB_CONSUMER_GROUP, ("resourceGroupName", "namespaceName", "eventHubName", "consumerGroupName")),
        (t.BLOB_SERVICE, ("resourceGroupName", "accountName")),
        (t.STORAGE_MANAGEMENT_POLICY, ("resourceGroupName", "accountName")),
        (t.APP_SERVICE_PLAN, ("resourceGroupName", "name")),
        (t.ROLE_ASSIGNMENT, ("scope", "roleAssignmentName")),
        (t.DIAGNOSTIC_SETTING, ("resourceUri", "name")),
    ],
)
def test_path_parameters_come_from_the_arm_id_templates(type_, keys):
    assert path_keys(type_) == keys


@pytest.mark.parametrize(("type_", "key"), [(type_, k) for type_, keys in sorted(CREATE_ONLY.items()) for k in keys])
def test_a_create_only_property_replaces(type_, key):
    before = state(type_, location="westeurope", **{key: "a"}) if "." not in key else state(type_, location="westeurope")
    after = copy.deepcopy(before)
    target = after.inputs
    *parents, leaf = key.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = "b"
    change = one_change(before, after)
    assert change.op == "replace" and change.replace_reasons == [f"'{change.changed[0]}' forces a new resource"]
    moved = one_change(before, state(type_, **(before.inputs | {"location": "northeurope"})))
    assert (moved.op, moved.replace_reasons) == ("replace", ["'location' forces a new resource"])


def test_every_recorded_azure_type_has_an_arm_id_template(stacks):
    """Replace behaviour comes from the templates: a new type without one would only ever 'update'."""
    recorded = {r.type for record in stacks.values() for r in record.resources if r.type.startswith("azure-native:")}
    assert sorted(recorded - set(ARM_IDS)) == []


def test_a_new_event_hubs_namespace_name_replaces_the_namespace_its_hubs_and_consumer_groups(stacks):
    current = from_recorded(stacks["prod"].resources)
    base = copy.deepcopy(current)
    for resource in base:
        if "namespaceName" in resource.inputs:
            resource.inputs["namespaceName"] = "evhns-old"
    changes = {c.name: c for c in diff_states(base, current, guard_data=True) if c.op != "same"}
    by_type = {(c.type.split(":")[-1], c.op) for c in changes.values()}
    assert by_type >= {("Namespace", "replace"), ("EventHub", "replace"), ("ConsumerGroup", "replace")}
    assert {c.op for c in changes.values()} == {"replace"}
    namespace = next(c for c in changes.values() if c.type == t.EVENTHUB_NAMESPACE)
    hubs = [c for c in changes.values() if c.type == t.EVENTHUB]
    assert namespace.blocked and all(h.blocked for h in hubs)  # the guard reads the same table
    groups = [c for c in changes.values() if c.type == t.EVENTHUB_CONSUMER_GROUP]
    assert groups and not any(g.blocked for g in groups)  # no data in a consumer group


def test_renaming_the_lake_account_replaces_its_containers_too_and_blocks_them(stacks):
    current = from_recorded(stacks["prod"].resources)
    account = next(r for r in current if r.name == "lake-st").inputs["accountName"]
    base = copy.deepcopy(current)
    for resource in base:
        if resource.inputs.get("accountName") == account:
            resource.inputs["accountName"] = "stold"
    changes = [c for c in diff_states(base, current, guard_data=True) if c.op != "same"]
    containers = [c for c in changes if c.type == t.BLOB_CONTAINER]
    assert containers and all(c.op == "replace" and c.blocked for c in containers)
    settings = [c for c in changes if c.type in (t.BLOB_SERVICE, t.STORAGE_MANAGEMENT_POLICY)]
    assert settings and all(c.op == "replace" and not c.blocked for c in settings)
    assert all(c.type in t.STATEFUL for c in changes if c.blocked)


def test_option_flips_are_changes_and_ignored_inputs_are_not(stacks):
    current = from_recorded(stacks["prod"].resources)
    base = copy.deepcopy(current)
    lake = next(r for r in base if r.name == "lake-st")
    lake.protect, lake.retain_on_delete = False, False
    endpoint = next(r for r in base if r.name == "online-endpoint")
    assert endpoint.ignore_changes  # the endpoint leaves its traffic to the traffic resource
    endpoint.inputs.setdefault("properties", {})["traffic"] = {"blue": 50}
    changes = {c.name: c for c in diff_states(base, current, guard_data=True) if c.op != "same"}
    assert list(changes) == ["lake-st"]
    assert changes["lake-st"].op == "update"
    assert changes["lake-st"].changed == ["options.protect", "options.retainOnDelete"]
    assert (changes["lake-st"].old["options.protect"], changes["lake-st"].new["options.protect"]) == (False, True)


def test_a_base_that_does_not_know_an_option_compares_it_as_unchanged(stacks):
    current = from_recorded(stacks["prod"].resources)
    base = copy.deepcopy(current)
    for resource in base:
        resource.retain_on_delete = resource.ignore_changes = None  # a base evaluated before these were recorded
    assert {c.op for c in diff_states(base, current, guard_data=True)} == {"same"}


def test_an_acknowledgement_that_matches_nothing_is_bad_input(tmp_path):
    from mlops.commands.preview import build_reports

    export = tmp_path / "empty.json"
    export.write_text('{"deployment": {"resources": []}}')
    with pytest.raises(BadInput, match="--acknowledge-data-loss lake-stt: no stateful resource is replaced or deleted"):
        build_reports(["dev"], state=export, acknowledged={"lake-stt"}, policies=False)
    with pytest.raises(BadInput, match="no base to compare with"):
        build_reports(["dev"], acknowledged={"lake-st"}, policies=False)
